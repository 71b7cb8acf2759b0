"""Where a rollout's outcomes come from: prediction logs in CSV, Parquet and JSON Lines (real files,
written here with pyarrow), and a real Prometheus (tests/prometheusserver.py) answering the query set.

The expected numbers are computed independently: by hand for the small fixed logs, by numpy over the
same rows for the property tests, and from the very observations that were backfilled into Prometheus.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_gitops.adapters.prometheus import Prometheus
from mlops_gitops.delivery.rollout.arms import ArmStats, MetricOutcomes, Units
from mlops_gitops.delivery.rollout.outcomes import (
    MAX_SEGMENT_VALUES,
    LogMetric,
    LogSource,
    QueryMetric,
    arm_stats,
    mean_from_sums,
    outcomes_from_logs,
    outcomes_from_prometheus,
    promql_string,
    proportion_from_counts,
    render_query,
    units_from_prometheus,
)
from mlops_gitops.errors import DataError, PromQLError, UsageError
from mlops_gitops.reporters import markup
from tests.inert import live
from tests.prometheusserver import PromServer, Series, prometheus_fixture  # noqa: F401 (the fixture)

FORMATS = ("csv", "parquet", "jsonl")


def write(table: pa.Table, path: Path) -> Path:
    """``table`` as the file ``path``'s extension names, written through pyarrow (JSON Lines: pyarrow
    reads it but has no writer, so its rows go through json, one object a line)."""
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    elif path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        with path.open("w", encoding="utf-8") as out:
            for row in table.to_pylist():
                out.write(json.dumps(row) + "\n")
    return path


LOGS = pa.table(
    {
        "model_version": ["v1", "v2", "v1", "v2", "v1", "v2", "v3", None],
        "label": ["cat", "dog", "dog", "dog", "cat", "cat", "dog", "dog"],
        "latency_ms": [10.0, 20.0, 30.0, None, 50.0, 70.0, 1.0, 2.0],
        "error": [False, True, False, False, True, False, True, True],
        "region": ["eu", "eu", "us", "us", "eu", None, "eu", "eu"],
        "user": ["a", "b", "a", "c", "d", "b", "e", "f"],
    }
)
METRICS = [
    LogMetric("label", "proportion", "dog"),
    LogMetric("latency_ms", "mean", direction="decrease", guardrail=True, tolerance=5.0),
    LogMetric("error", "proportion", direction="decrease", guardrail=True, name="error rate"),
]


def by_key(outcomes: tuple[MetricOutcomes, ...]) -> dict[tuple[str, str | None], MetricOutcomes]:
    return {(o.metric, o.segment): o for o in outcomes}


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_gives_the_outcomes_counted_by_hand(tmp_path: Path, fmt: str) -> None:
    path = write(LOGS, tmp_path / f"predictions.{fmt}")
    result = outcomes_from_logs(
        LogSource(path.name, "model_version"), METRICS, "v1", "v2", segments=["region"], base_dir=tmp_path
    )
    got = by_key(result.outcomes)
    # v1 rows: 0, 2, 4; v2 rows: 1, 3, 5; v3 and the row without a version belong to neither arm.
    assert result.rows == 8 and result.other_rows == 2
    assert result.units == Units(3, 3)
    assert result.files == (str(tmp_path / path.name),)
    dog = got["label=dog", None]
    assert (dog.control, dog.candidate) == (ArmStats.proportion(1, 3), ArmStats.proportion(2, 3))
    assert (dog.kind, dog.direction, dog.guardrail, dog.source) == (
        "proportion",
        "increase",
        False,
        path.name,
    )
    latency = got["latency_ms", None]
    assert latency.control == ArmStats(3, 30.0, 400.0)  # 10, 30, 50
    assert latency.candidate == ArmStats(2, 45.0, 1250.0)  # 20, 70 (the missing value is no outcome)
    assert (latency.direction, latency.guardrail, latency.tolerance) == ("decrease", True, 5.0)
    errors = got["error rate", None]
    assert (errors.control, errors.candidate) == (ArmStats.proportion(1, 3), ArmStats.proportion(1, 3))
    # Per segment value, the overall row first, then the values in order, null last as "(null)".
    assert [o.segment for o in result.outcomes if o.metric == "label=dog"] == [
        None,
        "region=(null)",
        "region=eu",
        "region=us",
    ]
    assert got["label=dog", "region=eu"].control == ArmStats.proportion(0, 2)
    assert got["label=dog", "region=eu"].candidate == ArmStats.proportion(1, 1)
    assert got["latency_ms", "region=us"].candidate == ArmStats(0, 0.0, 0.0)
    assert got["latency_ms", "region=(null)"].candidate == ArmStats(1, 70.0, 0.0)


def test_a_directory_of_files_in_any_formats_is_one_log(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    write(LOGS.slice(0, 3), logs / "part-1.csv")
    write(LOGS.slice(3, 3), logs / "part-2.parquet")
    write(LOGS.slice(6), logs / "part-3.jsonl")
    whole = write(LOGS, tmp_path / "all.parquet")
    split = outcomes_from_logs(
        LogSource("logs", "model_version"), METRICS, "v1", "v2", segments=["region"], base_dir=tmp_path
    )
    one = outcomes_from_logs(
        LogSource(whole.name, "model_version"), METRICS, "v1", "v2", segments=["region"], base_dir=tmp_path
    )
    # Segment values the files saw in different orders are the same segments.
    assert [(o.metric, o.segment, o.control, o.candidate) for o in split.outcomes] == [
        (o.metric, o.segment, o.control, o.candidate) for o in one.outcomes
    ]
    assert len(split.files) == 3 and split.units == one.units


def test_versions_are_compared_as_text(tmp_path: Path) -> None:
    """A CSV would make 1.10 and 1.1 the same number; as versions they are different models."""
    table = pa.table({"version": ["1.10", "1.1", "1.10", "01.1"], "y": [1, 0, 1, 1]})
    path = write(table, tmp_path / "v.csv")
    result = outcomes_from_logs(
        LogSource(path.name, "version"), [LogMetric("y", "proportion", 1)], "1.10", "1.1", base_dir=tmp_path
    )
    assert result.units == Units(2, 1) and result.other_rows == 1
    # And a JSON number 3 is the version "3".
    path = tmp_path / "n.jsonl"
    path.write_text('{"version": 3, "y": 1}\n{"version": 4, "y": 0}\n', encoding="utf-8")
    result = outcomes_from_logs(
        LogSource(path.name, "version"), [LogMetric("y", "mean")], "3", "4", base_dir=tmp_path
    )
    assert (result.outcomes[0].control.mean, result.outcomes[0].candidate.mean) == (1.0, 0.0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_proportion_kinds_and_missing_values(tmp_path: Path, fmt: str) -> None:
    table = pa.table(
        {
            "v": ["a", "b", "a", "b", "a", "b"],
            "flag": ["yes", "no", "TRUE", "0", None, "1"],
            "score": [0.5, 1.0, 1.0, None, 1.0, 0.25],
        }
    )
    path = write(table, tmp_path / f"p.{fmt}")
    metrics = [
        LogMetric("flag", "proportion"),  # a boolean column: the share of true
        LogMetric("flag", "proportion", False, name="not flagged"),
        LogMetric("score", "proportion", 1, name="perfect"),  # a number equal to 1
    ]
    got = by_key(outcomes_from_logs(LogSource(path.name, "v"), metrics, "a", "b", base_dir=tmp_path).outcomes)
    assert got["flag", None].control == ArmStats.proportion(2, 2)  # the null is no outcome
    assert got["flag", None].candidate == ArmStats.proportion(1, 3)
    assert got["not flagged", None].candidate == ArmStats.proportion(2, 3)
    assert got["perfect", None].control == ArmStats.proportion(2, 3)
    assert got["perfect", None].candidate == ArmStats.proportion(1, 2)


def test_blank_csv_cells_are_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("v,ok,ms,region\na,true,1.5,eu\na, ,,\nb,false,2.5,\n", encoding="utf-8")
    metrics = [LogMetric("ok", "proportion"), LogMetric("ms", "mean")]
    result = outcomes_from_logs(
        LogSource(path.name, "v"), metrics, "a", "b", segments=["region"], base_dir=tmp_path
    )
    got = by_key(result.outcomes)
    assert got["ok", None].control == ArmStats.proportion(1, 1)
    assert got["ms", None].control == ArmStats(1, 1.5, 0.0)
    assert {o.segment for o in result.outcomes} == {None, "region=eu", "region=(null)"}


def test_units_are_distinct_users_when_a_unit_column_is_named(tmp_path: Path) -> None:
    path = write(LOGS, tmp_path / "u.parquet")
    source = LogSource(path.name, "model_version", unit="user")
    result = outcomes_from_logs(source, METRICS[:1], "v1", "v2", base_dir=tmp_path)
    assert result.units == Units(2, 2)  # v1: a, a, d; v2: b, c, b


def test_only_the_steps_rows_count(tmp_path: Path) -> None:
    start = dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc)
    table = pa.table(
        {
            "ts": [start - dt.timedelta(hours=1), start, start + dt.timedelta(hours=1), None],
            "v": ["a", "a", "b", "b"],
            "ms": [100.0, 1.0, 2.0, 3.0],
        }
    )
    for fmt in ("parquet", "csv"):
        path = write(table, tmp_path / f"t.{fmt}")
        source = LogSource(path.name, "v", timestamp="ts")
        result = outcomes_from_logs(
            source, [LogMetric("ms", "mean")], "a", "b", since=start, base_dir=tmp_path
        )
        got = result.outcomes[0]
        # Before the step, and without a time, a row is in no step.
        assert (got.control, got.candidate, result.rows) == (ArmStats(1, 1.0, 0.0), ArmStats(1, 2.0, 0.0), 2)
        until = outcomes_from_logs(
            source, [LogMetric("ms", "mean")], "a", "b", until=start, base_dir=tmp_path
        )
        assert until.outcomes[0].control == ArmStats(2, 50.5, 4900.5)


# --- hostile values stay raw in the data, and inert once rendered ---------------------------------

HOSTILE = [
    "@acme/ml-team",
    "closes #1",
    "<img src=x onerror=alert(1)>",
    "a|b\nc\r\nd",
    "[x](https://evil.example)",
    "é" * 300,
    " ",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_log_values_stay_raw_in_the_outcomes(tmp_path: Path, fmt: str) -> None:
    n = len(HOSTILE)
    table = pa.table(
        {
            "v": ["@ctl closes #2", "<b>cand</b>"] * n,
            "segment": [h for h in HOSTILE for _ in range(2)],
            "y": ["@acme/ml-team"] * (2 * n),
        }
    )
    path = write(table, tmp_path / f"h.{fmt}")
    metric = LogMetric("y", "proportion", "@acme/ml-team")
    result = outcomes_from_logs(
        LogSource(path.name, "v"),
        [metric],
        "@ctl closes #2",
        "<b>cand</b>",
        segments=["segment"],
        base_dir=tmp_path,
    )
    # A blank value is a missing one (a CSV cannot tell them apart): "(null)" in every format.
    expected = {f"segment={h}" for h in HOSTILE if h.strip()} | {"segment=(null)"}
    assert {o.segment for o in result.outcomes} - {None} == expected
    assert result.units == Units(n, n)
    assert all(o.metric == "y=@acme/ml-team" and o.control.mean == 1.0 for o in result.outcomes)
    for o in result.outcomes:
        assert live(markup.cell(o.segment or "")) == [] and live(markup.cell(o.metric)) == []


def test_a_value_written_null_and_a_missing_value_are_one_segment(tmp_path: Path) -> None:
    table = pa.table({"v": ["a", "b", "a"], "seg": ["(null)", None, "x"], "y": [1.0, 2.0, 3.0]})
    for name in ("n.parquet", "n.jsonl"):
        path = write(table, tmp_path / name)
        result = outcomes_from_logs(
            LogSource(path.name, "v"), [LogMetric("y", "mean")], "a", "b", segments=["seg"], base_dir=tmp_path
        )
        got = {o.segment: (o.control.n, o.candidate.n) for o in result.outcomes}
        assert got == {None: (2, 1), "seg=(null)": (1, 1), "seg=x": (1, 0)}


def test_hostile_column_names_in_an_error_are_one_line(tmp_path: Path) -> None:
    path = write(pa.table({"v": ["a"], "y\nclose #1": ["x"]}), tmp_path / "c.parquet")
    with pytest.raises(DataError) as info:
        outcomes_from_logs(
            LogSource(path.name, "v"), [LogMetric("y\nclose #1", "mean")], "a", "b", base_dir=tmp_path
        )
    assert str(info.value) == f"{path}: row 1: column 'y\\nclose #1' (a mean): 'x' is not a number"


# --- bad input: one line naming the file and the column -------------------------------------------


def _error(
    tmp_path: Path, name: str, content: str | bytes | pa.Table, metrics: list[LogMetric], **kwargs: Any
) -> str:
    path = tmp_path / name
    if isinstance(content, pa.Table):
        write(content, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    source = LogSource(name, kwargs.pop("version", "v"), timestamp=kwargs.pop("timestamp", None))
    with pytest.raises((DataError, UsageError)) as info:
        outcomes_from_logs(source, metrics, "a", "b", base_dir=tmp_path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_missing_column_is_named_with_the_closest_one(tmp_path: Path) -> None:
    table = pa.table({"v": ["a"], "latency": [1.0]})
    message = _error(tmp_path, "m.parquet", table, [LogMetric("latncy", "mean")])
    assert (
        message == f"{tmp_path / 'm.parquet'}: no column 'latncy' (metric 'latncy'); did you mean 'latency'?"
    )
    message = _error(tmp_path, "m.parquet", table, [LogMetric("latency", "mean")], version="model")
    assert message == f"{tmp_path / 'm.parquet'}: no column 'model' (the model version column)"
    message = _error(tmp_path, "m.parquet", table, [], segments=["country"])
    assert message == f"{tmp_path / 'm.parquet'}: no column 'country' (a segment column)"


def test_non_numeric_values_in_a_mean_column_name_the_line(tmp_path: Path) -> None:
    csv = "v,ms\na,1.5\nb,2\nb,fast\na,slow\n"
    message = _error(tmp_path, "n.csv", csv, [LogMetric("ms", "mean")])
    assert (
        message == f"{tmp_path / 'n.csv'}:4: column 'ms' (a mean): 'fast' is not a number (and 1 more rows)"
    )
    jsonl = '{"v": "a", "ms": "1"}\n{"v": "a", "ms": "@team"}\n'
    message = _error(tmp_path, "n.jsonl", jsonl, [LogMetric("ms", "mean")])
    assert message == f"{tmp_path / 'n.jsonl'}: row 2: column 'ms' (a mean): '@team' is not a number"
    # pyarrow itself refuses a JSON column that is a number in one row and text in another.
    jsonl = '{"v": "a", "ms": 1}\n{"v": "a", "ms": "@team"}\n'
    message = _error(tmp_path, "n.jsonl", jsonl, [LogMetric("ms", "mean")])
    assert message.startswith(f"{tmp_path / 'n.jsonl'}: not a readable JSON Lines file: ")
    assert "Column(/ms) changed from number to string" in message
    table = pa.table({"v": ["a", "b"], "ms": [1.0, math.inf]})
    message = _error(tmp_path, "i.parquet", table, [LogMetric("ms", "mean")])
    assert message == f"{tmp_path / 'i.parquet'}: row 2: column 'ms' (a mean): 'inf' is infinite"
    table = pa.table({"v": ["a", "b"], "ok": ["yes", "maybe"]})
    message = _error(tmp_path, "b.parquet", table, [LogMetric("ok", "proportion")])
    assert message.endswith("row 2: column 'ok' (a proportion): 'maybe' is not true/false (nor 1/0, yes/no)")


def test_the_line_of_a_bad_value_counts_rows_outside_the_step(tmp_path: Path) -> None:
    csv = "ts,v,ms\n2026-01-01T00:00:00,a,oops\n2026-01-02T00:00:00,a,1\n2026-01-03T00:00:00,b,late\n"
    since = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    message = _error(tmp_path, "w.csv", csv, [LogMetric("ms", "mean")], timestamp="ts", since=since)
    assert message == f"{tmp_path / 'w.csv'}:4: column 'ms' (a mean): 'late' is not a number"


def test_unreadable_files_and_impossible_requests(tmp_path: Path) -> None:
    message = _error(tmp_path, "x.jsonl", "{nope\n", [])
    assert message.startswith(f"{tmp_path / 'x.jsonl'}: not a readable JSON Lines file")
    message = _error(tmp_path, "x.parquet", b"v,ms\n", [])
    assert message.startswith(f"{tmp_path / 'x.parquet'}: not a Parquet file")
    table = pa.table({"v": ["a"], "ts": ["yesterday"]})
    message = _error(tmp_path, "t.parquet", table, [], timestamp="ts", since=dt.datetime.now(dt.timezone.utc))
    assert message.startswith(
        f"{tmp_path / 't.parquet'}: column 'ts' holds values that are not ISO-8601 times"
    )
    message = _error(tmp_path, "t.parquet", table, [], since=dt.datetime.now(dt.timezone.utc))
    assert message == "t.parquet: reading one step's rows needs the logs' timestamp column"
    with pytest.raises(UsageError, match="a mean has no value"):
        LogMetric("ms", "mean", 1)
    with pytest.raises(UsageError, match="metric 'ms': tolerance must be a finite number >= 0, not -1"):
        LogMetric("ms", "mean", tolerance=-1)
    with pytest.raises(UsageError, match="metric 'ms': tolerance must be a finite number >= 0, not nan"):
        QueryMetric("ms", "proportion", count="{{version}}", positives="{{version}}", tolerance=math.nan)
    with pytest.raises(DataError, match="no such file or directory"):
        outcomes_from_logs(LogSource("absent.csv", "v"), [], "a", "b", base_dir=tmp_path)
    with pytest.raises(UsageError, match="the same version 'a'"):
        outcomes_from_logs(LogSource("t.parquet", "v"), [], "a", "a", base_dir=tmp_path)


def test_a_segment_column_with_too_many_values_is_refused(tmp_path: Path) -> None:
    n = MAX_SEGMENT_VALUES + 1
    table = pa.table({"v": ["a"] * n, "user": [f"u{i}" for i in range(n)], "y": [1] * n})
    message = _error(tmp_path, "s.parquet", table, [LogMetric("y", "mean")], segments=["user"])
    assert message == (
        f"s.parquet: segment column 'user' has {n} values; a segment column names a few groups "
        f"(at most {MAX_SEGMENT_VALUES})"
    )


# --- property: the outcomes are numpy's over the same rows ----------------------------------------

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["ctl", "cand", "other", None]),
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
        st.sampled_from(["eu", "us", "ap", None]),
        st.booleans(),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, fmt=st.sampled_from(FORMATS))
def test_outcomes_equal_numpy_over_the_same_rows(rows: list[tuple[Any, ...]], fmt: str) -> None:
    if not rows and fmt == "jsonl":
        rows = [("ctl", 1.0, "eu", True)]  # an empty JSON Lines file has no columns to read
    table = pa.table(
        {
            "v": pa.array([r[0] for r in rows], pa.string()),
            "x": pa.array([r[1] for r in rows], pa.float64()),
            "seg": pa.array([r[2] for r in rows], pa.string()),
            "hit": pa.array([r[3] for r in rows], pa.bool_()),
        }
    )
    metrics = [LogMetric("x", "mean"), LogMetric("hit", "proportion")]
    with tempfile.TemporaryDirectory() as tmp:
        path = write(table, Path(tmp) / f"logs.{fmt}")
        result = outcomes_from_logs(
            LogSource(path.name, "v"), metrics, "ctl", "cand", segments=["seg"], base_dir=Path(tmp)
        )
    got = by_key(result.outcomes)
    for segment in [None, *sorted({f"seg={r[2] or '(null)'}" for r in rows})]:
        chosen = [r for r in rows if segment is None or f"seg={r[2] or '(null)'}" == segment]
        for side, version in (("control", "ctl"), ("candidate", "cand")):
            xs = np.array([r[1] for r in chosen if r[0] == version and r[1] is not None], float)
            hits = np.array([r[3] for r in chosen if r[0] == version], float)
            mean = getattr(got["x", segment], side)
            assert mean.n == len(xs)
            if len(xs):
                assert mean.mean == pytest.approx(xs.mean(), rel=1e-9, abs=1e-6)
                assert mean.variance == pytest.approx(
                    xs.var(ddof=1) if len(xs) > 1 else 0.0, rel=1e-7, abs=1e-3
                )
            share = getattr(got["hit", segment], side)
            assert share.n == len(hits)
            assert share.mean == (hits.mean() if len(hits) else 0.0)
    assert result.units == Units(sum(r[0] == "ctl" for r in rows), sum(r[0] == "cand" for r in rows))
    assert result.other_rows == sum(r[0] not in ("ctl", "cand") for r in rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # Not NUL: a CSV holding one is refused as binary (data.read), which tests/data covers.
    values=st.lists(
        st.tuples(st.booleans(), st.text(st.characters(blacklist_characters="\x00"), max_size=8)),
        min_size=1,
        max_size=20,
    ),
    fmt=st.sampled_from(FORMATS),
)
def test_any_text_is_a_segment_of_its_own_kept_as_written(values: list[tuple[bool, str]], fmt: str) -> None:
    """Whatever the logs hold (line breaks, quotes, commas, "NA", markup), a segment is labelled with
    the value exactly as written, in every format; only a blank value is a missing one."""
    table = pa.table(
        {
            "v": pa.array(["ctl" if c else "cand" for c, _ in values], pa.string()),
            "seg": pa.array([t for _, t in values], pa.string()),
            "y": pa.array([1.0] * len(values)),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write(table, Path(tmp) / f"logs.{fmt}")
        result = outcomes_from_logs(
            LogSource(path.name, "v"),
            [LogMetric("y", "mean")],
            "ctl",
            "cand",
            segments=["seg"],
            base_dir=Path(tmp),
        )
    expected: dict[str, list[int]] = {}
    for control, text in values:
        counts = expected.setdefault(f"seg={text if text.strip() else '(null)'}", [0, 0])
        counts[0 if control else 1] += 1
    got = {o.segment: [o.control.n, o.candidate.n] for o in result.outcomes if o.segment}
    assert got == expected


@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), max_size=200))
def test_arm_stats_is_numpy_mean_and_sample_variance(xs: list[float]) -> None:
    values = np.array([*xs, math.nan], float)  # a NaN is no outcome
    stats = arm_stats(values)
    assert stats.n == len(xs)
    if len(xs) > 1:
        assert stats.mean == pytest.approx(np.mean(xs), abs=1e-9)
        assert stats.variance == pytest.approx(np.var(xs, ddof=1), rel=1e-9, abs=1e-9)


# --- Prometheus's query set into outcomes ------------------------------------------------------------


@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=0, max_size=200))
def test_mean_from_sums_is_numpy_over_the_observations(xs: list[float]) -> None:
    arr = np.array(xs, float)
    stats = mean_from_sums(float(len(xs)), float(arr.sum()), float((arr * arr).sum()))
    assert stats.n == len(xs)
    if len(xs):
        assert stats.mean == pytest.approx(arr.mean(), rel=1e-9, abs=1e-9)
    if len(xs) > 1:
        # From sums the variance loses digits to cancellation: within 1e-9 of the squares' scale.
        scale = float((arr * arr).sum()) / len(xs)
        assert stats.variance == pytest.approx(arr.var(ddof=1), abs=1e-9 * max(scale, 1.0) + 1e-12)


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_proportion_from_counts_is_the_share(a: int, b: int) -> None:
    positives, count = min(a, b), max(a, b)
    assert proportion_from_counts(float(positives), float(count)) == ArmStats.proportion(positives, count)


def test_query_results_that_cannot_be_outcomes_say_why() -> None:
    assert proportion_from_counts(None, None) == ArmStats(0, 0.0, 0.0)  # no series yet: no traffic
    assert proportion_from_counts(3.4, 9.6) == ArmStats.proportion(3, 10)  # increase() extrapolates
    assert mean_from_sums(None, None, None) == ArmStats(0, 0.0, 0.0)
    assert mean_from_sums(4.0, 8.0, 16.0) == ArmStats(4, 2.0, 0.0)  # equal observations
    for call, reason in [
        (lambda: proportion_from_counts(5, 3), "more positives (5) than outcomes (3)"),
        (lambda: proportion_from_counts(-1, 3), "positives is -1: a count is never negative"),
        (lambda: proportion_from_counts(1, math.nan), "count is nan, not a finite number"),
        (lambda: mean_from_sums(2, 10, 1), "sum_squares (1) is below sum^2 / count (50)"),
        (lambda: mean_from_sums(2, math.inf, 1), "sum is inf, not a finite number"),
        (lambda: mean_from_sums(2, 1, -1), "sum_squares is -1: a sum of squares is never negative"),
    ]:
        with pytest.raises(ValueError) as info:
            call()
        assert reason in str(info.value)


def test_query_templates_are_checked_and_filled() -> None:
    with pytest.raises(UsageError, match=r"metric 'ctr': a proportion needs a positives query"):
        QueryMetric("ctr", "proportion", count='sum(x{version="{{version}}"})')
    with pytest.raises(UsageError, match=r"a mean takes no positives query"):
        QueryMetric(
            "ms",
            "mean",
            count="{{version}}",
            positives="{{version}}",
            sum="{{version}}",
            sum_squares="{{version}}",
        )
    with pytest.raises(UsageError, match=r"the count query has no \{\{version\}\}: without it both arms"):
        QueryMetric("ctr", "proportion", count="sum(x)", positives='sum(y{version="{{version}}"})')
    with pytest.raises(
        UsageError, match=r"unknown placeholder \{\{target\}\} \(known: \{\{version\}\}, \{\{window\}\}\)"
    ):
        QueryMetric("ctr", "proportion", count="{{version}}{{ target }}", positives="{{version}}")
    query = 'sum(increase(x{version="{{ version }}"}[{{window}}]))'
    assert (
        render_query(query, 'v"1\\', dt.timedelta(seconds=90.2))
        == 'sum(increase(x{version="v\\"1\\\\"}[91s]))'
    )
    with pytest.raises(UsageError, match=r"uses \{\{window\}\}: it needs the time the step started"):
        render_query(query, "v1")
    assert promql_string('a\nb\t"c"') == 'a\\nb\\t\\"c\\"'


# Observations backfilled into the real Prometheus: per version and region, latency counters (count,
# sum, sum of squares) and prediction counters (all, positives), cumulative from T0 every 15 s.
T0 = 1_780_000_000.0
STEP = 15.0
LAST = 100  # the last scrape, in steps after T0: every series has a sample there
RNG = np.random.default_rng(22)
HOSTILE_VERSION = 'v2"} or vector(1) #'
VERSIONS = ("v1", HOSTILE_VERSION)
OBSERVED: dict[tuple[str, str], np.ndarray] = {
    (v, r): RNG.gamma(2.0 + i, 10.0, size=int(RNG.integers(40, 80)))
    for i, (v, r) in enumerate((v, r) for v in VERSIONS for r in ("eu", "us"))
}
POSITIVE: dict[tuple[str, str], np.ndarray] = {key: RNG.random(len(xs)) < 0.3 for key, xs in OBSERVED.items()}


def _cumulative(values: np.ndarray) -> tuple[tuple[float, float], ...]:
    """One observation every STEP seconds from T0: the counter's zero at T0, its value after each
    observation, then the same value at every scrape up to LAST (a counter stays until it is read)."""
    totals = np.concatenate(([0.0], np.cumsum(values)))
    totals = np.concatenate((totals, np.full(LAST + 1 - len(totals), totals[-1])))
    return tuple((T0 + i * STEP, float(t)) for i, t in enumerate(totals))


def _series() -> list[Series]:
    out = []
    for (version, region), xs in OBSERVED.items():
        labels = {"version": version, "region": region}
        hits = POSITIVE[version, region].astype(float)
        for name, values in (
            ("latency_seconds_count", np.ones(len(xs))),
            ("latency_seconds_sum", xs),
            ("latency_seconds_squares", xs * xs),
            ("predictions", np.ones(len(xs))),
            ("predictions_positive", hits),
        ):
            out.append(Series(name, labels, _cumulative(values)))
    return out


PROMETHEUS_SERIES = _series()
AT = dt.datetime.fromtimestamp(T0 + LAST * STEP, dt.timezone.utc)  # after every observation
LATENCY = QueryMetric(
    "latency",
    "mean",
    count='sum(latency_seconds_count{version="{{version}}"})',
    sum='sum(latency_seconds_sum{version="{{version}}"})',
    sum_squares='sum(latency_seconds_squares{version="{{version}}"})',
    direction="decrease",
    guardrail=True,
)
POSITIVES = QueryMetric(
    "positive share",
    "proportion",
    count='sum(predictions{version="{{version}}", region="eu"})',
    positives='sum(predictions_positive{version="{{version}}", region="eu"})',
    segment="region=eu",
    tolerance=0.01,
)


def _observed(version: str, regions: tuple[str, ...] = ("eu", "us")) -> np.ndarray:
    return np.concatenate([OBSERVED[version, r] for r in regions])


def test_a_mean_from_the_real_prometheus_is_numpys_over_the_observations(prometheus: PromServer) -> None:
    got = outcomes_from_prometheus(Prometheus(prometheus.url), LATENCY, "v1", HOSTILE_VERSION, AT)
    for arm, version in ((got.control, "v1"), (got.candidate, HOSTILE_VERSION)):
        xs = _observed(version)
        assert arm.n == len(xs)
        assert arm.mean == pytest.approx(xs.mean(), rel=1e-12)
        assert arm.variance == pytest.approx(xs.var(ddof=1), rel=1e-9)
    assert (got.metric, got.kind, got.direction, got.guardrail, got.segment) == (
        "latency",
        "mean",
        "decrease",
        True,
        None,
    )
    assert got.source == (
        'count: sum(latency_seconds_count{version="{{version}}"}); '
        'sum: sum(latency_seconds_sum{version="{{version}}"}); '
        'sum_squares: sum(latency_seconds_squares{version="{{version}}"})'
    )


def test_a_proportion_in_a_segment_from_the_real_prometheus(prometheus: PromServer) -> None:
    got = outcomes_from_prometheus(Prometheus(prometheus.url), POSITIVES, "v1", HOSTILE_VERSION, AT)
    for arm, version in ((got.control, "v1"), (got.candidate, HOSTILE_VERSION)):
        hits = POSITIVE[version, "eu"]
        assert arm == ArmStats.proportion(int(hits.sum()), len(hits))
    assert (got.segment, got.tolerance, got.source.startswith("positives: sum(predictions_positive")) == (
        "region=eu",
        0.01,
        True,
    )


def test_increase_over_the_steps_window_counts_the_steps_outcomes(prometheus: PromServer) -> None:
    """``{{window}}`` is the time since the step started: the outcomes after ``since`` only."""
    since = dt.datetime.fromtimestamp(T0 + 20 * STEP, dt.timezone.utc)
    at = dt.datetime.fromtimestamp(T0 + 40 * STEP, dt.timezone.utc)
    metric = QueryMetric(
        "ms",
        "mean",
        count='sum(increase(latency_seconds_count{version="{{version}}"}[{{window}}]))',
        sum='sum(increase(latency_seconds_sum{version="{{version}}"}[{{window}}]))',
        sum_squares='sum(increase(latency_seconds_squares{version="{{version}}"}[{{window}}]))',
    )
    got = outcomes_from_prometheus(Prometheus(prometheus.url), metric, "v1", HOSTILE_VERSION, at, since)
    for arm, version in ((got.control, "v1"), (got.candidate, HOSTILE_VERSION)):
        # Observations 21..40 of each region (the counter after observation k stands at T0 + k * STEP).
        xs = np.concatenate([OBSERVED[version, r][20:40] for r in ("eu", "us")])
        assert arm.n == len(xs)
        assert arm.mean == pytest.approx(xs.mean(), rel=1e-9)
        assert arm.variance == pytest.approx(xs.var(ddof=1), rel=1e-6)


def test_no_series_is_no_traffic_and_units_come_from_a_count(prometheus: PromServer) -> None:
    server = Prometheus(prometheus.url)
    got = outcomes_from_prometheus(server, POSITIVES, "v1", "v9-never-served", AT)
    assert got.candidate == ArmStats(0, 0.0, 0.0)
    units = units_from_prometheus(
        server, 'sum(predictions{version="{{version}}"})', "v1", HOSTILE_VERSION, AT
    )
    assert units == Units(len(_observed("v1")), len(_observed(HOSTILE_VERSION)))


def test_answers_that_are_not_outcomes_name_the_query(prometheus: PromServer) -> None:
    server = Prometheus(prometheus.url)
    swapped = QueryMetric(
        "ctr",
        "proportion",
        count='sum(predictions_positive{version="{{version}}"})',
        positives='sum(predictions{version="{{version}}"})',
    )
    with pytest.raises(PromQLError) as info:
        outcomes_from_prometheus(server, swapped, "v1", HOSTILE_VERSION, AT)
    message = str(info.value)
    assert message.startswith(
        f"prometheus {prometheus.url}: metric 'ctr', version 'v1' (positives: sum(predictions"
    )
    assert "more positives" in message and "do both queries count the same outcomes?" in message
    several = QueryMetric(
        "ctr", "proportion", count='predictions{version="{{version}}"}', positives="{{version}}"
    )
    with pytest.raises(PromQLError, match=r"gives 2 series \(\{region=\"eu\",version=\"v1\"\}"):
        outcomes_from_prometheus(server, several, "v1", HOSTILE_VERSION, AT)
    with pytest.raises(PromQLError, match="a count is never negative"):
        units_from_prometheus(server, '-sum(predictions{version="{{version}}"})', "v1", "v2", AT)
