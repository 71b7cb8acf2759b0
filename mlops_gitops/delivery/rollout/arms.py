"""What a rollout step measured, per metric and segment, for the two arms: the current model
(``control``) and the candidate. Pure data, shared by the readers (prediction logs, Prometheus) and the
decision, so that either source feeds the same test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["proportion", "mean"]
Direction = Literal["increase", "decrease"]  # which way is better for this metric


@dataclass(frozen=True)
class ArmStats:
    """One arm's outcomes for one metric: ``n`` outcomes, their mean and (sample) variance. For a
    proportion the mean is the share of positives and the variance ``mean * (1 - mean)``."""

    n: int
    mean: float
    variance: float

    @classmethod
    def proportion(cls, positives: int, n: int) -> ArmStats:
        p = positives / n if n else 0.0
        return cls(n, p, p * (1 - p))


@dataclass(frozen=True)
class MetricOutcomes:
    """Both arms' outcomes of one metric in one segment (``segment`` None: all traffic)."""

    metric: str
    kind: Kind
    direction: Direction
    guardrail: bool  # must never get worse: a confident degradation rolls back
    control: ArmStats
    candidate: ArmStats
    segment: str | None = None
    source: str = ""  # the query or file the numbers came from, shown in the PR body
    # The largest degradation still accepted, in the metric's own units (a share for a proportion:
    # 0.01 is one percentage point). A step advances only once the always-valid interval rules out
    # anything worse than this; 0 asks for proof that the candidate is better (see decision.py).
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        # A negative or infinite margin has no meaning; reject it here rather than in every reader.
        if not 0 <= self.tolerance < float("inf"):
            raise ValueError(f"{self.metric}: tolerance must be a finite number >= 0, not {self.tolerance}")


@dataclass(frozen=True)
class Units:
    """How many units (requests, users) each arm received, for the sample-ratio check."""

    control: int
    candidate: int
