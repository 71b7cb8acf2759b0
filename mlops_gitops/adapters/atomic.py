"""The one way files are written: a temporary file beside the target, then a rename, so a reader (DVC,
an upload step, another command) never sees half a file. Kept free of heavy imports (no ``tempfile``):
``report`` writes through it on its fast path."""

from __future__ import annotations

import os
from pathlib import Path

from mlops_gitops.errors import UsageError


def stage(target: Path, text: str | bytes) -> Path:
    """``text`` (or bytes, written as they are) in a new temporary file beside ``target``, with
    ``target``'s mode (0644 for a new file), ready to be renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            continue
    try:
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as raw:
                raw.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path | str, text: str | bytes, what: str = "file") -> None:
    """Write ``text`` to ``path`` atomically. A failure is bad input in one line, naming ``what``."""
    target = Path(path)
    try:
        os.replace(stage(target, text), target)
    except OSError as exc:
        blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is not a directory" if blocker else exc.strerror or type(exc).__name__
        raise UsageError(f"{path}: cannot write the {what}: {reason}") from None
