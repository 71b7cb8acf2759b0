"""Where a rollout's outcomes come from: prediction logs, or a Prometheus server.

Both sources give the same thing, the :class:`~.arms.MetricOutcomes` of each metric (and segment) for
the two arms, the current model (``control``) and the candidate, told apart by the model version that
answered; so the decision never knows which source it read.

**Prediction logs** (CSV, Parquet, JSON Lines, read through pyarrow as ``monitor`` reads them: a file
or a directory of files) hold one row per prediction, with a column naming the model version. A metric
is a column (:class:`LogMetric`):

- a *proportion*: the share of rows whose column equals ``value`` (the positive class, an error flag),
  or, without a value, the share of true values of a boolean column (true/false, 1/0, yes/no);
- a *mean*: the mean of a numeric column (latency, a score); the variance is the sample variance.

Rows whose metric value is missing (null, or NaN in a mean) are not outcomes of that metric (the label
has not arrived yet); rows of another version (a shadow model, an older one) or of no version belong
to neither arm. Per segment column (as ``data.checks`` and ``monitoring`` name them) every value is a
segment of its own, labelled ``column=value`` (a missing value is ``(null)``). The units each arm
received, for the sample-ratio check, are its rows, or the distinct values of a unit column (a user
id) when one is named. Values from the logs stay raw here; whoever renders them escapes them
(:mod:`mlops_gitops.reporters.markup`).

**Prometheus** answers one instant query per number (:class:`QueryMetric`), each written once with
``{{version}}`` where the arm's model version goes (inside a double-quoted label matcher, it is
escaped as PromQL requires) and optionally ``{{window}}``, the time since the step started (e.g.
``[{{window}}]`` becomes ``[5400s]``). The query set:

- a proportion: ``positives`` and ``count`` (the outcomes: positives and negatives together);
- a mean: ``count``, ``sum`` and ``sum_squares`` (the sum of each observation squared). A histogram
  or summary gives ``_count`` and ``_sum`` but no squares, so the application exports one more
  counter; from the three, mean = sum / count and sample variance = (sum_squares - sum^2 / count)
  / (count - 1).

An empty answer (no series: nobody has been served yet) counts as 0, so little traffic holds the
rollout with "too few outcomes" instead of failing it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_gitops.delivery.rollout.arms import ArmStats, Direction, Kind, MetricOutcomes, Units
from mlops_gitops.errors import DataError, PromQLError, UsageError, one_line

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from mlops_gitops.adapters.prometheus import Prometheus

NULL_LABEL = "(null)"
MAX_SEGMENT_VALUES = 100  # a segment column names a few groups; a user id is not one
SHOWN_VALUE = 60  # characters of a log value quoted in an error line

Value = str | int | float | bool


# --- what to measure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogMetric:
    """One metric read from prediction logs: its ``column``, its ``kind``, for a proportion the
    ``value`` that counts as positive (None: the column is boolean), which ``direction`` is better,
    and whether it is a ``guardrail`` (must never get worse). ``name`` is what reports call it
    (default: ``column``, or ``column=value``)."""

    column: str
    kind: Kind
    value: Value | None = None
    direction: Direction = "increase"
    guardrail: bool = False
    name: str | None = None
    tolerance: float = 0.0  # the degradation still accepted, in the metric's units (MetricOutcomes')

    def __post_init__(self) -> None:
        if self.kind == "mean" and self.value is not None:
            raise UsageError(f"metric '{self.label}': a mean has no value; only a proportion counts one")
        _check_tolerance(self.label, self.tolerance)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.kind == "proportion" and self.value is not None:
            return f"{self.column}={_value_text(self.value)}"
        return self.column


@dataclass(frozen=True)
class LogSource:
    """Prediction logs: a file or directory (``path``), the column naming the model ``version`` that
    answered, the ``format`` if the extension does not tell it, the ``timestamp`` column (needed to
    read only a step's rows), and the ``unit`` column (None: every row is a unit)."""

    path: str
    version: str
    format: str | None = None
    timestamp: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class LogOutcomes:
    """What the logs said: per metric the overall outcomes, then per segment value; the units per
    arm; the rows read (in the time range) and how many of them belong to neither arm."""

    outcomes: tuple[MetricOutcomes, ...]
    units: Units
    rows: int
    other_rows: int
    files: tuple[str, ...]


# --- prediction logs -----------------------------------------------------------------------------


def outcomes_from_logs(
    source: LogSource,
    metrics: Sequence[LogMetric],
    control: str,
    candidate: str,
    *,
    segments: Sequence[str] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    base_dir: Path = Path("."),
) -> LogOutcomes:
    """Each metric's outcomes per arm in the logs at ``base_dir / source.path``, overall and per
    value of each segment column; rows stamped before ``since`` or after ``until`` are left out."""
    from mlops_gitops.data.read import data_files

    if (since or until) and not source.timestamp:
        raise UsageError(f"{source.path}: reading one step's rows needs the logs' timestamp column")
    if control == candidate:
        raise UsageError(f"{source.path}: the control and the candidate are the same version '{control}'")
    files = data_files(base_dir / source.path, source.format)
    parts = [_read_part(f, source, metrics, segments, control, candidate, since, until) for f in files]
    columns = _joined(parts)
    for seg, (_, labels) in columns.segments.items():
        if len(labels) > MAX_SEGMENT_VALUES:
            raise DataError(
                f"{source.path}: segment column '{_shown(seg)}' has {len(labels)} values; a segment column "
                f"names a few groups (at most {MAX_SEGMENT_VALUES})"
            )
    outcomes: list[MetricOutcomes] = []
    for metric, values in zip(metrics, columns.metrics, strict=True):
        outcomes.append(_outcome(metric, values, columns.arm, None, source.path))
        for seg in segments:
            codes, labels = columns.segments[seg]
            for k in sorted(range(len(labels)), key=lambda k: labels[k]):
                keep = codes == k
                label = f"{seg}={labels[k]}"
                outcomes.append(_outcome(metric, values[keep], columns.arm[keep], label, source.path))
    arm = columns.arm
    return LogOutcomes(
        tuple(outcomes),
        _units(columns, source),
        len(arm),
        int((arm < 0).sum()),
        tuple(str(f) for f in files),
    )


def arm_stats(values: np.ndarray) -> ArmStats:
    """One arm's outcomes of a metric from its values (1.0 / 0.0 for a proportion; NaN: no outcome)."""
    import numpy as np

    seen = values[~np.isnan(values)]
    n = len(seen)
    if n == 0:
        return ArmStats(0, 0.0, 0.0)
    mean = float(seen.mean())
    return ArmStats(n, mean, float(seen.var(ddof=1)) if n > 1 else 0.0)


def _outcome(
    metric: LogMetric, values: np.ndarray, arm: np.ndarray, segment: str | None, source: str
) -> MetricOutcomes:
    import numpy as np

    if metric.kind == "proportion":
        sides = [values[arm == a] for a in (0, 1)]
        # The proportion's own variance p(1 - p), as ArmStats.proportion defines it.
        control, candidate = (
            ArmStats.proportion(int((s == 1).sum()), int((~np.isnan(s)).sum())) for s in sides
        )
    else:
        control, candidate = arm_stats(values[arm == 0]), arm_stats(values[arm == 1])
    return MetricOutcomes(
        metric.label,
        metric.kind,
        metric.direction,
        metric.guardrail,
        control,
        candidate,
        segment,
        source,
        metric.tolerance,
    )


@dataclass
class _Columns:
    """The rows of one file (or of all files joined) that the outcomes need, as numpy arrays."""

    arm: np.ndarray  # 0 control, 1 candidate, -1 neither
    metrics: list[np.ndarray]  # per metric, in order: 1.0 / 0.0 or the number; NaN: no outcome
    segments: dict[str, tuple[np.ndarray, list[str]]]  # codes into distinct labels
    units: pa.Array | None  # the unit column as text, where there is one


def _read_part(
    file: Path,
    source: LogSource,
    metrics: Sequence[LogMetric],
    segments: Sequence[str],
    control: str,
    candidate: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> _Columns:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlops_gitops.data.read import read_table

    # Read as text in a CSV: a version "1.10" or a segment "007" must not become a number.
    texts = [source.version, *segments, *([source.unit] if source.unit else [])]
    texts += [m.column for m in metrics if isinstance(m.value, str)]
    table = read_table(file, source.format, string_columns=texts)
    _require(table, file, source, metrics, segments)
    rows = None  # the kept rows' positions in the file, for error lines
    if source.timestamp and (since or until):
        keep = _in_range(table, file, source.timestamp, since, until)
        table, rows = table.filter(pa.array(keep)), np.flatnonzero(keep)
    version = _text(table.column(source.version))
    arm = np.full(table.num_rows, -1, np.int8)
    arm[_mask(pc.equal(version, control))] = 0
    arm[_mask(pc.equal(version, candidate))] = 1
    where = _Where(file, source.format, rows)
    values = [_metric_values(table, where, m) for m in metrics]
    codes = {seg: _codes(table.column(seg)) for seg in segments}
    units = _blank_as_null(_text(table.column(source.unit))) if source.unit else None
    return _Columns(arm, values, codes, units)


@dataclass(frozen=True)
class _Where:
    """Which file a table came from, and which of its rows were kept, so an error names the row."""

    file: Path
    format: str | None
    rows: np.ndarray | None

    def row(self, index: int) -> str:
        """``FILE:LINE`` for a CSV (its line, quoted line breaks counted), else ``FILE: row N``."""
        from mlops_gitops.data.read import csv_lines, detect_format

        row = int(self.rows[index]) + 1 if self.rows is not None else index + 1
        if detect_format(self.file, self.format) == "csv":
            lines = csv_lines(self.file, [row], _csv_rows(self.file))
            if row in lines:
                return f"{self.file}:{lines[row]}"
        return f"{self.file}: row {row}"


def _csv_rows(file: Path) -> int:
    from mlops_gitops.data.read import read_table

    return int(read_table(file, "csv").num_rows)


def _require(
    table: pa.Table, file: Path, source: LogSource, metrics: Sequence[LogMetric], segments: Sequence[str]
) -> None:
    wanted = [(source.version, "the model version column")]
    wanted += [(m.column, f"metric '{m.label}'") for m in metrics]
    wanted += [(s, "a segment column") for s in segments]
    wanted += [
        (c, role)
        for c, role in ((source.timestamp, "the timestamp column"), (source.unit, "the unit column"))
        if c
    ]
    names = table.column_names
    for column, role in wanted:
        if column not in names:
            near = difflib.get_close_matches(column, names, n=1)
            hint = f"; did you mean '{_shown(near[0])}'?" if near else ""
            raise DataError(f"{file}: no column '{_shown(column)}' ({role}){hint}")


def _in_range(
    table: pa.Table, file: Path, column: str, since: dt.datetime | None, until: dt.datetime | None
) -> np.ndarray:
    import numpy as np

    from mlops_gitops.data.drift import timestamps_us

    try:
        micros = timestamps_us(table.column(column), column)
    except UsageError as exc:
        raise DataError(f"{file}: {str(exc).removeprefix('monitoring.timestamp: ')}") from None
    keep = ~np.isnan(micros)  # a row without a time is in no step
    if since is not None:
        keep &= micros >= _micros(since)
    if until is not None:
        keep &= micros <= _micros(until)
    return keep


def _micros(moment: dt.datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)  # the logs' naive times are read as UTC too
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) / dt.timedelta(microseconds=1)


def _metric_values(table: pa.Table, where: _Where, metric: LogMetric) -> np.ndarray:
    """Per row: the number (a mean), 1.0 or 0.0 (a proportion), NaN where the row has no outcome."""
    import numpy as np
    import pyarrow.compute as pc

    from mlops_gitops.data.checks import as_bool, as_float

    column = _blank_as_null(_plain(table.column(metric.column)))
    value = metric.value
    target = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if metric.kind == "mean" or target is not None:
        numbers, bad = as_float(column)
        _refuse(bad, column, where, metric, "not a number")
        out: np.ndarray = pc.fill_null(numbers, math.nan).to_numpy(zero_copy_only=False).astype(float)
        if metric.kind == "mean":
            _refuse(np.isinf(out), column, where, metric, "infinite")
            return out
        hits: np.ndarray = np.where(np.isnan(out), math.nan, (out == target).astype(float))
        return hits
    if isinstance(value, str):
        hit = pc.equal(_text(column), value)
    else:
        truth = as_bool(column)
        unknown = _mask(pc.and_(pc.is_valid(column), pc.is_null(truth)))
        _refuse(unknown, column, where, metric, "not true/false (nor 1/0, yes/no)")
        hit = truth if value is None or value is True else pc.invert(truth)
    result: np.ndarray = pc.fill_null(pc.cast(hit, "float64"), math.nan).to_numpy(zero_copy_only=False)
    return result


def _blank_as_null(column: pa.Array) -> pa.Array:
    """An empty (or blank) cell is a missing value: CSV has no other way to write one in a text column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    blank = pc.equal(pc.utf8_trim_whitespace(column), "")
    return pc.if_else(blank, pa.scalar(None, column.type), column)


def _refuse(bad: np.ndarray, column: pa.Array, where: _Where, metric: LogMetric, what: str) -> None:
    """One line for the rows of a metric column that hold no usable value: the first, and how many."""
    count = int(bad.sum())
    if not count:
        return
    import numpy as np

    index = int(np.argmax(bad))
    example = _shown(str(column[index].as_py()))
    kind = "a mean" if metric.kind == "mean" else "a proportion"
    more = f" (and {count - 1} more rows)" if count > 1 else ""
    raise DataError(
        f"{where.row(index)}: column '{_shown(metric.column)}' ({kind}): '{example}' is {what}{more}"
    )


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(_blank_as_null(_text(column)), null_encoding="encode")
    # A value written "(null)" and a missing one share their label, so they are one segment.
    distinct: dict[str, int] = {}
    lookup = [
        distinct.setdefault(NULL_LABEL if v is None else v, len(distinct))
        for v in encoded.dictionary.to_pylist()
    ]
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    codes: np.ndarray = np.array(lookup, np.int64)[indices] if len(indices) else indices
    return codes, list(distinct)


def _joined(parts: list[_Columns]) -> _Columns:
    """The files' rows as one set of arrays; segment codes re-numbered over the labels of all files."""
    import numpy as np
    import pyarrow as pa

    if len(parts) == 1:
        return parts[0]
    segments: dict[str, tuple[np.ndarray, list[str]]] = {}
    for seg in parts[0].segments:
        labels: dict[str, int] = {}
        codes = []
        for part in parts:
            local, names = part.segments[seg]
            lookup = np.array([labels.setdefault(name, len(labels)) for name in names], np.int64)
            codes.append(lookup[local] if len(local) else local)
        segments[seg] = (np.concatenate(codes), list(labels))
    units = [p.units for p in parts if p.units is not None]
    return _Columns(
        np.concatenate([p.arm for p in parts]),
        [np.concatenate(arrays) for arrays in zip(*(p.metrics for p in parts), strict=True)],
        segments,
        pa.chunked_array(units, pa.string()) if units else None,
    )


def _units(columns: _Columns, source: LogSource) -> Units:
    import pyarrow as pa
    import pyarrow.compute as pc

    if columns.units is None:
        return Units(int((columns.arm == 0).sum()), int((columns.arm == 1).sum()))
    counts = []
    for a in (0, 1):
        chosen = columns.units.filter(pa.array(columns.arm == a))
        counts.append(int(pc.count_distinct(chosen, mode="only_valid").as_py()))
    return Units(counts[0], counts[1])


def _plain(column: pa.ChunkedArray) -> pa.Array:
    """One array, dictionary-decoded (Parquet categoricals), so every kernel takes it."""
    array = column.combine_chunks()
    if hasattr(array, "dictionary_decode"):
        return array.dictionary_decode()
    return array


def _text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The column as text, so a version 3 in JSON and "3" in CSV are the same version."""
    import pyarrow as pa

    from mlops_gitops.data.checks import _text as as_text

    return as_text(_plain(column) if isinstance(column, pa.ChunkedArray) else column)


def _mask(result: pa.Array | pa.ChunkedArray) -> np.ndarray:
    import pyarrow.compute as pc

    filled = pc.fill_null(result, False)
    if hasattr(filled, "combine_chunks"):
        filled = filled.combine_chunks()
    mask: np.ndarray = filled.to_numpy(zero_copy_only=False)
    return mask


def _value_text(value: Value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shown(text: str) -> str:
    text = one_line(text)
    return text if len(text) <= SHOWN_VALUE else text[:SHOWN_VALUE] + "..."


# --- Prometheus ----------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
PLACEHOLDERS = ("version", "window")
_QUERIES: Mapping[Kind, tuple[str, ...]] = {
    "proportion": ("positives", "count"),
    "mean": ("count", "sum", "sum_squares"),
}


@dataclass(frozen=True)
class QueryMetric:
    """One metric read from Prometheus: per arm, the instant queries of its kind (a proportion:
    ``positives`` and ``count``; a mean: ``count``, ``sum`` and ``sum_squares``), each with
    ``{{version}}`` where the arm's version goes. ``segment``, if set, is the label of the traffic
    these queries already select (``region=eu``); None: all traffic."""

    name: str
    kind: Kind
    count: str
    positives: str | None = None
    sum: str | None = None
    sum_squares: str | None = None
    direction: Direction = "increase"
    guardrail: bool = False
    segment: str | None = None
    tolerance: float = 0.0  # the degradation still accepted, in the metric's units (MetricOutcomes')

    def __post_init__(self) -> None:
        given = {"positives": self.positives, "sum": self.sum, "sum_squares": self.sum_squares}
        needed = set(_QUERIES[self.kind]) - {"count"}
        for role, query in given.items():
            if (role in needed) != (query is not None):
                verb = "needs a" if role in needed else "takes no"
                raise UsageError(f"metric '{self.name}': a {self.kind} {verb} {role} query")
        for role, query in self.queries().items():
            check_template(query, f"metric '{self.name}': the {role} query")
        _check_tolerance(self.name, self.tolerance)

    def queries(self) -> dict[str, str]:
        """The query templates by role, in the order of the query set."""
        given = {
            "count": self.count,
            "positives": self.positives,
            "sum": self.sum,
            "sum_squares": self.sum_squares,
        }
        return {role: given[role] or "" for role in _QUERIES[self.kind]}

    @property
    def source(self) -> str:
        """What produced the numbers, as a PR body shows it: the query templates by role."""
        return "; ".join(f"{role}: {query}" for role, query in self.queries().items())


def _check_tolerance(name: str, tolerance: float) -> None:
    # MetricOutcomes refuses it too, but only once the numbers are read: say it before any query.
    if not 0 <= tolerance < math.inf:
        raise UsageError(f"metric '{_shown(name)}': tolerance must be a finite number >= 0, not {tolerance}")


def check_template(query: str, what: str) -> None:
    """A query must say where the arm's version goes, and name no placeholder this tool does not fill."""
    names = _PLACEHOLDER.findall(query)
    unknown = sorted(set(names) - set(PLACEHOLDERS))
    if unknown:
        raise UsageError(
            f"{what}: unknown placeholder {{{{{_shown(unknown[0])}}}}} (known: "
            + ", ".join(f"{{{{{p}}}}}" for p in PLACEHOLDERS)
            + ")"
        )
    if "version" not in names:
        raise UsageError(f"{what} has no {{{{version}}}}: without it both arms would read the same numbers")


def promql_string(text: str) -> str:
    """``text`` escaped to stand inside a double-quoted PromQL string (a label matcher's value)."""
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return "".join(escapes.get(c, c) for c in text)


def render_query(query: str, version: str, window: dt.timedelta | None = None) -> str:
    """The query for one arm: ``{{version}}`` escaped as a PromQL string's content, ``{{window}}`` as
    whole seconds (rounded up, at least 1: ``[5400s]``)."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == "version":
            return promql_string(version)
        if window is None:
            raise UsageError(
                f"query '{_shown(query)}' uses {{{{window}}}}: it needs the time the step started"
            )
        return f"{max(1, math.ceil(window.total_seconds()))}s"

    return _PLACEHOLDER.sub(fill, query)


def proportion_from_counts(positives: float | None, count: float | None) -> ArmStats:
    """One arm's proportion from the two numbers Prometheus gave (None: no series, so 0). Counts are
    rounded to whole outcomes (``increase()`` extrapolates to fractions); ValueError says why a pair
    cannot be counts."""
    p, n = _count(positives, "positives"), _count(count, "count")
    if round(p) > round(n):
        raise ValueError(
            f"more positives ({p:g}) than outcomes ({n:g}): do both queries count the same outcomes?"
        )
    return ArmStats.proportion(round(p), round(n))


def mean_from_sums(count: float | None, total: float | None, squares: float | None) -> ArmStats:
    """One arm's mean and sample variance from the count, sum and sum of squares of its observations."""
    n = _count(count, "count")
    s = _finite(total, "sum")
    q = _finite(squares, "sum_squares")
    if q < 0:
        raise ValueError(f"sum_squares is {q:g}: a sum of squares is never negative")
    if round(n) == 0:
        return ArmStats(0, 0.0, 0.0)
    spread = q - s * s / n
    # Rounding leaves a tiny negative spread when every observation is the same; more than that means
    # the three queries do not describe the same observations.
    if spread < -1e-9 * max(q, 1.0):
        raise ValueError(
            f"sum_squares ({q:g}) is below sum^2 / count ({s * s / n:g}): do the queries measure the same observations?"
        )
    variance = max(spread, 0.0) / (n - 1) if n > 1 else 0.0
    return ArmStats(round(n), s / n, variance)


def _finite(value: float | None, role: str) -> float:
    if value is None:
        return 0.0
    if not math.isfinite(value):
        raise ValueError(f"{role} is {value}, not a finite number (a division by zero?)")
    return float(value)


def _count(value: float | None, role: str) -> float:
    number = _finite(value, role)
    if number < 0:
        raise ValueError(f"{role} is {number:g}: a count is never negative")
    return number


def outcomes_from_prometheus(
    prometheus: Prometheus,
    metric: QueryMetric,
    control: str,
    candidate: str,
    at: dt.datetime,
    since: dt.datetime | None = None,
) -> MetricOutcomes:
    """Both arms' outcomes of ``metric`` as Prometheus answers its queries at ``at`` (``{{window}}``:
    the time from ``since`` to ``at``). source is the query text."""
    window = at - since if since is not None else None
    arms = [_arm(prometheus, metric, version, at, window) for version in (control, candidate)]
    return MetricOutcomes(
        metric.name,
        metric.kind,
        metric.direction,
        metric.guardrail,
        arms[0],
        arms[1],
        metric.segment,
        metric.source,
        metric.tolerance,
    )


def units_from_prometheus(
    prometheus: Prometheus,
    query: str,
    control: str,
    candidate: str,
    at: dt.datetime,
    since: dt.datetime | None = None,
) -> Units:
    """The units (requests, users) each arm received, from one count query with ``{{version}}``."""
    check_template(query, "the units query")
    window = at - since if since is not None else None
    counts = []
    for version in (control, candidate):
        rendered = render_query(query, version, window)
        number = prometheus.number(rendered, at)
        try:
            counts.append(round(_count(number, "the units count")))
        except ValueError as exc:
            raise PromQLError(f"prometheus {prometheus.server}: query '{_shown(rendered)}': {exc}") from None
    return Units(counts[0], counts[1])


def _arm(
    prometheus: Prometheus, metric: QueryMetric, version: str, at: dt.datetime, window: dt.timedelta | None
) -> ArmStats:
    rendered = {role: render_query(q, version, window) for role, q in metric.queries().items()}
    numbers = {role: prometheus.number(q, at) for role, q in rendered.items()}
    try:
        if metric.kind == "proportion":
            return proportion_from_counts(numbers["positives"], numbers["count"])
        return mean_from_sums(numbers["count"], numbers["sum"], numbers["sum_squares"])
    except ValueError as exc:
        queries = "; ".join(f"{role}: {_shown(q)}" for role, q in rendered.items())
        raise PromQLError(
            f"prometheus {prometheus.server}: metric '{_shown(metric.name)}', version '{_shown(version)}' "
            f"({queries}): {exc}"
        ) from None
