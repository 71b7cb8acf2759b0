"""Mermaid ``xychart-beta`` charts that GitHub renders in comments. Pure: numbers in, text out.

Mermaid's chart grammar is narrower than it looks (checked with ``mermaid.parse`` in the test suite):
numbers must be plain decimals (``1e-05`` and ``1.5e+20`` are syntax errors), and a quoted title or
label may not contain ``"`` or be empty. Everything written into a chart goes through here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlops_gitops.reporters.markup import defang

SIGNIFICANT = 6


def number(value: float, digits: int = SIGNIFICANT) -> str:
    """``value`` with ``digits`` significant digits as a plain decimal: ``0.0000123``, ``1500000``."""
    if not math.isfinite(value):
        raise ValueError(f"cannot chart {value!r}")
    rounded = float(f"{value:.{digits}g}")
    exponent = math.floor(math.log10(abs(rounded))) if rounded else 0
    text = f"{rounded:.{max(0, digits - 1 - exponent)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def text(value: str) -> str:
    """A title or label Mermaid accepts inside double quotes. Titles carry metric names (repository
    text): no HTML for Mermaid to read (``<`` and ``>`` become look-alike angle quotes), and
    :func:`~mlops_gitops.reporters.markup.defang`, as the chart's source is part of a promotion
    pull request's body, from which a squash merge makes a commit message."""
    cleaned = " ".join(value.replace('"', "'").replace("<", "‹").replace(">", "›").split())
    return defang(cleaned) or "-"


def axis_range(values: Sequence[float]) -> tuple[str, str]:
    """A padded y-axis range whose two ends stay distinct once written."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.05 or 1.0
    for digits in range(SIGNIFICANT, 17):
        low, high = number(lo - pad, digits), number(hi + pad, digits)
        if low != high:
            return low, high
    return number(lo - 1.0), number(hi + 1.0)


def xychart(title: str, x_labels: Sequence[str], series: Sequence[Sequence[float]], y_label: str) -> str:
    """A fenced line chart: one ``line`` per series, each as long as ``x_labels``."""
    if not series or any(len(s) != len(x_labels) for s in series):
        raise ValueError("every series needs one value per x label")
    low, high = axis_range([v for s in series for v in s])
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{text(title)}"',
        "    x-axis [" + ", ".join(f'"{text(x)}"' for x in x_labels) + "]",
        f'    y-axis "{text(y_label)}" {low} --> {high}',
        *(f"    line [{', '.join(number(v) for v in s)}]" for s in series),
        "```",
    ]
    return "\n".join(lines) + "\n\n"
