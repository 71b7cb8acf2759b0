"""A reproduced run's files handed from one job to another, read as untrusted input.

A pull request's run reproduces its pipelines and uploads the Git-tracked files that reproducing
changed; the trusted side (the comment job, which holds a write token) records the ones DVC owns on the
pull request's branch: each ``dvc.lock``, and the outputs those locks name that live in Git (metrics and
plots with ``cache: false``), so the recorded commit's metrics are the evaluated ones. The run executed
the pull request's code, so the folder may hold anything: only regular files at plain relative paths,
of bounded size and number, UTF-8, and ``dvc.lock`` files that load (without YAML bombs) as a lock of
DVC 3 (``schema: '2.0'`` and a ``stages:`` mapping). Anything else is refused in one line naming the
file, before any request is made; files that are neither a lock nor an output it names are skipped.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlops_gitops.errors import UsageError

LOCK_NAME = "dvc.lock"
MAX_LOCK_BYTES = 1 << 20  # a dvc.lock of hundreds of stages is tens of kB; metrics files less
MAX_LOCK_FILES = 200


def safe_relative(path: str) -> bool:
    """A path inside the repository: relative, POSIX, no ``..``, no empty or ``.`` segments, no ``.git``."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    parts = PurePosixPath(path).parts
    return all(p not in ("", ".", "..", ".git") for p in parts) and posixpath.normpath(path) == path


def parse_lock(text: str, where: str) -> None:
    """Refuse ``text`` unless it is a DVC 3 ``dvc.lock`` (``where`` names it in the error)."""
    from mlops_gitops.adapters.yamlsafe import load_safe

    try:
        data = load_safe(text, where)
    except UsageError:
        raise
    except Exception as exc:  # ruamel's YAMLError family: the file is not YAML at all
        raise UsageError(f"{where}: not a dvc.lock: {type(exc).__name__}") from None
    if (
        not isinstance(data, dict)
        or str(data.get("schema")) != "2.0"
        or not isinstance(data.get("stages"), dict)
    ):
        raise UsageError(f"{where}: not a dvc.lock of DVC 3 (schema '2.0' with a stages mapping)")


def lock_outputs(path: str, text: str) -> set[str]:
    """Repository paths of the outputs the lock at ``path`` names (relative to its folder)."""
    from mlops_gitops.adapters.yamlsafe import load_safe

    data = load_safe(text, path)
    folder = posixpath.dirname(path)
    outs: set[str] = set()
    for stage in data["stages"].values():
        for out in (stage or {}).get("outs") or [] if isinstance(stage, dict) else []:
            if isinstance(out, dict) and isinstance(out.get("path"), str):
                outs.add(posixpath.normpath(posixpath.join(folder, out["path"])))
    return outs


@dataclass(frozen=True)
class RunFiles:
    """What a run handed over: ``files`` to record (locks and their outputs), ``skipped`` paths."""

    files: dict[str, str]
    skipped: tuple[str, ...] = ()


def read_run_files(folder: Path) -> RunFiles:
    """The ``dvc.lock`` files under ``folder`` and the outputs they name, checked; empty when absent."""
    found = _read_dir(folder)
    locks = {p: t for p, t in found.items() if posixpath.basename(p) == LOCK_NAME}
    for path, text in locks.items():
        parse_lock(text, path)
    outputs = set().union(*(lock_outputs(p, t) for p, t in locks.items())) if locks else set()
    files = {p: t for p, t in found.items() if p in locks or p in outputs}
    return RunFiles(dict(sorted(files.items())), tuple(sorted(set(found) - set(files))))


def _read_dir(folder: Path) -> dict[str, str]:
    """``{repository path: text}`` of every file under ``folder``, checked; {} when absent."""
    if not folder.exists():
        return {}
    if folder.is_symlink() or not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of dvc.lock files")
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                raise UsageError(f"{here / name}: a symbolic link, refused")
        for name in sorted(filenames):
            file = here / name
            rel = file.relative_to(folder).as_posix()
            if file.is_symlink() or not file.is_file():
                raise UsageError(f"{file}: not a regular file, refused")
            if not safe_relative(rel):
                raise UsageError(f"{file}: not a plain path inside the repository, refused")
            if len(found) >= MAX_LOCK_FILES:
                raise UsageError(f"{folder}: more than {MAX_LOCK_FILES} files, refused")
            if file.stat().st_size > MAX_LOCK_BYTES:
                raise UsageError(f"{file}: larger than {MAX_LOCK_BYTES} bytes, refused")
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"{file}: not UTF-8 text, refused") from None
            found[rel] = text
    return dict(sorted(found.items()))
