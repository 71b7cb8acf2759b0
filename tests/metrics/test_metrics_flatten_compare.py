"""flatten and compare: DVC's flattening rules, gate semantics, and a property test on random dicts."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_gitops.metrics.compare import STATUSES, compare
from mlops_gitops.metrics.flatten import flatten_metrics, flatten_params
from mlops_gitops.metrics.gates import check, matches
from tests.parts import gate


def test_flatten_follows_dvc_rules() -> None:
    data = {"a": {"b": 1, "c": [0.5], "d": None, "e": {}}, "s": "x", "t": True, "l": [1, 2]}
    assert flatten_metrics(data) == {"a.b": 1, "s": "x", "t": True}
    assert flatten_params(data) == {"a.b": 1, "a.c": "[0.5]", "a.d": None, "s": "x", "t": True, "l": "[1, 2]"}
    assert flatten_metrics(0.5) == {"": 0.5} and flatten_metrics([1]) == {}


def test_params_holding_mappings_are_flattened_never_a_python_repr() -> None:
    data = {"train": {"C": 1.0}, "layers": [{"units": 64, "act": {"name": "relu"}}, 32, [1, 2]], "e": [{}]}
    flat = flatten_params(data)
    assert flat == {
        "train.C": 1.0,
        "layers.0.units": 64,
        "layers.0.act.name": "relu",
        "layers.1": 32,
        "layers.2": "[1, 2]",
    }
    assert not any(isinstance(v, str) and "{" in v for v in flat.values())
    assert flatten_params([{"a": 1}, 2]) == {"0.a": 1, "1": 2}


def test_gate_checks() -> None:
    hi = gate("acc", min=0.8, max=1.0, regression_absolute=0.01, regression_relative=0.5)
    assert check(hi, 0.9, 0.9) is None
    assert check(hi, 0.9, 0.895) is None
    assert check(hi, 0.9, 0.88) == "regressed by 0.02 (allowed 0.01)"
    assert check(hi, None, 0.7) == "0.7 < min 0.8"
    assert check(hi, None, 1.2) == "1.2 > max 1"
    assert check(hi, None, float("nan")) == "head is NaN"
    assert check(hi, None, float("-inf")) == "head is -inf"
    assert check(hi, None, None) == "missing at head"
    assert check(gate("acc", min=0, required=False), 1, None) is None
    assert check(gate("x", min=0), 1, True) == "not numeric (true)"
    lo = gate("loss", direction="lower", regression_relative=0.1)
    assert check(lo, 1.0, 1.1) is None  # exactly at the bound: floating noise must not fail it
    assert check(lo, 1.0, 1.2) == "regressed by 20% (allowed 10%)"
    assert check(lo, float("nan"), 5.0) is None  # nothing to compare against


def test_pattern_matches_one_segment() -> None:
    g = gate("per_class.*.recall", min=0)
    assert matches(g, "m.json", "per_class.cat.recall")
    assert not matches(g, "m.json", "per_class.a.b.recall")
    assert not matches(g, "m.json", "per_class..recall")
    assert not matches(gate("a.b", file="x.json", min=0), "y.json", "a.b")


keys = st.text(alphabet="abc.*_", min_size=1, max_size=4)
leaves = st.one_of(
    st.integers(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=3),
)
trees = st.recursive(leaves, lambda inner: st.dictionaries(keys, inner, max_size=4), max_leaves=20)


def reference(data: Any, prefix: str = "") -> dict[str, Any]:
    """The rule written the other way round: every path to a number, string or bool, dot-joined."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(reference(v, f"{prefix}{k}."))
        return out
    if isinstance(data, (int, float, str)) and prefix:
        return {prefix[:-1]: data}
    return {}


@settings(max_examples=200, deadline=None)
@given(trees, trees, st.lists(st.sampled_from(["a", "*", "a.*", "b.c", "*.*"]), max_size=3))
def test_flatten_and_compare_never_crash(old: Any, new: Any, patterns: list[str]) -> None:
    if isinstance(old, dict):
        flat = flatten_metrics(old)
        # Keys can collide after joining ("a.b" vs a->b): DVC keeps the later one, so compare as sets.
        assert set(flat) == set(reference(old))
    gates = [gate(p, min=0, regression_relative=0.1) for p in patterns]
    rows, outcomes = compare({"m": flatten_metrics(old)}, {"m": flatten_metrics(new)}, gates, ["m"])
    for row in rows:
        assert row.status in STATUSES
        pct = row.change_pct
        assert pct is None or not math.isnan(pct)
    for outcome in outcomes:
        assert outcome.passed == (not outcome.failures)
