"""Mermaid ``xychart-beta`` charts that GitHub renders in comments. Pure: numbers in, text out.

Mermaid's chart grammar is narrower than it looks (checked with ``mermaid.parse`` in the test suite):
numbers must be plain decimals (``1e-05`` and ``1.5e+20`` are syntax errors), and a quoted title or
label may not contain ``"`` or be empty. Everything written into a chart goes through here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from mlops_gitops.reporters.markup import JOINER, defang

SIGNIFICANT = 6
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_COMMENT = re.compile(r"%(?=%)")


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
    text): no HTML for Mermaid to read (``<`` and ``>`` become look-alike angle quotes), no ``%%``
    (Mermaid's comment mark: a word joiner goes between the two), and
    :func:`~mlops_gitops.reporters.markup.defang`, as the chart's source is part of a promotion
    pull request's body, from which a squash merge makes a commit message."""
    cleaned = " ".join(value.replace('"', "'").replace("<", "‹").replace(">", "›").split())
    # Mermaid refuses a quoted title or label that starts with "%%" (its comment mark): a joiner splits it.
    return _COMMENT.sub("%" + JOINER, defang(cleaned)) or "-"


def axis_range(values: Sequence[float], *, pad: bool = True) -> tuple[str, str]:
    """An axis range whose two ends stay distinct once written: padded by a tenth of the spread for a
    y-axis; exactly the data's ends for a numeric x-axis (``pad=False``), where Mermaid spaces the
    points evenly between the two."""
    lo, hi = min(values), max(values)
    spread = (hi - lo) * 0.1 or abs(hi) * 0.05 or 1.0
    margin = spread if pad or lo == hi else 0.0
    for digits in range(SIGNIFICANT, 17):
        low, high = number(lo - margin, digits), number(hi + margin, digits)
        if low != high:
            return low, high
    return number(lo - 1.0), number(hi + 1.0)


def xychart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Sequence[float]],
    y_label: str,
    *,
    x_axis: tuple[str, float, float] | None = None,
    colors: Sequence[str] = (),
    kind: str = "line",
    y_range: tuple[float, float] | None = None,
) -> str:
    """A fenced chart: one ``line`` (or, with ``kind="bar"``, one ``bar``) per series, each as long as
    ``x_labels``; or, with ``x_axis`` (label, first, last) instead of labels, over a numeric x-axis on
    which Mermaid spaces the values evenly from first to last. ``colors`` (``#rrggbb``, one per
    series) set the lines' colours. ``y_range`` fixes the y-axis (bars grow from its low end); a bar
    below it is not drawn at all (Mermaid gives it a negative height, which SVG does not draw, where
    a value at the low end still shows a sliver); by default the axis is padded around the values."""
    if kind not in ("line", "bar"):
        raise ValueError(f"a chart draws lines or bars, not {kind!r}")
    count = len(series[0]) if series else 0
    if x_axis is None and not x_labels:
        raise ValueError("a chart needs x labels or a numeric x-axis")
    if not series or any(len(s) != (len(x_labels) if x_axis is None else count) for s in series):
        raise ValueError("every series needs one value per x label")
    if any(not _COLOR.fullmatch(c) for c in colors):
        raise ValueError(f"colours must be #rrggbb: {list(colors)}")
    if y_range is None:
        low, high = axis_range([v for s in series for v in s])
    else:
        if not y_range[0] < y_range[1] or any(v > y_range[1] for s in series for v in s):
            raise ValueError(f"y_range {y_range} must reach every value, low end first")
        low, high = number(y_range[0]), number(y_range[1])
    if x_axis is None:
        x_line = "    x-axis [" + ", ".join(f'"{text(x)}"' for x in x_labels) + "]"
    else:
        first, last = axis_range([x_axis[1], x_axis[2]], pad=False)
        x_line = f'    x-axis "{text(x_axis[0])}" {first} --> {last}'
    palette = ", ".join(colors)
    lines = [
        "```mermaid",
        *(
            [f'%%{{init: {{"themeVariables": {{"xyChart": {{"plotColorPalette": "{palette}"}}}}}}}}%%']
            if colors
            else []
        ),
        "xychart-beta",
        f'    title "{text(title)}"',
        x_line,
        f'    y-axis "{text(y_label)}" {low} --> {high}',
        *(f"    {kind} [{', '.join(number(v) for v in s)}]" for s in series),
        "```",
    ]
    return "\n".join(lines) + "\n\n"
