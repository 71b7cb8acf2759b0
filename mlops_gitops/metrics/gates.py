"""Gate semantics: which rows a gate applies to, and whether a head value (against base) passes.

A gate's ``metric`` is a flattened key, or a pattern where ``*`` stands for exactly one dotted
segment (``per_class.*.recall``). A failing check returns the one-line reason shown to reviewers.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from mlops_gitops.manifest.model import Gate
from mlops_gitops.metrics.flatten import Scalar, number

# Floating-point slack so that 0.1 + 0.2 style noise never fails a gate set at the exact bound.
_EPS = 1e-12


@lru_cache(maxsize=256)
def _pattern(metric: str) -> re.Pattern[str]:
    return re.compile("[^.]+".join(re.escape(part) for part in metric.split("*")))


def matches(gate: Gate, file: str, key: str) -> bool:
    if gate.file is not None and gate.file != file:
        return False
    if not gate.is_pattern:
        return key == gate.metric
    return _pattern(gate.metric).fullmatch(key) is not None


def fmt(value: Scalar) -> str:
    """Numbers for humans: up to 5 significant digits (as DVC's --md), integers as they are."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == int(value) and abs(value) < 1e15:
            return str(int(value)) if abs(value) >= 1e5 else f"{value:g}"
        return f"{value:.5g}"
    return str(value)


def describe(gate: Gate) -> str:
    """``acc ↑ ≥ 0.8, regression ≤ 0.01 / 2%`` (the rule, not its outcome)."""
    parts: list[str] = []
    if gate.min is not None:
        parts.append(f"≥ {fmt(gate.min)}")
    if gate.max is not None:
        parts.append(f"≤ {fmt(gate.max)}")
    tolerance: list[str] = []
    if gate.regression_absolute is not None:
        tolerance.append(fmt(gate.regression_absolute))
    if gate.regression_relative is not None:
        tolerance.append(f"{gate.regression_relative * 100:g}%")
    if tolerance:
        parts.append("regression ≤ " + " and ≤ ".join(tolerance))
    arrow = "↑" if gate.direction == "higher" else "↓"
    return f"{arrow} " + ", ".join(parts) if parts else arrow


def better(gate: Gate, base: float, head: float) -> int:
    """1 if head is better than base for this gate's direction, -1 if worse, 0 if equal."""
    if head == base:
        return 0
    up = head > base
    return 1 if up == (gate.direction == "higher") else -1


def check(gate: Gate, base: Scalar, head: Scalar) -> str | None:
    """None when ``head`` passes ``gate``; otherwise why it fails, in one line."""
    if head is None:
        return "missing at head" if gate.required else None
    h = number(head)
    if h is None:
        return f"not numeric ({fmt(head)!s})"
    if math.isnan(h):
        return "head is NaN"
    if math.isinf(h):
        return f"head is {fmt(h)}"
    if gate.min is not None and h < gate.min - _EPS * max(1.0, abs(gate.min)):
        return f"{fmt(head)} < min {fmt(gate.min)}"
    if gate.max is not None and h > gate.max + _EPS * max(1.0, abs(gate.max)):
        return f"{fmt(head)} > max {fmt(gate.max)}"
    b = number(base)
    if b is None or not math.isfinite(b):
        return None
    worse = (b - h) if gate.direction == "higher" else (h - b)
    slack = _EPS * max(1.0, abs(b), abs(h))
    if gate.regression_absolute is not None and worse > gate.regression_absolute + slack:
        return f"regressed by {fmt(worse)} (allowed {fmt(gate.regression_absolute)})"
    if gate.regression_relative is not None and worse > gate.regression_relative * abs(b) + slack:
        share = worse / abs(b) * 100 if b else math.inf
        return f"regressed by {share:.3g}% (allowed {gate.regression_relative * 100:g}%)"
    return None


def badness(gate: Gate, head: Scalar) -> float:
    """How bad a head value is for this gate (larger is worse); used to pick the worst segment."""
    h = number(head)
    if h is None or not math.isfinite(h):
        return math.inf
    return -h if gate.direction == "higher" else h
