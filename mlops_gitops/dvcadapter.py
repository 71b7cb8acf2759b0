"""The thin adapter over DVC's Python API for what the `dvc` command line does not do.

Imported only by the commands that need it: importing DVC costs about half a second.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import posixpath
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_gitops.errors import UsageError, YamlBombError

# Where DVC's one YAML parser, ``parse_yaml``, is bound: its own module, and the modules that bind it
# by name (``from ... import parse_yaml``). Every YAML file DVC reads, through whatever code path and
# filesystem (the work tree, a Git revision), is parsed by one of these bindings.
_DVC_YAML_PARSER_BINDINGS = ("dvc.utils.serialize._yaml", "dvc.utils.serialize", "dvc.utils.strictyaml")
_YAML_SUFFIXES = (".yaml", ".yml")


@contextlib.contextmanager
def guarded_yaml(root: Path | str, revision: str | None = None) -> Iterator[None]:
    """While the block runs, every YAML text DVC parses first passes :func:`mlops_gitops.yamlsafe.guard`.

    DVC finds most of the files it reads itself: every dvc.yaml and ``.dvc`` file of the repository,
    dvc.lock, the params files ``vars`` load (a stage's own ``vars`` relative to its ``wdir``), run-cache
    records, and all of them at a Git revision for ``dvc.api``. So the guard sits in front of DVC's
    parser rather than in front of each file: a recursive alias or an alias bomb is refused before DVC
    builds or validates anything from it. The refusal (:class:`~mlops_gitops.errors.YamlBombError`)
    passes through DVC unchanged and names the file relative to ``root`` (``path@revision`` when DVC
    reads ``revision``).
    """
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.yamlsafe import guard

    modules = [importlib.import_module(name) for name in _DVC_YAML_PARSER_BINDINGS]
    saved = [module.parse_yaml for module in modules]
    parse = saved[0]
    base = os.path.abspath(root)

    def guarded_parse_yaml(text: Any, path: Any, typ: str = "safe") -> Any:
        if isinstance(text, str):
            with contextlib.suppress(YAMLError):  # not YAML: DVC's parser says why, as it always has
                guard(text, _shown(base, str(path), revision))
        return parse(text, path, typ=typ)

    handlers = list(logging.getLogger("dvc").handlers)
    quiet = _QuietWhileRefused()
    # DVC's table of parsers by extension (plot and metric data): a defaultdict whose default is
    # ``parse_yaml``, which stores whatever it returned first under ``.yaml``/``.yml`` for good.
    parsers: dict[str, Any] = importlib.import_module("dvc.utils.serialize").PARSERS
    had = {ext: parsers[ext] for ext in _YAML_SUFFIXES if ext in parsers}
    for module in modules:
        setattr(module, "parse_yaml", guarded_parse_yaml)  # noqa: B010
    for ext in _YAML_SUFFIXES:
        parsers[ext] = guarded_parse_yaml
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            setattr(module, "parse_yaml", original)  # noqa: B010
        for ext in _YAML_SUFFIXES:
            if ext in had:
                parsers[ext] = had[ext]
            else:
                parsers.pop(ext, None)
        for handler in handlers:
            handler.removeFilter(quiet)


class _QuietWhileRefused(logging.Filter):
    """DVC logs what it skips before it re-raises (``failed to collect 'workspace', skipping``): what
    it logs while handling a refusal of the guard is not shown, so the refusal stays the one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not isinstance(sys.exc_info()[1], YamlBombError)


def _shown(base: str, path: str, revision: str | None) -> str:
    """A file DVC reads, as messages name it: repo-relative, or Git-relative ``path@revision``."""
    if revision is not None:
        # DVC's Git filesystem names files from the top of the repository, with a leading slash.
        return f"{path.replace(os.sep, '/').lstrip('/')}@{revision}"
    # DVC's own filesystem names work-tree files from the repository's root (plot data: ``p.yaml``).
    rel = os.path.relpath(os.path.join(base, path), base)
    return posixpath.normpath(rel.replace(os.sep, "/"))


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
        with guarded_yaml(root), Repo(str(root)) as repo:
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
        with guarded_yaml(root), Repo(str(root)) as repo:
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
