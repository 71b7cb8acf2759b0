"""Hash-locked installs of mlops-gitops's own dependencies in the generated jobs.

Each generated job installs the tool itself pinned (index version, Git commit, archive hash or a
committed wheel) and without dependencies, then its dependencies from the lock the tool ships for that
job's extras: every package pinned with ``==`` and its sha256 hashes (``pip install --require-hashes``),
so a job holding a write token never resolves a floating dependency tree. The locks are made with
``make locks`` (uv, universal: one lock for every supported Python and platform), when releasing.

Standard library only: this runs right after ``pip install --no-deps mlops-gitops``, before any
dependency exists.

    python -m mlops_gitops.locks install [EXTRA ...]     # what the generated step runs
    python -m mlops_gitops.locks path [EXTRA ...]        # the lock file for those extras
    python -m mlops_gitops.locks constraints [EXTRA ...] # its pins without hashes (pip -c)
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
# Installed first from the same lock, wheels only: the one build backend the sdist-only packages of
# the DVC tree need (hydra-core's antlr4 runtime), so they build without fetching an unpinned one.
BUILD_TOOLS = ("setuptools",)
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==", re.M)
# A DVC remote's URL scheme -> the plugin DVC needs for it (PyPI). http(s) is built into dvc itself.
# Keys are what the generated jobs pass to `install --remote`; each has a lock in plugins/.
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


def constraints(text: str) -> str:
    """The lock's pins and markers without hashes or comments: for ``pip install -c``."""
    lines = []
    for block in blocks(text).values():
        for part in block.split("\n"):
            if _REQUIREMENT.match(part):
                lines.append(part.rstrip(" \\"))
    return "\n".join(lines) + "\n"


def install_commands(lock: Path, scratch: Path) -> list[list[str]]:
    """The pip invocations that install ``lock``: its build tools first (wheels only), then the rest
    without build isolation, all hash-checked and without resolving anything beyond the lock."""
    pip = [sys.executable, "-m", "pip", "install", "--require-hashes", "--no-deps"]
    text = lock.read_text(encoding="utf-8")
    build = [blocks(text)[name] for name in BUILD_TOOLS if name in blocks(text)]
    commands = []
    if build:
        first = scratch / "build-tools.txt"
        first.write_text("\n".join(build) + "\n", encoding="utf-8")
        commands.append([*pip, "--only-binary", ":all:", "-r", str(first)])
    commands.append([*pip, "--no-build-isolation", "-r", str(lock)])
    return commands


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("install", "path", "constraints"):
        print("usage: python -m mlops_gitops.locks {install|path|constraints} [EXTRA ...]", file=sys.stderr)
        return 2
    try:
        lock = lock_path(argv[1:])
    except ValueError as exc:
        print(f"mlops_gitops.locks: {exc}", file=sys.stderr)
        return 2
    if argv[0] == "path":
        print(lock)
        return 0
    if argv[0] == "constraints":
        sys.stdout.write(constraints(lock.read_text(encoding="utf-8")))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for command in install_commands(lock, Path(tmp)):
            print("+ " + " ".join(command[1:]), flush=True)
            code = subprocess.call(command)
            if code:
                return code
    return 0
