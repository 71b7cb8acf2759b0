"""Memos kept in a repository's ``.git`` (never committed, never pushed): answers that cost a parse,
a validation or an import of DVC, by a key that covers everything the answer depends on.

The key is the caller's: the tool's signature (:func:`~mlops_gitops.adapters.resources.tool_signature`),
DVC's (:func:`dvc_signature`) where DVC computed the answer, and the input. A memo only ever saves
time: a missing, unreadable or foreign file is an empty memo, and a ``.git`` that cannot be written
(a read-only checkout) only costs the next command the work again. Values are JSON.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self


class _InGit:
    """A memo at ``path`` in ``.git`` that keeps the ``keep`` most recent entries."""

    def __init__(self, path: Path, keep: int) -> None:
        self.path = path
        self.keep = keep

    @classmethod
    def beside(cls, root: Path, name: str, keep: int) -> Self | None:
        """The memo ``name`` in ``root/.git``; None when ``root`` holds no ``.git`` folder (a worktree's
        ``.git`` file, an exported tree): nothing is remembered there."""
        git = root / ".git"
        return cls(git / name, keep) if git.is_dir() else None


class GitMemo(_InGit):
    """One JSON file of ``{key: value}`` in ``.git``, the ``keep`` most recent entries."""

    def _entries(self) -> dict[str, object]:
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def recall(self, key: str) -> object | None:
        return self._entries().get(key)

    def remember(self, key: str, value: object) -> None:
        """Keep ``value`` (JSON) under ``key``, dropping the oldest entries beyond ``keep``."""
        entries = {k: v for k, v in self._entries().items() if k != key}
        kept = dict(list(entries.items())[-(self.keep - 1) :]) if self.keep > 1 else {}
        kept[key] = value
        with contextlib.suppress(OSError):  # a read-only .git only costs speed
            self.path.write_text(json.dumps(kept), encoding="utf-8")


class GitMemoFolder(_InGit):
    """A folder of ``KEY.json`` files in ``.git``, the ``keep`` most recently written: for values too
    big to read all of them on every command (a recall reads its own entry only, a miss one failed
    open). Keys are hex digests, so they are file names as they are."""

    def recall(self, key: str) -> object | None:
        try:
            return json.loads((self.path / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def remember(self, key: str, text: str) -> None:
        """Keep ``text`` (JSON) under ``key`` (written whole or not at all), then drop the oldest
        entries beyond ``keep``."""
        import os

        with contextlib.suppress(OSError):  # a read-only .git only costs speed
            self.path.mkdir(exist_ok=True)
            partial = self.path / f".{key}.{os.getpid()}.partial"
            partial.write_text(text, encoding="utf-8")
            partial.replace(self.path / f"{key}.json")
            entries = sorted(self.path.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
            for old in entries[: max(0, len(entries) - self.keep)]:
                old.unlink(missing_ok=True)


def dvc_signature() -> str | None:
    """Which DVC is installed, without importing it (``import dvc`` alone costs ~40 ms): where its
    package is and the text of its version module. None when DVC is not installed. Memos of answers
    DVC's code gave (pipeline facts, converted plots) key on it, so upgrading DVC computes them again."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("dvc")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    try:
        version = (package / "_version.py").read_text(encoding="utf-8")
    except OSError:
        try:
            version = (package / "version.py").read_text(encoding="utf-8")
        except OSError:
            return None
    return f"{package}\0{version}"
