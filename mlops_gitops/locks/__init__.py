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

A lock without a uv block is installed by pip alone, as before uv was locked (step 2 is then
``python -m pip install --require-hashes --no-deps --no-build-isolation -r <lock>``).

``--remote SCHEME`` (repeatable) adds the DVC remote plugin ``REMOTE_PLUGINS[SCHEME]``: its lock in
``plugins/`` holds only what the plugin needs beyond the locks with the dvc extra (resolved against the
union lock's pins, so every shared version agrees), and the file installed is the base lock's blocks
plus the plugin blocks the base does not pin. Every scheme of ``REMOTE_PLUGINS`` has a plugin lock
(``LOCKED_REMOTES``): all nine plugins resolve against DVC 3.67's pins. One that stopped resolving
would be left out of ``LOCKED_REMOTES``, named here, and refused by ``install --remote``.

Standard library only: this runs right after ``pip install --no-deps mlops-gitops``, before any
dependency exists.

    python -m mlops_gitops.locks install [EXTRA ...] [--remote SCHEME ...]     # the generated step
    python -m mlops_gitops.locks path [EXTRA ...] [--remote SCHEME ...]        # the lock files used
    python -m mlops_gitops.locks constraints [EXTRA ...] [--remote SCHEME ...] # pins, no hashes (pip -c)
    python -m mlops_gitops.locks lock [EXTRA ...] [--remote SCHEME ...]        # the merged lock install uses

The tests find uv's cache with ``uv cache dir``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXTRAS = ("data", "dvc", "github")
# The extras sets the generated jobs install (render/workflows.py): one lock each.
LOCKED: tuple[tuple[str, ...], ...] = ((), ("github",), ("dvc", "github"), ("data", "dvc"), EXTRAS)
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
    unknown = [e for e in chosen if e not in EXTRAS]
    if unknown:
        raise ValueError(f"unknown extra {unknown[0]!r}: choose from {', '.join(EXTRAS)}")
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


def lock_text(extras: Iterable[str], remotes: Iterable[str] = ()) -> str:
    """The lock ``install`` installs: the extras' lock, with the plugin locks of ``remotes`` merged."""
    chosen = tuple(extras)
    keys = list(dict.fromkeys(remote_key(r) for r in remotes))
    if keys and "dvc" not in chosen:
        raise ValueError("--remote needs the dvc extra (a remote plugin is a DVC plugin)")
    path = lock_path(chosen)
    if not path.is_file():
        locked = ", ".join(lock_name(e) for e in LOCKED)
        raise ValueError(f"no lock for the extras {lock_name(chosen)}: the locked sets are {locked}")
    text = path.read_text(encoding="utf-8")
    if not keys:
        return text
    return merge(text, [plugin_lock_path(k).read_text(encoding="utf-8") for k in keys])


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


USAGE = (
    "usage: python -m mlops_gitops.locks {install|path|constraints|lock} [EXTRA ...] [--remote SCHEME ...]"
)


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
    if not argv or argv[0] not in ("install", "path", "constraints", "lock"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        extras, remotes = parse(argv[1:])
        lock = lock_path(extras)
        text = lock_text(extras, remotes)
    except ValueError as exc:
        print(f"mlops_gitops.locks: {exc}", file=sys.stderr)
        return 2
    if argv[0] == "path":
        print(lock)
        for key in dict.fromkeys(remote_key(r) for r in remotes):
            print(plugin_lock_path(key))
        return 0
    if argv[0] == "constraints":
        sys.stdout.write(constraints(text))
        return 0
    if argv[0] == "lock":
        sys.stdout.write(text)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if remotes:
            lock = Path(tmp) / f"{lock.stem}+{'+'.join(sorted({remote_key(r) for r in remotes}))}.txt"
            lock.write_text(text, encoding="utf-8")
        for command in install_commands(lock, Path(tmp)):
            print("+ " + " ".join(command[1:]), flush=True)
            code = subprocess.call(command)
            if code:
                return code
    return 0
