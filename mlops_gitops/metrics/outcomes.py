"""What comparing two revisions finds, row by row and gate by gate: the result types ``compare``
builds and ``gatediff`` and the reporters read. Pure data, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlops_gitops.manifest.model import Gate
from mlops_gitops.metrics import gates as G
from mlops_gitops.metrics.flatten import Scalar, dvc_diff, number


@dataclass
class Row:
    """One metric key of one file at both revisions."""

    file: str
    key: str
    base: Scalar
    head: Scalar
    status: str = "unchanged"
    gates: list[int] = field(default_factory=list)  # indexes into Comparison.gates
    reason: str | None = None  # why the row fails, when it does
    segment: bool = False  # matched by a pattern gate

    @property
    def diff(self) -> int | float | None:
        return dvc_diff(self.base, self.head)

    @property
    def change_pct(self) -> float | None:
        """Relative change against |base| in percent; None without two finite numbers or base 0."""
        b, h = number(self.base), number(self.head)
        if b is None or h is None or b == 0 or not (math.isfinite(b) and math.isfinite(h)):
            return None
        return (h - b) / abs(b) * 100


@dataclass(frozen=True)
class Failure:
    """One failed check: the metrics file (None when the metric is missing everywhere), key, reason."""

    file: str | None
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}" if self.file else f"{self.key}: {self.reason}"


@dataclass
class GateOutcome:
    """A gate and what it found: every matched row, the worst one, and its failures."""

    gate: Gate
    rows: list[Row] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    worst: Row | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def rule(self) -> str:
        return G.describe(self.gate)
