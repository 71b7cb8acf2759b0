"""Simulated rollouts: many rollouts looked at many times, each look fed to the real ``decide``.

Shared by tests/delivery/test_rollout_decision.py (the A/A error rate, power, the sample-ratio check)
and benchmarks/bench_rollout.py (power and outcomes needed against a fixed horizon). The data of
every rollout and look are drawn at once with numpy (seeded): per look, the units each arm receives
(binomial on the *actual* split, which a sample-ratio mismatch makes differ from the configured one),
the positives of an error-rate metric among them (binomial) and a latency metric's sufficient
statistics (the batch mean is normal, the within-batch sum of squares a scaled chi-square), then
cumulated. Each look of a rollout still undecided then goes through ``decide`` one call at a time,
exactly as the scheduled job will call it; a rollout ends at its first action other than ``hold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from mlops_gitops.delivery.rollout.arms import ArmStats, MetricOutcomes, Units
from mlops_gitops.delivery.rollout.decision import Step, decide


@dataclass(frozen=True)
class Scenario:
    """One kind of rollout. Pairs are (control, candidate). One look is one hour of traffic."""

    share: float = 0.2  # the configured candidate share
    actual_share: float | None = None  # what the router really does (None: as configured)
    batch: int = 100  # units per look, both arms together
    looks: int = 100
    error_rate: tuple[float, float] = (0.2, 0.2)
    latency: tuple[float, float] | None = (100.0, 100.0)  # None: the error rate alone
    latency_sd: float = 30.0
    tolerance: tuple[float, float] = (0.0, 0.0)  # error rate, latency
    min_outcomes: int = 50
    min_looks: int = 24  # the step's least duration, in looks
    alpha: float = 0.05
    last: bool = True


@dataclass(frozen=True)
class Result:
    """Per rollout: the first action other than hold (or "hold" if none came), the look it came at
    (1-based; ``looks`` when none came), and the outcomes per arm seen then (control + candidate)."""

    actions: np.ndarray
    looks: np.ndarray
    outcomes: np.ndarray

    def share(self, *actions: str) -> float:
        return float(np.isin(self.actions, actions).mean())


def _cumulative(rng: np.random.Generator, s: Scenario, rollouts: int) -> dict[str, np.ndarray]:
    shape = (rollouts, s.looks)
    cand = rng.binomial(s.batch, s.share if s.actual_share is None else s.actual_share, size=shape)
    data = {"n_cand": cand, "n_ctrl": s.batch - cand}
    for arm, rate in zip(("ctrl", "cand"), s.error_rate, strict=True):
        data[f"pos_{arm}"] = rng.binomial(data[f"n_{arm}"], rate)
    if s.latency is not None:
        for arm, mu in zip(("ctrl", "cand"), s.latency, strict=True):
            n = data[f"n_{arm}"]
            batch_mean = rng.normal(mu, s.latency_sd / np.sqrt(np.maximum(n, 1)))
            within = s.latency_sd**2 * rng.gamma(np.maximum(n - 1, 0) / 2, 2.0)  # sigma^2 chi2(n-1)
            data[f"sum_{arm}"] = n * batch_mean
            data[f"sq_{arm}"] = within + n * batch_mean**2
    return {key: np.cumsum(value, axis=1) for key, value in data.items()}


def _mean_arm(c: dict[str, np.ndarray], arm: str, r: int, k: int) -> ArmStats:
    n = int(c[f"n_{arm}"][r, k])
    if n < 2:
        return ArmStats(n, 0.0, 0.0)
    total, squares = float(c[f"sum_{arm}"][r, k]), float(c[f"sq_{arm}"][r, k])
    return ArmStats(n, total / n, max(squares - total * total / n, 0.0) / (n - 1))


def _outcomes(s: Scenario, c: dict[str, np.ndarray], r: int, k: int) -> list[MetricOutcomes]:
    rows = [
        MetricOutcomes(
            "error_rate",
            "proportion",
            "decrease",
            True,
            ArmStats.proportion(int(c["pos_ctrl"][r, k]), int(c["n_ctrl"][r, k])),
            ArmStats.proportion(int(c["pos_cand"][r, k]), int(c["n_cand"][r, k])),
            tolerance=s.tolerance[0],
        )
    ]
    if s.latency is not None:
        control, candidate = _mean_arm(c, "ctrl", r, k), _mean_arm(c, "cand", r, k)
        rows.append(
            MetricOutcomes(
                "latency_ms", "mean", "decrease", False, control, candidate, tolerance=s.tolerance[1]
            )
        )
    return rows


def simulate(s: Scenario, rollouts: int, seed: int) -> Result:
    c = _cumulative(np.random.default_rng(seed), s, rollouts)
    actions = np.full(rollouts, "hold", dtype=object)
    looks = np.full(rollouts, s.looks)
    outcomes = c["n_ctrl"][:, -1] + c["n_cand"][:, -1]
    live = list(range(rollouts))
    for k in range(s.looks):
        step = Step(
            s.share, s.last, timedelta(hours=k + 1), timedelta(hours=s.min_looks), s.min_outcomes, s.alpha
        )
        still = []
        for r in live:
            units = Units(int(c["n_ctrl"][r, k]), int(c["n_cand"][r, k]))
            action = decide(step, units, _outcomes(s, c, r, k)).action
            if action == "hold":
                still.append(r)
            else:
                actions[r], looks[r], outcomes[r] = action, k + 1, units.control + units.candidate
        live = still
    return Result(actions, looks, outcomes)
