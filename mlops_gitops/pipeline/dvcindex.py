"""The thin adapter that reads a repository's pipelines through DVC's own parser.

:func:`read_facts` opens ``dvc.repo.Repo`` on the working tree and walks every DVC file exactly as
``dvc stage list --all`` does (``dvc.repo.index.collect_files``: the same ``.dvcignore``/``.gitignore``
rules, the same skipping of output directories). Each ``dvc.yaml`` is loaded by
``dvc.repo.index.Index.from_file``, so ``vars``, ``foreach`` (dict items included), ``matrix``, ``wdir``
and the default ``params.yaml`` resolve exactly as DVC resolves them; the stages' ``deps``/``outs``
give their resolved ``fs_path``. Top-level ``metrics``/``plots``/``params``/``artifacts`` come from the
same index (what ``dvc metrics show``, ``dvc plots show`` and ``repo.artifacts.read()`` read), and the
``.dvc`` files it walks become :class:`~mlops_gitops.pipeline.facts.TrackedData`. Finally DVC's own
graph (``Index.graph``) is built once, so duplicated or overlapping outputs and cycles are refused as
``dvc repro`` would refuse them.

Nothing is written into the repository. A plain ``Repo(root)`` creates ``.dvc/tmp`` (a lock file
handle, ``btime``), a state database and a per-repository "site cache" directory, and may append to
``.dvc/.gitignore``. The repository is instead opened the way DVC opens a directory that is not a DVC
repository (``Repo(..., uninitialized=True)`` when there is no ``.dvc/``): without a DVC directory, so
without lock, state, site cache or tmp directory. The project's own configuration (``.dvc/config``
and ``.dvc/config.local``, e.g. ``parsing`` options that change how ``${}`` renders booleans and
lists, or remotes named by ``remote://`` paths) is read and handed to that Repo, so resolution does not
change. A directory without ``.dvc/`` (a git repository whose dvc.yaml was never ``dvc init``-ed) is
read the same way: DVC's parser needs no DVC directory to read pipelines.

Every failure DVC reports becomes one :class:`~mlops_gitops.errors.UsageError` line,
``<repo-relative file>: <DVC's message, and the detail DVC would pretty-print, on one line>``.
DVC is imported only inside :func:`read_facts` (importing ``dvc.repo`` costs about half a second).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypedDict

from mlops_gitops.adapters.dvc import dvc_import_failure, guarded_yaml
from mlops_gitops.errors import UsageError
from mlops_gitops.pipeline.facts import (
    Artifact,
    PipelineFacts,
    PlotDef,
    PlotX,
    PlotY,
    RepoFacts,
    StageFacts,
    TrackedData,
    pointers_for,
)

if TYPE_CHECKING:
    # DVC ships no type information: these name what DVC hands over, and check nothing inside it.
    from dvc.dependency.repo import RepoDependency
    from dvc.dvcfile import ProjectFile
    from dvc.output import Output
    from dvc.repo import Repo
    from dvc.repo.index import Index
    from dvc.stage import Stage

    from mlops_gitops.adapters.jsontypes import JSONValue

PROJECT_FILE = "dvc.yaml"


class _PlotProps(TypedDict, total=False):
    """A plot's properties in a dvc.yaml, as DVC's schema has checked them."""

    x: str | dict[str, str]
    y: str | list[str] | dict[str, str | list[str]]
    template: str
    title: str
    x_label: str
    y_label: str


class _ArtifactEntry(TypedDict, total=False):
    """An ``artifacts:`` entry in a dvc.yaml, as DVC's schema has checked it."""

    path: str
    type: str
    desc: str
    labels: list[str]
    meta: dict[str, JSONValue]


class _FileError(Exception):
    """A DVC failure attributed to one file (repo-relative), turned into a UsageError at the top."""

    def __init__(self, dvcfile: str, exc: BaseException) -> None:
        super().__init__(dvcfile)
        self.dvcfile = dvcfile
        self.exc = exc


def read_facts(
    root: Path, dvcfiles: list[str] | None = None, overrides: Mapping[str, str] | None = None
) -> RepoFacts:
    """Every pipeline under ``root`` as DVC resolves it.

    ``dvcfiles`` (repo-relative dvc.yaml paths) restricts the pipelines returned to those files.
    DVC still walks the repository (for ``.dvc`` pointers, and so a named file is found exactly as
    DVC finds it); a broken dvc.yaml that was not asked for is then skipped rather than reported
    (except for a missing filesystem plugin, which DVC raises past its own error handling). A named
    file DVC's walk does not reach (ignored, inside an output directory) is loaded directly, so DVC
    says why it cannot be read.

    Raises :class:`~mlops_gitops.errors.UsageError`, one line naming the file, for anything DVC
    refuses: YAML syntax, schema, ``${}`` references, missing ``vars`` files, outputs claimed twice
    or overlapping, dependency cycles, a URL whose DVC plugin (``dvc-s3``...) is not installed.

    ``overrides`` maps repo-relative dvc.yaml paths to text read instead of the file on disk: the
    dvc.yaml ``generate`` is about to write, parsed by DVC before anything is written."""
    from dvc.config import ConfigError
    from dvc.exceptions import DvcException

    root_dir = os.path.abspath(root)
    if not os.path.isdir(root_dir):
        raise UsageError(f"{root}: not a directory")
    wanted = None if dvcfiles is None else _wanted(dvcfiles)
    try:
        repo = _open_repo(root_dir)
    except ConfigError as exc:
        raise UsageError(f".dvc/config: {_reason(exc)}") from None
    except DvcException as exc:
        raise UsageError(f"{root}: {_reason(exc)}") from None
    try:
        # Every YAML text DVC parses here (each dvc.yaml and .dvc file its walk finds, the files
        # `vars` load, the text `overrides` give) is refused first if its aliases recurse or explode.
        with guarded_yaml(root_dir), _imports_offline(), repo:
            return _read(repo, root_dir, wanted, dict(overrides or {}))
    except _FileError as err:
        broken = dvc_import_failure(err.exc, "resolving the pipelines")
        if broken is not None:  # DVC's own imports fail: no file is at fault
            raise UsageError(broken) from None
        raise UsageError(f"{err.dvcfile}: {_reason(err.exc)}") from None
    except OSError as exc:
        where = _rel(root_dir, os.path.abspath(exc.filename)) if exc.filename else str(root)
        raise UsageError(f"{where}: {exc.strerror or exc}") from None


def _wanted(dvcfiles: Iterable[str]) -> set[str]:
    wanted = set()
    for name in dvcfiles:
        path = posixpath.normpath(name.replace(os.sep, "/"))
        if posixpath.basename(path) != PROJECT_FILE:
            raise UsageError(f"{name}: not a {PROJECT_FILE} file")
        wanted.add(path)
    return wanted


def _open_repo(root_dir: str) -> Repo:
    """DVC's Repo over ``root_dir`` without a DVC directory (see the module docstring)."""
    from dvc.config import Config
    from dvc.repo import Repo

    class ReadOnlyRepo(Repo):
        # Read by `_imports_offline`: this repository has no cache, and opens no imported one.
        offline_imports = True

        # How DVC sets itself up for a directory that is not a DVC repository
        # (`uninitialized=True`): no `.dvc` directory, hence nothing written under it.
        def _get_repo_dirs(
            self,
            root_dir: str | None = None,
            fs: object = None,
            uninitialized: bool = False,
            scm: object = None,
        ) -> tuple[str, str | None]:
            assert root_dir
            return root_dir, None

    config: dict[str, object] | None = None
    dvc_dir = os.path.join(root_dir, Repo.DVC_DIR)
    if os.path.isdir(dvc_dir):
        from dvc.config import merge

        project = Config(dvc_dir)  # reads, validates; writes nothing
        config = {}
        merge(config, project.load_one("repo"))
        merge(config, project.load_one("local"))
    return ReadOnlyRepo(root_dir, uninitialized=True, config=config)


class _ImportedRepoFs:
    """What a ``dvc import`` dependency needs of its filesystem while a pointer is read: its path.

    DVC gives each ``RepoDependency`` a filesystem over the imported Git repository, configured with
    *this* repository's cache directory; the read-only repository has no cache (so DVC raised a bare
    AttributeError for every ``dvc import`` pointer), and reading the pointer needs nothing from the
    other repository. Any other use is a bug here, and says so rather than reaching the network."""

    protocol = "dvc"

    def __init__(self, url: str) -> None:
        self.url = url

    @staticmethod
    def normpath(path: str) -> str:
        return posixpath.normpath(path)

    def __getattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{self.url} is another repository, not opened while reading pointers ({name})")


@contextlib.contextmanager
def _imports_offline() -> Iterator[None]:
    """While the block runs, a ``dvc import`` dependency loaded by the read-only repository gets an
    :class:`_ImportedRepoFs` instead of a filesystem over the other repository (see there); any other
    repository's imports are loaded as DVC loads them."""
    from dvc.dependency.repo import RepoDependency

    original = RepoDependency._make_fs

    def make_fs(self: RepoDependency, rev: str | None = None, locked: bool = True) -> object:
        if getattr(self.repo, "offline_imports", False):
            return _ImportedRepoFs(str(self.def_repo.get(RepoDependency.PARAM_URL, "")))
        return original(self, rev=rev, locked=locked)

    RepoDependency._make_fs = make_fs
    try:
        yield
    finally:
        RepoDependency._make_fs = original


# What DVC raises from deep inside its loaders on malformed input (a hash that is a number, a list
# where a mapping belongs), and for a URL whose filesystem plugin (dvc-s3, dvc-gs...) is not
# installed: with DvcException, the failures one DVC file can cause.
_LOAD_ERRORS: tuple[type[BaseException], ...] = (AttributeError, TypeError, ValueError, KeyError, ImportError)


def _read(repo: Repo, root_dir: str, wanted: set[str] | None, overrides: dict[str, str]) -> RepoFacts:
    from dvc.exceptions import DvcException

    def onerror(rel: str, exc: BaseException) -> None:
        if wanted is None or rel in wanted or posixpath.basename(rel) != PROJECT_FILE:
            raise _FileError(rel, exc)
        # A dvc.yaml nobody asked for: its failure is not this read's concern.

    indexes = dict(_collect(repo, root_dir, onerror))
    loaded: dict[str, ProjectFile] = {}
    for rel, text in sorted(overrides.items()):
        try:
            loaded[rel] = _in_memory(repo, os.path.join(root_dir, *rel.split("/")), rel, text)
            indexes[rel] = _index_of(repo, loaded[rel])
        except (DvcException, *_LOAD_ERRORS) as exc:
            raise _FileError(rel, exc) from None
    for rel in sorted((wanted or set()) - indexes.keys()):
        try:
            indexes[rel] = _load_index(repo, os.path.join(root_dir, *rel.split("/")))
        except (DvcException, *_LOAD_ERRORS) as exc:
            raise _FileError(rel, exc) from None

    _check_graph(repo, root_dir, indexes)

    tracked = tuple(
        TrackedData(
            dvcfile=rel,
            outs=tuple(_path(root_dir, out) for stage in index.stages for out in stage.outs),
            external=_distinct(e for stage in index.stages for e in _external_sources(root_dir, stage)),
        )
        for rel, index in sorted(indexes.items())
        if posixpath.basename(rel) != PROJECT_FILE
    )
    pipelines = []
    for rel, index in sorted(indexes.items()):
        if posixpath.basename(rel) != PROJECT_FILE or (wanted is not None and rel not in wanted):
            continue
        try:
            pipelines.append(_pipeline(repo, root_dir, rel, index, tracked, loaded.get(rel)))
        except DvcException as exc:
            raise _FileError(rel, exc) from None
    return RepoFacts(pipelines=tuple(pipelines), tracked=tracked)


def _check_graph(repo: Repo, root_dir: str, indexes: Mapping[str, Index]) -> None:
    """Build DVC's stage graph once: DVC refuses duplicated/overlapping outputs and cycles there."""
    from dvc.exceptions import DvcException
    from dvc.repo.index import Index

    try:
        Index.from_indexes(repo, indexes.values()).graph  # noqa: B018
    except DvcException as exc:
        stages = list(getattr(exc, "stages", None) or ())
        for attr in ("parent", "overlapping_out"):
            out = getattr(exc, attr, None)
            if out is not None and getattr(out, "stage", None) is not None:
                stages.append(out.stage)
        files = sorted({_rel(root_dir, s.path) for s in stages if getattr(s, "path", None)})
        raise _FileError(", ".join(files or sorted(indexes)), exc) from None


def _collect(
    repo: Repo, root_dir: str, onerror: Callable[[str, BaseException], None]
) -> Iterable[tuple[str, Index]]:
    """Every DVC file as ``dvc stage list --all`` finds them (DVC's ``collect_files``: its ignore
    rules, and no descent into output directories), loaded without their dvc.lock (see
    :func:`_load_index`). A file DVC cannot load goes to ``onerror`` with its repo-relative path."""
    from dvc.dvcfile import is_valid_filename
    from dvc.exceptions import DvcException

    fs, scm = repo.fs, repo.scm
    outs: set[str] = set()
    for folder, dirs, files in repo.dvcignore.walk(fs, repo.root_dir, followlinks=False):
        for name in files:
            path = fs.join(folder, name)
            if not is_valid_filename(name) or scm.is_ignored(path):
                continue
            rel = _rel(root_dir, path)
            try:
                index = _load_index(repo, path)
            except (DvcException, *_LOAD_ERRORS) as exc:
                onerror(rel, exc)
                continue
            outs.update(out.fspath for stage in index.stages for out in stage.outs if out.protocol == "local")
            yield rel, index
        dirs[:] = [
            d
            for d in dirs
            if fs.join(folder, d) not in outs and not scm.is_ignored(fs.join(folder, d) + fs.sep)
        ]


def _load_index(repo: Repo, path: str) -> Index:
    """DVC's index of one file. A dvc.yaml is loaded without its dvc.lock: the facts need none of
    the hashes it records, and a pull request's lock file is the one input DVC need not parse."""
    from dvc.dvcfile import ProjectFile, load_file
    from dvc.repo.index import Index

    dvcfile = load_file(repo, path)
    if isinstance(dvcfile, ProjectFile):
        dvcfile.__dict__["lockfile_contents"] = {}  # the cached_property DVC fills from dvc.lock
        return _index_of(repo, dvcfile)
    return Index.from_file(repo, path)


def _in_memory(repo: Repo, path: str, rel: str, text: str) -> ProjectFile:
    """DVC's own ProjectFile for ``path``, whose contents are ``text`` instead of the file's: parsed
    and validated against DVC's schema exactly as ``_load`` would."""
    from dvc.dvcfile import ProjectFile
    from dvc.utils.serialize import parse_yaml
    from dvc.utils.strictyaml import validate

    dvcfile = ProjectFile(repo, path)
    data = parse_yaml(text, path, typ="safe") or {}
    validate(data, ProjectFile.SCHEMA, text=text, path=rel)
    dvcfile.__dict__["contents"] = data  # the cached_property DVC fills from the file
    dvcfile.__dict__["lockfile_contents"] = {}
    return dvcfile


def _index_of(repo: Repo, dvcfile: ProjectFile) -> Index:
    """What ``Index.from_file`` builds, from a loaded ProjectFile."""
    from dvc.repo.index import Index

    path = dvcfile.path
    # Accessing the stages validates the file against DVC's schema and resolves it.
    return Index(
        repo,
        stages=list(dvcfile.stages.values()),
        metrics={path: dvcfile.metrics} if dvcfile.metrics else {},
        plots={path: dvcfile.plots} if dvcfile.plots else {},
        params={path: dvcfile.params} if dvcfile.params else {},
        artifacts={path: dvcfile.artifacts} if dvcfile.artifacts else {},
    )


def _pipeline(
    repo: Repo,
    root_dir: str,
    rel: str,
    index: Index,
    tracked: tuple[TrackedData, ...],
    dvcfile: ProjectFile | None = None,
) -> PipelineFacts:
    from dvc.dvcfile import load_file

    base = posixpath.dirname(rel) or "."
    stages = tuple(_stage(root_dir, rel, stage) for stage in index.stages)

    def top(files: Iterable[object]) -> tuple[str, ...]:
        return tuple(_join(root_dir, base, str(f)) for f in files)

    metrics = tuple(m for files in index._metrics.values() for m in top(files))
    top_params = tuple(p for files in index._params.values() for p in top(files))
    plots = tuple(
        _top_plot(root_dir, rel, base, entry) for entries in index._plots.values() for entry in entries
    )
    artifacts = tuple(
        _artifact(root_dir, rel, base, name, value or _ArtifactEntry())
        for found in index._artifacts.values()
        for name, value in found.items()
    )

    # Files `vars` loaded: the dvc.yaml's (its default params.yaml included), and a stage's own
    # `vars` as far as the stage used them. Resolution reads these, so they belong to its inputs.
    resolver = (dvcfile or load_file(repo, os.path.join(root_dir, *rel.split("/")))).resolver
    vars_sources = [*resolver.context.imports]
    for stage in index.stages:
        vars_sources.extend(getattr(stage, "tracked_vars", {}) or {})
    vars_files = _distinct(_rel(root_dir, os.path.abspath(p)) for p in vars_sources)

    params_files = _distinct((*(p for s in stages for p in s.params_files), *top_params, *vars_files))
    pointed = (*(d for s in stages for d in s.deps), *params_files)
    return PipelineFacts(
        dvcfile=rel,
        stages=stages,
        metrics=metrics,
        plots=plots,
        artifacts=artifacts,
        params_files=params_files,
        vars_files=vars_files,
        dvc_pointers=pointers_for(pointed, tracked),
    )


def _stage(root_dir: str, dvcfile: str, stage: Stage) -> StageFacts:
    from dvc.dependency import ParamsDependency

    name = stage.name
    address = name if dvcfile == PROJECT_FILE else f"{dvcfile}:{name}"
    deps: list[str] = []
    external: list[str] = []
    params: list[tuple[str, tuple[str, ...]]] = []
    for dep in stage.deps:
        if isinstance(dep, ParamsDependency):
            params.append((_rel(root_dir, dep.fs_path), tuple(str(k) for k in dep.params)))
            continue
        local = _local(root_dir, dep)
        if local is None:
            external.append(str(dep.def_path))
        else:
            deps.append(local)
    outs: list[str] = []
    metrics: list[str] = []
    plots: list[PlotDef] = []
    uncached: list[str] = []
    persist: list[str] = []
    for out in stage.outs:
        path = _path(root_dir, out)
        outs.append(path)
        if out.metric:
            metrics.append(path)
        plot: _PlotProps | bool = out.plot  # a `plots:` output: True, or its properties
        if plot:
            props = plot if isinstance(plot, Mapping) else _PlotProps()
            plots.append(_plot(path, (path,), dvcfile, props, stage=address))
        if not out.use_cache:
            uncached.append(path)
        if out.persist:
            persist.append(path)
    cmd = stage.cmd
    return StageFacts(
        address=address,
        name=name,
        group=stage.raw_data.generated_from,
        dvcfile=dvcfile,
        wdir=_rel(root_dir, stage.wdir),
        cmd=cmd if isinstance(cmd, str) else tuple(str(c) for c in cmd or ()),
        deps=tuple(deps),
        params=tuple(params),
        outs=tuple(outs),
        metrics=tuple(metrics),
        plots=tuple(plots),
        uncached=tuple(uncached),
        persist=tuple(persist),
        external_deps=tuple(external),
        frozen=bool(stage.frozen),
        always_changed=bool(stage.always_changed),
        desc=stage.desc,
    )


def _external_sources(root_dir: str, stage: Stage) -> Iterator[str]:
    """What a ``.dvc`` pointer's data comes from when that is not a file of this repository: the
    repository and path of a ``dvc import``, the URL of a ``dvc import-url``. Neither is a path Git
    sees change here (the pointer, and the data it tracks, are), so neither is a trigger path."""
    from dvc.dependency.repo import RepoDependency

    for dep in stage.deps:
        if isinstance(dep, RepoDependency):
            repo = dep.def_repo
            rev = repo.get(RepoDependency.PARAM_REV)
            where = f"{dep.def_path} from {repo.get(RepoDependency.PARAM_URL)}"
            yield f"{where} at {rev}" if rev else where
        elif _local(root_dir, dep) is None:
            yield str(dep.def_path)


def _top_plot(
    root_dir: str, dvcfile: str, base: str, entry: str | Mapping[str, _PlotProps | None]
) -> PlotDef:
    """A top-level `plots:` entry: a data file, or ``{id: props}`` (DVC's `_resolve_definitions`)."""
    props: _PlotProps
    if isinstance(entry, str):
        plot_id, props = entry, {}
    else:
        plot_id, value = next(iter(entry.items()))
        props = value or {}
    x, y = props.get("x"), props.get("y")
    if isinstance(y, Mapping):  # the id is a name; the files are y's keys (and x's)
        files = [_join(root_dir, base, f) for f in y]
        if isinstance(x, Mapping):
            files.extend(_join(root_dir, base, f) for f in x)
        props = {
            **props,
            "y": {_join(root_dir, base, f): v for f, v in y.items()},
            **({"x": {_join(root_dir, base, f): v for f, v in x.items()}} if isinstance(x, Mapping) else {}),
        }
        return _plot(str(plot_id), _distinct(files), dvcfile, props)
    return _plot(str(plot_id), (_join(root_dir, base, str(plot_id)),), dvcfile, props)


def _plot(
    plot_id: str, files: tuple[str, ...], dvcfile: str, props: _PlotProps, stage: str | None = None
) -> PlotDef:
    raw_x, raw_y = props.get("x"), props.get("y")
    y: PlotY | None
    if isinstance(raw_y, Mapping):
        y = {str(k): v if isinstance(v, str) else tuple(str(c) for c in v) for k, v in raw_y.items()}
    elif isinstance(raw_y, list | tuple):
        y = tuple(str(c) for c in raw_y)
    else:
        y = raw_y
    x: PlotX | None = {str(k): str(v) for k, v in raw_x.items()} if isinstance(raw_x, Mapping) else raw_x
    return PlotDef(
        id=plot_id,
        files=files,
        source=dvcfile,
        x=x,
        y=y,
        template=props.get("template"),
        title=props.get("title"),
        x_label=props.get("x_label"),
        y_label=props.get("y_label"),
        stage=stage,
    )


def _artifact(root_dir: str, dvcfile: str, base: str, name: str, value: _ArtifactEntry) -> Artifact:
    return Artifact(
        name=str(name),
        path=_join(root_dir, base, str(value.get("path", ""))),
        dvcfile=dvcfile,
        type=value.get("type"),
        desc=value.get("desc"),
        labels=tuple(str(label) for label in value.get("labels") or ()),
        meta=dict(value.get("meta") or {}),
    )


# ---------------------------------------------------------------------------------------------------
# Paths and messages.


def _rel(root_dir: str, path: str) -> str:
    rel = os.path.relpath(path, root_dir)
    return posixpath.normpath(rel.replace(os.sep, "/"))


def _join(root_dir: str, base: str, path: str) -> str:
    """A path written relative to a dvc.yaml's directory, made repo-relative."""
    if os.path.isabs(path):
        return _rel(root_dir, path)
    return posixpath.normpath(posixpath.join(base, path.replace("\\", "/")))


def _local(root_dir: str, item: Output) -> str | None:
    """Repo-relative path of a local dependency/output inside the repository; None otherwise."""
    from urllib.parse import urlparse

    if getattr(item, "protocol", None) != "local" or urlparse(str(item.def_path)).scheme == "remote":
        return None
    fs_path = str(item.fs_path)
    rel = _rel(root_dir, fs_path)
    if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
        return None
    return rel


def _path(root_dir: str, out: Output) -> str:
    return _local(root_dir, out) or str(out.def_path)


def _distinct(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _reason(exc: BaseException) -> str:
    """DVC's message on one line, with the detail DVC's CLI would pretty-print after it."""
    text = str(exc) or type(exc).__name__
    detail = _detail(exc)
    if detail:
        text = f"{text.rstrip('.:')}: {detail}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _detail(exc: BaseException) -> str:
    """What DVC shows under its message for YAML syntax and schema errors (`__pretty_exc__`)."""
    from dvc.utils.strictyaml import YAMLSyntaxError, YAMLValidationError

    if isinstance(exc, YAMLSyntaxError):
        cause = getattr(exc.exc, "__cause__", None)
        problem = getattr(cause, "problem", None) or getattr(cause, "context", None)
        mark = getattr(cause, "problem_mark", None) or getattr(cause, "context_mark", None)
        if problem is None:
            return str(cause or "")
        where = f", in line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{problem}{where}"
    if isinstance(exc, YAMLValidationError):
        from dvc.exceptions import DvcException
        from dvc.utils.serialize import parse_yaml_for_update
        from dvc.utils.strictyaml import determine_linecol

        try:
            data = parse_yaml_for_update(exc.text, exc.path)
        except DvcException:  # the text parsed before it was validated; a location is best effort
            data = None
        parts = []
        for error in exc.exc.errors:
            part = [str(error.error_message)]
            if error.path:
                part.append("in " + " -> ".join(str(p) for p in error.path))
            if isinstance(data, Mapping):
                line, col, _ = determine_linecol(data, error.path)
                if line:
                    part.append(f"line {line}")
                if col:
                    part.append(f"column {col}")
            parts.append(", ".join(part))
        return "; ".join(parts)
    return ""
