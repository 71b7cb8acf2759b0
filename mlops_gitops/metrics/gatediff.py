"""Which gates decide a report's verdict, and what a pull request changes in them. Pure: no I/O.

A pull request must not set its own bar: ``report`` judges the head's metrics with the gates of the
manifest at the *base* revision (read from Git objects by :mod:`mlops_gitops.reporting.evaluate`). What
the pull request changes in the gates (:func:`diff_gates`) is listed for reviewers, with what the
head's own gates would say, but it does not decide. Only when the base has no valid manifest (the pull
request that adopts mlops-gitops, or a base manifest this version refuses) do the head's gates decide,
and the report says so (:func:`fallback_reason`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mlops_gitops.manifest.model import Gate
from mlops_gitops.metrics import gates as G
from mlops_gitops.metrics.flatten import Scalar
from mlops_gitops.metrics.outcomes import GateOutcome

BASE, HEAD = "base", "head"  # whose gates decide
VALID, MISSING, INVALID = "valid", "missing", "invalid"  # the manifest at base
LOOSER, STRICTER, OTHER = "looser", "stricter", "other"  # what a field change does to the bar


@dataclass(frozen=True)
class FieldChange:
    """One setting of a gate that differs: ``min 0.9 -> 0.1``. ``old``/``new`` are None when unset."""

    name: str  # min, max, direction, regression.absolute, regression.relative, required, file, pipeline
    old: Scalar
    new: Scalar
    effect: str  # LOOSER (easier to pass), STRICTER, or OTHER (direction, file, pipeline)

    def __str__(self) -> str:
        return f"{self.name} {show(self.old)} -> {show(self.new)}"


@dataclass(frozen=True)
class FilesChange:
    """`metrics.files` before and after (empty: every metrics file the pipelines declare)."""

    old: tuple[str, ...]
    new: tuple[str, ...]

    def __str__(self) -> str:
        return f"metrics.files {show_files(self.old)} -> {show_files(self.new)}"


def show_files(files: Sequence[str]) -> str:
    return "[" + ", ".join(files) + "]" if files else "every metrics file"


@dataclass(frozen=True)
class GateChange:
    """A gate the head adds, removes or changes, against the base."""

    kind: str  # added | removed | changed
    old: Gate | None
    new: Gate | None
    fields: tuple[FieldChange, ...] = ()

    @property
    def gate(self) -> Gate:
        gate = self.old or self.new
        assert gate is not None
        return gate

    @property
    def looser(self) -> bool:
        """Easier to pass after the change: a gate removed, a bound relaxed or dropped."""
        return self.kind == "removed" or any(f.effect == LOOSER for f in self.fields)

    def summary(self) -> str:
        """What changed, without the gate's name: ``min 0.9 -> 0.1``, ``added: ↑ ≥ 0.5``."""
        if self.kind == "added" and self.new is not None:
            return f"added: {G.describe(self.new)}"
        if self.kind == "removed" and self.old is not None:
            return f"removed (was {G.describe(self.old)})"
        return ", ".join(str(f) for f in self.fields)

    def __str__(self) -> str:
        return f"{label(self.gate)}: {self.summary()}"


@dataclass
class GateReview:
    """Whose gates decided a report, and what the head changes in them.

    ``head_gates`` are the head's gates judged on the same metrics: the verdict when the head's gates
    decide (``decided_by == HEAD``), otherwise what they *would* say, which is not the verdict."""

    decided_by: str  # BASE | HEAD
    manifest: str  # the manifest file, as read at base
    base_manifest: str  # VALID | MISSING | INVALID
    reason: str | None = None  # one sentence: why the head's gates decide (None when the base's do)
    changes: list[GateChange] = field(default_factory=list)
    metrics_files: FilesChange | None = None  # `metrics.files` changed: what every gate reads
    head_gates: list[GateOutcome] = field(default_factory=list)

    @property
    def from_base(self) -> bool:
        return self.decided_by == BASE

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.metrics_files)

    @property
    def head_verdict(self) -> str:
        """What the head's gates alone say (data checks and unreadable files count the same either way)."""
        return "pass" if all(g.passed for g in self.head_gates) else "fail"


def show(value: Scalar) -> str:
    return "unset" if value is None else G.fmt(value)


def label(gate: Gate) -> str:
    """``acc``, ``acc (metrics.json)``, ``acc (pipeline a/dvc.yaml)``: a gate as reviewers name it."""
    scope = [s for s in (gate.file, f"pipeline {gate.pipeline}" if gate.pipeline else None) if s]
    return f"{gate.metric} ({', '.join(scope)})" if scope else gate.metric


def _bound(old: float | None, new: float | None, looser_when_larger: bool) -> str:
    if new is None:
        return LOOSER  # a bound dropped
    if old is None:
        return STRICTER  # a bound added
    return LOOSER if (new > old) == looser_when_larger else STRICTER


def field_changes(old: Gate, new: Gate) -> tuple[FieldChange, ...]:
    """Every setting that differs between two versions of a gate, in the manifest's order."""
    out: list[FieldChange] = []
    bounds: tuple[tuple[str, float | None, float | None, bool], ...] = (
        ("min", old.min, new.min, False),
        ("max", old.max, new.max, True),
        ("regression.absolute", old.regression_absolute, new.regression_absolute, True),
        ("regression.relative", old.regression_relative, new.regression_relative, True),
    )
    if old.file != new.file:
        out.append(FieldChange("file", old.file, new.file, OTHER))
    if old.pipeline != new.pipeline:
        out.append(FieldChange("pipeline", old.pipeline, new.pipeline, OTHER))
    if old.direction != new.direction:
        out.append(FieldChange("direction", old.direction, new.direction, OTHER))
    for name, before, after, looser_when_larger in bounds:
        if before != after:
            out.append(FieldChange(name, before, after, _bound(before, after, looser_when_larger)))
    if old.required != new.required:
        out.append(FieldChange("required", old.required, new.required, LOOSER if old.required else STRICTER))
    return tuple(out)


# How a base gate finds its head version, most specific first: the same gate, the same metric in the
# same file and pipeline, then in the same file, then the same metric anywhere (a scope change).
_KEYS: tuple[Callable[[Gate], object], ...] = (
    lambda g: g,
    lambda g: (g.metric, g.file, g.pipeline),
    lambda g: (g.metric, g.file),
    lambda g: g.metric,
)


def diff_gates(base: Sequence[Gate], head: Sequence[Gate]) -> list[GateChange]:
    """What ``head`` changes in ``base``'s gates: changed and added gates in the head's order, then
    removed ones in the base's. Order alone is no change; neither is a gate left as it was."""
    pair: dict[int, int] = {}  # head index -> base index
    free = list(range(len(base)))
    for key in _KEYS:
        for j, gate in enumerate(head):
            if j in pair:
                continue
            i = next((i for i in free if key(base[i]) == key(gate)), None)
            if i is not None:
                pair[j] = i
                free.remove(i)
    out: list[GateChange] = []
    for j, gate in enumerate(head):
        if j not in pair:
            out.append(GateChange("added", None, gate))
        elif fields := field_changes(base[pair[j]], gate):
            out.append(GateChange("changed", base[pair[j]], gate, fields))
    out += [GateChange("removed", base[i], None) for i in free]
    return out


def files_change(base: Sequence[str], head: Sequence[str]) -> FilesChange | None:
    """`metrics.files` differs: every gate reads other files."""
    return None if list(base) == list(head) else FilesChange(tuple(base), tuple(head))


def fallback_reason(manifest: str, base_label: str, state: str, problem: str | None = None) -> str:
    """The one sentence a report gives when the head's gates decide because the base has none."""
    if state == MISSING:
        return (
            f"{manifest} does not exist at the base revision {base_label}, so this pull request's own "
            "gates decide the verdict (it adopts mlops-gitops: there are no earlier gates to hold it to)."
        )
    return (
        f"{manifest} at the base revision {base_label} is not a valid manifest ({problem}), so this pull "
        "request's own gates decide the verdict: review them, and fix the manifest on the base branch."
    )
