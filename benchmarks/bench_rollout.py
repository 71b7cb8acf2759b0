"""Issue 22's measure of the rollout decision: how often a harmful candidate is rolled back (power),
and how many outcomes that takes on average, next to a fixed-horizon test of the same power.

Each row is one effect: the candidate's error rate is worse than the control's 10% by DELTA. Every
rollout is an even split (200 units an hour), looked at every hour by the real ``decide`` (one
guardrail, alpha 0.05, at least 100 outcomes per arm) until it acts or reaches the horizon (250
looks, 50,000 units); seeded, as tests/delivery/rollout_sim.py draws them. Printed per effect:

* power: the share of rollouts rolled back within the horizon;
* sequential: the average units seen when the rollout stopped (the horizon when it never did);
* fixed: the units a two-sided z-test at the same alpha needs for that same power, known in advance
  (``n per arm = (z_{1-alpha/2} + z_power)^2 (p1 q1 + p2 q2) / delta^2``), the baseline of this run.
  The power it is given is the lower end of the simulated power's 95% Clopper-Pearson interval
  (column ">="), never 1: a fixed test of power 1 needs infinitely many units and would flatter
  the ratio;
* the ratio sequential / fixed. Below 1 the always-valid test stopped earlier on average than the
  fixed test would have been allowed to look; large effects should stop much earlier. Small
  effects cost more than a fixed horizon: that is the price of looking every hour, and of not
  having to know the effect in advance to size the test.

A row with delta 0 is the A/A control: its "power" is the false-rollback rate, at most alpha.

    .venv/bin/python benchmarks/bench_rollout.py [ROLLOUTS]
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scipy import stats  # noqa: E402

from tests.delivery.rollout_sim import Scenario, simulate  # noqa: E402

ROLLOUTS = int(sys.argv[1]) if len(sys.argv) > 1 else 400
BASE_RATE = 0.10
DELTAS = [0.0, 0.01, 0.02, 0.03, 0.05, 0.08]
ALPHA = 0.05
SCENARIO = Scenario(
    share=0.5,
    batch=200,
    looks=250,
    error_rate=(BASE_RATE, BASE_RATE),
    latency=None,
    min_outcomes=100,
    min_looks=0,
    alpha=ALPHA,
    last=True,
)


def power_lower_bound(rolled_back: int, rollouts: int) -> float:
    """The lower end of the 95% Clopper-Pearson interval of a simulated power."""
    return float(stats.beta.ppf(0.025, rolled_back, rollouts - rolled_back + 1)) if rolled_back else 0.0


def fixed_horizon_units(delta: float, power: float) -> float:
    """Both arms' units for a two-sided two-proportion z-test at ALPHA with this power."""
    p1, p2 = BASE_RATE, BASE_RATE + delta
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(power)
    return 2 * z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / delta**2


def main() -> None:
    print(
        f"rollout decision: {ROLLOUTS} rollouts per effect, even split, {SCENARIO.batch} units per look, "
        f"up to {SCENARIO.looks} looks ({SCENARIO.batch * SCENARIO.looks:,} units), control error rate "
        f"{BASE_RATE:.0%}, alpha {ALPHA}, {os.cpu_count()} CPUs"
    )
    columns = ["delta", "power", ">=", "sequential", "fixed", "ratio", "median look", "cpu s"]
    widths = [6, 6, 6, 11, 9, 6, 11, 6]
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for seed, delta in enumerate(DELTAS):
        start = time.process_time()
        result = simulate(
            replace(SCENARIO, error_rate=(BASE_RATE, BASE_RATE + delta)), ROLLOUTS, seed=1000 + seed
        )
        cpu = time.process_time() - start
        rolled_back = int((result.actions == "rollback").sum())
        sequential = float(result.outcomes.mean())
        looks = sorted(result.looks[result.actions == "rollback"])
        cells: list[str] = [f"{delta:.2f}", f"{rolled_back / ROLLOUTS:.3f}"]
        if delta == 0:
            cells += ["-", f"{sequential:,.0f}", "-", "-"]
        else:
            power = power_lower_bound(rolled_back, ROLLOUTS)
            fixed = fixed_horizon_units(delta, power)
            cells += [f"{power:.3f}", f"{sequential:,.0f}", f"{fixed:,.0f}", f"{sequential / fixed:.2f}"]
        cells += [str(looks[len(looks) // 2]) if looks else "-", f"{cpu:.1f}"]
        print(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
        if delta == 0:
            wrong = result.share("rollback", "promote")
            print(f"{'':>6} A/A: false rollbacks or promotions {wrong:.2%} (alpha {ALPHA:.0%})")


if __name__ == "__main__":
    main()
