"""The thin adapter over DVC's Python API for what the `dvc` command line does not do.

Imported only by the commands that need it: importing DVC costs about half a second.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlops_gitops.errors import UsageError


@dataclass(frozen=True)
class PushedRuns:
    runs: int  # run records known locally (all pushed by `dvc push --run-cache`)
    objects: int  # outputs those runs restore, pushed in addition


def run_entries(cache_dir: str) -> list[tuple[str, str]]:
    """(key, value) of every run record under ``.dvc/cache/runs/<xx>/<key>/<value>``."""
    entries: list[tuple[str, str]] = []
    if not os.path.isdir(cache_dir):
        return entries
    for prefix in sorted(os.listdir(cache_dir)):
        for key in sorted(os.listdir(os.path.join(cache_dir, prefix))):
            for value in sorted(os.listdir(os.path.join(cache_dir, prefix, key))):
                entries.append((key, value))
    return entries


def push_runs(root: Path, remote: str | None = None) -> PushedRuns:
    """`dvc push --run-cache`, plus the outputs the run records need to be restored elsewhere.

    DVC 3 pushes run records, but not the objects of outputs declared ``cache: false`` (metrics,
    plots): a second machine then finds the record, misses its outputs, and runs the stage again. Each
    record names those objects, and DVC committed them to the local cache when it saved the run; here
    they are pushed with DVC's own transfer."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            repo.push(remote=remote, run_cache=True)
            entries = run_entries(repo.stage_cache.cache_dir)
            used = repo.stage_cache.get_used_objs(entries)
            objects = 0
            for objs in used.values():
                result = repo.cloud.push(objs, remote=remote)
                objects += len(result.transferred)
    except DvcException as exc:
        first = str(exc).strip().splitlines()
        raise UsageError(
            f"dvc push --run-cache failed: {first[0] if first else type(exc).__name__}"
        ) from None
    return PushedRuns(runs=len(entries), objects=objects)


def ensure_present(path: Path, shown: str) -> Path:
    """``path``, pulled from the DVC remote first when it is missing but tracked by DVC."""
    if path.exists():
        return path
    root = dvc_root(path)
    if root is None or not is_dvc_tracked(path, root):
        raise UsageError(f"{shown}: no such file or directory")
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    # Absolute: DVC resolves targets against the working directory, not the repository root.
    target = str(path.resolve())
    if Path(f"{target}.dvc").is_file():
        target += ".dvc"  # a bare path is looked up only among dvc.yaml outs, not .dvc files
    try:
        with Repo(str(root)) as repo:
            repo.pull(targets=[target])
    except DvcException as exc:
        first = " ".join(str(exc).split())[:300]
        raise UsageError(f"{shown}: missing and `dvc pull` failed: {first}") from None
    if not path.exists():
        raise UsageError(f"{shown}: still missing after `dvc pull`")
    return path


def dvc_root(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / ".dvc").is_dir():
            return parent
    return None


def is_dvc_tracked(path: Path, root: Path) -> bool:
    """A ``.dvc`` file next to it, or an out of some stage in dvc.lock."""
    resolved = path.resolve()
    if Path(f"{resolved}.dvc").is_file():
        return True
    lock = root / "dvc.lock"
    if lock.is_file():
        rel = os.path.relpath(resolved, root)
        text = lock.read_text(encoding="utf-8", errors="replace")
        return f"path: {rel}\n" in text or f"path: {rel}/\n" in text
    return False
