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


@dataclass(frozen=True)
class Units:
    """How many units (requests, users) each arm received, for the sample-ratio check."""

    control: int
    candidate: int
