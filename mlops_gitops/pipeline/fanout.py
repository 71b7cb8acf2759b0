"""Training split into parallel jobs: which changed stages run before, in, and after a job matrix.

Pure: from the pipeline facts, the changed stages (:mod:`mlops_gitops.pipeline.stagediff`) and where
each stage may run, :func:`plan` makes three tiers (docs/scaling.md):

1. **upstream**: the changed stages the fanned-out ones depend on, run once, first;
2. **fan**: the entries of one job matrix, each reproducing its own targets in parallel:
   - each changed item of a ``foreach``/``matrix`` group of two or more items, with the stages below
     it that depend on that item alone (``train@us`` -> ``evaluate@us``); which level of items fans
     out is the first one down the graph, or the widest group first (a matrix of trainings rather
     than the split they read), whichever runs fewer stages one after the other, and
   - the other changed stages, one entry per set of pipelines that do not depend on each other;
3. **final**: what depends on several entries (an aggregate over every item) and every stage DVC cannot
   restore from the run-cache (``always_changed``, ``persist`` outputs, no deps or no outs, an external
   dependency) with everything below it. The final job reproduces every changed pipeline: the runs of
   the tiers before it are restored from the run-cache, and only its own stages execute.

Each changed stage is in exactly one tier. A stage with its own runner (``runners.stages``) puts the
entry it is in on that runner; a stage whose runner differs from its entry's goes to the final job.
Fewer entries than ``min_jobs`` is no fan-out (everything in the final job); more than ``max_jobs``
are grouped, several to an entry, per runner.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple, TypedDict

from mlops_gitops.pipeline.facts import RepoFacts, StageFacts

PLAN_VERSION = 1
GITHUB_MAX_JOBS = 256  # jobs one matrix may generate
GITHUB_OUTPUTS_LIMIT = 1_000_000  # bytes: every output of a job together
MAX_TIMEOUT = 4320  # minutes: GitHub's ceiling for a self-hosted job (hosted runners stop at 360)
RESERVED_IDS = frozenset({"upstream", "final"})
_ID_LENGTH = 64

Container = str | Mapping[str, object] | None  # runners' `container:`, an image or GitHub's mapping


class PlanError(ValueError):
    """The plan cannot be made as configured (one line)."""


@dataclass(frozen=True)
class Placement:
    """Where a stage runs: ``runner`` is the ``runners.stages`` key that placed it (None:
    ``runners.train``); ``timeout_minutes`` is the stage's own, None when it shares the job's."""

    runs_on: str | tuple[str, ...]
    container: Container = None
    timeout_minutes: int | None = None
    runner: str | None = None

    @property
    def machine(self) -> str:
        """What decides whether two stages can share a job: the labels and the container."""
        runs_on = list(self.runs_on) if isinstance(self.runs_on, tuple) else self.runs_on
        return json.dumps([runs_on, self.container], sort_keys=True)


@dataclass(frozen=True)
class Settings:
    """``fanout:`` and ``runners.train`` (``base``: the job's own placement and timeout)."""

    base: Placement
    enabled: bool = True
    max_jobs: int = GITHUB_MAX_JOBS
    min_jobs: int = 2


class _JobJSONRequired(TypedDict):
    id: str
    targets: list[str]
    runs_on: str | list[str]
    timeout_minutes: int
    container: object  # the container as plain JSON: an image name, or GitHub's mapping
    runner: str | None


class JobJSON(_JobJSONRequired, total=False):
    """A job in the plan's outputs (a matrix entry, ``upstream``, ``final``); ``stages`` only in the
    ``--output`` file."""

    stages: list[str]


class MatrixJSON(TypedDict):
    include: list[JobJSON]


class PlanJSON(TypedDict):
    """The ``--output`` file."""

    version: int
    retrain: bool
    pipelines: list[str]
    changed: dict[str, str]
    upstream: JobJSON | None
    matrix: MatrixJSON
    final: JobJSON | None
    notes: list[str]


@dataclass(frozen=True)
class Job:
    """One job: the changed stages it runs, and what it gives ``dvc repro``."""

    id: str
    stages: tuple[str, ...]  # changed stages that execute here, in order
    targets: tuple[str, ...]  # `dvc repro` targets (stages reproduce what they depend on)
    runs_on: str | tuple[str, ...]
    timeout_minutes: int
    container: Container = None
    runner: str | None = None  # the runners.stages key that placed it; None: runners.train

    def to_json(self, *, stages: bool = False) -> JobJSON:
        out: JobJSON = {
            "id": self.id,
            "targets": list(self.targets),
            "runs_on": list(self.runs_on) if isinstance(self.runs_on, tuple) else self.runs_on,
            "timeout_minutes": self.timeout_minutes,
            "container": _plain(self.container),
            "runner": self.runner,
        }
        if stages:
            out["stages"] = list(self.stages)
        return out


@dataclass(frozen=True)
class Plan:
    """Who runs which changed stage. ``pipelines``: the dvc.yaml files the final job reproduces (what
    ``mlops-gitops changed`` selects); empty: nothing retrains, and there are no jobs."""

    pipelines: tuple[str, ...]
    changed: Mapping[str, str] = field(default_factory=dict)  # stage -> why it runs again
    upstream: Job | None = None
    fan: tuple[Job, ...] = ()
    final: Job | None = None
    notes: tuple[str, ...] = ()

    @property
    def retrain(self) -> bool:
        return bool(self.pipelines)

    def jobs(self) -> tuple[Job, ...]:
        return tuple(j for j in (self.upstream, *self.fan, self.final) if j is not None)

    def to_json(self) -> PlanJSON:
        """Everything, stage lists and reasons included (the ``--output`` file)."""
        return {
            "version": PLAN_VERSION,
            "retrain": self.retrain,
            "pipelines": list(self.pipelines),
            "changed": dict(self.changed),
            "upstream": self.upstream.to_json(stages=True) if self.upstream else None,
            "matrix": {"include": [job.to_json(stages=True) for job in self.fan]},
            "final": self.final.to_json(stages=True) if self.final else None,
            "notes": list(self.notes),
        }

    def outputs(self) -> dict[str, str]:
        """The job outputs (``$GITHUB_OUTPUT``), compact JSON; within GitHub's 1 MB for all of them."""
        values = {
            "retrain": _flag(self.retrain),
            "pipelines": _compact(list(self.pipelines)),
            "has_upstream": _flag(self.upstream is not None),
            "has_fan": _flag(bool(self.fan)),
            "upstream": _compact(self.upstream.to_json() if self.upstream else None),
            "matrix": _compact({"include": [job.to_json() for job in self.fan]}),
            "final": _compact(self.final.to_json() if self.final else None),
        }
        size = sum(len(k) + len(v.encode("utf-8")) + 2 for k, v in values.items())
        if size > GITHUB_OUTPUTS_LIMIT:
            raise PlanError(
                f"the plan's job outputs take {size} bytes, more than GitHub's {GITHUB_OUTPUTS_LIMIT}: "
                "lower fanout.max_jobs, or set fanout.enabled: false"
            )
        return values

    def lines(self) -> list[str]:
        """What a person reads: why each stage runs, and which job runs it."""
        if not self.retrain:
            return ["nothing to reproduce", "retrain=false"]
        out = [f"{address}: {reason}" for address, reason in self.changed.items()]
        if not self.changed:
            out.append("no stage runs again; the pipelines are reproduced to restore and report")
        if self.upstream:
            out.append(f"upstream {_where(self.upstream)}: {', '.join(self.upstream.stages)}")
        if self.fan:
            out.append(f"fan-out: {len(self.fan)} job(s)")
            out.extend(f"  {job.id} {_where(job)}: {', '.join(job.stages)}" for job in self.fan)
        if self.final:
            runs = ", ".join(self.final.stages) or "nothing new (restores every run)"
            out.append(f"final {_where(self.final)}: {runs}; reproduces {', '.join(self.final.targets)}")
        out.extend(f"note: {note}" for note in self.notes)
        out.append("retrain=true")
        return out


def _where(job: Job) -> str:
    runs_on = job.runs_on if isinstance(job.runs_on, str) else f"[{', '.join(job.runs_on)}]"
    image = job.container if isinstance(job.container, str) else (job.container or {}).get("image")
    return f"({runs_on}{', ' + str(image) if image else ''}, {job.timeout_minutes} min)"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------
# Planning.


@dataclass
class _Entry:
    kind: str  # "item" | "pipelines"
    stages: list[str]
    placement: Placement | None  # the first stage's own runner in it; None: runners.train
    dvcfiles: list[str]


@dataclass(frozen=True)
class _Changes:
    """The changed stages of one plan, and what the layouts ask about them."""

    by_address: Mapping[str, StageFacts]  # every stage, changed or not
    graph: Mapping[str, Sequence[str]]  # stage -> the stages it depends on
    placements: Mapping[str, Placement]
    order: list[str]  # the changed stages, each after the ones it depends on
    parents: dict[str, list[str]]  # changed stage -> the changed stages it depends on directly
    ancestors: dict[str, set[str]]  # changed stage -> every changed stage above it
    forced: set[str]  # changed stages only the final job can run
    every_item: set[str]  # items of a foreach/matrix group of two or more (changed or not)

    @classmethod
    def of(
        cls,
        facts: RepoFacts,
        by_address: Mapping[str, StageFacts],
        changed: Mapping[str, str],
        placements: Mapping[str, Placement],
    ) -> _Changes:
        graph = facts.graph()
        order = _topological([a for a in by_address if a in changed], graph)
        parents = {a: [p for p in graph.get(a, ()) if p in changed] for a in order}
        # Stages DVC cannot restore from the run-cache run once, in the final job, and so does
        # everything below them (a job before it would run them again when it reproduces).
        forced: set[str] = set()
        for address in order:
            if not restorable(by_address[address]) or any(p in forced for p in parents[address]):
                forced.add(address)
        sizes = group_sizes(by_address.values())
        every_item = {a for a, s in by_address.items() if s.group and sizes[(s.dvcfile, s.group)] >= 2}
        ancestors: dict[str, set[str]] = {}
        for address in order:
            ancestors[address] = set(parents[address]).union(*(ancestors[p] for p in parents[address]))
        return cls(by_address, graph, placements, order, parents, ancestors, forced, every_item)


def plan(
    facts: RepoFacts,
    changed: Mapping[str, str],
    pipelines: Sequence[str],
    settings: Settings,
    placements: Mapping[str, Placement] | None = None,
) -> Plan:
    """The three tiers for the ``changed`` stages (address -> reason) of ``pipelines``.

    ``placements``: stage address -> where it runs, for stages with their own runner
    (``runners.stages``); every other stage runs on ``settings.base``."""
    placements = placements or {}
    by_address = {s.address: s for s in facts.stages()}
    changed = {a: r for a, r in changed.items() if a in by_address}
    if not pipelines:
        return Plan(pipelines=())
    work = _Changes.of(facts, by_address, changed, placements)
    notes: list[str] = []
    if settings.enabled:
        upstream, entries, final = _tiers(work, settings.min_jobs, notes)
    else:
        upstream, entries, final = [], [], work.order
    upstream, fan, final = _fan(work, settings, notes, upstream, entries, final)
    graph = work.graph
    up = _tier("upstream", upstream, (), settings, placements, notes, graph) if upstream else None
    last = _tier("final", final, tuple(pipelines), settings, placements, notes, graph, always=True)
    return Plan(tuple(pipelines), changed, up, tuple(fan), last, tuple(notes))


def _tiers(work: _Changes, min_jobs: int, notes: list[str]) -> tuple[list[str], list[_Entry], list[str]]:
    """Upstream, the matrix entries and the final job; everything in the final job when fewer than
    ``min_jobs`` entries would run in parallel.

    Two ways to pick the items that fan out: the first level of items down the graph, or the widest
    group first (_seeds). The one with the shorter chain of stages run one after the other (upstream,
    then the longest entry, then the final job) wins; on a tie, the first level."""
    items = {a for a in work.order if a not in work.forced and a in work.every_item}
    first_level = {a for a in items if not work.ancestors[a] & items}
    candidates = [_Layout(work, first_level).tiers()]
    widest = _seeds(work.order, items, work.by_address, work.ancestors)
    if widest != first_level:
        candidates.append(_Layout(work, widest).tiers())
    upstream, live, final, own_notes = min(candidates, key=_serial_length)
    notes.extend(own_notes)
    if len(live) < min_jobs:
        if live:
            notes.append(
                f"{len(live)} parallel job(s), fewer than fanout.min_jobs ({min_jobs}): "
                "one job runs every changed stage"
            )
        return [], [], work.order
    return upstream, live, final


def _fan(
    work: _Changes,
    settings: Settings,
    notes: list[str],
    upstream: list[str],
    entries: list[_Entry],
    final: list[str],
) -> tuple[list[str], list[Job], list[str]]:
    """The matrix's jobs, grouped into at most ``max_jobs``; when they cannot be (more runners than
    jobs), no fan-out: the final job runs every changed stage. Returns (upstream, fan, final)."""
    fan = _jobs(entries, settings, work.graph, work.placements)
    if len(fan) > settings.max_jobs:
        try:
            fan = _grouped(fan, settings.max_jobs)
        except PlanError as exc:
            notes.append(f"{exc}: one job runs every changed stage")
            return [], [], work.order
    return upstream, fan, final


class _Tiers(NamedTuple):
    upstream: list[str]
    entries: list[_Entry]
    final: list[str]
    notes: list[str]


class _Layout:
    """Upstream, the matrix entries and the final job when ``seeds`` start the entries.

    Each changed stage, in the graph's order: a forced one goes to the final job, one above a seed
    upstream, a seed starts an entry; any other joins the entry of the changed stages it depends on
    (or its pipeline's entry when it depends on none), unless that needs several entries' work, reads
    other items (an aggregate) or another runner: then it goes to the final job."""

    def __init__(self, work: _Changes, seeds: set[str]) -> None:
        self.work = work
        self.seeds = seeds
        self.upstream_set: set[str] = set().union(*(work.ancestors[s] for s in seeds)) if seeds else set()
        self.entries: list[_Entry] = []
        self.merged: dict[int, int] = {}  # entry index -> the entry it was merged into
        self.entry_of: dict[str, int] = {}
        self.of_pipeline: dict[str, int] = {}
        self.upstream: list[str] = []
        self.final: list[str] = []
        self.notes: list[str] = []
        for address in work.order:
            self._place(address)

    def _find(self, i: int) -> int:
        while i in self.merged:
            i = self.merged[i]
        return i

    def _place(self, address: str) -> None:
        stage, own = self.work.by_address[address], self.work.placements.get(address)
        if address in self.work.forced:
            self.final.append(address)
        elif address in self.upstream_set:
            self.upstream.append(address)
        elif address in self.seeds:
            self.entry_of[address] = len(self.entries)
            self.entries.append(_Entry("item", [address], own, [stage.dvcfile]))
        else:
            ups = [p for p in self.work.parents[address] if p not in self.upstream_set]
            if any(p not in self.entry_of for p in ups):  # below a stage of the final job
                self.final.append(address)
                return
            index = self._owner(stage, ups)
            if index is None or not self._fits(address, own, self.entries[index]):
                self.final.append(address)
                return
            entry = self.entries[index]
            entry.placement = entry.placement or own
            entry.stages.append(address)
            self.entry_of[address] = index

    def _owner(self, stage: StageFacts, ups: list[str]) -> int | None:
        """The entry a stage follows: its parents' (merged into one when they are pipeline entries on
        one runner), or its pipeline's when it has none; None: it needs several entries' work."""
        owners = sorted({self._find(self.entry_of[p]) for p in ups})
        if not owners:
            index = self.of_pipeline.get(stage.dvcfile)
            if index is None:
                index = self.of_pipeline[stage.dvcfile] = len(self.entries)
                self.entries.append(_Entry("pipelines", [], None, [stage.dvcfile]))
            return self._find(index)
        if len(owners) == 1:
            return owners[0]
        entries = self.entries
        kinds = {entries[i].kind for i in owners}
        machines = {p.machine for i in owners if (p := entries[i].placement) is not None}
        if kinds != {"pipelines"} or len(machines) > 1:
            return None  # it needs several entries' work: after all of them
        target = owners[0]
        for other in owners[1:]:
            entries[target].stages.extend(entries[other].stages)
            entries[target].dvcfiles.extend(entries[other].dvcfiles)
            entries[target].placement = entries[target].placement or entries[other].placement
            entries[other].stages = []
            self.merged[other] = target
        return target

    def _fits(self, address: str, own: Placement | None, entry: _Entry) -> bool:
        """Whether ``address`` can run in ``entry``: not an aggregate of items, and on its runner."""
        if entry.kind == "item" and any(
            p in self.work.every_item and p not in entry.stages for p in self.work.graph.get(address, ())
        ):
            return False  # it reads other items too (changed or not): an aggregate
        if own and entry.placement and own.machine != entry.placement.machine:
            self.notes.append(
                f"{address} runs on another runner ({own.runner}) than the job it follows "
                f"({entry.placement.runner}): it runs in the final job"
            )
            return False
        return True

    def tiers(self) -> _Tiers:
        position = {a: i for i, a in enumerate(self.work.order)}
        live = [e for i, e in enumerate(self.entries) if i not in self.merged and e.stages]
        for e in live:  # stages joined out of order by merges: back into the graph's order
            e.stages.sort(key=position.__getitem__)
        live.sort(key=lambda e: position[e.stages[0]])
        return _Tiers(self.upstream, live, self.final, self.notes)


def _serial_length(layout: _Tiers) -> int:
    """Stages run one after the other in a layout: upstream, the longest entry, the final job."""
    upstream, live, final, _ = layout
    return len(upstream) + max((len(e.stages) for e in live), default=0) + len(final)


def _seeds(
    order: Sequence[str],
    items: set[str],
    by_address: Mapping[str, StageFacts],
    ancestors: Mapping[str, set[str]],
) -> set[str]:
    """Changed items that could each start a matrix entry: the widest group first (a matrix of
    four trainings rather than the two-way split they read), then each narrower one, item by item,
    where the item is neither above nor below an item already taken: what is above goes upstream,
    what is below follows its item (or goes to the final job). Equal widths: the one nearer the top."""
    members: dict[tuple[str, str], list[str]] = {}
    for address in order:
        if address in items:
            stage = by_address[address]
            members.setdefault((stage.dvcfile, stage.group or ""), []).append(address)
    position = {a: i for i, a in enumerate(order)}
    taken: set[str] = set()
    above: set[str] = set()  # what the items taken depend on
    for group in sorted(members, key=lambda g: (-len(members[g]), position[members[g][0]])):
        for address in members[group]:
            if address not in above and not ancestors[address] & taken:
                taken.add(address)
                above |= ancestors[address]
    return taken


def group_sizes(stages: Iterable[StageFacts]) -> dict[tuple[str, str], int]:
    """``(dvc.yaml, foreach/matrix group)`` -> how many items DVC resolved for it."""
    sizes: dict[tuple[str, str], int] = {}
    for stage in stages:
        if stage.group:
            key = (stage.dvcfile, stage.group)
            sizes[key] = sizes.get(key, 0) + 1
    return sizes


def restorable(stage: StageFacts) -> bool:
    """Whether DVC saves this stage's run to the run-cache, so another job restores it instead of
    running it again (``dvc.stage.cache._can_hash``)."""
    return bool(
        not stage.always_changed
        and (stage.deps or stage.params)
        and stage.outs
        and not stage.persist
        and not stage.external_deps
    )


def _topological(addresses: list[str], graph: Mapping[str, Sequence[str]]) -> list[str]:
    """``addresses`` with every stage after the ones it depends on; otherwise in the facts' order."""
    import heapq

    position = {a: i for i, a in enumerate(addresses)}
    waiting = {a: sum(1 for p in graph.get(a, ()) if p in position) for a in addresses}
    children: dict[str, list[str]] = {}
    for a in addresses:
        for p in graph.get(a, ()):
            if p in position:
                children.setdefault(p, []).append(a)
    ready = [position[a] for a in addresses if waiting[a] == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        a = addresses[heapq.heappop(ready)]
        out.append(a)
        for child in children.get(a, ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, position[child])
    return out


def _sinks(stages: Sequence[str], graph: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The stages no other one of ``stages`` depends on: reproducing them reproduces the rest."""
    inner = set(stages)
    used = {p for a in stages for p in graph.get(a, ()) if p in inner}
    return tuple(a for a in stages if a not in used)


def _timeout(stages: Sequence[str], base: int, placements: Mapping[str, Placement], always: bool) -> int:
    """The stages' own timeouts added up, plus the job's for those without one (and, ``always``, for
    the job itself: restoring and reporting)."""
    own = [placements[a].timeout_minutes for a in stages if a in placements]
    explicit = sum(t for t in own if t is not None)
    shared = (
        always
        or not stages
        or any(a not in placements or placements[a].timeout_minutes is None for a in stages)
    )
    return min(MAX_TIMEOUT, explicit + (base if shared else 0))


def _job(
    id_: str,
    stages: Sequence[str],
    targets: Sequence[str],
    placement: Placement | None,
    settings: Settings,
    placements: Mapping[str, Placement],
    *,
    always: bool = False,
) -> Job:
    where = placement or settings.base
    base = settings.base.timeout_minutes or 0
    return Job(
        id=id_,
        stages=tuple(stages),
        targets=tuple(targets),
        runs_on=where.runs_on,
        timeout_minutes=_timeout(stages, base, placements, always),
        container=where.container,
        runner=where.runner,
    )


def _tier(
    id_: str,
    stages: list[str],
    targets: tuple[str, ...],
    settings: Settings,
    placements: Mapping[str, Placement],
    notes: list[str],
    graph: Mapping[str, Sequence[str]],
    *,
    always: bool = False,
) -> Job:
    """The upstream or final job: on the first of its stages' own runners."""
    own = [placements[a] for a in stages if a in placements]
    machines = list(dict.fromkeys(p.machine for p in own))
    if len(machines) > 1:
        names = ", ".join(dict.fromkeys(str(p.runner) for p in own))
        notes.append(f"the {id_} job runs stages placed on different runners ({names}): it uses the first")
    return _job(
        id_,
        stages,
        targets or _sinks(stages, graph),
        own[0] if own else None,
        settings,
        placements,
        always=always,
    )


def _jobs(
    entries: list[_Entry],
    settings: Settings,
    graph: Mapping[str, Sequence[str]],
    placements: Mapping[str, Placement],
) -> list[Job]:
    names = [_name(e) for e in entries]
    ids = _unique_ids(names, [e.stages for e in entries])
    return [
        _job(id_, e.stages, _sinks(e.stages, graph), e.placement, settings, placements)
        for id_, e in zip(ids, entries, strict=True)
    ]


def _name(entry: _Entry) -> str:
    first = entry.stages[0]
    folder = posixpath.dirname(entry.dvcfiles[0])
    if entry.kind == "item":
        name = first.rpartition(":")[2]
        return f"{folder}-{name}" if folder else name
    label = folder or "root"
    more = len(set(entry.dvcfiles)) - 1
    return f"{label}-and-{more}-more" if more else label


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "job"


def _digest(stages: Sequence[str]) -> str:
    return hashlib.sha256("\0".join(stages).encode("utf-8")).hexdigest()[:8]


def _unique_ids(names: Sequence[str], stages: Sequence[Sequence[str]]) -> list[str]:
    """Names safe in an artifact name and a job name ([A-Za-z0-9._-], at most 64 characters),
    unique, never ``upstream`` or ``final``: a hash of the stages is added where needed."""
    slugs = [_slug(n) for n in names]
    counts: dict[str, int] = {}
    for s in slugs:
        counts[s] = counts.get(s, 0) + 1
    out = []
    for slug, members in zip(slugs, stages, strict=True):
        if counts[slug] > 1 or slug in RESERVED_IDS or len(slug) > _ID_LENGTH:
            slug = f"{slug[: _ID_LENGTH - 9]}-{_digest(members)}"
        out.append(slug)
    return out


def _grouped(jobs: list[Job], limit: int) -> list[Job]:
    """At most ``limit`` jobs: jobs on the same runner merged into consecutive groups of near-equal
    size; each runner gets groups in proportion to its jobs (at least one)."""
    buckets: dict[str, list[Job]] = {}
    for job in jobs:
        buckets.setdefault(Placement(job.runs_on, job.container).machine, []).append(job)
    if len(buckets) > limit:
        raise PlanError(
            f"the fanned-out stages need {len(buckets)} different runners, more than fanout.max_jobs "
            f"({limit}) jobs can hold"
        )
    slots = {key: 1 for key in buckets}
    for _ in range(limit - len(buckets)):
        open_ = [k for k in buckets if slots[k] < len(buckets[k])]
        if not open_:
            break
        best = max(open_, key=lambda k: len(buckets[k]) / slots[k])  # first wins a tie: stable
        slots[best] += 1
    out: list[Job] = []
    for key, members in buckets.items():
        count = slots[key]
        size, extra = divmod(len(members), count)
        start = 0
        for i in range(count):
            chunk = members[start : start + size + (1 if i < extra else 0)]
            start += len(chunk)
            out.append(_merge(chunk))
    position = {job.stages[0]: i for i, job in enumerate(jobs)}
    out.sort(key=lambda job: position[job.stages[0]])
    ids = _unique_ids([job.id for job in out], [job.stages for job in out])
    return [replace(job, id=id_) for job, id_ in zip(out, ids, strict=True)]


def _merge(chunk: list[Job]) -> Job:
    if len(chunk) == 1:
        return chunk[0]
    first = chunk[0]
    return replace(
        first,
        id=f"{first.id[: _ID_LENGTH - 16]}-and-{len(chunk) - 1}-more",
        stages=tuple(a for job in chunk for a in job.stages),
        targets=tuple(a for job in chunk for a in job.targets),
        timeout_minutes=min(MAX_TIMEOUT, sum(job.timeout_minutes for job in chunk)),
    )


def targets_of(entry: str) -> tuple[str, ...]:
    """The ``dvc repro`` targets of one job, from its JSON as the plan's outputs hold it (a matrix
    entry, ``upstream`` or ``final``)."""
    try:
        data = json.loads(entry)
    except ValueError:
        raise PlanError("--entry: not JSON (pass a job of the plan: toJSON(matrix), or an output)") from None
    targets = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(targets, list) or not all(isinstance(t, str) and t and "\0" not in t for t in targets):
        raise PlanError("--entry: a job of the plan has a list of targets (non-empty strings)")
    return tuple(targets)
