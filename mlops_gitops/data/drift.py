"""Drift between production logs and the training baseline: PSI, KS, chi-square, prediction shares.

Everything here is pure: tables in, a plain report dict out. Per numeric feature both samples are
sorted once; every segment then takes its rows from the sorted arrays with a boolean mask (which
keeps them sorted), so PSI and KS for the overall group and each segment cost a few binary searches
instead of another sort.

Definitions (also in docs/data.md):
- PSI: 10 bins cut at the baseline's quantiles (numpy's linear interpolation; repeated cut points
  merged), outer bins open; shares of 0 become ``EPSILON`` so the logarithm stays finite;
  ``PSI = sum((window - baseline) * ln(window / baseline))``.
- KS: the two-sample Kolmogorov-Smirnov statistic (largest distance between the two empirical
  CDFs). The p-value equals ``scipy.stats.ks_2samp``'s (exact up to 10,000 rows per side; SciPy's
  ``kstwo`` up to an effective size of 10,000); above that the Kolmogorov limit (``kstwobign``,
  ``scipy.special.kolmogorov``), within 1% of SciPy's value without its up-to-a-second cost per call.
- chi-square: the test of homogeneity on the 2 x k table of category counts (baseline, window),
  as ``scipy.stats.chi2_contingency(table, correction=False)`` computes it; null is a category.
- prediction share: per class, window share minus baseline share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops_gitops.data.drift_report import (
    ClassShare,
    DriftFindings,
    FeatureDrift,
    GroupDrift,
    LogWindow,
    PredictionShares,
    Segment,
)
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.sections import Monitoring, Thresholds

BINS = 10
EPSILON = 1e-4
MIN_ROWS = 30  # a segment with fewer rows on either side is reported but not tested
EXACT_KS_ROWS = 10_000
KSTWO_MAX_N = 10_000
NULL_LABEL = "(null)"


# --- statistics on plain numpy arrays ------------------------------------------------------------


def quantile_edges(baseline_sorted: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Inner cut points of ``bins`` equal-frequency bins of the baseline (duplicates merged)."""
    if len(baseline_sorted) == 0:
        return np.array([], float)
    inner = np.quantile(baseline_sorted, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    edges: np.ndarray = np.unique(inner)
    return edges


def bin_counts(values_sorted: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin for sorted values; bin j holds x with edges[j-1] <= x < edges[j]."""
    cuts = np.searchsorted(values_sorted, edges, side="left")
    counts: np.ndarray = np.diff(np.concatenate(([0], cuts, [len(values_sorted)])))
    return counts


def psi_from_counts(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> float:
    """Population stability index of two count vectors over the same bins."""
    e = expected / max(expected.sum(), 1)
    a = actual / max(actual.sum(), 1)
    e = np.where(e == 0, epsilon, e)
    a = np.where(a == 0, epsilon, a)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(baseline: np.ndarray, window: np.ndarray, bins: int = BINS, epsilon: float = EPSILON) -> float:
    """PSI of two unsorted samples (baseline quantile bins)."""
    b = np.sort(baseline)
    w = np.sort(window)
    edges = quantile_edges(b, bins)
    return psi_from_counts(bin_counts(b, edges), bin_counts(w, edges), epsilon)


def _cdf_at_own_points(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of sorted ``x`` and the fraction of x at or below each."""
    ends = np.flatnonzero(np.concatenate((x[1:] != x[:-1], [True])))
    return x[ends], (ends + 1) / len(x)


def ks_statistic(a_sorted: np.ndarray, b_sorted: np.ndarray) -> float:
    """Largest distance between the empirical CDFs of two sorted samples."""
    n1, n2 = len(a_sorted), len(b_sorted)
    va, fa = _cdf_at_own_points(a_sorted)
    vb, fb = _cdf_at_own_points(b_sorted)
    gap_a = np.abs(fa - np.searchsorted(b_sorted, va, side="right") / n2)
    gap_b = np.abs(np.searchsorted(a_sorted, vb, side="right") / n1 - fb)
    return float(max(gap_a.max(initial=0.0), gap_b.max(initial=0.0)))


def ks_test(a_sorted: np.ndarray, b_sorted: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample KS statistic and p-value for sorted samples."""
    n1, n2 = len(a_sorted), len(b_sorted)
    if max(n1, n2) <= EXACT_KS_ROWS:
        from scipy.stats import ks_2samp

        result = ks_2samp(a_sorted, b_sorted)
        return float(result.statistic), float(result.pvalue)
    d = ks_statistic(a_sorted, b_sorted)
    m, n = float(max(n1, n2)), float(min(n1, n2))
    en = m * n / (m + n)
    if en <= KSTWO_MAX_N:
        from scipy.stats import kstwo

        p = float(kstwo.sf(d, np.round(en)))
    else:
        # scipy.special is a fraction of scipy.stats' import time; kolmogorov(x) == kstwobign.sf(x).
        from scipy.special import kolmogorov

        p = float(kolmogorov(math.sqrt(en) * d))
    return d, min(max(p, 0.0), 1.0)


def chi2_test(baseline_counts: np.ndarray, window_counts: np.ndarray) -> tuple[float, float, int]:
    """Chi-square test of homogeneity of two count vectors (categories seen on neither side dropped)."""
    table = np.vstack([baseline_counts, window_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0, 0
    from scipy.special import chdtrc

    # The same statistic as scipy.stats.chi2_contingency(table, correction=False), computed here
    # so the monitor does not pay for importing scipy.stats.
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return stat, float(chdtrc(dof, stat)), dof


# --- tables to arrays ----------------------------------------------------------------------------


def _is_numeric(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _is_texty(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return True
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t))


def _floats(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    from mlops_gitops.data.checks import as_float

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    values, _ = as_float(arr)
    out: np.ndarray = pc.fill_null(values, math.nan).to_numpy(zero_copy_only=False).astype(float, copy=False)
    return out


def _labels(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Category values as text, so a baseline's 1 and a log's "1" are the same category."""
    from mlops_gitops.data.checks import _text

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return _text(arr)


def shared_codes(base: pa.Array, window: pa.Array) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Integer codes over the union of both sides' categories (null is a category)."""
    both = pa.chunked_array([_labels(base), _labels(window)], pa.string())
    encoded = pc.dictionary_encode(both, null_encoding="encode").combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    names = [NULL_LABEL if v is None else v for v in encoded.dictionary.to_pylist()]
    return codes[: len(base)], codes[len(base) :], names


# --- the comparison ------------------------------------------------------------------------------


@dataclass
class _Numeric:
    name: str
    base_sorted: np.ndarray
    base_order: np.ndarray  # positions (in the table) of base_sorted's values
    win_sorted: np.ndarray
    win_order: np.ndarray


@dataclass
class _Categorical:
    name: str
    base_codes: np.ndarray
    win_codes: np.ndarray
    labels: list[str]


def _prepare_numeric(name: str, base: pa.ChunkedArray, window: pa.ChunkedArray) -> _Numeric:
    b, w = _floats(base), _floats(window)
    b_keep, w_keep = np.flatnonzero(~np.isnan(b)), np.flatnonzero(~np.isnan(w))
    b_order = b_keep[np.argsort(b[b_keep])]
    w_order = w_keep[np.argsort(w[w_keep])]
    return _Numeric(name, b[b_order], b_order, w[w_order], w_order)


def feature_kinds(baseline: pa.Table, window: pa.Table, config: Monitoring) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names from the manifest or, by default, the shared columns."""
    # Segment columns stay features: a shift in the segment mix is drift too.
    reserved = {config.prediction, config.timestamp}
    categorical = set(config.categorical)
    names = (
        list(config.features)
        if config.features
        else [c for c in window.column_names if c in baseline.column_names and c not in reserved]
    )
    for name in [*names, *categorical]:
        for side, table in (("baseline", baseline), ("logs", window)):
            if name not in table.column_names:
                raise UsageError(f"monitoring: feature '{name}' is not a column of the {side}")
    numeric, cats = [], []
    for name in names:
        t_base, t_win = baseline.schema.field(name).type, window.schema.field(name).type
        if name in categorical or _is_texty(t_base) or _is_texty(t_win):
            cats.append(name)
        elif _is_numeric(t_base) or _is_numeric(t_win) or pa.types.is_null(t_win):
            numeric.append(name)
        # timestamps, lists and structs are not features unless named categorical
    cats.extend(c for c in config.categorical if c not in names)
    return numeric, cats


def compare(
    baseline: pa.Table, window: pa.Table, config: Monitoring, thresholds: Thresholds
) -> DriftFindings:
    """Drift of the window against the baseline, overall and per segment value."""
    numeric_names, categorical_names = feature_kinds(baseline, window, config)
    numerics = [_prepare_numeric(n, baseline.column(n), window.column(n)) for n in numeric_names]
    categoricals = [
        _Categorical(n, *shared_codes(baseline.column(n), window.column(n))) for n in categorical_names
    ]
    prediction = config.prediction
    pred: _Categorical | None = None
    if prediction:
        for side, table in (("baseline", baseline), ("logs", window)):
            if prediction not in table.column_names:
                raise UsageError(f"monitoring.prediction: column '{prediction}' is not in the {side}")
        pred = _Categorical(prediction, *shared_codes(baseline.column(prediction), window.column(prediction)))

    groups = [_group(None, None, None, numerics, categoricals, pred, thresholds, len(baseline), len(window))]
    for seg in config.segments:
        for side, table in (("baseline", baseline), ("logs", window)):
            if seg not in table.column_names:
                raise UsageError(f"monitoring.segments: column '{seg}' is not in the {side}")
        b_codes, w_codes, labels = shared_codes(baseline.column(seg), window.column(seg))
        for k in sorted(np.unique(w_codes).tolist(), key=lambda k: labels[k]):
            groups.append(
                _group(
                    Segment(seg, labels[k]),
                    b_codes == k,
                    w_codes == k,
                    numerics,
                    categoricals,
                    pred,
                    thresholds,
                    int((b_codes == k).sum()),
                    int((w_codes == k).sum()),
                )
            )
    return DriftFindings(thresholds.to_json(), numeric_names, categorical_names, prediction, groups)


def _group(
    segment: Segment | None,
    base_mask: np.ndarray | None,
    win_mask: np.ndarray | None,
    numerics: list[_Numeric],
    categoricals: list[_Categorical],
    pred: _Categorical | None,
    th: Thresholds,
    base_rows: int,
    win_rows: int,
) -> GroupDrift:
    """Drift of one group of rows (``None`` masks: every row; a segment: the rows the masks keep)."""
    group = GroupDrift(segment, win_rows, base_rows)
    if segment is not None and (base_rows < MIN_ROWS or win_rows < MIN_ROWS):
        group.skipped = f"fewer than {MIN_ROWS} rows (baseline {base_rows}, window {win_rows})"
        return group
    if base_rows == 0 or win_rows == 0:
        group.skipped = "no rows"
        return group
    group.features.extend(_numeric_drift(f, base_mask, win_mask, th) for f in numerics)
    group.features.extend(
        _categorical_drift(c, base_mask, win_mask, th)
        for c in categoricals
        if segment is None or c.name != segment.column  # a segment's column is constant within it
    )
    if pred is not None:
        group.predictions = _prediction_shares(pred, base_mask, win_mask, th)
    return group


def _numeric_drift(
    f: _Numeric, base_mask: np.ndarray | None, win_mask: np.ndarray | None, th: Thresholds
) -> FeatureDrift:
    """PSI and KS of one numeric feature; the masks pick the group's values, still sorted."""
    b = f.base_sorted if base_mask is None else f.base_sorted[base_mask[f.base_order]]
    w = f.win_sorted if win_mask is None else f.win_sorted[win_mask[f.win_order]]
    if len(b) == 0 or len(w) == 0:
        return FeatureDrift(f.name, "numeric", len(b), len(w), False, ["no values"])
    edges = quantile_edges(b)
    value = psi_from_counts(bin_counts(b, edges), bin_counts(w, edges))
    d, p = ks_test(b, w)
    reasons = []
    if value > th.psi:
        reasons.append(f"PSI {value:.3f} > {th.psi:g}")
    if p < th.ks_pvalue:
        reasons.append(f"KS p-value {_p(p)} < {th.ks_pvalue:g}")
    return FeatureDrift(
        f.name,
        "numeric",
        len(b),
        len(w),
        bool(reasons),
        reasons,
        psi=value,
        ks_statistic=d,
        ks_pvalue=p,
    )


def _group_counts(
    c: _Categorical, base_mask: np.ndarray | None, win_mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """How many of the group's rows hold each label, in the baseline and in the window."""
    b_codes = c.base_codes if base_mask is None else c.base_codes[base_mask]
    w_codes = c.win_codes if win_mask is None else c.win_codes[win_mask]
    return np.bincount(b_codes, minlength=len(c.labels)), np.bincount(w_codes, minlength=len(c.labels))


def _categorical_drift(
    c: _Categorical, base_mask: np.ndarray | None, win_mask: np.ndarray | None, th: Thresholds
) -> FeatureDrift:
    """The chi-square test of one categorical feature over the group's rows."""
    b_counts, w_counts = _group_counts(c, base_mask, win_mask)
    stat, p, dof = chi2_test(b_counts, w_counts)
    reasons = [f"chi-square p-value {_p(p)} < {th.chi2_pvalue:g}"] if p < th.chi2_pvalue else []
    return FeatureDrift(
        c.name,
        "categorical",
        int(b_counts.sum()),
        int(w_counts.sum()),
        bool(reasons),
        reasons,
        chi2=stat,
        chi2_pvalue=p,
        dof=dof,
    )


def _prediction_shares(
    pred: _Categorical, base_mask: np.ndarray | None, win_mask: np.ndarray | None, th: Thresholds
) -> PredictionShares:
    """Each predicted class's share of the group's rows on both sides, the baseline's largest first."""
    b_counts, w_counts = _group_counts(pred, base_mask, win_mask)
    b_share = b_counts / max(int(b_counts.sum()), 1)
    w_share = w_counts / max(int(w_counts.sum()), 1)
    classes = []
    for k in np.argsort(-b_share, kind="stable"):
        if b_share[k] == 0 and w_share[k] == 0:
            continue
        diff = float(w_share[k] - b_share[k])
        classes.append(
            ClassShare(
                pred.labels[k],
                float(b_share[k]),
                float(w_share[k]),
                diff,
                abs(diff) > th.prediction_share,
            )
        )
    return PredictionShares(pred.name, classes)


def _p(p: float) -> str:
    return f"{p:.2e}" if p < 0.001 else f"{p:.3f}"


# --- the window ----------------------------------------------------------------------------------


def timestamps_us(col: pa.ChunkedArray | pa.Array, name: str) -> np.ndarray:
    """Microseconds since the epoch as float (NaN for missing), whatever way the column stores time."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = arr.type
    try:
        if pa.types.is_timestamp(t):
            micros = pc.cast(pc.cast(arr, pa.timestamp("us", tz=t.tz)), pa.int64())
        elif pa.types.is_date(t):
            micros = pc.cast(pc.cast(arr, pa.timestamp("us")), pa.int64())
        elif _is_numeric(t):
            # Numbers are taken as seconds since the epoch, the usual unit of log records.
            micros = pc.multiply(pc.cast(arr, pa.float64()), 1e6)
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            try:
                parsed = pc.cast(arr, pa.timestamp("us"))
            except pa.ArrowInvalid:
                parsed = pc.cast(arr, pa.timestamp("us", tz="UTC"))
            micros = pc.cast(parsed, pa.int64())
        else:
            raise UsageError(f"monitoring.timestamp: column '{name}' has type {t}, not a time")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise UsageError(
            f"monitoring.timestamp: column '{name}' holds values that are not ISO-8601 times ({first})"
        ) from None
    out: np.ndarray = pc.fill_null(pc.cast(micros, pa.float64()), math.nan).to_numpy(zero_copy_only=False)
    return out


def select_window(table: pa.Table, config: Monitoring) -> tuple[pa.Table, LogWindow]:
    """The latest ``window.rows`` rows or ``window.days`` days of the logs (all rows without a window).

    With a timestamp column the rows are ordered by it first (rows without a time count as oldest);
    without one, file order is time order (files of a directory are read in name order).
    """
    window = config.window
    ts_name = config.timestamp
    info = LogWindow(config.logs, rows=0, total_rows=table.num_rows)
    micros: np.ndarray | None = None
    if ts_name:
        if ts_name not in table.column_names:
            raise UsageError(f"monitoring.timestamp: column '{ts_name}' is not in the logs")
        micros = timestamps_us(table.column(ts_name), ts_name)
        keyed = np.where(np.isnan(micros), -np.inf, micros)
        if len(keyed) > 1 and not bool(np.all(keyed[1:] >= keyed[:-1])):
            order = np.argsort(keyed, kind="stable")
            table = table.take(pa.array(order))
            micros = micros[order]
    if window.rows is not None:
        start = max(0, table.num_rows - window.rows)
        table = table.slice(start)
        micros = micros[start:] if micros is not None else None
        info.rows_limit = window.rows
    elif window.days is not None and micros is not None:
        latest = np.nanmax(micros) if np.isfinite(micros).any() else math.nan
        keep = micros >= latest - float(window.days) * 86_400e6
        table = table.filter(pa.array(keep))
        micros = micros[keep]
        info.days = float(window.days)
    if micros is not None and np.isfinite(micros).any():
        info.start = _iso(float(np.nanmin(micros)))
        info.end = _iso(float(np.nanmax(micros)))
    info.rows = table.num_rows
    return table, info


def _iso(micros: float) -> str:
    import datetime as dt

    moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
