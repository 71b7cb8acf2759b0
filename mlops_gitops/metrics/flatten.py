"""Flatten parsed metrics and params files into ``{dotted.key: scalar}`` exactly as DVC 3 does.

DVC's own rules (``dvc.repo.metrics.show._extract_metrics`` + ``dvc.utils.diff``), which our JSON
output must reproduce number for number:

* metrics: nested dicts are joined with ``.``; numbers, strings and booleans are kept; lists, nulls
  and empty dicts are dropped (DVC cannot diff them); a file holding a bare scalar gives the key ``""``.
* params: lists become their Python ``str()`` (``"[1, 2]"``), everything else like metrics but
  nulls are kept. A mapping is never shown as a Python ``repr``: inside a list too it is flattened,
  with the item's index as a key (``layers.0.units``), where DVC would print ``"[{'units': 64}]"``.

Only numbers (``bool`` included, as in DVC) get a ``diff``; gates treat booleans as not numeric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

Scalar = int | float | str | bool | None


# Parsed files come from outside, unvalidated: everything is an ``object`` narrowed by isinstance.
def flatten_metrics(data: object) -> dict[str, Scalar]:
    if isinstance(data, (int, float, str)):
        return {"": data}
    out: dict[str, Scalar] = {}
    if isinstance(data, dict):
        _walk_metrics(data, "", out)
    return out


def _walk_metrics(node: Mapping[object, object], prefix: str, out: dict[str, Scalar]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _walk_metrics(value, name + ".", out)
        elif isinstance(value, (int, float, str)):
            out[name] = value


def flatten_params(data: object) -> dict[str, Scalar]:
    if isinstance(data, list) and _holds_mapping(data):
        data = dict(enumerate(data))
    if not isinstance(data, dict):
        return {} if data is None else {"": _param_scalar(data)}
    out: dict[str, Scalar] = {}
    _walk_params(data, "", out)
    return out


def _walk_params(node: Mapping[object, object], prefix: str, out: dict[str, Scalar]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if value:
                _walk_params(value, name + ".", out)
        elif isinstance(value, list) and _holds_mapping(value):
            _walk_params(dict(enumerate(value)), name + ".", out)
        else:
            out[name] = _param_scalar(value)


def _holds_mapping(value: list[object]) -> bool:
    return any(isinstance(v, dict) or (isinstance(v, list) and _holds_mapping(v)) for v in value)


def _param_scalar(value: object) -> Scalar:
    if isinstance(value, list):
        return str(value)
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def is_number(value: object) -> bool:
    """A real number a gate can judge: ints and floats, not booleans, not strings."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def dvc_diff(old: Scalar, new: Scalar) -> int | float | None:
    """The ``diff`` DVC prints: ``new - old`` when both are numbers (booleans too), else None."""
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return new - old
    return None


def same(old: Scalar, new: Scalar) -> bool:
    """Equality that treats NaN as equal to NaN (a metric that stays NaN did not change)."""
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    return (
        type(old) is type(new) and old == new
        if isinstance(old, bool) or isinstance(new, bool)
        else old == new
    )


def number(value: Scalar) -> float | None:
    """``value`` as a float when it is a real number (not a boolean), else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
