"""Look at an existing project and find what its manifest should say.

Every function reads files (and at most asks git); none writes. :func:`detect` gathers everything
into a :class:`Detection` that ``init`` turns into ``mlops.yaml``. DVC is never imported here: its
config is plain INI, and the pipelines themselves are resolved later by DVC's own parser.

The Python version and the install command come from the project's own files, each with the file
(and line) it came from, in the precedence documented in docs/adopting.md ("What init detects").
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_gitops.adapters.dvcconfig import dvc_remotes
from mlops_gitops.errors import UsageError
from mlops_gitops.pipeline.fingerprint import WorkTree

if TYPE_CHECKING:  # pragma: no cover
    from ruamel.yaml.comments import CommentedMap

# A parsed TOML file (pyproject.toml, Pipfile): the project's own, so any value may be of any type.
Toml = Mapping[str, object]

# Extras that only serve development; CI training does not need them.
_DEV_EXTRAS = frozenset({"dev", "develop", "docs", "doc", "lint", "test", "tests", "testing", "typing"})
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")
# Where projects keep their requirements, in the order a CI install should prefer them.
REQUIREMENT_DIRS = ("", "src/")
_DEV_REQUIREMENTS = re.compile(r"requirements[-_.]?(dev|test|tests|lint|docs|doc|ci)\b", re.I)
# A requirements/ folder's files: names with these words are preferred, in this order ...
REQUIREMENT_PREFERENCE = (
    ("train", "training"),
    ("pipe", "pipeline", "pipelines"),
    ("prod", "production"),
    ("base",),
    ("main",),
    ("requirements", "runtime", "common", "core", "default"),
)
# ... and files with these are never installed by CI (development only).
_DEV_WORDS = frozenset({"dev", "develop", "test", "tests", "testing", "lint", "docs", "doc", "typing"})
CONDA_FILES = ("environment.yml", "environment.yaml", "conda.yml", "conda.yaml")
EXPLICIT_CONDA_LOCK = "conda-linux-64.lock"
PIP = "python -m pip"
NO_VERSION = "the running interpreter: nothing in the project names a Python version"


@dataclass(frozen=True)
class ExistingCI:
    """A CI file that already trains or comments, and what it does."""

    path: str
    does: tuple[str, ...]  # "runs dvc repro", "posts CML reports", ...


@dataclass(frozen=True)
class PythonSignal:
    """A Python version the project names: ``3.9``, where (``runtime.txt:1 `python-3.9.18```),
    and whether it is one exact version (a pin) or the lowest of a range."""

    version: str
    source: str
    exact: bool


@dataclass(frozen=True)
class Install:
    """How the project installs its requirements, as CI will run it in the project's Python."""

    command: str | None  # None: nothing says (or a conda environment installs everything)
    requirements: tuple[str, ...] = ()  # files whose content keys the pip cache
    source: str = ""  # the file (and line) it came from
    conda: str | None = None  # a conda environment file (or explicit lock) CI creates with the runner's conda
    options: tuple[str, ...] = ()  # several candidate requirement files: the chosen one first


@dataclass(frozen=True)
class DvcPin:
    """A requirement that pins DVC: the file and line, the requirement, and whether it is DVC 2."""

    where: str
    spec: str
    major2: bool


@dataclass
class Detection:
    """What init found in a project directory."""

    root: Path
    name: str
    default_branch: str = "main"
    python_version: str = "3.11"
    python_source: str = NO_VERSION
    python_signals: list[PythonSignal] = field(default_factory=list)
    install: str | None = None  # None: nothing says how this project installs its requirements
    install_source: str = ""
    install_options: list[str] = field(default_factory=list)  # requirement files to choose from
    conda: str | None = None
    requirements: list[str] = field(default_factory=list)
    remote: str | None = None
    remote_source: str | None = None
    remotes: dict[str, str] = field(default_factory=dict)  # name -> url, from .dvc/config
    is_git: bool = False
    is_dvc: bool = False
    dvcfiles: list[str] = field(default_factory=list)  # every dvc.yaml, repo-relative
    pointers: list[str] = field(default_factory=list)
    subprojects: list[str] = field(default_factory=list)  # folders with their own .dvc/ (--subdir)
    dvc_pins: list[DvcPin] = field(default_factory=list)
    existing_ci: list[ExistingCI] = field(default_factory=list)
    # Every dvc.yaml and .dvc file, listed once (fingerprint.listing): what init hands to generate.
    listing: tuple[str, ...] = ()

    @property
    def has_dvc_yaml(self) -> bool:
        return bool(self.dvcfiles)


def project_name(root: Path) -> str:
    """The directory name, made to fit the manifest's name pattern."""
    name = _NAME_BAD.sub("-", root.resolve().name)
    name = name.lstrip("._-")[:63].rstrip("._-")
    return name or "project"


# --- Python version ---------------------------------------------------------------------------


def python_signals(root: Path) -> list[PythonSignal]:
    """Every Python version the project names, in precedence order within each kind (see
    :func:`python_version`)."""
    found: list[PythonSignal] = []
    for reader in (
        _python_version_file,
        _runtime_txt,
        _conda_python,
        _dockerfile_python,
        _workflow_python,
        _requirements_comment_python,
        _pyproject_python,
        _setup_python,
    ):
        found.extend(reader(root))
    return found


def python_version(root: Path) -> tuple[str, str]:
    """(major.minor, where it came from). An exact pin wins over a range; among each, the order is
    .python-version, runtime.txt, a conda environment file, a Dockerfile's ``FROM python:``, an
    existing workflow's setup-python, a requirements comment, pyproject.toml (requires-python, then
    Poetry's python), setup.py/setup.cfg python_requires. A range gives its lowest allowed version.
    Nothing: the running interpreter, said so."""
    return choose_python(python_signals(root))


def choose_python(signals: list[PythonSignal]) -> tuple[str, str]:
    chosen = next((s for s in signals if s.exact), None) or next(iter(signals), None)
    if chosen is None:
        return f"{sys.version_info.major}.{sys.version_info.minor}", NO_VERSION
    return chosen.version, chosen.source


_MINOR = re.compile(r"\b3\.(\d{1,2})\b")


def _where(rel: str, lineno: int, line: str) -> str:
    text = line.strip()
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{rel}:{lineno} `{text}`"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    except OSError:
        return None


def _python_version_file(root: Path) -> list[PythonSignal]:
    text = _read(root / ".python-version") or ""
    for n, line in enumerate(text.splitlines(), 1):
        found = _MINOR.search(line)
        if found and not line.lstrip().startswith("#"):
            return [PythonSignal(f"3.{found.group(1)}", _where(".python-version", n, line), True)]
    return []


def _runtime_txt(root: Path) -> list[PythonSignal]:
    text = _read(root / "runtime.txt") or ""
    for n, line in enumerate(text.splitlines(), 1):
        found = re.match(r"\s*python-3\.(\d{1,2})\b", line, re.I)
        if found:
            return [PythonSignal(f"3.{found.group(1)}", _where("runtime.txt", n, line), True)]
    return []


_CONDA_PYTHON = re.compile(
    r"^\s*-\s*['\"]?(?:conda-forge::|defaults::)?python\s*(?P<op>==|=|>=|~=|>|<=|<)?\s*(?P<rest>[^'\"#]*)",
    re.I,
)


def _conda_python(root: Path) -> list[PythonSignal]:
    name = conda_file(root)
    text = _read(root / name) if name else None
    if not name or text is None:
        return []
    for n, line in enumerate(text.splitlines(), 1):
        match = _CONDA_PYTHON.match(line)
        if not match or not match.group("op"):
            continue
        op, rest = match.group("op"), match.group("rest").strip()
        if op in ("=", "=="):
            found = _MINOR.match(rest)
            if found:
                return [PythonSignal(f"3.{found.group(1)}", _where(name, n, line), True)]
        else:
            lowest = lowest_python(op + rest)
            if lowest:
                return [PythonSignal(lowest, _where(name, n, line) + ", the lowest allowed", False)]
    return []


def dockerfiles(root: Path) -> list[str]:
    """Dockerfiles init reads: ``Dockerfile``, ``docker/Dockerfile``, ``*.Dockerfile`` in either."""
    found: list[str] = []
    for folder in ("", "docker/"):
        base = root / folder
        if not base.is_dir():
            continue
        if (base / "Dockerfile").is_file():
            found.append(f"{folder}Dockerfile")
        found.extend(f"{folder}{p.name}" for p in sorted(base.glob("*.Dockerfile")) if p.is_file())
    return found


_FROM_PYTHON = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(?:\S+/)?python:3\.(\d{1,2})\b", re.I)


def _dockerfile_python(root: Path) -> list[PythonSignal]:
    for rel in dockerfiles(root):
        for n, line in enumerate((_read(root / rel) or "").splitlines(), 1):
            found = _FROM_PYTHON.match(line)
            if found:
                return [PythonSignal(f"3.{found.group(1)}", _where(rel, n, line), True)]
    return []


def _workflow_python(root: Path) -> list[PythonSignal]:
    """setup-python's ``python-version`` in the project's own workflows: a scalar is exact; a list or
    a ``${{ matrix.X }}`` over a list gives its lowest; other expressions are ignored."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_roundtrip
    from mlops_gitops.errors import MlopsError
    from mlops_gitops.names import GENERATED_PREFIX, WORKFLOWS_DIR

    folder = root / WORKFLOWS_DIR
    if not folder.is_dir():
        return []
    ranges: list[PythonSignal] = []
    for path in sorted(folder.glob("*.y*ml")):
        text = _read(path)
        if not text or text.startswith(GENERATED_PREFIX) or "setup-python" not in text:
            continue
        rel = path.relative_to(root).as_posix()
        lines = text.splitlines()
        try:
            doc = load_roundtrip(text, rel)
        except (YAMLError, MlopsError):  # a broken workflow is no signal; GitHub reports it
            continue
        jobs = doc.get("jobs") if isinstance(doc, dict) else None
        for job in (jobs or {}).values() if isinstance(jobs, dict) else ():
            if not isinstance(job, dict):
                continue
            for step in job.get("steps") or []:
                if not isinstance(step, dict) or not str(step.get("uses", "")).startswith(
                    "actions/setup-python"
                ):
                    continue
                with_ = step.get("with")  # a round-trip load: every mapping knows its lines
                if not isinstance(with_, CommentedMap) or "python-version" not in with_:
                    continue
                value = with_["python-version"]
                if isinstance(value, str) and "${{" in value:
                    key = re.fullmatch(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", value.strip())
                    name = key.group(1) if key else ""
                    strategy = job.get("strategy")
                    matrix = strategy.get("matrix") if key and isinstance(strategy, dict) else None
                    if not isinstance(matrix, CommentedMap) or not isinstance(matrix.get(name), list):
                        continue  # other expressions: not something init can read
                    signal = _lowest_of(matrix, name, lines, rel)
                elif isinstance(value, list):
                    signal = _lowest_of(with_, "python-version", lines, rel)
                elif isinstance(value, (str, int, float)):
                    line, col = with_.lc.value("python-version")
                    raw = str(value) if isinstance(value, str) and "\n" in value else _token(lines, line, col)
                    minors = [int(m.group(1)) for m in _MINOR.finditer(raw)]
                    if not minors:
                        continue
                    where = _where(rel, line + 1, lines[line])
                    if len(minors) == 1:
                        return [PythonSignal(f"3.{minors[0]}", where, True)]
                    signal = PythonSignal(f"3.{min(minors)}", where + ", the lowest", False)
                else:
                    continue
                if signal:
                    ranges.append(signal)
    return ranges[:1]


def _token(lines: list[str], line: int, col: int) -> str:
    """The raw text of a YAML scalar at a position (so ``3.10`` is not read as the float 3.1)."""
    text = lines[line][col:].strip() if line < len(lines) else ""
    if text[:1] in ("'", '"'):
        return text[1:].split(text[0], 1)[0]
    return re.split(r"\s+#|[,\]}]", text, maxsplit=1)[0].strip()


def _lowest_of(mapping: CommentedMap, key: str, lines: list[str], rel: str) -> PythonSignal | None:
    items = mapping[key]
    minors: list[int] = []
    for i in range(len(items)):
        line, col = items.lc.item(i)
        found = _MINOR.match(_token(lines, line, col))
        if found:
            minors.append(int(found.group(1)))
    if not minors:
        return None
    line = mapping.lc.key(key)[0]
    return PythonSignal(f"3.{min(minors)}", _where(rel, line + 1, lines[line]) + ", the lowest", False)


_COMMENT_PYTHON = re.compile(
    r"^\s*#\s*python(?:\s*version)?\s*(?P<op>===|==|=|:|>=|~=|\s)\s*v?3\.(?P<minor>\d{1,2})\b", re.I
)


def requirement_files(root: Path) -> list[str]:
    """Requirement files at the root, in src/, in requirements/ and in docker/."""
    found: list[str] = []
    for folder in (*REQUIREMENT_DIRS, "docker/"):
        found.extend(
            f"{folder}{p.name}" for p in sorted((root / folder).glob("requirements*.txt")) if p.is_file()
        )
    if (root / "requirements").is_dir():
        found.extend(
            f"requirements/{p.name}" for p in sorted((root / "requirements").glob("*.txt")) if p.is_file()
        )
    return found


def _requirements_comment_python(root: Path) -> list[PythonSignal]:
    for rel in requirement_files(root):
        for n, line in enumerate((_read(root / rel) or "").splitlines(), 1):
            found = _COMMENT_PYTHON.match(line)
            if found:
                exact = found.group("op") not in (">=", "~=")
                where = _where(rel, n, line) + ("" if exact else ", the lowest allowed")
                return [PythonSignal(f"3.{found.group('minor')}", where, exact)]
    return []


def _pyproject_python(root: Path) -> list[PythonSignal]:
    data = _pyproject(root)
    if not data:
        return []
    lines = (_read(root / "pyproject.toml") or "").splitlines()
    found: list[PythonSignal] = []
    requires = _table(data, "project").get("requires-python")
    poetry = _table(data, "tool", "poetry", "dependencies")
    for key, spec, pattern in (
        ("requires-python", requires, r"\s*requires-python\s*="),
        ("python", poetry.get("python"), r"\s*python\s*="),
    ):
        if not isinstance(spec, str):
            continue
        lowest = lowest_python(spec)
        if lowest:
            n = next((i for i, line in enumerate(lines, 1) if re.match(pattern, line)), 0)
            where = _where("pyproject.toml", n, lines[n - 1]) if n else f"pyproject.toml {key}"
            found.append(PythonSignal(lowest, where + ", the lowest allowed", False))
    return found


def _setup_python(root: Path) -> list[PythonSignal]:
    for rel, pattern in (
        ("setup.py", r"python_requires\s*=\s*[\"']([^\"']+)[\"']"),
        ("setup.cfg", r"^\s*python_requires\s*=\s*(.+)$"),
    ):
        for n, line in enumerate((_read(root / rel) or "").splitlines(), 1):
            match = re.search(pattern, line)
            lowest = lowest_python(match.group(1)) if match else None
            if lowest:
                return [PythonSignal(lowest, _where(rel, n, line) + ", the lowest allowed", False)]
    return []


def lowest_python(spec: str) -> str | None:
    """The lowest 3.X a version specifier allows: PEP 440 (``>=3.8,<4``, ``~=3.9``, ``==3.9.*``) or
    Poetry's (``^3.9``, ``~3.9``, ``3.9``, ``>=3.8 || >=3.10``). None when it has no lower bound."""
    alternatives: list[int] = []
    for alternative in re.split(r"\|\|?", spec):
        bounds: list[int] = []
        for clause in re.split(r"[,\s]+(?=[<>=!~^\d])|,", alternative):
            match = re.match(r"\s*(===|==|>=|~=|>|\^|~|=)?\s*3\.(\d{1,2})\b", clause)
            if match:
                bounds.append(int(match.group(2)))
        if bounds:
            alternatives.append(max(bounds))
    return f"3.{min(alternatives)}" if alternatives else None


# --- How the project installs ------------------------------------------------------------------


def install_command(root: Path) -> Install:
    """How CI installs the project into its Python, and from which file. In order: ``uv.lock``,
    ``poetry.lock``, ``Pipfile.lock``, a conda environment file, ``requirements*.txt`` at the root
    then in ``src/``, a ``requirements/`` folder, ``Pipfile``, ``pyproject.toml`` / ``setup.py`` /
    ``setup.cfg`` (``pip install .``), a Dockerfile's requirements. ``Install(None)`` when nothing says."""
    for reader in (
        _uv,
        _poetry,
        _pipenv_lock,
        _conda,
        _requirements_txt,
        _requirements_folder,
        _pipfile,
        _package,
        _dockerfile_requirements,
    ):
        found = reader(root)
        if found is not None:
            return found
    return Install(None)


def _uv(root: Path) -> Install | None:
    if not (root / "uv.lock").is_file():
        return None
    _pyproject(root)  # a broken pyproject.toml is one line here, not uv's traceback in CI
    lock = '"$RUNNER_TEMP/requirements.txt"'
    command = (
        f"{PIP} install uv && uv export --frozen --no-dev --no-emit-project -o {lock} && "
        f"{PIP} install --require-hashes -r {lock}"
    )
    return Install(command, ("pyproject.toml", "uv.lock"), "uv.lock")


def _poetry(root: Path) -> Install | None:
    if not (root / "poetry.lock").is_file():
        return None
    poetry = _table(_pyproject(root), "tool", "poetry")
    only = " --only main" if poetry.get("group") or poetry.get("dev-dependencies") else ""
    command = (
        f"{PIP} install poetry && poetry config virtualenvs.create false && "
        f"poetry install --no-root --no-interaction{only}"
    )
    return Install(command, ("pyproject.toml", "poetry.lock"), "poetry.lock")


def _pipenv_lock(root: Path) -> Install | None:
    if not (root / "Pipfile.lock").is_file():
        return None
    try:
        json.loads((root / "Pipfile.lock").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"Pipfile.lock: cannot parse: {str(exc).splitlines()[0]}") from None
    _pipfile_data(root)
    keys = ("Pipfile", "Pipfile.lock") if (root / "Pipfile").is_file() else ("Pipfile.lock",)
    return Install(f"{PIP} install pipenv && pipenv install --system --deploy", keys, "Pipfile.lock")


def _pipfile(root: Path) -> Install | None:
    if not (root / "Pipfile").is_file():
        return None
    _pipfile_data(root)
    return Install(f"{PIP} install pipenv && pipenv install --system", ("Pipfile",), "Pipfile")


def conda_file(root: Path) -> str | None:
    return next((name for name in CONDA_FILES if (root / name).is_file()), None)


def _conda(root: Path) -> Install | None:
    name = conda_file(root)
    if name is None:
        return None
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe
    from mlops_gitops.errors import YamlBombError

    try:
        data = load_safe((root / name).read_text(encoding="utf-8"), name)
    except (YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: cannot parse: {str(exc).splitlines()[0]}") from None
    except YamlBombError:
        raise
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list):
        raise UsageError(f"{name}: not a conda environment file (it has no dependencies: list)")
    keys = [name]
    for dep in deps:
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            for item in dep["pip"]:
                match = re.match(r"\s*-r\s*(\S+)", str(item))
                if match and (root / match.group(1)).is_file():
                    keys.append(Path(match.group(1)).as_posix())
    # An explicit lock for the runners' platform (conda-lock --kind explicit) names every package with
    # its hash: CI installs exactly that instead of solving the environment file again.
    explicit = root / EXPLICIT_CONDA_LOCK
    if explicit.is_file() and "@EXPLICIT" in explicit.read_text(encoding="utf-8", errors="replace"):
        return Install(None, (EXPLICIT_CONDA_LOCK, *keys), EXPLICIT_CONDA_LOCK, conda=EXPLICIT_CONDA_LOCK)
    return Install(None, tuple(keys), name, conda=name)


def _requirements_txt(root: Path) -> Install | None:
    """requirements*.txt at the root, then in src/; development files key the cache, never installed."""
    for folder in REQUIREMENT_DIRS:
        found = sorted(p.name for p in (root / folder).glob("requirements*.txt") if p.is_file())
        if not found:
            continue
        runtime = [n for n in found if not _DEV_REQUIREMENTS.match(n)] or found
        main = "requirements.txt" if "requirements.txt" in runtime else _ranked(runtime)[0]
        return Install(
            f"{PIP} install -r {folder}{main}", tuple(f"{folder}{n}" for n in found), f"{folder}{main}"
        )
    return None


def _ranked(names: list[str]) -> list[str]:
    """Runtime requirement files, the one CI should install first (REQUIREMENT_PREFERENCE)."""

    def rank(name: str) -> tuple[int, str]:
        words = set(re.split(r"[-_.]+", name.lower().removesuffix(".txt")))
        for i, group in enumerate(REQUIREMENT_PREFERENCE):
            if words & set(group):
                return i, name
        return len(REQUIREMENT_PREFERENCE), name

    return sorted(names, key=rank)


def _requirements_folder(root: Path) -> Install | None:
    folder = root / "requirements"
    if not folder.is_dir():
        return None
    names = [
        p.name
        for p in folder.glob("*.txt")
        if p.is_file() and not set(re.split(r"[-_.]+", p.stem.lower())) & _DEV_WORDS
    ]
    if not names:
        return None
    options = tuple(f"requirements/{n}" for n in _ranked(names))
    return requirements_choice(root, options[0], options)


def requirements_choice(root: Path, chosen: str, options: tuple[str, ...] = ()) -> Install:
    """Installing one requirement file: the cache keys are it and the files it includes (-r, -c)."""
    keys = [chosen]
    queue = [chosen]
    while queue:
        current = queue.pop()
        for line in (_read(root / current) or "").splitlines():
            match = re.match(r"\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)", line)
            if not match:
                continue
            included = (Path(current).parent / match.group(1)).as_posix()
            included = os.path.normpath(included).replace(os.sep, "/")
            if included not in keys and (root / included).is_file() and not included.startswith(".."):
                keys.append(included)
                queue.append(included)
    ordered = (chosen, *[o for o in options if o != chosen]) if options else ()
    return Install(f"{PIP} install -r {chosen}", tuple(keys), chosen, options=ordered)


def _package(root: Path) -> Install | None:
    """pyproject.toml with [project] (or Poetry's table), else setup.py / setup.cfg: ``pip install .``
    (not editable: CI installs the project once and runs it), with its non-development extras."""
    pyproject = _pyproject(root)
    if _table(pyproject, "project") or _table(pyproject, "tool", "poetry"):
        extras = _table(pyproject, "project", "optional-dependencies")
        wanted = [e for e in extras if e.lower() not in _DEV_EXTRAS]
        command = f"{PIP} install '.[{','.join(wanted)}]'" if wanted else f"{PIP} install ."
        return Install(command, ("pyproject.toml",), "pyproject.toml")
    for name in ("setup.py", "setup.cfg"):
        if (root / name).is_file():
            keys = tuple(n for n in ("setup.py", "setup.cfg", "pyproject.toml") if (root / n).is_file())
            return Install(f"{PIP} install .", keys, name)
    return None


_COPY = re.compile(r"^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*(?P<args>.+)$", re.I)
_RUN_REQ = re.compile(r"pip3?\s+install\b.*?(?:-r|--requirement)[\s=]+(?P<path>\S+)", re.I)


def _dockerfile_requirements(root: Path) -> Install | None:
    """A Dockerfile that copies a requirements file into the image and installs it."""
    for rel in dockerfiles(root):
        copied: dict[str, tuple[int, str]] = {}  # basename -> (line, source in the repository)
        for n, line in enumerate((_read(root / rel) or "").splitlines(), 1):
            copy = _COPY.match(line)
            if copy:
                for source in copy.group("args").split()[:-1]:
                    source = source.strip("\"'[],").removeprefix("./")
                    if source.endswith(".txt") and (root / source).is_file():
                        copied[Path(source).name] = (n, source)
                continue
            run = _RUN_REQ.search(line)
            if not run:
                continue
            path = run.group("path").strip("\"'").removeprefix("./")
            if Path(path).name in copied:
                at, source = copied[Path(path).name]
                return Install(f"{PIP} install -r {source}", (source,), _where(rel, at, _line(root, rel, at)))
            if (root / path).is_file() and not path.startswith("/"):
                return Install(f"{PIP} install -r {path}", (path,), _where(rel, n, line))
    return None


def _line(root: Path, rel: str, n: int) -> str:
    return (_read(root / rel) or "").splitlines()[n - 1]


# --- DVC pins in the project's requirements ---------------------------------------------------------

_DVC_REQUIREMENT = re.compile(
    r"""^\s*(?:-\s*)?["']?dvc(?P<extras>\[[^\]]*\])?\s*(?P<spec>(?:===|==|~=|<=|<|!=|>=|>|=)\s*[0-9][^#;"'\s,]*"""
    r"""(?:\s*,\s*(?:===|==|~=|<=|<|!=|>=|>)\s*[0-9][^#;"'\s,]*)*)""",
    re.I,
)
_DVC_TOML = re.compile(r"""^\s*dvc\s*=\s*(?:\{[^}]*version\s*=\s*)?["'](?P<spec>[^"']+)["']""", re.I)


def dvc_pins(root: Path, files: list[str]) -> list[DvcPin]:
    """Requirements that pin DVC (==, <, <=, ~=, a Poetry caret): the project's Python keeps them."""
    pins: list[DvcPin] = []
    for rel in dict.fromkeys([*files, *(["pyproject.toml"] if (root / "pyproject.toml").is_file() else [])]):
        if rel.endswith(".lock"):
            continue
        for n, line in enumerate((_read(root / rel) or "").splitlines(), 1):
            match = _DVC_REQUIREMENT.match(line)
            extras = ""
            if match:
                spec = match.group("spec").replace(" ", "")
                extras = match.group("extras") or ""
            elif rel.endswith((".toml", "Pipfile")) and (toml := _DVC_TOML.match(line)):
                spec = toml.group("spec").strip()
                spec = spec if re.match(r"[<>=!~^]", spec) else f"=={spec}"
            else:
                continue
            if re.search(r"(===|==|~=|<=|<|\^|(?<![<>=!~])=)", spec):
                pins.append(DvcPin(f"{rel}:{n}", f"dvc{extras}{spec}", _is_dvc2(spec)))
    return pins


def _is_dvc2(spec: str) -> bool:
    if re.search(r"(?:===|==|~=|\^|(?<![<>=!~])=)\s*[012]\.", spec):
        return True
    upper = re.search(r"<(=?)\s*(\d+)(?:\.(\d+))?", spec)
    if upper:
        major, minor = int(upper.group(2)), int(upper.group(3) or 0)
        return major < 3 or (major == 3 and minor == 0 and not upper.group(1))
    return False


# --- DVC -------------------------------------------------------------------------------------------


def dvc_remote(root: Path) -> tuple[str | None, str | None]:
    """(remote name, why): ``core.remote`` of .dvc/config, else its only remote."""
    return choose_remote(*dvc_remotes(root))


def choose_remote(remotes: Mapping[str, str], default: str | None) -> tuple[str | None, str | None]:
    """(remote name, why) from .dvc/config's remotes and its ``core.remote``."""
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
    from mlops_gitops.adapters import git

    return git.default_branch(root) or "main"


def branch_exists(root: Path, branch: str) -> bool:
    """A local or origin branch of that name, or the current (possibly unborn) branch."""
    from mlops_gitops.adapters import git

    if git.current_branch(root) == branch:
        return True
    return any(git.resolve(ref, root) for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"))


def dvc_pointers(
    root: Path, subprojects: list[str] | None = None, listed: Sequence[str] | None = None
) -> list[str]:
    """``*.dvc`` data pointers outside .dvc/ and .git/ (and outside ``--subdir`` projects), relative
    to root. ``listed``: :func:`~mlops_gitops.pipeline.fingerprint.listing`, when already taken."""
    inside = subprojects if subprojects is not None else dvc_subprojects(root)
    listed = listed if listed is not None else WorkTree(root).listing
    return [p for p in listed if p.endswith(".dvc") and not _under(p, inside)]


def dvc_files(
    root: Path, subprojects: list[str] | None = None, listed: Sequence[str] | None = None
) -> list[str]:
    """Every dvc.yaml of the project, relative to root (what DVC collects): those inside a folder
    with its own ``.dvc/`` belong to that ``dvc init --subdir`` project, which DVC ignores here.
    ``listed``: :func:`~mlops_gitops.pipeline.fingerprint.listing`, when already taken."""
    inside = subprojects if subprojects is not None else dvc_subprojects(root)
    listed = listed if listed is not None else WorkTree(root).listing
    found = [p for p in listed if p == "dvc.yaml" or p.endswith("/dvc.yaml")]
    return [p for p in found if not _under(p, inside)]


def dvc_subprojects(root: Path) -> list[str]:
    """Folders below root with their own ``.dvc/`` directory (``dvc init --subdir``), relative."""
    import subprocess

    from mlops_gitops.pipeline.fingerprint import _SKIP_DIRS

    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*/.dvc/*"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    folders: set[str] = set()
    if proc.returncode == 0:
        for path in proc.stdout.decode("utf-8", "replace").split("\0"):
            parts = path.split("/")
            if ".dvc" in parts[1:]:
                folder = "/".join(parts[: parts.index(".dvc", 1)])
                if (root / folder / ".dvc").is_dir() and not set(parts[:-1]) & (_SKIP_DIRS - {".dvc"}):
                    folders.add(folder)
    else:
        for folder, dirs, _files in os.walk(root):
            rel = Path(folder).relative_to(root).as_posix()
            if rel != "." and ".dvc" in dirs:
                folders.add(rel)
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
    return sorted(folders)


def _under(path: str, folders: list[str]) -> bool:
    return any(path.startswith(folder + "/") for folder in folders)


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


def detect(root: Path, *, listing: Sequence[str] | None = None) -> Detection:
    """Everything init can learn about ``root`` without asking the user. ``listing``: every dvc.yaml
    and .dvc file (:func:`~mlops_gitops.pipeline.fingerprint.listing`) when the caller has it; it is
    taken once either way, and kept in :attr:`Detection.listing` for the steps after."""
    root = root.resolve()
    tree = WorkTree(root, tuple(listing) if listing is not None else None)
    signals = python_signals(root)
    version, version_source = choose_python(signals)
    install = install_command(root)
    remotes, default = dvc_remotes(root)
    remote, remote_source = choose_remote(remotes, default)
    is_git = tree.toplevel is not None
    subprojects = dvc_subprojects(root)
    found = Detection(
        root=root,
        name=project_name(root),
        python_version=version,
        python_source=version_source,
        python_signals=signals,
        install=install.command,
        install_source=install.source,
        install_options=list(install.options),
        conda=install.conda,
        requirements=list(install.requirements),
        remote=remote,
        remote_source=remote_source,
        remotes=remotes,
        is_git=is_git,
        is_dvc=(root / ".dvc").is_dir(),
        dvcfiles=dvc_files(root, subprojects, tree.listing),
        pointers=dvc_pointers(root, subprojects, tree.listing),
        subprojects=subprojects,
        dvc_pins=dvc_pins(root, [*install.requirements, *requirement_files(root)]),
        existing_ci=existing_ci(root),
        listing=tree.listing,
    )
    if is_git:
        found.default_branch = default_branch(root)
    return found


def _pipfile_data(root: Path) -> Toml:
    path = root / "Pipfile"
    if not path.is_file():
        return {}
    return _toml(path, "Pipfile")


def _pyproject(root: Path) -> Toml:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    return _toml(path, "pyproject.toml")


def _toml(path: Path, name: str) -> Toml:
    from mlops_gitops.adapters import toml

    tomllib = toml.tomllib()
    try:
        data: dict[str, object] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: cannot parse: {exc}") from None
    return data


def _table(data: Toml, *keys: str) -> Toml:
    """The table at ``keys`` (``tool.poetry``), empty when one is missing or is no table: an odd
    value in a hand-written file is no signal (and no crash)."""
    node: object = data
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}
