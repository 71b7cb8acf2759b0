"""Drift statistics against SciPy and a hand-computed PSI; windows; segments; prediction shares."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from mlops_gitops.data.drift import (
    EPSILON,
    bin_counts,
    chi2_test,
    compare,
    ks_statistic,
    ks_test,
    psi,
    quantile_edges,
    select_window,
)
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.loader import monitoring_of
from mlops_gitops.manifest.sections import Monitoring, Thresholds


def config(**keys: object) -> Monitoring:
    """A typed monitoring section with the manifest's defaults, for logs and baseline not read here."""
    return monitoring_of({"logs": "logs.csv", "baseline": "base.csv", **keys})


DEFAULT = config().thresholds  # the schema's defaults


def drift(
    base: pa.Table, win: pa.Table, keys: dict[str, object], th: Thresholds = DEFAULT
) -> dict[str, object]:
    return compare(base, win, config(**keys), th).to_json()


def test_psi_matches_a_hand_computation() -> None:
    baseline = np.arange(100, dtype=float)  # deciles cut at 9.9, 19.8, ...: ten bins of ten values
    window = np.concatenate([np.arange(50, dtype=float), np.arange(50, dtype=float)])  # only the low half
    edges = quantile_edges(np.sort(baseline))
    assert edges == pytest.approx([9.9 * k for k in range(1, 10)])
    assert bin_counts(np.sort(baseline), edges).tolist() == [10] * 10
    assert bin_counts(np.sort(window), edges).tolist() == [20] * 5 + [0] * 5
    # five bins at 0.2 vs 0.1, five empty bins (epsilon) vs 0.1
    expected = 5 * (0.2 - 0.1) * math.log(0.2 / 0.1) + 5 * (EPSILON - 0.1) * math.log(EPSILON / 0.1)
    assert psi(baseline, window) == pytest.approx(expected, rel=1e-12)
    assert psi(baseline, baseline) == 0.0


def test_bin_counts_agree_with_assigning_each_value() -> None:
    rng = np.random.default_rng(1)
    base = np.sort(np.round(rng.normal(size=2000), 1))  # many ties on the cut points
    values = np.sort(np.round(rng.normal(0.3, 1, size=3000), 1))
    edges = quantile_edges(base)
    by_value = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    assert bin_counts(values, edges).tolist() == by_value.tolist()


@pytest.mark.parametrize(("n1", "n2", "shift"), [(300, 500, 0.0), (300, 500, 0.4), (4000, 9000, 0.05)])
def test_ks_equals_scipy_for_small_samples(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(2)
    a, b = np.sort(rng.normal(size=n1)), np.sort(rng.normal(shift, 1, size=n2))
    d, p = ks_test(a, b)
    ref = stats.ks_2samp(a, b)
    assert d == pytest.approx(ref.statistic, abs=1e-15)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.03])
def test_ks_on_large_samples_stays_within_one_percent_of_scipy(shift: float) -> None:
    rng = np.random.default_rng(3)
    a = np.sort(rng.normal(size=60_000))
    b = np.sort(np.round(rng.normal(shift, 1, size=40_000), 3))  # ties inside and across samples
    d, p = ks_test(a, b)
    ref = stats.ks_2samp(a, b)
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert ks_statistic(a, b) == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=0.01, abs=1e-300)


def test_chi_square_equals_scipy() -> None:
    base = np.array([500, 300, 200, 0])
    win = np.array([40, 30, 25, 5])
    stat, p, dof = chi2_test(base, win)
    ref = stats.chi2_contingency(np.array([base, win]), correction=False)
    assert (stat, p, dof) == pytest.approx((ref.statistic, ref.pvalue, ref.dof))
    # equal shares: the same statistic as a goodness-of-fit test would say "no difference"
    same = chi2_test(np.array([100, 50]), np.array([10, 5]))
    assert same[0] == pytest.approx(0.0) and same[1] == pytest.approx(1.0)
    assert chi2_test(np.array([5, 0]), np.array([7, 0])) == (0.0, 1.0, 0)


def table(
    n: int, *, shift: float = 0.0, mix: tuple[float, float] = (0.6, 0.4), yes: float = 0.3, seed: int = 0
) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "age": rng.normal(40 + shift, 10, n),
            "city": rng.choice(["paris", "rome"], n, p=list(mix)),
            "region": rng.choice(["eu", "us"], n, p=[0.5, 0.5]),
            "pred": rng.choice(["yes", "no"], n, p=[yes, 1 - yes]),
        }
    )


CONFIG = {"prediction": "pred", "segments": ["region"], "categorical": []}


def test_no_drift_between_samples_of_the_same_distribution() -> None:
    report = drift(table(4000, seed=1), table(3000, seed=2), CONFIG)
    assert not report["drift"], report
    assert report["features"] == {"numeric": ["age"], "categorical": ["city", "region"]}
    overall = report["groups"][0]
    by_name = {f["feature"]: f for f in overall["features"]}
    assert by_name["age"]["psi"] < 0.05
    assert [g["segment"] for g in report["groups"][1:]] == [
        {"column": "region", "value": "eu"},
        {"column": "region", "value": "us"},
    ]


def test_drift_numbers_equal_scipy_per_segment() -> None:
    base, win = table(4000, seed=1), table(3000, shift=6, mix=(0.3, 0.7), yes=0.6, seed=2)
    report = drift(base, win, CONFIG)
    assert report["drift"]
    for group in report["groups"]:
        seg = group["segment"]
        b_mask = (
            np.ones(base.num_rows, bool)
            if seg is None
            else np.array(base.column("region").to_pylist()) == seg["value"]
        )
        w_mask = (
            np.ones(win.num_rows, bool)
            if seg is None
            else np.array(win.column("region").to_pylist()) == seg["value"]
        )
        b_age = base.column("age").to_numpy()[b_mask]
        w_age = win.column("age").to_numpy()[w_mask]
        feats = {f["feature"]: f for f in group["features"]}
        ref = stats.ks_2samp(b_age, w_age)
        assert feats["age"]["ks_statistic"] == pytest.approx(ref.statistic)
        assert feats["age"]["ks_pvalue"] == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
        assert feats["age"]["psi"] == pytest.approx(psi(b_age, w_age))
        assert feats["age"]["drift"] and feats["age"]["psi"] > 0.2
        b_city = np.array(base.column("city").to_pylist())[b_mask]
        w_city = np.array(win.column("city").to_pylist())[w_mask]
        counts = np.array(
            [
                [np.sum(b_city == c) for c in ("paris", "rome")],
                [np.sum(w_city == c) for c in ("paris", "rome")],
            ]
        )
        chi = stats.chi2_contingency(counts, correction=False)
        assert feats["city"]["chi2"] == pytest.approx(chi.statistic)
        assert feats["city"]["chi2_pvalue"] == pytest.approx(chi.pvalue, rel=1e-6, abs=1e-300)
        assert ("region" in feats) == (seg is None)
        preds = {c["class"]: c for c in group["predictions"]["classes"]}
        b_yes = np.mean(np.array(base.column("pred").to_pylist())[b_mask] == "yes")
        w_yes = np.mean(np.array(win.column("pred").to_pylist())[w_mask] == "yes")
        assert preds["yes"]["difference"] == pytest.approx(w_yes - b_yes)
        assert group["predictions"]["drift"]


def test_thresholds_decide_and_zero_disables_a_test() -> None:
    base, win = table(4000, seed=1), table(3000, shift=1.5, seed=2)
    strict = drift(base, win, {"features": ["age"]})
    assert strict["drift"]  # KS notices a 0.15 sd shift in 3000 rows
    lenient = drift(
        base,
        win,
        {"features": ["age"]},
        dataclasses.replace(DEFAULT, psi=0.5, ks_pvalue=0.0),
    )
    assert not lenient["drift"]


def test_small_segments_are_reported_but_not_tested() -> None:
    base = table(1000, seed=1)
    win = pa.table(
        {
            **{c: table(200, seed=2).column(c) for c in ("age", "city", "pred")},
            "region": ["eu"] * 190 + ["mars"] * 10,
        }
    )
    report = drift(base, win, CONFIG)
    mars = next(g for g in report["groups"] if g["segment"] and g["segment"]["value"] == "mars")
    assert mars["skipped"] == "fewer than 30 rows (baseline 0, window 10)"
    assert not mars["drift"]


def test_unknown_columns_are_bad_input() -> None:
    with pytest.raises(UsageError, match="feature 'height' is not a column of the baseline"):
        drift(table(100), table(100), {"features": ["height"]})
    with pytest.raises(UsageError, match=r"monitoring\.prediction: column 'label' is not in the baseline"):
        drift(table(100), table(100), {"prediction": "label"})


def test_window_by_rows_and_by_days() -> None:
    start = dt.datetime(2024, 1, 1)
    times = [start + dt.timedelta(hours=6 * i) for i in range(40)]  # 10 days
    logs = pa.table({"t": pa.array(list(reversed(times))), "i": list(reversed(range(40)))})
    window, info = select_window(logs, config(**{"timestamp": "t", "window": {"rows": 5}}))
    assert window.column("i").to_pylist() == [35, 36, 37, 38, 39]  # ordered by time, not file order
    assert info.rows == 5 and info.total_rows == 40 and info.end == "2024-01-10T18:00:00Z"
    window, info = select_window(logs, config(**{"timestamp": "t", "window": {"days": 2}}))
    assert window.column("i").to_pylist() == list(range(31, 40))
    assert info.start == "2024-01-08T18:00:00Z"
    text = pa.table({"t": [t.isoformat() + "Z" for t in times], "i": list(range(40))})
    assert select_window(text, config(**{"timestamp": "t", "window": {"days": 1}}))[0].num_rows == 5
    plain, _ = select_window(pa.table({"i": list(range(10))}), config(**{"window": {"rows": 3}}))
    assert plain.column("i").to_pylist() == [7, 8, 9]
    with pytest.raises(UsageError, match="not ISO-8601"):
        select_window(pa.table({"t": ["yesterday"]}), config(**{"timestamp": "t", "window": {"days": 1}}))
