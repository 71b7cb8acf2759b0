"""Look at an existing project and guess what its manifest should say.

Every function reads files (and at most asks git); none writes. :func:`detect` gathers everything
into a :class:`Detection` that ``init`` turns into ``mlops.yaml``. DVC is never imported here: its
config is plain INI and dvc.yaml plain YAML, and ``init`` must stay quick.
"""

from __future__ import annotations

import configparser
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_gitops.errors import UsageError

DVC_TOP_LEVEL = ("vars", "params", "metrics", "plots", "artifacts", "datasets")
# Extras that only serve development; CI training does not need them.
_DEV_EXTRAS = frozenset({"dev", "develop", "docs", "doc", "lint", "test", "tests", "testing", "typing"})
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")
_REMOTE_SECTION = re.compile(r"""^'?remote\s+"(?P<name>[^"]+)"'?$""")


@dataclass
class Detection:
    """What init found in a project directory; every field has a usable default."""

    root: Path
    name: str
    default_branch: str = "main"
    python_version: str = "3.11"
    python_source: str = "the running interpreter"
    install: str = "pip install -r requirements.txt"
    requirements: list[str] = field(default_factory=list)
    remote: str | None = None
    remote_source: str | None = None
    is_git: bool = False
    is_dvc: bool = False
    has_dvc_yaml: bool = False
    # The ruamel round-trip nodes of dvc.yaml, so the import keeps quoting, number spelling and comments.
    stages: Any = None
    dvc: dict[str, Any] = field(default_factory=dict)
    params_files: list[str] = field(default_factory=list)
    pointers: list[str] = field(default_factory=list)


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


def install_command(root: Path) -> tuple[str, list[str]]:
    """(install command, files whose content keys the pip cache)."""
    reqs = sorted(p.name for p in root.glob("requirements*.txt") if p.is_file())
    if reqs:
        main = "requirements.txt" if "requirements.txt" in reqs else reqs[0]
        return f"pip install -r {main}", reqs
    pyproject = _pyproject(root)
    if pyproject.get("project") or pyproject.get("tool", {}).get("poetry"):
        extras = (pyproject.get("project") or {}).get("optional-dependencies") or {}
        wanted = [e for e in extras if e.lower() not in _DEV_EXTRAS]
        target = f".[{','.join(wanted)}]" if wanted else "."
        return f"pip install -e {target}" if target == "." else f"pip install -e '{target}'", [
            "pyproject.toml"
        ]
    return "pip install -r requirements.txt", ["requirements.txt"]


def dvc_remote(root: Path) -> tuple[str | None, str | None]:
    """(remote name, why): ``core.remote`` of .dvc/config, else its only remote."""
    config = root / ".dvc" / "config"
    if not config.is_file():
        return None, None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(config.read_text(encoding="utf-8"), source=str(config))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise UsageError(f".dvc/config: cannot parse: {str(exc).splitlines()[0]}") from None
    remotes = [m.group("name") for s in parser.sections() if (m := _REMOTE_SECTION.match(s.strip()))]
    default = parser.get("core", "remote", fallback="").strip()
    if default:
        return default, "core.remote in .dvc/config"
    if len(remotes) == 1:
        return remotes[0], "the only remote in .dvc/config"
    return None, None


def default_branch(root: Path) -> str:
    from mlops_gitops import git

    return git.default_branch(root) or "main"


def read_dvc_yaml(root: Path) -> tuple[Any, dict[str, Any]]:
    """(stages, other top-level sections) of dvc.yaml, as ruamel round-trip nodes."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from mlops_gitops.yamlsafe import load_roundtrip

    path = root / "dvc.yaml"
    try:
        doc = load_roundtrip(path.read_text(encoding="utf-8"), "dvc.yaml")
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"dvc.yaml:{mark.line + 1}:{mark.column + 1}" if mark else "dvc.yaml"
        raise UsageError(f"{where}: YAML syntax error: {(exc.problem or '').strip()}") from None
    except (YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"dvc.yaml: cannot read: {exc}") from None
    if doc is None:
        return None, {}
    if not isinstance(doc, dict):
        raise UsageError("dvc.yaml: expected a mapping at the top level")
    unknown = [k for k in doc if k != "stages" and k not in DVC_TOP_LEVEL]
    if unknown:
        marks = getattr(doc, "lc", None)
        line = marks.key(unknown[0])[0] + 1 if marks is not None else 1
        raise UsageError(
            f"dvc.yaml:{line}:1: unknown top-level key '{unknown[0]}' "
            f"(DVC knows stages, {', '.join(DVC_TOP_LEVEL)})"
        )
    return doc.get("stages"), {k: doc[k] for k in DVC_TOP_LEVEL if k in doc}


def dvc_pointers(root: Path) -> list[str]:
    """``*.dvc`` data pointers outside .dvc/ and .git/, relative to root."""
    skip = {".git", ".dvc", ".venv", "node_modules", "__pycache__"}
    found = []
    for path in root.rglob("*.dvc"):
        rel = path.relative_to(root)
        if path.is_file() and not skip.intersection(rel.parts[:-1]):
            found.append(rel.as_posix())
    return sorted(found)


def detect(root: Path) -> Detection:
    """Everything init can learn about ``root`` without asking the user."""
    from mlops_gitops import git

    root = root.resolve()
    version, version_source = python_version(root)
    install, requirements = install_command(root)
    remote, remote_source = dvc_remote(root)
    found = Detection(
        root=root,
        name=project_name(root),
        python_version=version,
        python_source=version_source,
        install=install,
        requirements=requirements,
        remote=remote,
        remote_source=remote_source,
        is_git=git.toplevel(root) is not None,
        is_dvc=(root / ".dvc").is_dir(),
        has_dvc_yaml=(root / "dvc.yaml").is_file(),
        params_files=[p for p in ("params.yaml",) if (root / p).is_file()],
        pointers=dvc_pointers(root),
    )
    if found.is_git:
        found.default_branch = default_branch(root)
    if found.has_dvc_yaml:
        found.stages, found.dvc = read_dvc_yaml(root)
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
