"""What a repository's DVC pipelines declare, as plain frozen data.

:mod:`mlops_gitops.pipeline.dvcindex` fills these from DVC's own parser (vars, foreach, matrix and
wdir resolved exactly as DVC resolves them); everything here is pure: no DVC import, no I/O. Each
class round-trips through JSON (``to_json()`` / ``from_json()``), so facts can be memoised per file
content and a fast command never imports DVC.

Paths are repo-relative POSIX paths, normalised (``.`` is the repository root). A stage's
``address`` is what ``dvc stage list --all`` prints from the root and ``dvc repro`` accepts:
``pipelines/a/dvc.yaml:train@0``, or just ``train@0`` for the root ``dvc.yaml``.

How stages connect follows DVC's ``dvc.repo.graph.build_graph``: stage A depends on stage B when a
dependency of A (a path or a params file) is an output of B, lies inside one, or contains one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypedDict, cast

from mlops_gitops.adapters.jsontypes import JSONValue

# Bumped whenever the JSON shape or what is derived changes: a memo holding another version is stale.
# 2: a `.dvc` pointer's external source (`TrackedData.external`).
FACTS_VERSION = 2

PlotX = str | Mapping[str, str]
PlotY = str | tuple[str, ...] | Mapping[str, str | tuple[str, ...]]


# The JSON shapes the facts are written in (the memo in .git, `.mlops/pipelines.yaml`) and read back.
PlotXJSON = str | dict[str, str]
PlotYJSON = str | list[str] | dict[str, str | list[str]]


class PlotDefJSON(TypedDict):
    id: str
    files: list[str]
    source: str
    x: PlotXJSON | None
    y: PlotYJSON | None
    template: str | None
    title: str | None
    x_label: str | None
    y_label: str | None
    stage: str | None


class ArtifactJSON(TypedDict):
    name: str
    path: str
    dvcfile: str
    type: str | None
    desc: str | None
    labels: list[str]
    meta: dict[str, JSONValue]


class StageFactsJSON(TypedDict):
    address: str
    name: str
    group: str | None
    dvcfile: str
    wdir: str
    cmd: str | list[str]
    deps: list[str]
    params: list[list[str | list[str]]]  # [params file, [keys]] pairs
    outs: list[str]
    metrics: list[str]
    plots: list[PlotDefJSON]
    uncached: list[str]
    persist: list[str]
    external_deps: list[str]
    frozen: bool
    always_changed: bool
    desc: str | None


class _TrackedDataRequired(TypedDict):
    dvcfile: str
    outs: list[str]


class TrackedDataJSON(_TrackedDataRequired, total=False):
    external: list[str]  # written only for imports


class PipelineFactsJSON(TypedDict):
    version: int
    dvcfile: str
    stages: list[StageFactsJSON]
    metrics: list[str]
    plots: list[PlotDefJSON]
    artifacts: list[ArtifactJSON]
    params_files: list[str]
    vars_files: list[str]
    dvc_pointers: list[str]


class RepoFactsJSON(TypedDict):
    version: int
    pipelines: list[PipelineFactsJSON]
    tracked: list[TrackedDataJSON]


class FactsFormatError(ValueError):
    """JSON that is not facts of this version (a stale memo): read the pipelines again."""


# ---------------------------------------------------------------------------------------------------
# Path relations (repo-relative POSIX paths).


def _parts(path: str) -> tuple[str, ...]:
    return () if path in ("", ".") else tuple(path.split("/"))


def within(path: str, parent: str) -> bool:
    """``path`` is ``parent`` or lies inside it."""
    p, q = _parts(path), _parts(parent)
    return p[: len(q)] == q


def overlaps(a: str, b: str) -> bool:
    """One of the two paths is the other or lies inside it (DVC's out/dep relation)."""
    return within(a, b) or within(b, a)


def produced(path: str, outs: Iterable[str]) -> bool:
    """``path`` is an output or inside one: some stage writes it."""
    return any(within(path, out) for out in outs)


def _distinct(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# ---------------------------------------------------------------------------------------------------
# JSON helpers.


def _tuple(value: Iterable[object] | None) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


def _y_from_json(value: PlotYJSON | None) -> PlotY | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {str(k): v if isinstance(v, str) else _tuple(v) for k, v in value.items()}
    return _tuple(value)


def _y_to_json(value: PlotY | None) -> PlotYJSON | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {k: v if isinstance(v, str) else list(v) for k, v in value.items()}
    return list(value)


def _x_from_json(value: PlotXJSON | None) -> PlotX | None:
    if value is None or isinstance(value, str):
        return value
    return {str(k): str(v) for k, v in value.items()}


def _check_version(data: object, what: str) -> None:
    if not isinstance(data, Mapping) or data.get("version") != FACTS_VERSION:
        found = data.get("version") if isinstance(data, Mapping) else type(data).__name__
        raise FactsFormatError(f"{what}: facts version {found!r}, expected {FACTS_VERSION}")


# ---------------------------------------------------------------------------------------------------
# The facts.


@dataclass(frozen=True)
class PlotDef:
    """One plot definition: a top-level ``plots:`` entry, or a stage's ``plots:`` output.

    ``id`` is the plot id as written (a data file relative to the dvc.yaml, or a free name when ``y``
    maps files to columns); for a stage plot it is the output's repo-relative path. ``files`` are the
    data files it draws from, repo-relative, inferred as DVC does (the id itself, or the keys of a
    per-file ``y`` plus the file of a per-file ``x``). A per-file ``x``/``y`` mapping has its keys made
    repo-relative too. ``y`` keeps DVC's shapes: a column, several columns, or file -> column(s).
    An id naming a directory stays the directory: DVC expands it to the files inside only when it
    renders plots.
    """

    id: str
    files: tuple[str, ...]
    source: str  # the dvc.yaml that defines it
    x: PlotX | None = field(default=None, hash=False)
    y: PlotY | None = field(default=None, hash=False)
    template: str | None = None
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    stage: str | None = None  # address of the stage whose output this is; None for top-level plots

    def series(self) -> tuple[tuple[str, str], ...]:
        """(file, y column) pairs to draw; the column is ``""`` when DVC would infer it."""
        y = self.y
        if isinstance(y, Mapping):
            return tuple(
                (file, col)
                for file, cols in y.items()
                for col in ((cols,) if isinstance(cols, str) else cols)
            )
        columns: tuple[str, ...] = ("",) if y is None else (y,) if isinstance(y, str) else tuple(y)
        return tuple((file, col) for file in self.files for col in columns)

    def to_json(self) -> PlotDefJSON:
        return {
            "id": self.id,
            "files": list(self.files),
            "source": self.source,
            "x": dict(self.x) if isinstance(self.x, Mapping) else self.x,
            "y": _y_to_json(self.y),
            "template": self.template,
            "title": self.title,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "stage": self.stage,
        }

    @classmethod
    def from_json(cls, data: PlotDefJSON) -> PlotDef:
        return cls(
            id=data["id"],
            files=_tuple(data["files"]),
            source=data["source"],
            x=_x_from_json(data.get("x")),
            y=_y_from_json(data.get("y")),
            template=data.get("template"),
            title=data.get("title"),
            x_label=data.get("x_label"),
            y_label=data.get("y_label"),
            stage=data.get("stage"),
        )


@dataclass(frozen=True)
class Artifact:
    """A top-level ``artifacts:`` entry (what DVC's model registry, gto, reads)."""

    name: str
    path: str  # repo-relative (written relative to the dvc.yaml)
    dvcfile: str
    type: str | None = None
    desc: str | None = None
    labels: tuple[str, ...] = ()
    meta: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)

    def to_json(self) -> ArtifactJSON:
        return {
            "name": self.name,
            "path": self.path,
            "dvcfile": self.dvcfile,
            "type": self.type,
            "desc": self.desc,
            "labels": list(self.labels),
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: ArtifactJSON) -> Artifact:
        return cls(
            name=data["name"],
            path=data["path"],
            dvcfile=data["dvcfile"],
            type=data.get("type"),
            desc=data.get("desc"),
            labels=_tuple(data.get("labels")),
            meta=dict(data.get("meta") or {}),
        )


Params = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class StageFacts:
    """One resolved stage (a foreach/matrix item is a stage of its own)."""

    address: str  # as `dvc stage list --all` prints it from the root; what `dvc repro` accepts
    name: str  # resolved name: `train@lr-0.1` style for foreach/matrix items
    group: str | None  # the foreach/matrix definition it was generated from; None for a plain stage
    dvcfile: str
    wdir: str
    cmd: str | tuple[str, ...]
    deps: tuple[str, ...] = ()  # local dependencies inside the repository
    params: Params = ()  # (params file, keys); () keys = the whole file
    outs: tuple[str, ...] = ()  # everything it writes: outs, metrics and plots
    metrics: tuple[str, ...] = ()  # outputs declared under `metrics:`
    plots: tuple[PlotDef, ...] = ()  # outputs declared under `plots:`
    uncached: tuple[str, ...] = ()  # outputs with `cache: false` (committed to git, not to DVC's cache)
    persist: tuple[str, ...] = ()  # outputs with `persist: true`
    external_deps: tuple[str, ...] = ()  # URLs, remote:// paths, absolute paths outside the repository
    frozen: bool = False
    always_changed: bool = False
    desc: str | None = None

    @property
    def params_files(self) -> tuple[str, ...]:
        return _distinct(path for path, _ in self.params)

    @property
    def plot_paths(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.plots)

    def to_json(self) -> StageFactsJSON:
        return {
            "address": self.address,
            "name": self.name,
            "group": self.group,
            "dvcfile": self.dvcfile,
            "wdir": self.wdir,
            "cmd": self.cmd if isinstance(self.cmd, str) else list(self.cmd),
            "deps": list(self.deps),
            "params": [[path, list(keys)] for path, keys in self.params],
            "outs": list(self.outs),
            "metrics": list(self.metrics),
            "plots": [p.to_json() for p in self.plots],
            "uncached": list(self.uncached),
            "persist": list(self.persist),
            "external_deps": list(self.external_deps),
            "frozen": self.frozen,
            "always_changed": self.always_changed,
            "desc": self.desc,
        }

    @classmethod
    def from_json(cls, data: StageFactsJSON) -> StageFacts:
        cmd = data["cmd"]
        return cls(
            address=data["address"],
            name=data["name"],
            group=data.get("group"),
            dvcfile=data["dvcfile"],
            wdir=data["wdir"],
            cmd=cmd if isinstance(cmd, str) else _tuple(cmd),
            deps=_tuple(data.get("deps")),
            params=tuple((str(path), _tuple(keys)) for path, keys in data.get("params") or ()),
            outs=_tuple(data.get("outs")),
            metrics=_tuple(data.get("metrics")),
            plots=tuple(PlotDef.from_json(p) for p in data.get("plots") or ()),
            uncached=_tuple(data.get("uncached")),
            persist=_tuple(data.get("persist")),
            external_deps=_tuple(data.get("external_deps")),
            frozen=bool(data.get("frozen")),
            always_changed=bool(data.get("always_changed")),
            desc=data.get("desc"),
        )


@dataclass(frozen=True)
class TrackedData:
    """A ``.dvc`` file (``dvc add`` / ``dvc import`` / ``dvc import-url``) and the paths it tracks.

    ``external`` is where imported data comes from, outside this repository: ``PATH from URL`` (and
    `` at REV`` when the import follows a revision) for ``dvc import``, the URL for ``dvc import-url``.
    It is an input of the pipelines that read the data, but no path of this repository: a change
    there reaches this repository only as a ``dvc update`` that rewrites the pointer."""

    dvcfile: str
    outs: tuple[str, ...]
    external: tuple[str, ...] = ()

    def to_json(self) -> TrackedDataJSON:
        data: TrackedDataJSON = {"dvcfile": self.dvcfile, "outs": list(self.outs)}
        if self.external:  # only imports have one: the record of a plain `dvc add` stays as it was
            data["external"] = list(self.external)
        return data

    @classmethod
    def from_json(cls, data: TrackedDataJSON) -> TrackedData:
        return cls(
            dvcfile=data["dvcfile"], outs=_tuple(data.get("outs")), external=_tuple(data.get("external"))
        )


def pointers_for(paths: Iterable[str], tracked: Iterable[TrackedData]) -> tuple[str, ...]:
    """The ``.dvc`` files tracking any of ``paths``: a path equal to, inside, or containing what one tracks."""
    tracked = tuple(tracked)
    found: set[str] = set()
    for path in paths:
        for data in tracked:
            if any(overlaps(path, out) for out in data.outs):
                found.add(data.dvcfile)
    return tuple(sorted(found))


@dataclass(frozen=True)
class PipelineFacts:
    """One dvc.yaml: its resolved stages and top-level sections.

    ``params_files`` are every params file the pipeline reads: stage ``params:`` files, top-level
    ``params:`` files and the files its ``vars`` load (``vars_files``; changing those can change how
    the dvc.yaml resolves, so a memo must key on them too). ``dvc_pointers`` are the ``.dvc`` files
    tracking something its stages depend on (they depend on ``.dvc`` files elsewhere in the repo).
    """

    dvcfile: str
    stages: tuple[StageFacts, ...] = ()
    metrics: tuple[str, ...] = ()  # top-level `metrics:`, repo-relative
    plots: tuple[PlotDef, ...] = ()  # top-level `plots:`
    artifacts: tuple[Artifact, ...] = ()
    params_files: tuple[str, ...] = ()
    vars_files: tuple[str, ...] = ()
    dvc_pointers: tuple[str, ...] = ()

    def stage(self, name: str) -> StageFacts:
        """The stage called ``name`` (resolved name or address)."""
        for stage in self.stages:
            if name in (stage.name, stage.address):
                return stage
        raise KeyError(f"{self.dvcfile}: no stage {name!r}")

    def outs(self) -> tuple[str, ...]:
        """Everything its stages produce (outs, metrics and plots)."""
        return _distinct(out for stage in self.stages for out in stage.outs)

    def deps(self) -> tuple[str, ...]:
        """Every local dependency of its stages."""
        return _distinct(dep for stage in self.stages for dep in stage.deps)

    def inputs(self, all_outs: Iterable[str] | None = None) -> tuple[str, ...]:
        """Dependencies and params files that no stage produces.

        ``all_outs`` are the outputs of every pipeline in the repository (:meth:`RepoFacts.outs`);
        without it only this pipeline's own outputs are excluded."""
        outs = tuple(self.outs() if all_outs is None else all_outs)
        candidates = (*self.deps(), *self.params_files)
        return _distinct(path for path in candidates if not produced(path, outs))

    def all_metrics(self) -> tuple[str, ...]:
        """Top-level metrics files and those declared by stages."""
        return _distinct((*self.metrics, *(m for stage in self.stages for m in stage.metrics)))

    def all_plots(self) -> tuple[PlotDef, ...]:
        """Top-level plot definitions, then those declared by stages."""
        return (*self.plots, *(p for stage in self.stages for p in stage.plots))

    def to_json(self) -> PipelineFactsJSON:
        return {
            "version": FACTS_VERSION,
            "dvcfile": self.dvcfile,
            "stages": [s.to_json() for s in self.stages],
            "metrics": list(self.metrics),
            "plots": [p.to_json() for p in self.plots],
            "artifacts": [a.to_json() for a in self.artifacts],
            "params_files": list(self.params_files),
            "vars_files": list(self.vars_files),
            "dvc_pointers": list(self.dvc_pointers),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> PipelineFacts:
        """Facts read back (a memo, the record): JSON of another version raises FactsFormatError, and
        one of another shape KeyError, TypeError or ValueError, which its readers take as stale."""
        _check_version(data, f"pipeline facts of {data.get('dvcfile') if isinstance(data, Mapping) else '?'}")
        # Past the version check the shape is ours: what does not fit fails as said above.
        data = cast(PipelineFactsJSON, data)
        return cls(
            dvcfile=data["dvcfile"],
            stages=tuple(StageFacts.from_json(s) for s in data.get("stages") or ()),
            metrics=_tuple(data.get("metrics")),
            plots=tuple(PlotDef.from_json(p) for p in data.get("plots") or ()),
            artifacts=tuple(Artifact.from_json(a) for a in data.get("artifacts") or ()),
            params_files=_tuple(data.get("params_files")),
            vars_files=_tuple(data.get("vars_files")),
            dvc_pointers=_tuple(data.get("dvc_pointers")),
        )


def stage_graph(stages: Iterable[StageFacts]) -> dict[str, tuple[str, ...]]:
    """Stage address -> addresses of the stages it depends on (DVC's ``build_graph`` relation).

    A dependency (path or params file) links to the stage producing it, the stage whose output
    directory holds it, and every stage writing inside it."""
    stages = tuple(stages)
    owner: dict[tuple[str, ...], str] = {}
    for stage in stages:
        for out in stage.outs:
            owner[_parts(out)] = stage.address
    graph: dict[str, tuple[str, ...]] = {}
    for stage in stages:
        upstream: set[str] = set()
        for dep in (*stage.deps, *stage.params_files):
            key = _parts(dep)
            upstream.update(owner[key[:i]] for i in range(1, len(key) + 1) if key[:i] in owner)
            upstream.update(
                address for out, address in owner.items() if len(out) > len(key) and out[: len(key)] == key
            )
        graph[stage.address] = tuple(sorted(upstream))
    return graph


@dataclass(frozen=True)
class RepoFacts:
    """Every pipeline of a repository, and the ``.dvc`` files tracking data."""

    pipelines: tuple[PipelineFacts, ...] = ()
    tracked: tuple[TrackedData, ...] = ()

    @property
    def dvcfiles(self) -> tuple[str, ...]:
        return tuple(p.dvcfile for p in self.pipelines)

    def pipeline(self, dvcfile: str) -> PipelineFacts:
        for pipeline in self.pipelines:
            if pipeline.dvcfile == dvcfile:
                return pipeline
        raise KeyError(f"no pipeline {dvcfile!r}")

    def stages(self) -> tuple[StageFacts, ...]:
        return tuple(stage for pipeline in self.pipelines for stage in pipeline.stages)

    def stage(self, address: str) -> StageFacts:
        for stage in self.stages():
            if stage.address == address:
                return stage
        raise KeyError(f"no stage {address!r}")

    def outs(self) -> tuple[str, ...]:
        """Everything any stage of any pipeline produces."""
        return _distinct(out for pipeline in self.pipelines for out in pipeline.outs())

    def inputs(self, dvcfile: str) -> tuple[str, ...]:
        """What ``dvcfile``'s stages read that no stage of any pipeline produces."""
        return self.pipeline(dvcfile).inputs(self.outs())

    def external_inputs(self, dvcfile: str) -> tuple[str, ...]:
        """What ``dvcfile``'s stages read from outside this repository: their own external
        dependencies (URLs, paths outside the repository) and the sources of the ``.dvc`` pointers
        tracking their inputs (``dvc import``, ``dvc import-url``). None is a trigger path."""
        pipeline = self.pipeline(dvcfile)
        pointers = set(pipeline.dvc_pointers)
        return _distinct(
            (
                *(dep for stage in pipeline.stages for dep in stage.external_deps),
                *(source for data in self.tracked if data.dvcfile in pointers for source in data.external),
            )
        )

    @cached_property
    def _graph(self) -> dict[str, tuple[str, ...]]:
        return stage_graph(self.stages())

    def graph(self) -> dict[str, tuple[str, ...]]:
        """Stage address -> addresses of the stages it depends on, across dvc.yaml files."""
        return dict(self._graph)

    def upstream(self, pipeline: str | PipelineFacts) -> tuple[str, ...]:
        """The other dvc.yaml files whose stages ``pipeline``'s stages depend on, directly or not."""
        dvcfile = pipeline if isinstance(pipeline, str) else pipeline.dvcfile
        by_address = {stage.address: stage.dvcfile for stage in self.stages()}
        graph = self._graph
        todo = [stage.address for stage in self.pipeline(dvcfile).stages]
        seen = set(todo)
        while todo:
            for up in graph.get(todo.pop(), ()):
                if up not in seen:
                    seen.add(up)
                    todo.append(up)
        return tuple(sorted({by_address[a] for a in seen} - {dvcfile}))

    def downstream(self, pipeline: str | PipelineFacts) -> tuple[str, ...]:
        """The other dvc.yaml files that depend on ``pipeline``, directly or not."""
        dvcfile = pipeline if isinstance(pipeline, str) else pipeline.dvcfile
        return tuple(
            p.dvcfile for p in self.pipelines if p.dvcfile != dvcfile and dvcfile in self.upstream(p)
        )

    def independent_groups(self) -> tuple[tuple[str, ...], ...]:
        """dvc.yaml files grouped so that no stage of one group depends on a stage of another."""
        parent = {p.dvcfile: p.dvcfile for p in self.pipelines}

        def find(item: str) -> str:
            while parent[item] != item:
                parent[item] = parent[parent[item]]
                item = parent[item]
            return item

        by_address = {stage.address: stage.dvcfile for stage in self.stages()}
        for address, ups in self._graph.items():
            for up in ups:
                a, b = find(by_address[address]), find(by_address[up])
                if a != b:
                    parent[max(a, b)] = min(a, b)
        groups: dict[str, list[str]] = {}
        for dvcfile in parent:
            groups.setdefault(find(dvcfile), []).append(dvcfile)
        return tuple(sorted(tuple(sorted(g)) for g in groups.values()))

    def to_json(self) -> RepoFactsJSON:
        return {
            "version": FACTS_VERSION,
            "pipelines": [p.to_json() for p in self.pipelines],
            "tracked": [t.to_json() for t in self.tracked],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RepoFacts:
        """Facts read back, refused as :meth:`PipelineFacts.from_json` says."""
        _check_version(data, "repository facts")
        data = cast(RepoFactsJSON, data)
        return cls(
            pipelines=tuple(PipelineFacts.from_json(p) for p in data.get("pipelines") or ()),
            tracked=tuple(TrackedData.from_json(t) for t in data.get("tracked") or ()),
        )
