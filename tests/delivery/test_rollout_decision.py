"""The rollout decision (mlops_gitops/delivery/rollout/decision.py): its numbers against independent
computations (the mixture likelihood ratio integrated numerically, Welch's statistic and the
chi-square test as SciPy computes them), its properties (hypothesis), each rule of the decision, and
the simulations issue 22 asks for, with fixed seeds: under no difference, 2,000 rollouts looked at
100 times each go wrong at most alpha of the time (plus three simulation standard errors); with a
real difference the decision comes; a 5% sample-ratio mismatch at 10,000 units is caught."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from mlops_gitops.delivery.rollout.arms import ArmStats, MetricOutcomes, Units
from mlops_gitops.delivery.rollout.decision import (
    MIXING_SD,
    SRM_MIN_EXPECTED,
    SRM_P,
    Decision,
    Step,
    always_valid,
    decide,
    sample_ratio,
)

from .rollout_sim import Scenario, simulate

HOUR = timedelta(hours=1)
STEP = Step(share=0.5, last=False, elapsed=2 * HOUR, min_duration=HOUR, min_outcomes=100, alpha=0.05)


def metric(
    control: ArmStats,
    candidate: ArmStats,
    *,
    name: str = "error_rate",
    direction: str = "decrease",
    guardrail: bool = True,
    segment: str | None = None,
    tolerance: float = 0.0,
) -> MetricOutcomes:
    kind = "proportion" if name.endswith("rate") else "mean"
    return MetricOutcomes(name, kind, direction, guardrail, control, candidate, segment, tolerance=tolerance)


def errors(control: int, candidate: int, n: int = 5000, **kw: object) -> MetricOutcomes:
    return metric(ArmStats.proportion(control, n), ArmStats.proportion(candidate, n), **kw)


def latency(
    control: float, candidate: float, n: int = 5000, sd: float = 20.0, **kw: object
) -> MetricOutcomes:
    return metric(ArmStats(n, control, sd**2), ArmStats(n, candidate, sd**2), name="latency_ms", **kw)


EVEN = Units(5000, 5000)


# --- The numbers, against independent computations -------------------------------------------------


def arm_variance(arm: ArmStats, kind: str) -> float:
    """The variance the module documents: the arm's own for a mean, Jeffreys-shrunk for a share."""
    if kind == "proportion":
        p = (arm.mean * arm.n + 0.5) / (arm.n + 1)
        return p * (1 - p)
    return arm.variance


def mixture_ratio(d: float, v: float, tau2: float, null: float = 0.0) -> float:
    """The mSPRT statistic by its definition: the likelihood ratio of the estimate ``d`` (normal,
    variance ``v``) under a mean ``theta`` against the null, averaged over theta ~ N(null, tau2)."""
    post_var = tau2 * v / (tau2 + v)
    centre = null + (d - null) * tau2 / (tau2 + v)
    span = 40 * math.sqrt(post_var)

    def integrand(theta: float) -> float:
        log_lr = ((d - null) ** 2 - (d - theta) ** 2) / (2 * v)
        return math.exp(log_lr) * stats.norm.pdf(theta, null, math.sqrt(tau2))

    value, _ = integrate.quad(integrand, centre - span, centre + span, epsabs=0, epsrel=1e-10, limit=200)
    return value


CASES = [
    ("proportion", ArmStats.proportion(400, 4000), ArmStats.proportion(470, 4000)),
    ("proportion", ArmStats.proportion(950, 19000), ArmStats.proportion(70, 1000)),  # a 5% canary
    ("proportion", ArmStats.proportion(0, 300), ArmStats.proportion(6, 300)),  # none in control
    ("mean", ArmStats(2500, 101.0, 900.0), ArmStats(2500, 104.0, 1100.0)),
    ("mean", ArmStats(9500, 0.31, 0.04), ArmStats(500, 0.29, 0.05)),
]


@pytest.mark.parametrize(("kind", "control", "candidate"), CASES)
def test_p_value_is_the_inverse_of_the_integrated_mixture_likelihood_ratio(kind, control, candidate) -> None:
    vc, vt = arm_variance(control, kind), arm_variance(candidate, kind)
    v = vc / control.n + vt / candidate.n
    tau2 = MIXING_SD**2 * (vc + vt) / 2
    test = always_valid(control, candidate, kind, 0.05)
    assert test.difference == pytest.approx(candidate.mean - control.mean)
    assert test.p_value == pytest.approx(min(1.0, 1 / mixture_ratio(test.difference, v, tau2)), rel=1e-7)


@pytest.mark.parametrize(("kind", "control", "candidate"), CASES)
@pytest.mark.parametrize("level", [0.05, 0.05 / 6])
def test_interval_ends_are_where_the_mixture_reaches_one_over_the_level(
    kind, control, candidate, level
) -> None:
    vc, vt = arm_variance(control, kind), arm_variance(candidate, kind)
    v = vc / control.n + vt / candidate.n
    tau2 = MIXING_SD**2 * (vc + vt) / 2
    test = always_valid(control, candidate, kind, level)
    for end in (test.lower, test.upper):
        assert mixture_ratio(test.difference, v, tau2, null=end) == pytest.approx(1 / level, rel=1e-7)
    assert test.lower < test.difference < test.upper


@pytest.mark.parametrize(("control", "candidate"), [c[1:] for c in CASES if c[0] == "mean"])
def test_mean_difference_uses_welch_statistic_and_its_standard_error(control, candidate) -> None:
    """Welch's t (SciPy, from the arms' means, standard deviations and counts) gives the standard
    error; the always-valid p-value is the mixture's closed form in that z and r = tau^2 / se^2."""
    welch = stats.ttest_ind_from_stats(
        candidate.mean,
        math.sqrt(candidate.variance),
        candidate.n,
        control.mean,
        math.sqrt(control.variance),
        control.n,
        equal_var=False,
    )
    d = candidate.mean - control.mean
    se2 = (d / welch.statistic) ** 2
    r = MIXING_SD**2 * (control.variance + candidate.variance) / 2 / se2
    expected = min(1.0, math.sqrt(1 + r) * math.exp(-(welch.statistic**2) * r / (2 * (1 + r))))
    assert always_valid(control, candidate, "mean", 0.05).p_value == pytest.approx(expected, rel=1e-9)


def test_sample_ratio_p_value_is_scipys_chi_square_goodness_of_fit() -> None:
    for control, candidate, share in [
        (5250, 4750, 0.5),
        (9600, 400, 0.05),
        (7400, 2600, 0.25),
        (120, 130, 0.5),
    ]:
        total = control + candidate
        scipy_p = stats.chisquare([control, candidate], [total * (1 - share), total * share]).pvalue
        assert sample_ratio(Units(control, candidate), share).p_value == pytest.approx(scipy_p, rel=1e-10)
    assert sample_ratio(Units(150, 4), 0.05).p_value is None  # 7.7 expected candidate units: too few to test


@given(
    st.integers(min_value=0, max_value=2_000_000),
    st.integers(min_value=0, max_value=2_000_000),
    st.floats(min_value=0.01, max_value=0.99),
)
def test_any_split_gives_scipys_chi_square_p_value(control: int, candidate: int, share: float) -> None:
    total = control + candidate
    found = sample_ratio(Units(control, candidate), share).p_value
    if min(total * (1 - share), total * share) < SRM_MIN_EXPECTED:
        assert found is None
        return
    scipy_p = float(stats.chisquare([control, candidate], [total * (1 - share), total * share]).pvalue)
    assert found == pytest.approx(scipy_p, rel=1e-9, abs=1e-300)


# --- Properties ------------------------------------------------------------------------------------

counts = st.integers(min_value=2, max_value=1_000_000)
means = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
variances = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False)
mean_arms = st.builds(ArmStats, counts, means, variances)


@st.composite
def share_arms(draw: st.DrawFn) -> ArmStats:
    n = draw(st.integers(min_value=1, max_value=1_000_000))
    return ArmStats.proportion(draw(st.integers(min_value=0, max_value=n)), n)


@given(
    st.one_of(
        st.tuples(st.just("mean"), mean_arms, mean_arms),
        st.tuples(st.just("proportion"), share_arms(), share_arms()),
    ),
    st.floats(min_value=1e-4, max_value=0.5),
)
@settings(max_examples=300)
def test_p_values_are_probabilities_and_agree_with_the_interval(arms, level) -> None:
    kind, control, candidate = arms
    test = always_valid(control, candidate, kind, level)
    assert 0 <= test.p_value <= 1
    assert test.lower <= test.difference <= test.upper
    # The interval is the test inverted: 0 lies outside it exactly when p <= level (away from the edge).
    if abs(test.p_value - level) > 1e-9 * level:
        assert (test.p_value <= level) == (not test.lower < 0 < test.upper)


@given(mean_arms, mean_arms)
@settings(max_examples=200)
def test_always_valid_p_value_is_never_below_the_fixed_sample_z_test(control, candidate) -> None:
    """One look of a test valid at every look cannot be sharper than the test valid at one look."""
    test = always_valid(control, candidate, "mean", 0.05)
    se = math.sqrt(control.variance / control.n + candidate.variance / candidate.n)
    assert test.p_value >= 2 * stats.norm.sf(abs(test.difference) / se) * (1 - 1e-9)


@given(
    mean_arms,
    st.floats(min_value=0, max_value=50),
    st.floats(min_value=0, max_value=50),
    st.sampled_from([1, -1]),
)
@settings(max_examples=200)
def test_p_value_falls_as_the_effect_grows(control, small, extra, sign) -> None:
    near = always_valid(control, replace(control, mean=control.mean + sign * small), "mean", 0.05)
    far = always_valid(control, replace(control, mean=control.mean + sign * (small + extra)), "mean", 0.05)
    assert far.p_value <= near.p_value * (1 + 1e-12)
    # The width depends on the variances and counts only, not on the effect.
    assert far.upper - far.lower == pytest.approx(near.upper - near.lower)


def mirrored(row: MetricOutcomes) -> MetricOutcomes:
    flipped = "increase" if row.direction == "decrease" else "decrease"
    return replace(row, control=row.candidate, candidate=row.control, direction=flipped)


@st.composite
def rollouts(draw: st.DrawFn) -> tuple[Step, Units, list[MetricOutcomes]]:
    rows = []
    for i in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["mean", "proportion"]))
        arms = (
            (draw(mean_arms), draw(mean_arms)) if kind == "mean" else (draw(share_arms()), draw(share_arms()))
        )
        rows.append(
            MetricOutcomes(
                f"m{i}",
                kind,
                draw(st.sampled_from(["increase", "decrease"])),
                draw(st.booleans()),
                *arms,
                tolerance=draw(st.sampled_from([0.0, 0.01, 1.0])),
            )
        )
    # Dyadic shares, so that 1 - (1 - share) == share exactly and the sample-ratio check mirrors too.
    step = Step(
        draw(st.sampled_from([0.0625, 0.125, 0.25, 0.5, 0.75])),
        draw(st.booleans()),
        draw(st.sampled_from([0, 2])) * HOUR,
        HOUR,
        draw(st.sampled_from([0, 100])),
        draw(st.sampled_from([0.01, 0.05, 0.2])),
    )
    # Mostly near the configured split (so that the later rules are reached too), sometimes far off.
    total = draw(st.integers(min_value=0, max_value=10**6))
    off = draw(
        st.one_of(st.integers(min_value=-30, max_value=30), st.integers(min_value=-(10**5), max_value=10**5))
    )
    candidate = min(total, max(0, round(total * step.share) + off))
    return step, Units(total - candidate, candidate), rows


@given(rollouts())
@settings(max_examples=300)
def test_swapping_the_arms_and_flipping_each_direction_changes_nothing(rollout) -> None:
    step, units, rows = rollout
    plain = decide(step, units, rows)
    swapped = decide(
        replace(step, share=1 - step.share),
        Units(units.candidate, units.control),
        [mirrored(r) for r in rows],
    )
    assert (swapped.action, swapped.rule) == (plain.action, plain.rule)
    assert swapped.sample_ratio.p_value == pytest.approx(plain.sample_ratio.p_value)
    for a, b in zip(plain.results, swapped.results, strict=True):
        assert (b.verdict, b.test.p_value) == (a.verdict, a.test.p_value)
        assert (b.test.lower, b.test.upper) == (-a.test.upper, -a.test.lower)
        assert b.p_adjusted == a.p_adjusted


# --- The rules, one at a time ---------------------------------------------------------------------


def test_a_mismatched_split_holds_before_anything_else_even_a_worse_metric() -> None:
    d = decide(STEP, Units(5250, 4750), [errors(500, 800)])
    assert (d.action, d.rule) == ("hold", "sample-ratio mismatch")
    assert d.sample_ratio.mismatch and d.sample_ratio.p_value < SRM_P
    assert d.results[0].verdict == "worse"  # computed and shown, but not acted on
    assert "5,250 control / 4,750 candidate" in d.reason and "chi-square" in d.reason


def test_a_guardrail_worse_with_confidence_rolls_back_at_once_whatever_the_time() -> None:
    early = replace(STEP, elapsed=timedelta(minutes=5))
    d = decide(early, EVEN, [errors(500, 650, segment="web"), latency(100, 100)])
    assert (d.action, d.rule) == ("rollback", "worse")
    assert d.reason.startswith("rollback: worse: guardrail error_rate (web) worse for the candidate")
    web = d.results[0]
    assert web.verdict == "worse" and web.test.lower > 0 and web.p_adjusted <= STEP.alpha


def test_a_metric_that_is_not_a_guardrail_also_rolls_back_when_worse() -> None:
    d = decide(STEP, EVEN, [errors(500, 500), latency(100, 104, guardrail=False)])
    assert (d.action, d.rule) == ("rollback", "worse")
    assert "latency_ms (all traffic)" in d.reason
    assert not d.results[1].gating


def test_the_direction_decides_which_side_is_worse() -> None:
    higher_is_better = errors(500, 650, direction="increase")
    assert decide(STEP, EVEN, [higher_is_better]).results[0].verdict == "better"


def test_too_few_outcomes_hold_and_name_the_metric_and_segment() -> None:
    d = decide(STEP, Units(80, 80), [errors(8, 9, n=80, segment="ios")])
    assert (d.action, d.rule) == ("hold", "too few outcomes")
    assert "error_rate (ios)" in d.reason and "100 outcomes per arm" in d.reason
    assert decide(STEP, Units(0, 0), []).rule == "too few outcomes"


def test_a_large_degradation_below_the_least_outcomes_does_not_roll_back() -> None:
    """Below the least outcomes the normal approximation is not trusted, in either direction."""
    d = decide(STEP, Units(60, 60), [errors(0, 30, n=60)])
    assert (d.action, d.results[0].verdict) == ("hold", "too few outcomes")


def test_too_little_time_holds_even_when_every_metric_is_better() -> None:
    d = decide(replace(STEP, elapsed=timedelta(minutes=30)), EVEN, [errors(600, 450)])
    assert (d.action, d.rule) == ("hold", "too little time")
    assert "0:30:00 of the 1:00:00" in d.reason


def test_nothing_shown_yet_holds_as_undecided() -> None:
    d = decide(STEP, EVEN, [errors(500, 510), latency(100, 100.2, guardrail=False)])
    assert (d.action, d.rule) == ("hold", "undecided")
    assert d.results[0].verdict == "inconclusive" and d.results[0].gating
    assert "guardrail error_rate (all traffic) not yet shown within its tolerance 0" in d.reason


def test_a_guardrail_within_its_tolerance_advances_and_on_the_last_step_promotes() -> None:
    rows = [errors(500, 505, tolerance=0.03), latency(100, 100.1, guardrail=False)]
    d = decide(STEP, EVEN, rows)
    assert (d.action, d.rule) == ("advance", "not worse")
    assert d.results[0].verdict == "not worse" and d.results[0].test.upper < 0.03
    assert d.results[1].verdict == "inconclusive" and not d.results[1].gating  # observed, not gating
    assert decide(replace(STEP, last=True), EVEN, rows).action == "promote"


def test_without_guardrails_every_metric_gates() -> None:
    rows = [errors(500, 505, guardrail=False, tolerance=0.03), latency(100, 100.1, guardrail=False)]
    d = decide(STEP, EVEN, rows)
    assert all(r.gating for r in d.results)
    assert (d.action, d.rule) == ("hold", "undecided") and "latency_ms (all traffic)" in d.reason
    assert decide(STEP, EVEN, [rows[0], replace(rows[1], tolerance=2.0)]).action == "advance"


def test_every_segment_of_a_guardrail_gates() -> None:
    web = errors(500, 505, tolerance=0.03, segment="web")
    ios = errors(50, 52, n=500, tolerance=0.03, segment="ios")  # too little data to rule out 0.03
    rows = [web, ios]
    d = decide(STEP, EVEN, rows)
    assert (d.action, d.rule) == ("hold", "undecided") and "error_rate (ios)" in d.reason


def test_bonferroni_over_metrics_and_segments() -> None:
    one = decide(STEP, EVEN, [errors(500, 590)])
    six = decide(STEP, EVEN, [errors(500, 590, segment=f"s{i}") for i in range(6)])
    assert six.results[0].test.p_value == one.results[0].test.p_value
    assert six.results[0].p_adjusted == pytest.approx(min(1.0, 6 * one.results[0].p_adjusted))
    # Each interval is at alpha / m: wider with more rows.
    assert (
        six.results[0].test.upper - six.results[0].test.lower
        > one.results[0].test.upper - one.results[0].test.lower
    )


def test_zero_events_in_both_arms_still_has_an_interval() -> None:
    test = always_valid(ArmStats.proportion(0, 1000), ArmStats.proportion(0, 1000), "proportion", 0.05)
    assert test.p_value == 1.0 and test.lower < 0 < test.upper and test.upper < 0.05


def test_an_arm_without_outcomes_has_no_evidence() -> None:
    test = always_valid(ArmStats.proportion(0, 0), ArmStats.proportion(3, 10), "proportion", 0.05)
    assert (test.lower, test.upper, test.p_value) == (-math.inf, math.inf, 1.0)


def test_the_step_and_the_tolerance_refuse_meaningless_values() -> None:
    for bad in ({"share": 0.0}, {"share": 1.0}, {"alpha": 0.0}, {"mixing_sd": 0.0}, {"min_outcomes": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            replace(STEP, **bad)
    with pytest.raises(ValueError, match="tolerance"):
        errors(1, 1, tolerance=-0.1)
    with pytest.raises(ValueError, match="tolerance"):
        errors(1, 1, tolerance=math.nan)


def test_the_reason_is_one_line_naming_the_action_and_the_rule() -> None:
    decisions: list[Decision] = [
        decide(STEP, Units(5250, 4750), [errors(500, 500)]),
        decide(STEP, EVEN, [errors(500, 700)]),
        decide(STEP, Units(10, 10), [errors(1, 1, n=10)]),
        decide(replace(STEP, elapsed=timedelta(0)), EVEN, [errors(500, 500)]),
        decide(STEP, EVEN, [errors(500, 500)]),
        decide(STEP, EVEN, [errors(500, 500, tolerance=0.05)]),
    ]
    assert [d.rule for d in decisions] == [
        "sample-ratio mismatch",
        "worse",
        "too few outcomes",
        "too little time",
        "undecided",
        "not worse",
    ]
    for d in decisions:
        assert "\n" not in d.reason and d.reason.startswith(f"{d.action}: {d.rule}: ")


# --- Simulations (fixed seeds) ---------------------------------------------------------------------


def bound(alpha: float, runs: int) -> float:
    """alpha plus three standard errors of a share estimated from ``runs`` simulations."""
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


def test_no_difference_checked_at_100_looks_rarely_rolls_back_or_promotes() -> None:
    """Issue 22's proof: A/A, 2,000 rollouts of a 20% step (100 units an hour, 100 hourly looks, the
    last step so a pass promotes); a guardrail error rate and a latency. Every rollback and every
    promotion is a false decision here (tolerance 0: promoting claims the candidate is better)."""
    result = simulate(Scenario(), rollouts=2000, seed=20220)
    wrong = result.share("rollback", "promote")
    assert wrong <= bound(0.05, 2000), f"{wrong:.2%} false decisions"
    assert result.share("rollback") > 0 and result.share("promote") > 0  # both mistakes can happen


def test_a_real_degradation_is_rolled_back_and_early() -> None:
    result = simulate(Scenario(error_rate=(0.20, 0.26)), rollouts=300, seed=1)
    assert result.share("rollback") >= 0.95
    assert np.median(result.looks[result.actions == "rollback"]) < 50  # half of them in under half the time


def test_a_real_improvement_is_promoted() -> None:
    result = simulate(Scenario(error_rate=(0.20, 0.15)), rollouts=300, seed=2)
    assert result.share("promote") >= 0.9
    assert result.share("rollback") <= bound(0.05, 300)


def test_a_candidate_within_tolerance_advances() -> None:
    result = simulate(Scenario(tolerance=(0.05, 0.0), last=False), rollouts=300, seed=3)
    assert result.share("advance") >= 0.9


def test_a_degradation_as_large_as_the_tolerance_is_rarely_let_through() -> None:
    """Non-inferiority: the candidate really is worse by exactly the tolerance, the worst case for a
    false pass. It must not promote more than alpha of the time."""
    result = simulate(Scenario(error_rate=(0.20, 0.25), tolerance=(0.05, 0.0)), rollouts=1000, seed=4)
    assert result.share("promote") <= bound(0.05, 1000)


def test_a_5_percent_sample_ratio_mismatch_at_10000_units_is_caught() -> None:
    """An even split whose candidate arm loses 5% of its units (4,750 expected instead of 5,000 of
    10,000): the chi-square's expected z is 5, against 3.29 at p = 0.001, so about 95% of draws hold."""
    rng = np.random.default_rng(5)
    candidate = rng.binomial(10_000, 0.5 * 0.95, size=2000)  # the missing 5% land in the control arm
    caught = np.mean([sample_ratio(Units(10_000 - int(c), int(c)), 0.5).mismatch for c in candidate])
    assert caught >= 0.9
    assert decide(STEP, Units(5250, 4750), [errors(500, 500)]).rule == "sample-ratio mismatch"
    # And the check itself is calibrated: a correct split is flagged at most about 0.1% of the time.
    fine = rng.binomial(10_000, 0.5, size=20_000)
    false_alarms = np.mean([sample_ratio(Units(10_000 - int(c), int(c)), 0.5).mismatch for c in fine])
    assert false_alarms <= bound(SRM_P, 20_000)


def test_a_mismatch_in_a_simulated_rollout_holds_it() -> None:
    """A router sending 35% where 50% was configured: the split is flagged by the time the arms have
    their least outcomes, and the much worse candidate is held, not rolled back, on numbers that
    cannot be trusted."""
    broken = Scenario(share=0.5, actual_share=0.35, error_rate=(0.2, 0.35), min_outcomes=100)
    assert simulate(broken, rollouts=50, seed=6).share("hold") == 1.0
    assert simulate(replace(broken, actual_share=None), rollouts=50, seed=6).share("rollback") == 1.0
