"""The manifest's data checks, run over pyarrow columns.

Each check builds one boolean "bad row" mask with ``pyarrow.compute`` (or numpy for uniqueness), so
the cost per check is a few vectorised passes over the column and never a Python loop over rows.
Nulls are never "bad" for a value check (type, allowed, range, pattern): missing values are what
``not_null`` is for, so a single empty cell is reported once, by the check that asks about it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops_gitops.adapters.jsontypes import JSONValue
from mlops_gitops.data.results import CheckResult, Example, FileResult
from mlops_gitops.manifest.sections import ColumnCheck, DataCheck

EXAMPLES = 5
SEGMENT_VALUES = 50

_INT = r"^\s*[+-]?\d+\s*$"
_NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?(inf|infinity|nan)\s*$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
_TRUE_WORDS = ["true", "1", "yes", "t", "y"]
_BOOL_WORDS = [*_TRUE_WORDS, "false", "0", "no", "f", "n"]


# --- value helpers -------------------------------------------------------------------------------


def json_value(value: object) -> JSONValue:
    """A JSON-safe rendering of one cell (NaN and infinities as strings, dates as ISO text)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value[:64]).decode()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def _column(table: pa.Table, name: str) -> pa.Array:
    # Kept chunked: every kernel used here takes chunked arrays, and combining would copy the column.
    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        return col.combine_chunks()
    return col


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_string(t.value_type)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_numeric(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _plain(arr: pa.Array) -> pa.Array:
    """Dictionary-encoded columns (Parquet categoricals) decoded, so every kernel accepts them."""
    if pa.types.is_dictionary(arr.type):
        return arr.dictionary_decode()
    return arr


def _text(arr: pa.Array) -> pa.Array:
    arr = _plain(arr)
    if _is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type):
        return pc.cast(arr, pa.string())
    try:
        return pc.cast(arr, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else str(v) for v in arr.to_pylist()], pa.string())


def _mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A pyarrow boolean result as a numpy mask with nulls counted as "not bad"."""
    filled = pc.fill_null(arr, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    result: np.ndarray = filled.to_numpy(zero_copy_only=False)
    return result


def _regex(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(arr, pattern)


def as_float(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Numeric view of a column as float64 (non-numbers become null) and the mask of non-numbers."""
    arr = _plain(arr)
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.float64()), np.zeros(len(arr), bool)
    if _is_numeric(t):
        return pc.cast(arr, pa.float64(), safe=False), np.zeros(len(arr), bool)
    if _is_string(t):
        ok = pc.fill_null(_regex(arr, _NUMBER), False)
        cleaned = pc.if_else(ok, pc.utf8_trim_whitespace(arr), pa.scalar(None, arr.type))
        try:
            values = pc.cast(cleaned, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = pa.array([None if v is None else float(v) for v in cleaned.to_pylist()], pa.float64())
        return values, _mask(pc.and_(pc.is_valid(arr), pc.invert(ok)))
    return pa.nulls(len(arr), pa.float64()), _mask(pc.is_valid(arr))


def as_bool(arr: pa.Array) -> pa.Array:
    """Boolean view of a column: true/false, 1/0, yes/no, t/f, y/n in any case; others null."""
    arr = _plain(arr)
    if pa.types.is_boolean(arr.type):
        return arr
    words = pc.utf8_lower(pc.utf8_trim_whitespace(_text(arr)))
    truth = pc.is_in(words, pa.array(_TRUE_WORDS))
    known = pc.is_in(words, pa.array(_BOOL_WORDS))
    return pc.if_else(known, truth, pa.scalar(None, pa.bool_()))


# --- type checks ---------------------------------------------------------------------------------


def type_violations(arr: pa.Array, expected: str, text_format: bool) -> np.ndarray:
    """Rows whose value is not of the ``expected`` manifest type.

    CSV cells are all text, so in a CSV a string column accepts anything and a number column
    accepts numeric text; Parquet and JSON Lines carry real types, so there the stored type counts.
    """
    arr = _plain(arr)
    t = arr.type
    valid = pc.is_valid(arr)
    none = np.zeros(len(arr), bool)
    if pa.types.is_null(t):
        return none
    if expected == "string":
        if text_format or _is_string(t):
            return none
        return _mask(valid)
    if expected == "int":
        if pa.types.is_integer(t):
            return none
        if pa.types.is_floating(t):
            finite = pc.is_finite(arr)
            integral = pc.and_(finite, pc.equal(pc.floor(arr), arr))
            return _mask(pc.and_(valid, pc.invert(pc.fill_null(integral, False))))
        if pa.types.is_decimal(t):
            return _mask(pc.and_(valid, pc.not_equal(pc.cast(pc.floor(arr), t), arr)))
        if _is_string(t) and text_format:
            return _mask(pc.and_(valid, pc.invert(_regex(arr, _INT))))
        return _mask(valid)
    if expected in ("float", "number"):
        if _is_numeric(t):
            return none
        if _is_string(t) and text_format:
            return _mask(pc.and_(valid, pc.invert(_regex(arr, _NUMBER))))
        return _mask(valid)
    if expected == "bool":
        if pa.types.is_boolean(t):
            return none
        if pa.types.is_integer(t):
            return _mask(pc.and_(valid, pc.invert(pc.is_in(arr, pa.array([0, 1], t)))))
        if _is_string(t) and text_format:
            words = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
            return _mask(pc.and_(valid, pc.invert(pc.is_in(words, pa.array(_BOOL_WORDS)))))
        return _mask(valid)
    if expected == "datetime":
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            return none
        if _is_string(t):
            shaped = _regex(arr, _ISO_DATETIME)
            date_part = pc.utf8_slice_codeunits(arr, 0, 10)
            day = pc.strptime(date_part, format="%Y-%m-%d", unit="s", error_is_null=True)
            # strptime rolls 2024-02-30 over to March 1st; printing it back catches impossible dates.
            real = pc.equal(pc.strftime(day, format="%Y-%m-%d"), date_part)
            good = pc.and_(pc.fill_null(shaped, False), pc.fill_null(real, False))
            return _mask(pc.and_(valid, pc.invert(good)))
        return _mask(valid)
    raise ValueError(f"unknown type {expected!r}")


# --- the checks ----------------------------------------------------------------------------------


def _result(
    check: str, column: str | None, bad: np.ndarray, original: pa.Array | None, message: str
) -> CheckResult:
    count = int(bad.sum())
    examples: list[Example] = []
    if count:
        rows = np.flatnonzero(bad)[:EXAMPLES]
        values = original.take(pa.array(rows)).to_pylist() if original is not None else [None] * len(rows)
        examples = [{"row": int(r) + 1, "value": json_value(v)} for r, v in zip(rows, values, strict=True)]
    return CheckResult(check, column, count == 0, count, message if count else "", examples)


def _allowed_mask(arr: pa.Array, allowed: list[object]) -> np.ndarray:
    arr = _plain(arr)
    t = arr.type
    valid = pc.is_valid(arr)
    if pa.types.is_boolean(t) or (allowed and all(isinstance(v, bool) for v in allowed)):
        bools = [v for v in allowed if isinstance(v, bool)]
        bools += [
            v.lower() == "true" for v in allowed if isinstance(v, str) and v.lower() in ("true", "false")
        ]
        inside = pc.is_in(as_bool(arr), pa.array(bools, pa.bool_()))
    elif _is_numeric(t):
        numbers = []
        for v in allowed:
            if isinstance(v, bool):
                continue
            if isinstance(v, (int, float)):
                numbers.append(float(v))
            elif isinstance(v, str):
                with contextlib.suppress(ValueError):
                    numbers.append(float(v))
        values, _ = as_float(arr)
        inside = pc.is_in(values, pa.array(numbers, pa.float64()))
    else:
        words = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in allowed]
        inside = pc.is_in(_text(arr), pa.array(words, pa.string()))
    return _mask(pc.and_(valid, pc.invert(inside)))


def _pattern_mask(arr: pa.Array, pattern: str) -> np.ndarray:
    text = _text(arr)
    try:
        matched = _regex(text, f"^(?:{pattern})$")
    except pa.ArrowInvalid:
        # RE2 (pyarrow's engine) has no look-arounds or back-references; Python's re takes those,
        # applied once per distinct value rather than once per row.
        compiled = re.compile(pattern)
        uniques = pc.unique(text).drop_null()
        good = [u for u in uniques.to_pylist() if compiled.fullmatch(u)]
        matched = pc.is_in(text, pa.array(good, pa.string()))
    return _mask(pc.and_(pc.is_valid(text), pc.invert(matched)))


def _codes(arr: pa.Array, nulls_are_values: bool) -> tuple[np.ndarray, int]:
    """Dense integer codes per distinct value (-1 for null unless nulls count as a value)."""
    if pa.types.is_null(arr.type):  # an all-empty column: one value (null) or none
        return np.full(len(arr), 0 if nulls_are_values else -1, np.int64), int(nulls_are_values)
    encoded = pc.dictionary_encode(_plain(arr), null_encoding="encode" if nulls_are_values else "mask")
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    indices = encoded.indices
    codes: np.ndarray = pc.fill_null(indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, len(encoded.dictionary)


def duplicate_mask(arrays: list[pa.Array]) -> np.ndarray:
    """Rows whose value (or combination of values) occurs more than once.

    A single column ignores nulls (that is ``not_null``'s job); a combination treats null as a
    value, like ``pandas.DataFrame.duplicated``.
    """
    if len(arrays) == 1:
        codes, size = _codes(arrays[0], nulls_are_values=False)
        present = codes >= 0
        counts = np.bincount(codes[present], minlength=size)
        bad = np.zeros(len(codes), bool)
        bad[present] = counts[codes[present]] > 1
        return bad
    key = np.zeros(len(arrays[0]), np.int64)
    span = 1
    for arr in arrays:
        codes, size = _codes(arr, nulls_are_values=True)
        size = max(size, 1)
        if span * size >= 2**62:
            # Re-number the combined key densely before it can overflow int64.
            _, key = np.unique(key, return_inverse=True)
            key = key.astype(np.int64)
            span = int(key.max()) + 1 if len(key) else 1
        key = key * size + codes
        span *= size
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    result: np.ndarray = counts[inverse] > 1
    return result


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(x)


def check_column(arr: pa.Array, name: str, spec: ColumnCheck, text_format: bool) -> list[CheckResult]:
    """Every check the manifest asks of one present column."""
    results: list[CheckResult] = []
    expected = spec.type
    if expected:
        bad = type_violations(arr, expected, text_format)
        results.append(_result("type", name, bad, arr, f"values are not of type {expected}"))
    if spec.not_null:
        bad = _mask(pc.is_null(_plain(arr), nan_is_null=True))
        results.append(_result("not_null", name, bad, arr, "missing values"))
    if spec.not_empty:
        plain = _plain(arr)
        if _is_string(plain.type):
            bad = _mask(pc.equal(pc.utf8_trim_whitespace(plain), ""))
        else:
            bad = np.zeros(len(arr), bool)
        results.append(_result("not_empty", name, bad, arr, "empty or blank strings"))
    if spec.unique:
        bad = duplicate_mask([arr])
        results.append(_result("unique", name, bad, arr, "values occur more than once"))
    if spec.allowed is not None:
        bad = _allowed_mask(arr, list(spec.allowed))
        shown = ", ".join(json.dumps(json_value(v), ensure_ascii=False) for v in spec.allowed[:10])
        more = ", ..." if len(spec.allowed) > 10 else ""
        results.append(_result("allowed", name, bad, arr, f"values outside the allowed set [{shown}{more}]"))
    if spec.min is not None or spec.max is not None:
        values, not_numbers = as_float(arr)
        # With a numeric type declared, non-numbers are already the type check's finding.
        numeric_type = expected in ("int", "float", "number")
        bad = np.zeros(len(arr), bool) if numeric_type else not_numbers.copy()
        if spec.min is not None:
            bad |= _mask(pc.less(values, float(spec.min)))
        if spec.max is not None:
            bad |= _mask(pc.greater(values, float(spec.max)))
        bad |= _mask(pc.is_nan(values))
        low = _fmt(spec.min) if spec.min is not None else "-inf"
        high = _fmt(spec.max) if spec.max is not None else "inf"
        what = f"values outside [{low}, {high}]" + ("" if numeric_type else " or not numbers")
        results.append(_result("range", name, bad, arr, what))
    if spec.pattern is not None:
        bad = _pattern_mask(arr, spec.pattern)
        results.append(_result("pattern", name, bad, arr, f"values do not match /{spec.pattern}/"))
    return results


def segment_counts(arr: pa.Array) -> dict[str, int]:
    """Rows per segment value, the largest first; beyond SEGMENT_VALUES the rest are summed."""
    counts = pc.value_counts(_plain(arr))
    values = counts.field("values").to_pylist()
    numbers = counts.field("counts").to_numpy()
    order = np.argsort(-numbers, kind="stable")
    result: dict[str, int] = {}
    for i in order[:SEGMENT_VALUES]:
        value = values[i]
        key = "(null)" if value is None else str(json_value(value))
        result[key] = result.get(key, 0) + int(numbers[i])
    rest = order[SEGMENT_VALUES:]
    if len(rest):
        result[f"(other {len(rest)} values)"] = int(numbers[rest].sum())
    return result


def string_columns(spec: DataCheck) -> list[str]:
    """Columns to read as text from a CSV: those whose text itself is checked (type string, pattern)."""
    return [
        name
        for name, col in spec.columns.items()
        if col.type == "string" or (col.pattern is not None and col.type in (None, "string"))
    ]


def run_checks(table: pa.Table, spec: DataCheck, path: str, fmt: str) -> FileResult:
    """All checks of one manifest ``data.checks`` entry over one file's table."""
    rows = table.num_rows
    names = set(table.column_names)
    results: list[CheckResult] = []
    none = np.zeros(rows, bool)

    if spec.min_rows is not None and rows < spec.min_rows:
        results.append(
            CheckResult("rows", None, False, 0, f"{rows} rows, fewer than min_rows {spec.min_rows}")
        )
    elif spec.max_rows is not None and rows > spec.max_rows:
        results.append(
            CheckResult("rows", None, False, 0, f"{rows} rows, more than max_rows {spec.max_rows}")
        )
    elif spec.min_rows is not None or spec.max_rows is not None:
        results.append(CheckResult("rows", None, True, 0))

    for name, col_spec in spec.columns.items():
        if name not in names:
            if col_spec.required:
                results.append(
                    CheckResult("required", name, False, rows, f"column is missing{_near(name, names)}")
                )
            continue
        if col_spec.required:
            results.append(CheckResult("required", name, True))
        results.extend(check_column(_column(table, name), name, col_spec, fmt == "csv"))

    combination = list(spec.unique)
    if combination:
        label = ", ".join(combination)
        missing = [c for c in combination if c not in names]
        if missing:
            results.append(
                CheckResult("unique_combination", label, False, rows, f"column {missing[0]} is missing")
            )
        else:
            bad = duplicate_mask([_column(table, c) for c in combination]) if rows else none
            results.append(
                _result("unique_combination", label, bad, None, "rows repeat the same combination")
            )
            if results[-1].examples:
                taken = table.select(combination).take(pa.array([e["row"] - 1 for e in results[-1].examples]))
                for example, row in zip(results[-1].examples, taken.to_pylist(), strict=True):
                    example["value"] = {k: json_value(v) for k, v in row.items()}

    segments: dict[str, dict[str, int]] = {}
    for name in spec.segments:
        if name not in names:
            results.append(
                CheckResult("segment", name, False, rows, f"segment column is missing{_near(name, names)}")
            )
            continue
        segments[name] = segment_counts(_column(table, name))
        results.append(CheckResult("segment", name, True))
    return FileResult(path, fmt, rows, results, segments)


def _near(name: str, names: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
