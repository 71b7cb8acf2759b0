"""Hash-locked installs of mlops-gitops's own dependencies in the generated jobs.

Each generated job installs the tool itself pinned (index version, Git commit, archive hash or a
committed wheel) and without dependencies, into a virtual environment of its own, then its dependencies
from the lock the tool ships for that job's extras: every package pinned with ``==`` and its sha256
hashes (``--require-hashes``), so a job holding a write token never resolves a floating dependency
tree. The locks are made with ``make locks`` (uv, universal: one lock for every supported Python and
platform), when releasing.

``install`` runs, each command printed first:

1. ``python -m pip install --disable-pip-version-check --require-hashes --no-deps --only-binary :all:
   -r build-tools.txt``: the lock's uv and setuptools blocks, wheels only;
2. ``python -m uv pip install --python <this python> --require-hashes --no-deps --no-build-isolation
   -r <lock>``: everything, hash-checked, nothing resolved (under a second from a warm uv cache;
   pip takes many seconds). uv reads ``UV_OFFLINE``, ``UV_CACHE_DIR`` and its index settings from the
   environment, and none is overridden here.

``dvc`` alone has no file: it is the blocks ``data-dvc.txt`` and ``dvc-github.txt`` share (``DERIVED``),
what a training job without data checks installs. Nor has ``checks dvc``, what a training job with
data checks and a rollout's look install: ``data-dvc.txt`` without SciPy (``REDUCED``).

A lock without a uv block is installed by pip alone, as before uv was locked (step 2 is then
``python -m pip install --require-hashes --no-deps --no-build-isolation -r <lock>``).

``--remote SCHEME`` (repeatable) adds the DVC remote plugin ``REMOTE_PLUGINS[SCHEME]``: its lock in
``plugins/`` holds only what the plugin needs beyond the locks with the dvc extra (resolved against the
union lock's pins, so every shared version agrees), and the file installed is the base lock's blocks
plus the plugin blocks the base does not pin. Every scheme of ``REMOTE_PLUGINS`` has a plugin lock
(``LOCKED_REMOTES``): all nine plugins resolve against DVC 3.67's pins. One that stopped resolving
would be left out of ``LOCKED_REMOTES``, named here, and refused by ``install --remote``.

The read-only jobs cache their whole environment with actions/cache, keyed by the tool's pin (which
fixes the locks: they ship inside the tool), the job's extras and plugins, and the interpreter, and
restore it before this runs (docs/workflows.md, "Caching the tool's packages"):

* ``ready`` says whether the environment it runs in holds the lock as a complete ``install`` left it:
  the lock's sha256 in the ``MARKER`` file ``install`` writes last, and every file of every installed
  package's RECORD present at its recorded size. Exit 0, or 1 with one line saying why not (nothing
  restored, a restore cut short, another lock): the job then installs afresh;
* with ``MLOPS_GITOPS_UV`` set to a folder, ``install`` runs uv from the uv wheel in
  ``<folder>/wheels`` (``pip download --require-hashes --only-binary :all:`` fetches it when absent),
  its sha256 checked here against the lock before its binary is extracted; uv installs the build
  tools, then the whole lock, ``--require-hashes --no-deps``, its cache in ``<folder>/uv`` (or in
  ``UV_CACHE_DIR`` where the runner keeps one). uv is never installed into the environment, so the
  environment a job caches carries no installer.

An environment restored from the cache is not hashed again, file by file (as uv does not hash again
the unpacked packages of its own cache): it is trusted as far as the jobs that can write that cache,
which docs/workflows.md names.

Standard library only: this runs right after ``pip install --no-deps mlops-gitops``, before any
dependency exists.

    python -m mlops_gitops.locks install [EXTRA ...] [--remote SCHEME ...]     # the generated step
    python -m mlops_gitops.locks ready [EXTRA ...] [--remote SCHEME ...]       # is a restored one whole?
    python -m mlops_gitops.locks path [EXTRA ...] [--remote SCHEME ...]        # the lock files used
    python -m mlops_gitops.locks constraints [EXTRA ...] [--remote SCHEME ...] # pins, no hashes (pip -c)
    python -m mlops_gitops.locks lock [EXTRA ...] [--remote SCHEME ...]        # the merged lock install uses

The tests find uv's cache with ``uv cache dir``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXTRAS = ("data", "dvc", "github")
# Extras that are a part of one of EXTRAS (pyproject.toml): ``checks`` is ``data`` without SciPy, which
# only the drift statistics use (validate-data and a rollout's outcomes read data with pyarrow and
# NumPy alone).
PARTS = ("checks",)
# The extras sets the generated jobs install (render/workflows.py): one lock each.
LOCKED: tuple[tuple[str, ...], ...] = ((), ("github",), ("dvc", "github"), ("data", "dvc"), EXTRAS)
# Extras sets installed from the blocks two shipped locks share, with no file of their own: the dvc
# extra alone (a training job without data checks: no pyarrow, NumPy or SciPy, 340 of its 570 MB) is
# what data-dvc.txt and dvc-github.txt both pin. Both are resolved against the union, so a shared name
# has one version, and what they share is the core and DVC's tree; the blocks are data-dvc.txt's.
DERIVED: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("dvc",): (("data", "dvc"), ("dvc", "github")),
}
# Extras sets installed from one shipped lock less some packages (nothing else in it depends on them):
# checks and dvc, what a training job that validates data installs, is data-dvc.txt without SciPy,
# 1,800 files and 125 MB it would unpack or restore for nothing.
REDUCED: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("checks", "dvc"): (("data", "dvc"), ("scipy",)),
}
# Installed first from the same lock by pip, wheels only: uv, which installs the rest, and the one build
# backend the sdist-only packages of the DVC tree need (hydra-core's antlr4 runtime), so they build
# without build isolation and so without fetching an unpinned one.
BUILD_TOOLS = ("uv", "setuptools")
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==", re.M)
# A DVC remote's URL scheme -> the plugin DVC needs for it (PyPI). http(s) is built into dvc itself.
# Keys are what the generated jobs pass to `install --remote`; those of LOCKED_REMOTES have a lock in
# plugins/.
REMOTE_PLUGINS = {
    "s3": "dvc-s3",
    "gs": "dvc-gs",
    "azure": "dvc-azure",
    "gdrive": "dvc-gdrive",
    "ssh": "dvc-ssh",
    "oss": "dvc-oss",
    "webdav": "dvc-webdav",
    "hdfs": "dvc-hdfs",
    "webhdfs": "dvc-webhdfs",
}
# Schemes that are spelled otherwise in remote URLs.
_SCHEME_ALIASES = {"gcs": "gs", "webdavs": "webdav", "azureblob": "azure"}
# The REMOTE_PLUGINS keys with a lock in plugins/: all of them resolve against DVC 3.67's pins
# (`make locks` says when this needs updating).
LOCKED_REMOTES: tuple[str, ...] = ("s3", "gs", "azure", "gdrive", "ssh", "oss", "webdav", "hdfs", "webhdfs")


def remote_plugin(url: str) -> str | None:
    """The ``REMOTE_PLUGINS`` key a DVC remote URL needs (``s3://b/p`` -> ``s3``), or None for a
    local path, http(s), or a scheme DVC has no plugin for."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url.strip())
    if not match:
        return None
    scheme = match.group(1).lower()
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    return scheme if scheme in REMOTE_PLUGINS else None


def lock_name(extras: Iterable[str]) -> str:
    """``core`` for no extras, else the sorted extras joined by ``-`` (``dvc-github``)."""
    chosen = sorted(set(extras))
    unknown = [e for e in chosen if e not in EXTRAS + PARTS]
    if unknown:
        raise ValueError(f"unknown extra {unknown[0]!r}: choose from {', '.join(EXTRAS + PARTS)}")
    return "-".join(chosen) or "core"


def lock_path(extras: Iterable[str]) -> Path:
    return HERE / f"{lock_name(extras)}.txt"


def plugin_lock_path(scheme: str) -> Path:
    return HERE / "plugins" / f"{scheme}.txt"


def remote_key(name: str) -> str:
    """The ``LOCKED_REMOTES`` key for ``--remote NAME`` (a key or an alias such as ``gcs``)."""
    key = _SCHEME_ALIASES.get(name.lower(), name.lower())
    if key not in REMOTE_PLUGINS:
        raise ValueError(f"unknown remote {name!r}: choose from {', '.join(REMOTE_PLUGINS)}")
    if key not in LOCKED_REMOTES:
        raise ValueError(f"no lock for remote {name!r} ({REMOTE_PLUGINS[key]}): install it yourself")
    return key


def blocks(text: str) -> dict[str, str]:
    """Each pinned requirement of a lock with its hash lines, by normalised name (``ruamel-yaml``);
    a name pinned twice under different markers keeps both blocks."""
    found: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = _REQUIREMENT.match(block)
        if match:
            name = re.sub(r"[-_.]+", "-", match.group("name")).lower()
            found.setdefault(name, []).append(block.rstrip())
    return {name: "\n".join(parts) for name, parts in found.items()}


def merge(base: str, plugins: Iterable[str]) -> str:
    """A base lock's blocks, then each plugin lock's blocks the base (or an earlier plugin) lacks."""
    merged = blocks(base)
    for text in plugins:
        for name, block in blocks(text).items():
            merged.setdefault(name, block)
    return "\n".join(merged.values()) + "\n"


def shared(text: str, other: str) -> str:
    """The blocks of the lock ``text`` whose names the lock ``other`` pins too."""
    pinned = blocks(other)
    return "\n".join(block for name, block in blocks(text).items() if name in pinned) + "\n"


def lock_text(extras: Iterable[str], remotes: Iterable[str] = ()) -> str:
    """The lock ``install`` installs: the extras' lock, with the plugin locks of ``remotes`` merged."""
    chosen = tuple(extras)
    keys = list(dict.fromkeys(remote_key(r) for r in remotes))
    if keys and "dvc" not in chosen:
        raise ValueError("--remote needs the dvc extra (a remote plugin is a DVC plugin)")
    name = lock_name(chosen)
    key = tuple(sorted(set(chosen)))
    derived, reduced = DERIVED.get(key), REDUCED.get(key)
    if derived is not None:
        text = shared(*(_read(f"{lock_name(e)}.txt") for e in derived))
    elif reduced is not None:
        source, left_out = reduced
        kept = {
            n: block for n, block in blocks(_read(f"{lock_name(source)}.txt")).items() if n not in left_out
        }
        text = "\n".join(kept.values()) + "\n"
    elif name in {lock_name(e) for e in LOCKED}:
        text = _read(f"{name}.txt")
    else:
        made = [*LOCKED, *DERIVED, *REDUCED]
        raise ValueError(
            f"no lock for the extras {name}: the locked sets are {', '.join(map(lock_name, made))}"
        )
    if not keys:
        return text
    return merge(text, [_read("plugins", f"{k}.txt") for k in keys])


def constraints(text: str) -> str:
    """The lock's pins and markers without hashes or comments: for ``pip install -c``."""
    lines = []
    for block in blocks(text).values():
        for part in block.split("\n"):
            if _REQUIREMENT.match(part):
                lines.append(part.rstrip(" \\"))
    return "\n".join(lines) + "\n"


def pip_for(python: str) -> list[str]:
    """How to run pip for ``python``: its own, or, in a virtual environment made without pip (the
    generated jobs make the tool's so: ensurepip is most of a venv's set-up time), the pip of the
    interpreter it was made from, aimed at it with ``--python``."""
    import importlib.util

    if python != sys.executable or importlib.util.find_spec("pip") is not None:
        return [python, "-m", "pip"]
    base = getattr(sys, "_base_executable", "") or sys.executable
    return [base, "-m", "pip", "--python", python]


def install_commands(lock: Path, scratch: Path, python: str | None = None) -> list[list[str]]:
    """The commands that install ``lock`` into ``python`` (this one by default): its build tools
    first (uv and setuptools, by pip, wheels only), then the whole lock by uv (pip when the lock pins
    no uv) without build isolation, all hash-checked and without resolving anything beyond the lock."""
    python = python or sys.executable
    pip = [*pip_for(python), "install", "--disable-pip-version-check", "--require-hashes", "--no-deps"]
    found = blocks(lock.read_text(encoding="utf-8"))
    build = [found[name] for name in BUILD_TOOLS if name in found]
    commands = []
    if build:
        first = scratch / "build-tools.txt"
        first.write_text("\n".join(build) + "\n", encoding="utf-8")
        commands.append([*pip, "--only-binary", ":all:", "-r", str(first)])
    if "uv" in found:
        uv = [python, "-m", "uv", "pip", "install", "--python", python, "--require-hashes", "--no-deps"]
        commands.append([*uv, "--no-build-isolation", "-r", str(lock)])
    else:
        commands.append([*pip, "--no-build-isolation", "-r", str(lock)])
    return commands


# A folder for uv's wheel and uv's cache (the jobs that cache their environment set it): uv then runs
# from there and is never installed into the environment. See the docstring.
UV_FOLDER_ENV = "MLOPS_GITOPS_UV"
# Written into the environment's folder by a complete ``install``: the sha256 of the lock it installed.
MARKER = "mlops-gitops-lock.sha256"
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def _read(*parts: str) -> str:
    """A file of this package (also when it runs from a wheel or a zip)."""
    from importlib import resources

    return resources.files(__name__).joinpath(*parts).read_text(encoding="utf-8")


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


class HashMismatch(Exception):
    """A kept file whose sha256 is none the lock lists."""


def _pip_download(python: str) -> list[str]:
    """pip's download command for ``python``: downloading installs nothing, so the pip of the
    interpreter a pip-less virtual environment was made from serves as is (same tags, no --python)."""
    import importlib.util

    if python == sys.executable and importlib.util.find_spec("pip") is None:
        python = getattr(sys, "_base_executable", "") or sys.executable
    return [python, "-m", "pip", "download", "--disable-pip-version-check"]


def uv_binary(block: str, folder: Path, scratch: Path, python: str) -> Path:
    """uv's binary, in ``scratch``, from the wheel of the lock's uv ``block``; nothing installed by pip.

    The wheel is ``folder/wheels/uv-<version>-*.whl``, downloaded there by pip (hash-checked) when none
    is there. Its sha256 must be one the block lists, checked here every time before anything of it
    runs. Raises ``HashMismatch`` for a wheel the lock does not list."""
    hashes = set(_HASH.findall(block))
    version = block.split("==", 1)[1].split()[0]
    wheels = folder / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    kept = sorted(wheels.glob(f"uv-{version}-*.whl"))
    if not kept:
        requirement = scratch / "uv.txt"
        requirement.write_text(block + "\n", encoding="utf-8")
        only = ["--require-hashes", "--no-deps", "--only-binary", ":all:"]
        command = [*_pip_download(python), *only, "-d", str(wheels), "-r", str(requirement)]
        print("+ " + " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True)
        kept = sorted(wheels.glob(f"uv-{version}-*.whl"))
    for wheel in kept:
        found = file_sha256(wheel)
        if found not in hashes:
            raise HashMismatch(f"{wheel.name}: sha256 {found} is not one the lock lists for uv=={version}")
    print(f"uv {version}: {kept[0].name}, sha256 checked against the lock", flush=True)
    binary = scratch / "uv"
    member = f"uv-{version}.data/scripts/uv"
    with zipfile.ZipFile(kept[0]) as archive, archive.open(member) as source, binary.open("wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    binary.chmod(0o755)
    return binary


def uv_install(text: str, folder: Path, scratch: Path, name: str = "lock.txt") -> int:
    """``install`` with a folder for uv (``MLOPS_GITOPS_UV``), into this Python's environment.

    uv (``uv_binary``) installs the lock's build tools, then the whole lock, ``--require-hashes``, its
    cache in the folder (or in ``UV_CACHE_DIR`` when the runner sets one). uv itself is not installed
    into the environment, so an environment a job caches carries no installer. ``name``: the file the
    lock is installed from, as the log shows it (``data-dvc+s3.txt``)."""
    found = blocks(text)
    if "uv" not in found:
        lock = scratch / name
        lock.write_text(text, encoding="utf-8")
        return run_all(install_commands(lock, scratch))
    python = sys.executable
    try:
        uv = uv_binary(found["uv"], folder, scratch, python)
    except HashMismatch as exc:
        print(f"mlops_gitops.locks: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    env = {**os.environ, "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(folder / "uv")}
    build, rest = scratch / "build-tools.txt", scratch / name
    build.write_text("\n".join(found[n] for n in BUILD_TOOLS if n in found and n != "uv") + "\n", "utf-8")
    rest.write_text("\n".join(block for n, block in found.items() if n != "uv") + "\n", "utf-8")
    hashed = [str(uv), "pip", "install", "--python", python, "--no-deps", "--require-hashes"]
    return run_all([[*hashed, "-r", str(build)], [*hashed, "--no-build-isolation", "-r", str(rest)]], env)


def lock_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def environment_folder() -> Path:
    """The environment this runs in (``sys.prefix``: the tool's own, when its python runs this)."""
    return Path(sys.prefix)


def ready(text: str) -> tuple[bool, str]:
    """Whether this environment holds the lock ``text`` as a complete ``install`` left it, and one line
    that says so or why not: the lock's sha256 in its ``MARKER``, and every file each installed
    package's RECORD lists present, at the size recorded (a restore cut short, or another lock's
    environment, is installed again). Contents are not hashed again: an environment restored from the
    cache is trusted as far as the jobs that can write that cache (docs/workflows.md)."""
    import csv
    import sysconfig

    try:
        marked = (environment_folder() / MARKER).read_text(encoding="utf-8").strip()
    except OSError:
        return False, "not installed: no lock was installed into this environment"
    if marked != lock_digest(text):
        return False, "not installed: this environment holds another lock"
    site = Path(sysconfig.get_paths()["purelib"])
    records = sorted(site.glob("*.dist-info/RECORD"))
    for record in records:
        with record.open(encoding="utf-8", newline="") as rows:
            for row in csv.reader(rows):
                if not row or not row[0]:
                    continue
                size = row[2] if len(row) > 2 else ""
                try:
                    found = os.stat(site / row[0]).st_size
                except OSError:
                    return False, f"not installed: {row[0]} of {record.parent.name} is missing"
                if size and str(found) != size:
                    return False, f"not installed: {row[0]} of {record.parent.name} is not the file installed"
    count = f"{len(records)} package{'' if len(records) == 1 else 's'}"
    return True, f"installed: {count}, every file in place, as the lock {marked[:12]} installed them"


def run_all(commands: list[list[str]], env: dict[str, str] | None = None) -> int:
    """Each command printed, then run; the first failure's exit code."""
    for command in commands:
        shown = command[1:] if command[1:2] == ["-m"] else [Path(command[0]).name, *command[1:]]
        print("+ " + " ".join(shown), flush=True)
        code = subprocess.call(command) if env is None else subprocess.call(command, env=env)
        if code:
            return code
    return 0


USAGE = "usage: python -m mlops_gitops.locks {install|ready|path|constraints|lock} [EXTRA ...] [--remote SCHEME ...]"


def parse(argv: list[str]) -> tuple[list[str], list[str]]:
    """Extras and ``--remote`` values (``--remote S`` or ``--remote=S``, repeatable)."""
    extras: list[str] = []
    remotes: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--remote":
            value = next(args, None)
            if value is None or value.startswith("-"):
                raise ValueError("--remote needs a scheme (s3, gs, ...)")
            remotes.append(value)
        elif arg.startswith("--remote="):
            remotes.append(arg.removeprefix("--remote="))
        elif arg.startswith("-"):
            raise ValueError(f"unknown option {arg!r}")
        else:
            extras.append(arg)
    return extras, remotes


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("install", "ready", "path", "constraints", "lock"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        extras, remotes = parse(argv[1:])
        lock = lock_path(extras)
        text = lock_text(extras, remotes)
    except ValueError as exc:
        print(f"mlops_gitops.locks: {exc}", file=sys.stderr)
        return 2
    chosen = tuple(sorted(set(extras)))
    derived = DERIVED.get(chosen) or ((REDUCED[chosen][0],) if chosen in REDUCED else None)
    if argv[0] == "path":
        for source in [lock_path(e) for e in derived] if derived else [lock]:
            print(source)
        for key in dict.fromkeys(remote_key(r) for r in remotes):
            print(plugin_lock_path(key))
        return 0
    if argv[0] == "constraints":
        sys.stdout.write(constraints(text))
        return 0
    if argv[0] == "lock":
        sys.stdout.write(text)
        return 0
    if argv[0] == "ready":
        ok, line = ready(text)
        if not ok and os.environ.get("GITHUB_ACTIONS") == "true":
            # Something was restored, and not whole: on the run's summary, since every run of this
            # cache key restores it again (GitHub never overwrites a key) until the entry is deleted.
            why = f"{line}; installing afresh (delete this cache entry to keep a whole one)"
            line = "::warning title=mlops-gitops::" + why.replace("%", "%25").replace("\r", "%0D").replace(
                "\n", "%0A"
            )
        print(line, flush=True)
        return 0 if ok else 1
    folder = os.environ.get(UV_FOLDER_ENV, "")
    keys = sorted({remote_key(r) for r in remotes})
    name = "+".join([lock.stem, *keys]) + ".txt"
    with tempfile.TemporaryDirectory() as tmp:
        if folder:
            code = uv_install(text, Path(folder), Path(tmp), name)
        else:
            if remotes or derived:
                lock = Path(tmp) / name
                lock.write_text(text, encoding="utf-8")
            code = run_all(install_commands(lock, Path(tmp)))
    if code == 0:
        # What `ready` checks before a job uses an environment restored from its cache.
        (environment_folder() / MARKER).write_text(lock_digest(text) + "\n", encoding="utf-8")
    return code
