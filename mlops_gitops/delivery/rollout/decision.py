"""One rollout step's decision from both arms' outcomes: advance, promote, roll back or hold. Pure.

Three stages, in this order (docs/rollout.md, "The decision and its statistics", says the same for
users):

1. **Sample ratio.** The units each arm received against the configured split: Pearson's chi-square
   goodness of fit (one degree of freedom, SciPy's ``chdtrc`` for the tail). ``p < 0.001`` means the
   split is not what was configured (a broken router, a crashing arm, bots in one arm): every number
   below is suspect, so the step holds and says so, as GrowthBook does. Not tested below 8 expected
   units per arm (the chi-square approximation needs them).
2. **An always-valid test per metric and segment**, of the difference ``candidate - control``: the
   mixture sequential probability ratio test (mSPRT) with a normal mixing distribution (Johari,
   Koomen, Pekelis and Walsh, "Always valid inference", 2017/2022), on the normal approximation of the
   difference of the two arms' means (a share for a proportion) with each arm's own variance. Its
   likelihood ratio, for an estimate ``d`` with variance ``V`` and a mixing variance ``tau^2``::

       L(d0) = sqrt(V / (V + tau^2)) * exp(tau^2 * (d - d0)^2 / (2 V (V + tau^2)))

   is a nonnegative martingale under ``difference == d0`` in the information time ``1/V``, so by
   Ville's inequality ``P(L ever >= 1/a) <= a``, however often and whenever it is looked at. The
   always-valid p-value is ``min(1, 1/L(0))``; inverting it gives the always-valid interval
   ``d +- sqrt(2 V (V + tau^2) / tau^2 * (log(1/a) + log((V + tau^2) / V) / 2))``, which is Howard et
   al.'s two-sided normal-mixture boundary and, with the plug-in variance, Waudby-Smith et al.'s
   asymptotic confidence sequence (the one GrowthBook uses). ``tau`` is ``mixing_sd`` standard
   deviations of the metric (the arms' variances pooled), so one default fits every metric's scale.
3. **One action**, by the first rule that applies (``Rule``): ``sample-ratio mismatch`` holds;
   ``worse`` rolls back (any metric in any segment, guardrail or not, worse with confidence);
   ``too few outcomes`` holds; ``too little time`` holds; ``undecided`` holds (a gating metric not yet
   shown within its tolerance); otherwise ``not worse`` advances, or promotes on the last step.

Multiple metrics and segments are corrected by Bonferroni: each interval is computed at level
``alpha / m`` (m = every metric x segment row) and each p-value is multiplied by m. Bonferroni and not
Holm because the intervals then say exactly what the adjusted p-values say, and one simultaneous
statement covers every verdict at once: with probability at least ``1 - alpha`` every interval holds
its true difference at every look, so a wrong rollback (a metric called worse that is not) and a
wrong advance (a gating metric called within its tolerance that is not) together happen with
probability at most ``alpha`` per stream of outcomes.

Proportions take their variance from ``(positives + 1/2) / (n + 1)`` rather than the raw share, so
that 0 errors out of n in both arms still has a width (the raw share would claim certainty).

The statistics are scalar ``math``: one decision takes tens of microseconds, which keeps the
simulations in tests/delivery/ (200,000 looks) fast; SciPy only gives the chi-square tail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from .arms import ArmStats, Direction, Kind, MetricOutcomes, Units

Action = Literal["advance", "promote", "rollback", "hold"]
Verdict = Literal["worse", "better", "not worse", "inconclusive", "too few outcomes"]
Rule = Literal[
    "sample-ratio mismatch", "worse", "too few outcomes", "too little time", "undecided", "not worse"
]

SRM_P = 0.001  # GrowthBook's threshold: a mismatch this unlikely under the configured split holds
SRM_MIN_EXPECTED = 8  # expected units per arm below which the chi-square is not trusted (GrowthBook's)
# The mixing distribution's standard deviation, in standard deviations of the metric: the test is
# sharpest for effects of about this size. Any fixed value keeps the guarantee; it only moves power.
# At 0.1 and alpha 0.05 the interval is narrowest around 1,600 outcomes per arm at an even split
# (n* = 2 * (2 log(1/a) + log(1 + 2 log(1/a))) / mixing_sd^2).
MIXING_SD = 0.1
MIN_OUTCOMES_FLOOR = 2  # a variance needs two outcomes, whatever the step asks for


@dataclass(frozen=True)
class Step:
    """Where the rollout stands: the candidate's configured share of traffic (0.05 for 5%), whether
    this is the last step (then a pass promotes), the time spent in it and the least it must last, the
    least outcomes per arm (per metric and segment) before anything but a rollback, and the error rate
    ``alpha`` for the whole family of metrics and segments."""

    share: float
    last: bool
    elapsed: timedelta
    min_duration: timedelta
    min_outcomes: int
    alpha: float
    mixing_sd: float = MIXING_SD

    def __post_init__(self) -> None:
        # The manifest's loader reports bad values with their line; these are the function's contract.
        if not 0 < self.share < 1:
            raise ValueError(f"share must be between 0 and 1 (exclusive), not {self.share}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1 (exclusive), not {self.alpha}")
        if not 0 < self.mixing_sd < math.inf:
            raise ValueError(f"mixing_sd must be a finite number > 0, not {self.mixing_sd}")
        if self.min_outcomes < 0:
            raise ValueError(f"min_outcomes must be >= 0, not {self.min_outcomes}")


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio check: units per arm against the configured share. ``p_value`` is None when
    an arm expects fewer than ``SRM_MIN_EXPECTED`` units (too early to test)."""

    control: int
    candidate: int
    share: float
    p_value: float | None

    @property
    def mismatch(self) -> bool:
        return self.p_value is not None and self.p_value < SRM_P


@dataclass(frozen=True)
class SequentialTest:
    """The always-valid test of ``difference = candidate - control``: the interval at the level it
    was asked for, and the p-value of ``difference == 0`` (valid at any look, uncorrected)."""

    difference: float
    lower: float
    upper: float
    p_value: float


@dataclass(frozen=True)
class MetricResult:
    """One metric in one segment: its outcomes, the always-valid test (interval at ``alpha / m``), the
    Bonferroni-adjusted p-value, and the verdict in the metric's own direction."""

    outcomes: MetricOutcomes
    test: SequentialTest
    p_adjusted: float
    verdict: Verdict
    gating: bool  # must be shown within its tolerance before the step can pass

    @property
    def n_control(self) -> int:
        return self.outcomes.control.n

    @property
    def n_candidate(self) -> int:
        return self.outcomes.candidate.n

    @property
    def label(self) -> str:
        """``metric (segment)``, or ``metric (all traffic)``. Text from outside: escape it in Markdown."""
        kind = "guardrail " if self.outcomes.guardrail else ""
        return f"{kind}{self.outcomes.metric} ({self.outcomes.segment or 'all traffic'})"


@dataclass(frozen=True)
class Decision:
    """The action, the rule that decided it, one line saying why (it names metrics and segments as
    the outcomes spell them: escape before Markdown), the sample-ratio check and every metric's result."""

    action: Action
    rule: Rule
    reason: str
    sample_ratio: SampleRatio
    results: tuple[MetricResult, ...]


def sample_ratio(units: Units, share: float) -> SampleRatio:
    """Pearson's chi-square of the units per arm against the configured split (1 degree of freedom)."""
    total = units.control + units.candidate
    expected = (total * (1 - share), total * share)
    if min(expected) < SRM_MIN_EXPECTED:
        return SampleRatio(units.control, units.candidate, share, None)
    statistic = sum(
        (seen - want) ** 2 / want
        for seen, want in zip((units.control, units.candidate), expected, strict=True)
    )
    # With one degree of freedom the statistic is a squared standard normal, so its upper tail is
    # P(|Z| > sqrt(x)) = erfc(sqrt(x / 2)): exact, and no SciPy in the job that looks (the tests hold
    # it to SciPy's chi-square).
    return SampleRatio(units.control, units.candidate, share, math.erfc(math.sqrt(statistic / 2)))


def _variance(arm: ArmStats, kind: Kind) -> float:
    if kind == "proportion":
        # Half a positive and half a negative added (Jeffreys' prior): never a zero variance at 0 or n.
        shrunk = (arm.mean * arm.n + 0.5) / (arm.n + 1)
        return shrunk * (1 - shrunk)
    return max(arm.variance, 0.0)


def always_valid(
    control: ArmStats, candidate: ArmStats, kind: Kind, level: float, mixing_sd: float = MIXING_SD
) -> SequentialTest:
    """The mSPRT of ``candidate - control`` with a normal mixture: the p-value of no difference and the
    ``1 - level`` interval, both valid at every look (module docstring)."""
    difference = candidate.mean - control.mean
    if control.n == 0 or candidate.n == 0:
        return SequentialTest(difference, -math.inf, math.inf, 1.0)
    v_control, v_candidate = _variance(control, kind), _variance(candidate, kind)
    v = v_control / control.n + v_candidate / candidate.n
    tau2 = mixing_sd**2 * (v_control + v_candidate) / 2
    if v == 0 or tau2 == 0:
        # Both arms constant: the difference is known exactly (there is no noise to test against).
        return SequentialTest(difference, difference, difference, 1.0 if difference == 0 else 0.0)
    log_ratio = 0.5 * math.log(v / (v + tau2)) + tau2 * difference**2 / (2 * v * (v + tau2))
    p_value = math.exp(-log_ratio) if log_ratio > 0 else 1.0
    half = math.sqrt(2 * v * (v + tau2) / tau2 * (math.log(1 / level) + 0.5 * math.log((v + tau2) / v)))
    return SequentialTest(difference, difference - half, difference + half, p_value)


def _gain(value: float, direction: Direction) -> float:
    """A difference turned so that positive is better for the candidate."""
    return value if direction == "increase" else -value


def _verdict(
    outcomes: MetricOutcomes, test: SequentialTest, p_adjusted: float, alpha: float, least: int
) -> Verdict:
    if min(outcomes.control.n, outcomes.candidate.n) < max(least, MIN_OUTCOMES_FLOOR):
        return "too few outcomes"
    gain = _gain(test.difference, outcomes.direction)
    if p_adjusted <= alpha and gain != 0:
        return "better" if gain > 0 else "worse"
    worst = min(_gain(test.lower, outcomes.direction), _gain(test.upper, outcomes.direction))
    return "not worse" if worst >= -outcomes.tolerance else "inconclusive"


def evaluate(step: Step, outcomes: Sequence[MetricOutcomes]) -> tuple[MetricResult, ...]:
    """Every metric and segment tested, Bonferroni over all of them, with its verdict. The gating
    rows are the guardrails, or every row when no metric is a guardrail."""
    m = len(outcomes)
    any_guardrail = any(o.guardrail for o in outcomes)
    results = []
    for row in outcomes:
        test = always_valid(row.control, row.candidate, row.kind, step.alpha / m, step.mixing_sd)
        p_adjusted = min(1.0, test.p_value * m)
        verdict = _verdict(row, test, p_adjusted, step.alpha, step.min_outcomes)
        results.append(MetricResult(row, test, p_adjusted, verdict, row.guardrail or not any_guardrail))
    return tuple(results)


def decide(step: Step, units: Units, outcomes: Sequence[MetricOutcomes]) -> Decision:
    """The step's action: the first rule of the module docstring that applies, with its reason."""
    srm = sample_ratio(units, step.share)
    results = evaluate(step, outcomes) if outcomes else ()

    def made(action: Action, rule: Rule, why: str) -> Decision:
        return Decision(action, rule, f"{action}: {rule}: {why}", srm, results)

    if srm.mismatch:
        return made("hold", "sample-ratio mismatch", _srm_reason(srm))
    worse = [r for r in results if r.verdict == "worse"]
    if worse:
        return made("rollback", "worse", "; ".join(_worse_reason(r) for r in worse))
    if not results:
        return made("hold", "too few outcomes", "no metric has been measured yet")
    few = [r for r in results if r.verdict == "too few outcomes"]
    if few:
        need = max(step.min_outcomes, MIN_OUTCOMES_FLOOR)
        return made(
            "hold", "too few outcomes", f"{_names(few)} below {need:,} outcomes per arm ({_counts(few[0])})"
        )
    if step.elapsed < step.min_duration:
        return made(
            "hold", "too little time", f"{step.elapsed} of the {step.min_duration} the step must last"
        )
    open_ = [r for r in results if r.gating and r.verdict not in ("better", "not worse")]
    if open_:
        first, others = open_[0], (f" (and {_names(open_[1:])})" if len(open_) > 1 else "")
        return made(
            "hold",
            "undecided",
            f"{first.label} not yet shown within its tolerance {first.outcomes.tolerance:g}{others}: "
            f"{_interval(first)} still allows a worse candidate",
        )
    gating = sum(r.gating for r in results)
    return made(
        "promote" if step.last else "advance",
        "not worse",
        f"no metric worse and {gating} gating metric x segment(s) within tolerance at alpha {step.alpha:g}"
        f"{', on the last step' if step.last else ''}",
    )


def _srm_reason(srm: SampleRatio) -> str:
    return (
        f"{srm.control:,} control / {srm.candidate:,} candidate units against a configured "
        f"{srm.share:.4g} candidate share (chi-square p = {srm.p_value:.3g} < {SRM_P:g}); the other numbers "
        "are not trusted until the split is fixed"
    )


def _worse_reason(r: MetricResult) -> str:
    return f"{r.label} worse for the candidate: {_interval(r)}, adjusted p = {r.p_adjusted:.3g}"


def _interval(r: MetricResult) -> str:
    t = r.test
    return f"difference {t.difference:+.4g} [{t.lower:+.4g}, {t.upper:+.4g}]"


def _counts(r: MetricResult) -> str:
    return f"{r.label}: {r.n_control:,} control / {r.n_candidate:,} candidate"


def _names(rows: Sequence[MetricResult]) -> str:
    shown = ", ".join(r.label for r in rows[:3])
    return shown + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")
