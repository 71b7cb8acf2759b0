"""Look at an existing project and find what its manifest should say.

Every function reads files (and at most asks git); none writes. :func:`detect` gathers everything
into a :class:`Detection` that ``init`` turns into ``mlops.yaml``. DVC is never imported here: its
config is plain INI, and the pipelines themselves are resolved later by DVC's own parser.
"""

from __future__ import annotations

import configparser
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_gitops.errors import UsageError

# Extras that only serve development; CI training does not need them.
_DEV_EXTRAS = frozenset({"dev", "develop", "docs", "doc", "lint", "test", "tests", "testing", "typing"})
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")
_REMOTE_SECTION = re.compile(r"""^'?remote\s+"(?P<name>[^"]+)"'?$""")
# Where projects keep their requirements, in the order a CI install should prefer them.
REQUIREMENT_DIRS = ("", "src/")
_DEV_REQUIREMENTS = re.compile(r"requirements[-_.]?(dev|test|tests|lint|docs|doc|ci)\b", re.I)


@dataclass(frozen=True)
class ExistingCI:
    """A CI file that already trains or comments, and what it does."""

    path: str
    does: tuple[str, ...]  # "runs dvc repro", "posts CML reports", ...


@dataclass
class Detection:
    """What init found in a project directory."""

    root: Path
    name: str
    default_branch: str = "main"
    python_version: str = "3.11"
    python_source: str = "the running interpreter"
    install: str | None = None  # None: nothing says how this project installs its requirements
    install_source: str = ""
    requirements: list[str] = field(default_factory=list)
    remote: str | None = None
    remote_source: str | None = None
    remotes: dict[str, str] = field(default_factory=dict)  # name -> url, from .dvc/config
    is_git: bool = False
    is_dvc: bool = False
    dvcfiles: list[str] = field(default_factory=list)  # every dvc.yaml, repo-relative
    pointers: list[str] = field(default_factory=list)
    existing_ci: list[ExistingCI] = field(default_factory=list)

    @property
    def has_dvc_yaml(self) -> bool:
        return bool(self.dvcfiles)


def project_name(root: Path) -> str:
    """The directory name, made to fit the manifest's name pattern."""
    name = _NAME_BAD.sub("-", root.resolve().name)
    name = name.lstrip("._-")[:63].rstrip("._-")
    return name or "project"


def python_version(root: Path) -> tuple[str, str]:
    """(major.minor, where it came from): .python-version, then requires-python, then this Python."""
    pin = root / ".python-version"
    if pin.is_file():
        for line in pin.read_text(encoding="utf-8", errors="replace").splitlines():
            found = re.search(r"\b3\.(\d{1,2})\b", line)
            if found:
                return f"3.{found.group(1)}", ".python-version"
    project = _pyproject(root).get("project") or {}
    requires = project.get("requires-python")
    if isinstance(requires, str):
        # The lowest version the project claims to support is the one CI must keep working.
        found = re.search(r"(?:>=|~=|==)\s*3\.(\d{1,2})", requires)
        if found:
            return f"3.{found.group(1)}", "pyproject.toml requires-python"
    return f"{sys.version_info.major}.{sys.version_info.minor}", "the running interpreter"


def install_command(root: Path) -> tuple[str | None, list[str], str]:
    """(install command or None, files whose content keys the pip cache, where it came from).

    requirements*.txt at the root, then in src/, then pyproject.toml's dependencies; development
    requirement files are cache keys but not installed. None when nothing says how to install."""
    for folder in REQUIREMENT_DIRS:
        found = sorted(p.name for p in (root / folder).glob("requirements*.txt") if p.is_file())
        if not found:
            continue
        runtime = [n for n in found if not _DEV_REQUIREMENTS.match(n)] or found
        main = "requirements.txt" if "requirements.txt" in runtime else runtime[0]
        return f"pip install -r {folder}{main}", [f"{folder}{n}" for n in found], f"{folder}{main}"
    pyproject = _pyproject(root)
    if pyproject.get("project") or pyproject.get("tool", {}).get("poetry"):
        extras = (pyproject.get("project") or {}).get("optional-dependencies") or {}
        wanted = [e for e in extras if e.lower() not in _DEV_EXTRAS]
        target = f".[{','.join(wanted)}]" if wanted else "."
        command = "pip install -e ." if target == "." else f"pip install -e '{target}'"
        return command, ["pyproject.toml"], "pyproject.toml"
    return None, [], ""


def dvc_remotes(root: Path) -> tuple[dict[str, str], str | None]:
    """(every remote of .dvc/config and its url, core.remote)."""
    config = root / ".dvc" / "config"
    if not config.is_file():
        return {}, None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(config.read_text(encoding="utf-8"), source=str(config))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise UsageError(f".dvc/config: cannot parse: {str(exc).splitlines()[0]}") from None
    remotes: dict[str, str] = {}
    for section in parser.sections():
        match = _REMOTE_SECTION.match(section.strip())
        if match:
            remotes[match.group("name")] = parser.get(section, "url", fallback="").strip()
    default = parser.get("core", "remote", fallback="").strip() or None
    return remotes, default


def dvc_remote(root: Path) -> tuple[str | None, str | None]:
    """(remote name, why): ``core.remote`` of .dvc/config, else its only remote."""
    remotes, default = dvc_remotes(root)
    if default:
        return default, "core.remote in .dvc/config"
    if len(remotes) == 1:
        return next(iter(remotes)), "the only remote in .dvc/config"
    return None, None


def remote_problem(name: str, remotes: dict[str, str]) -> str | None:
    """Why ``name`` cannot be the project's DVC remote, or None."""
    if name not in remotes:
        known = ", ".join(sorted(remotes)) or "none; add one with `dvc remote add -d NAME URL`"
        return f"DVC remote '{name}' is not in .dvc/config (remotes: {known})"
    return None


def remote_warning(name: str, remotes: dict[str, str]) -> str | None:
    """A remote CI can read but not write: runs are not shared, so the default branch retrains."""
    url = remotes.get(name, "")
    if re.match(r"https?://", url, re.I):
        return (
            f"DVC remote '{name}' is {url}: plain HTTP(S) remotes are read-only for CI, so a pull "
            "request's run cannot be pushed and shared, and the default branch trains it again"
        )
    return None


def default_branch(root: Path) -> str:
    from mlops_gitops import git

    return git.default_branch(root) or "main"


def branch_exists(root: Path, branch: str) -> bool:
    """A local or origin branch of that name, or the current (possibly unborn) branch."""
    from mlops_gitops import git

    if git.current_branch(root) == branch:
        return True
    return any(git.resolve(ref, root) for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"))


def dvc_pointers(root: Path) -> list[str]:
    """``*.dvc`` data pointers outside .dvc/ and .git/, relative to root."""
    from mlops_gitops.pipeline.fingerprint import listing

    return [p for p in listing(root) if p.endswith(".dvc")]


def dvc_files(root: Path) -> list[str]:
    """Every dvc.yaml of the project, relative to root (what DVC collects)."""
    from mlops_gitops.pipeline.fingerprint import listing

    return [p for p in listing(root) if p == "dvc.yaml" or p.endswith("/dvc.yaml")]


_TRAINS = re.compile(r"\bdvc\s+(?:repro|exp\s+run)\b")
_CML = re.compile(r"iterative/setup-cml|\bcml[ -](?:comment|send-comment|publish|runner|pr)\b")


def existing_ci(root: Path) -> list[ExistingCI]:
    """CI files that already reproduce the pipeline or post reports (CML), ours excluded."""
    from mlops_gitops.names import GENERATED_PREFIX, WORKFLOWS_DIR

    candidates = sorted((root / WORKFLOWS_DIR).glob("*.y*ml")) if (root / WORKFLOWS_DIR).is_dir() else []
    candidates += [p for p in (root / ".gitlab-ci.yml", root / "Jenkinsfile") if p.is_file()]
    found: list[ExistingCI] = []
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if text.startswith(GENERATED_PREFIX):
            continue
        does = []
        if _TRAINS.search(text):
            does.append("runs `dvc repro`")
        if _CML.search(text):
            does.append("posts CML reports")
        if does:
            found.append(ExistingCI(path.relative_to(root).as_posix(), tuple(does)))
    return found


def detect(root: Path) -> Detection:
    """Everything init can learn about ``root`` without asking the user."""
    from mlops_gitops import git

    root = root.resolve()
    version, version_source = python_version(root)
    install, requirements, install_source = install_command(root)
    remotes, _ = dvc_remotes(root)
    remote, remote_source = dvc_remote(root)
    is_git = git.toplevel(root) is not None
    found = Detection(
        root=root,
        name=project_name(root),
        python_version=version,
        python_source=version_source,
        install=install,
        install_source=install_source,
        requirements=requirements,
        remote=remote,
        remote_source=remote_source,
        remotes=remotes,
        is_git=is_git,
        is_dvc=(root / ".dvc").is_dir(),
        dvcfiles=dvc_files(root),
        pointers=dvc_pointers(root),
        existing_ci=existing_ci(root),
    )
    if is_git:
        found.default_branch = default_branch(root)
    return found


def _pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    from mlops_gitops import toml

    tomllib = toml.tomllib()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"pyproject.toml: cannot parse: {exc}") from None
    return data
