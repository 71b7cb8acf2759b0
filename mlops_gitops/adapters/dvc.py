"""The thin adapter over DVC's Python API for what the `dvc` command line does not do.

Imported only by the commands that need it: importing DVC costs about half a second.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import posixpath
import re
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
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
    """While the block runs, every YAML text DVC parses first passes :func:`mlops_gitops.adapters.yamlsafe.guard`.

    DVC finds most of the files it reads itself: every dvc.yaml and ``.dvc`` file of the repository,
    dvc.lock, the params files ``vars`` load (a stage's own ``vars`` relative to its ``wdir``), run-cache
    records, and all of them at a Git revision for ``dvc.api``. So the guard sits in front of DVC's
    parser rather than in front of each file: a recursive alias or an alias bomb is refused before DVC
    builds or validates anything from it. The refusal (:class:`~mlops_gitops.errors.YamlBombError`)
    passes through DVC unchanged and names the file relative to ``root`` (``path@revision`` when DVC
    reads ``revision``).
    """
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import guard

    modules = [importlib.import_module(name) for name in _DVC_YAML_PARSER_BINDINGS]
    saved = [module.parse_yaml for module in modules]
    parse = saved[0]
    base = os.path.abspath(root)

    # Any out: DVC's parser returns raw YAML, which DVC validates itself.
    def guarded_parse_yaml(text: object, path: object, typ: str = "safe") -> Any:
        if isinstance(text, str):
            with contextlib.suppress(YAMLError):  # not YAML: DVC's parser says why, as it always has
                guard(text, _shown(base, str(path), revision))
        return parse(text, path, typ=typ)

    handlers = list(logging.getLogger("dvc").handlers)
    quiet = _QuietWhileRefused()
    # DVC's table of parsers by extension (plot and metric data): a defaultdict whose default is
    # ``parse_yaml``, which stores whatever it returned first under ``.yaml``/``.yml`` for good.
    serialize = importlib.import_module("dvc.utils.serialize")
    parsers: MutableMapping[str, Callable[..., object]] = serialize.PARSERS
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


_PLUGIN_MISSING = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*) is supported, but requires '([^']+)'")


def dvc_import_failure(exc: BaseException, needed_for: str = "this") -> str | None:
    """One line for DVC that cannot be imported, or None when ``exc`` is no such failure (a missing
    remote plugin is :func:`remote_failure`'s).

    DVC not installed at all (``ModuleNotFoundError: dvc``): the extra to install. DVC installed but
    broken (``cannot import name '_DIR_MARK' from 'pathspec.patterns.gitwildmatch'``, which pip leaves
    behind when a project's ``dvc==3.26`` or a pin of one of DVC's dependencies lands over the DVC
    mlops-gitops installed): that DVC failed to import, the cause, and what to do."""
    if not isinstance(exc, ImportError) or _PLUGIN_MISSING.match(str(exc)):
        return None
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in ("dvc", "dvc_data"):
        return f"{needed_for} needs DVC, which is not installed here: pip install 'mlops-gitops[dvc]'"
    cause = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return (
        f"DVC is installed but failed to import ({cause}): another DVC, or another version of one of "
        "its dependencies, was installed over the one mlops-gitops needs. The generated jobs install "
        "mlops-gitops's DVC in its own environment; do not install a project's DVC into it (drop "
        "`dvc` from what that environment installs), or repair it here: "
        "pip install --force-reinstall 'mlops-gitops[dvc]'"
    )


def raised_in_dvc(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while DVC's own code ran (a frame of ``dvc`` or a ``dvc_*`` package)."""
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module == "dvc" or module.startswith(("dvc.", "dvc_")):
            return True
        tb = tb.tb_next
    return False


# Failures on the way to a remote that say it cannot be reached (refused, unresolvable, timed out):
# DVC's filesystems wrap them (HTTP reports a missing file, caused by the connection error).
_UNREACHABLE_NAMES = (
    "ConnectError",
    "ConnectionError",
    "ConnectorError",
    "ConnectTimeout",
    "EndpointConnection",
)


def remote_failure(root: Path | str, exc: BaseException, rev: str | None = None) -> str | None:
    """Why DVC could not use the project's remote, as the end of a sentence ("reading it at REV ..."),
    naming what to install or configure; None when ``exc`` is no such failure. ``rev``: the commit
    whose ``.dvc/config`` DVC used (None: the work tree's).

    * A remote whose plugin is not installed (``ImportError: gdrive is supported, but requires
      'dvc-gdrive' to be installed``): the ``pip install`` line, and that the generated jobs install
      it with the tool when ``.dvc/config`` names the remote (``mlops-gitops generate``).
    * A remote that cannot be reached (a closed port, an unknown host, a timeout), found anywhere in
      the chain of causes DVC's filesystems wrap it in."""
    from mlops_gitops.locks import REMOTE_PLUGINS, remote_plugin

    if isinstance(exc, ImportError):
        match = _PLUGIN_MISSING.match(str(exc))
        if match is None:
            return None
        key = remote_plugin(f"{match.group(1)}://")
        plugin = REMOTE_PLUGINS[key] if key else match.group(2)
        named = [
            f"{name} ({url})" for name, url, _ in remotes(root, rev) if key and remote_plugin(url) == key
        ]
        which = f"the DVC remote {', '.join(named)}" if named else f"a {match.group(1)}:// DVC remote"
        return (
            f"needs {which}, whose plugin {plugin} is not installed here: `pip install {plugin}` "
            "(in CI the jobs install it with mlops-gitops: `mlops-gitops generate` adds it when "
            ".dvc/config names the remote)"
        )
    cause = _unreachable(exc)
    if cause is None:
        return None
    found = remotes(root, rev)
    # The default remote is the one DVC reads from (listed first); without one, every remote.
    shown = ", ".join(f"{name} ({url})" for name, url, default in found if default or not found[0][2])
    detail = " ".join(str(cause).split())[:200] or type(cause).__name__
    return (
        f"could not reach the DVC remote {shown or '(none configured)'}: {detail}; check its URL and "
        "endpoint (`dvc remote modify`), the network, and the credentials the job passes"
    )


def _unreachable(exc: BaseException) -> BaseException | None:
    import socket

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError | socket.gaierror) or any(
            name in type(current).__name__ for name in _UNREACHABLE_NAMES
        ):
            return current
        current = current.__cause__ or current.__context__
    return None


_REMOTE_SECTION = re.compile(r'^\s*remote\s+"(?P<name>[^"]+)"\s*$', re.I)


def remotes(root: Path | str, rev: str | None = None) -> list[tuple[str, str, bool]]:
    """(name, URL, is the default) of the project's DVC remotes, the default first: ``.dvc/config``
    at ``rev`` (the work tree's when None) with the work tree's ``config.local`` over it. [] when
    there is none or the configuration does not parse (DVC says why when it reads it)."""
    from mlops_gitops.adapters import git

    base = Path(root)
    if rev is None:
        texts = [_read_text(base / ".dvc" / "config")]
    else:
        blob = git.show(rev, "./.dvc/config", base)
        texts = [blob.decode("utf-8", "replace") if blob is not None else None]
    texts.append(_read_text(base / ".dvc" / "config.local"))
    urls: dict[str, str] = {}
    default = ""
    for text in texts:
        if not text:
            continue
        try:
            from configobj import ConfigObj, ConfigObjError  # type: ignore[import-untyped]

            parsed = ConfigObj(text.splitlines(), interpolation=False)
        except (ImportError, ConfigObjError, SyntaxError):
            continue
        for section, body in parsed.items():
            match = _REMOTE_SECTION.match(str(section))
            if match and isinstance(body, Mapping) and "url" in body:
                urls[match.group("name")] = str(body["url"])
            elif str(section).strip().lower() == "core" and isinstance(body, Mapping) and body.get("remote"):
                default = str(body["remote"])
    return sorted(((n, u, n == default) for n, u in urls.items()), key=lambda item: not item[2])


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


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
