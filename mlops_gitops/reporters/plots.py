"""The project's DVC plots in the PR comment, base beside head, as GitHub renders them: Mermaid charts
and Markdown tables, no image hosting. Pure: :class:`~mlops_gitops.metrics.plots.Plots` in, text out.

- Line-like templates (``linear``, ``simple``, ``smooth``, ``scatter``, a custom template) and
  ``bar_horizontal``: a Mermaid ``xychart-beta`` per (file, column), base and head in grey and orange
  (Mermaid draws no legend: the line above the chart says which is which). A numeric x (an ROC
  curve's false-positive rate, a precision-recall curve's recall, training steps) is two lines over
  one evenly spaced grid, which is what Mermaid's numeric x-axis assumes, so both line up. A
  categorical x (per-class scores: categories have no order, so no line joins them), or a numeric x
  of fewer than :data:`MIN_LINE_POINTS` values, is bars: each category's base bar beside its head
  bar, growing from zero (from the lowest value when some are negative).
- ``confusion`` and ``confusion_normalized``: a table of counts, rows actual and columns predicted,
  for head, with the change from base in each cell.
- Images: listed by name, linked to the workflow run's artifact when the report is given its URL.

A plot that changed (or exists at one side only) is drawn in the open, under a heading: it is what a
reviewer came for. One that did not change, or could not be read, is folded in a ``<details>``.

Every series keeps at most :data:`MAX_POINTS` points, and always its lowest and highest value
(:func:`resample`, :func:`keep_indices`). Titles, file and column names, and category labels come
from the repository: they go through :mod:`~mlops_gitops.reporters.markup` and
:func:`mlops_gitops.reporters.mermaid.text`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from mlops_gitops.metrics.gates import fmt
from mlops_gitops.metrics.plots import (
    BAR,
    BASE,
    CONFUSION,
    HEAD,
    IMAGE,
    INFERRED_PREFIX,
    SIDES,
    Datum,
    Plot,
    Plots,
    Series,
)
from mlops_gitops.reporters import mermaid
from mlops_gitops.reporters.markup import cell, html, message, span, text

MAX_POINTS = 100  # per series and chart
MAX_CHARTS = 6  # per plot: one per (file, column)
MAX_CLASSES = 25  # rows and columns of a confusion table
MAX_CATEGORIES = 30  # categories of a bar chart (two bars each when base and head both have them)
MIN_LINE_POINTS = 3  # fewer x values than this are bars: two points joined by a line say nothing more
LABEL_CHARS = 40  # a category label on the x-axis
# Grey base, orange head: readable on GitHub's light and dark themes. No digit after the "#": in the
# raw text (a squash merge can make a commit message of a body) "#1f..." reads as an issue reference.
COLORS = {BASE: "#afb8c1", HEAD: "#e36209"}
COLOR_NAMES = {BASE: "grey", HEAD: "orange"}

STATUS_TEXT = {
    "changed": "changed",
    "unchanged": "unchanged",
    "new": "only at head (new)",
    "removed": "only at base (gone at head)",
    "partial": "one side only",
    "unavailable": "not available",
}
ICONS = {"changed": "🔄", "unchanged": "⚪", "new": "🆕", "removed": "➖", "partial": "⚠️", "unavailable": "⚠️"}
# What a reviewer should see without a click: the plot moved, appeared, went, or one side is missing.
EXPANDED = frozenset({"changed", "new", "removed", "partial"})
# Names of a confusion matrix's axes, to put the actual class in rows whichever of x and y it is.
_ACTUAL = re.compile(r"actual|true|truth|target|label|gold|expected|y_test", re.IGNORECASE)
_PREDICTED = re.compile(r"pred", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------------
# Numbers: what a chart can draw, resampled and downsampled.


def number(value: Datum) -> float | None:
    """A finite number from a datapoint (CSV cells are text), else None; booleans are not numbers."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        out = float(value)
    else:
        try:
            out = float(value.strip())
        except ValueError:
            return None
    return out if math.isfinite(out) else None


def _evenly_spaced(xs: Sequence[float]) -> bool:
    step = (xs[-1] - xs[0]) / (len(xs) - 1)
    return all(abs((b - a) - step) <= 1e-9 * abs(xs[-1] - xs[0]) for a, b in pairwise(xs))


def resample(
    curves: Sequence[Sequence[tuple[float, float]]], limit: int = MAX_POINTS
) -> tuple[list[float], list[list[float]]]:
    """One evenly spaced x grid over every curve's points, and each curve's y on it.

    The grid runs from the smallest to the largest x of all curves, with at most ``limit`` points (the
    x values themselves when they are evenly spaced and few enough). A curve's y at a grid point is
    interpolated linearly between its neighbours (at an x it repeats, as an ROC curve does, its last
    point there), held at its first or last value outside its own x range, and its lowest and highest
    y are kept: each is put on the grid point nearest its x, so no peak falls between grid points.
    Every curve needs a point, and all of them together two distinct x values."""
    if limit < 2:
        raise ValueError("a grid needs at least two points")
    xs = sorted({x for curve in curves for x, _ in curve})
    if len(xs) < 2 or any(not curve for curve in curves):
        raise ValueError("resampling needs points, at two distinct x values at least")
    lo, hi = xs[0], xs[-1]
    if len(xs) <= limit and _evenly_spaced(xs):
        grid = xs
    else:
        grid = [lo + (hi - lo) * i / (limit - 1) for i in range(limit)]
        grid[-1] = hi
    return grid, [_on_grid(curve, grid) for curve in curves]


def _on_grid(curve: Sequence[tuple[float, float]], grid: list[float]) -> list[float]:
    points = sorted(curve, key=lambda p: p[0])  # stable: repeated x keep the file's order
    cx, cy = [p[0] for p in points], [p[1] for p in points]
    values = []
    for g in grid:
        i = bisect_right(cx, g)
        if i == 0:
            values.append(cy[0])
        elif i == len(cx):
            values.append(cy[-1])
        else:
            (x0, y0), (x1, y1) = points[i - 1], points[i]
            y = y0 + (y1 - y0) * (g - x0) / (x1 - x0)
            values.append(min(max(y, min(y0, y1)), max(y0, y1)))  # no rounding past either end
    low = min(range(len(cy)), key=lambda k: cy[k])
    high = max(range(len(cy)), key=lambda k: cy[k])
    taken = _nearest(grid, cx[low])
    values[taken] = cy[low]
    if cy[high] != cy[low]:
        spot = _nearest(grid, cx[high])
        if spot == taken:  # both extremes nearest one grid point: the highest moves next to it
            spot = spot + 1 if (cx[high] >= grid[spot] and spot + 1 < len(grid)) or spot == 0 else spot - 1
        values[spot] = cy[high]
    return values


def _nearest(grid: list[float], x: float) -> int:
    i = bisect_right(grid, x)
    if i == 0:
        return 0
    if i == len(grid):
        return len(grid) - 1
    return i if grid[i] - x < x - grid[i - 1] else i - 1


def keep_indices(n: int, series: Sequence[Sequence[float]], limit: int = MAX_POINTS) -> list[int]:
    """Which of ``n`` points to draw: all when ``n <= limit``; else the first, the last, each series'
    lowest and highest, and evenly spaced others up to ``limit`` (more only when the extremes alone
    exceed it). Sorted, so the points keep their order."""
    if n <= limit:
        return list(range(n))
    chosen = {0, n - 1}
    for values in series:
        chosen.add(min(range(n), key=lambda k: values[k]))
        chosen.add(max(range(n), key=lambda k: values[k]))
    k = 0
    while len(chosen) < limit and k < limit:
        chosen.add(round(k * (n - 1) / (limit - 1)))
        k += 1
    return sorted(chosen)


# ---------------------------------------------------------------------------------------------------
# Rendering.


@dataclass
class Rendered:
    """The plots as Markdown: what always shows (the heading's notes, the list of images) and one
    block per plot, the changed ones first and drawn in the open, the others each in a ``<details>``;
    the report drops blocks (last first) before it cuts any table."""

    lead: str
    blocks: list[str] = field(default_factory=list)
    expanded: int = 0  # how many of ``blocks``, from the first, are drawn in the open


def render(plots: Plots, base: str, head: str, artifact_url: str | None = None) -> Rendered:
    """``base`` and ``head`` are the revisions as the report names them."""
    labels = {BASE: base, HEAD: head}
    lead: list[str] = []
    if plots.error:
        lead.append(f"> [!WARNING]\n> The plots could not be read: {message(plots.error, table=False)}\n")
    for side, reason in plots.errors.items():
        lead.append(
            f"> [!WARNING]\n> The plots at {side} ({span(labels[side])}) could not be read: {message(reason, table=False)}\n"
        )
    images = [p for p in plots.plots if p.kind == IMAGE]
    if images:
        lead.append(_images(images, artifact_url))
    drawn = [p for p in plots.plots if p.kind != IMAGE]
    opened = [p for p in drawn if p.status in EXPANDED]
    folded = [p for p in drawn if p.status not in EXPANDED]
    blocks = [_block(p, labels, expanded=True) for p in opened]
    blocks += [_block(p, labels, expanded=False) for p in folded]
    return Rendered("\n".join(lead), blocks, len(opened))


def _what(plot: Plot) -> str:
    what = STATUS_TEXT[plot.status]
    for side in SIDES:
        if side in plot.errors and plot.side(side) is None:
            what += f"; not available at {side}"
    return what


def _summary(plot: Plot) -> str:
    return f"<details><summary>{ICONS[plot.status]} {html(plot.title)} · {_what(plot)}</summary>\n\n"


def _heading(plot: Plot) -> str:
    return f"#### {ICONS[plot.status]} {text(plot.title)} · {_what(plot)}\n\n"


def _unavailable(plot: Plot, labels: dict[str, str]) -> list[str]:
    return [
        f"*Not available at {side} ({span(labels[side])}): {message(plot.errors[side], table=False)}*\n"
        for side in SIDES
        if side in plot.errors
    ]


def _block(plot: Plot, labels: dict[str, str], *, expanded: bool) -> str:
    body = _unavailable(plot, labels)
    if plot.base is None and plot.head is None:
        body.append("*No data at either revision.*\n")
    elif plot.kind == CONFUSION:
        body += _confusion(plot, labels)
    else:
        body += _lines(plot, labels)
    if expanded:
        return _heading(plot) + "\n".join(body) + "\n"
    return _summary(plot) + "\n".join(body) + "\n</details>\n"


def _series_keys(plot: Plot) -> list[tuple[str, str]]:
    keys: dict[tuple[str, str], None] = {}
    for side in (HEAD, BASE):
        found = plot.side(side)
        for s in found.series if found is not None else ():
            keys.setdefault((s.file, s.field), None)
    return list(keys)


def _find(plot: Plot, side: str, key: tuple[str, str]) -> Series | None:
    found = plot.side(side)
    return next((s for s in found.series if (s.file, s.field) == key), None) if found else None


def _legend(drawn: list[str], labels: dict[str, str]) -> str:
    parts = [f"{COLOR_NAMES[s]}: {s} {span(labels[s])}" for s in drawn]
    only = "" if len(drawn) == 2 else f"only at {drawn[0]}; "
    return f"*{only}{' · '.join(parts)}*"


def _lines(plot: Plot, labels: dict[str, str]) -> list[str]:
    keys = _series_keys(plot)
    out: list[str] = []
    files = {f for f, _ in keys}
    for key in keys[:MAX_CHARTS]:
        file, column = key
        title = plot.title if len(keys) == 1 else f"{plot.title} · {column}"
        if len(keys) > 1 and len(files) > 1:
            title += f" ({file})"
        y_label = plot.y_label if len(keys) == 1 else column
        pairs: dict[str, list[tuple[Datum, Datum]]] = {}
        for side in SIDES:
            s = _find(plot, side, key)
            if s is not None:
                points = list(zip(s.x, s.y, strict=False))
                pairs[side] = [(y, x) for x, y in points] if plot.kind == BAR else points
        x_label = plot.x_label
        if plot.kind == BAR:  # DVC's horizontal bars: the value is x, the category y
            x_label, y_label = plot.y_label, (plot.x_label if len(keys) == 1 else column)
        chart, notes = _chart(title, x_label, y_label, pairs)
        drawn = [s for s in SIDES if s in pairs]
        out.append(
            f"{_legend(drawn, labels)} · {span(file)}" + (f" · {span(column)}" if len(keys) > 1 else "")
        )
        out += [f"*{n}*" for n in notes]
        out.append("")
        if chart:
            out.append(chart)
    if len(keys) > MAX_CHARTS:
        left = ", ".join(span(f"{f}: {c}") for f, c in keys[MAX_CHARTS:])
        out.append(f"*{len(keys) - MAX_CHARTS} more series not drawn: {left}*\n")
    return out


def _chart(
    title: str, x_label: str, y_label: str, pairs: dict[str, list[tuple[Datum, Datum]]]
) -> tuple[str, list[str]]:
    """One chart of a (file, column) over the sides that have it, and notes on what it leaves out."""
    notes: list[str] = []
    numeric: dict[str, list[tuple[Datum, float]]] = {}
    for side, points in pairs.items():
        kept = [(x, y) for x, raw in points if (y := number(raw)) is not None]
        if len(kept) < len(points):
            notes.append(f"{len(points) - len(kept)} point(s) at {side} have no number to draw")
        if kept:
            numeric[side] = kept
    if not numeric:
        return "", notes
    xs = {number(x) for points in numeric.values() for x, _ in points}
    drawn = [s for s in SIDES if s in numeric]
    colors = [COLORS[s] for s in drawn]
    if None not in xs and len(xs) >= MIN_LINE_POINTS:
        curves = [[(nx, y) for x, y in numeric[s] if (nx := number(x)) is not None] for s in drawn]
        grid, values = resample(curves)
        lo, hi = grid[0], grid[-1]
        for side, curve in zip(drawn, curves, strict=True):
            first, last = min(x for x, _ in curve), max(x for x, _ in curve)
            if first > lo or last < hi:
                extent = f"{mermaid.number(first)} to {mermaid.number(last)}"
                notes.append(f"{side} spans {cell(x_label)} {extent} only, and is drawn flat beyond")
        chart = mermaid.xychart(title, [], values, y_label, x_axis=(x_label, lo, hi), colors=colors)
        return chart, notes
    # Categories (or too few x values for a line): a label repeated within a side is a new category
    # ("a", "a" #2 ...).
    keyed: dict[str, dict[tuple[str, int], float]] = {}
    order: dict[tuple[str, int], None] = {}
    for side in (HEAD, BASE):
        if side not in numeric:
            continue
        seen: Counter[str] = Counter()
        keyed[side] = {}
        for x, y in numeric[side]:
            label = _label(x)
            keyed[side][(label, seen[label])] = y
            order.setdefault((label, seen[label]), None)
            seen[label] += 1
    common = [k for k in order if all(k in keyed[s] for s in drawn)]
    shared = set(common)
    for side in drawn:
        alone = [k for k in order if k in keyed[side] and k not in shared]
        if alone:
            names = ", ".join(span(k[0]) for k in alone[:10]) + (" ..." if len(alone) > 10 else "")
            notes.append(f"only at {side}, not drawn: {names}")
    if not common:
        return "", notes
    rows = [[keyed[s][k] for k in common] for s in drawn]
    keep = keep_indices(len(common), rows, MAX_CATEGORIES)
    if len(keep) < len(common):
        notes.append(
            f"{len(common) - len(keep)} of {len(common)} categories left out (the lowest and highest kept)"
        )
    return _bars(
        title, [_short(common[i][0]) for i in keep], drawn, [[r[i] for i in keep] for r in rows], y_label
    ), notes


def _bars(title: str, categories: list[str], drawn: list[str], rows: list[list[float]], y_label: str) -> str:
    """Bars per category, base beside head. Mermaid draws every bar series over the same slots, so
    with two sides each category has two slots (``setosa: base``, ``setosa: head``) and each series
    holds a value below the axis, which draws no bar, in the other side's slots. Bars grow from the
    axis' low end: zero, unless a value is negative."""
    values = [v for row in rows for v in row]
    bottom, top = min(values), max(values)
    low = 0.0 if bottom >= 0 else bottom - (top - bottom) * 0.1 - abs(bottom) * 0.05
    high = top + (top - low) * 0.05 if top > low else low + 1.0
    if len(drawn) == 1:
        labels, series = categories, rows
    else:
        labels = [f"{c}: {side}" for c in categories for side in drawn]
        none = low - (high - low) * 0.25  # below the axis: no bar, not even a sliver
        series = [
            [row[i] if j == k else none for i in range(len(categories)) for j in range(len(drawn))]
            for k, row in enumerate(rows)
        ]
    colors = [COLORS[s] for s in drawn]
    return mermaid.xychart(title, labels, series, y_label, colors=colors, kind="bar", y_range=(low, high))


def _label(value: Datum) -> str:
    """A category as text: ``1.0`` and ``1`` are the same class, as are ``"1"`` from a CSV."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _confusion(plot: Plot, labels: dict[str, str]) -> list[str]:
    out: list[str] = []
    keys = _series_keys(plot)
    x_field = plot.x_label if plot.x.startswith(INFERRED_PREFIX) else plot.x
    normalized = plot.template == "confusion_normalized"
    for key in keys[:MAX_CHARTS]:
        y_field = key[1]
        # DVC draws y down the side (rows) and x along the top; the actual class goes in rows.
        transpose = bool(_ACTUAL.search(x_field) and not _ACTUAL.search(y_field)) or bool(
            _PREDICTED.search(y_field) and not _PREDICTED.search(x_field)
        )
        row_field, col_field = (x_field, y_field) if transpose else (y_field, x_field)
        counts: dict[str, Counter[tuple[str, str]]] = {}
        for side in SIDES:
            s = _find(plot, side, key)
            if s is not None:
                pairs = [(_label(x), _label(y)) for x, y in zip(s.x, s.y, strict=False)]
                counts[side] = Counter((x, y) if transpose else (y, x) for x, y in pairs)
        drawn = [s for s in SIDES if s in counts]
        main = HEAD if HEAD in counts else BASE
        classes = list(dict.fromkeys(c for side in drawn for pair in counts[side] for c in pair))
        classes.sort(key=_class_order)
        caption = (
            f"{span(key[0])} · rows (actual): {span(row_field)} · columns (predicted): {span(col_field)}"
        )
        if len(drawn) == 2:
            caption += f" · {HEAD} {span(labels[HEAD])}, change from {BASE} {span(labels[BASE])} in brackets"
        else:
            caption += f" · only at {main} {span(labels[main])}"
        out += [caption, ""]
        if len(classes) > MAX_CLASSES:
            totals: Counter[str] = Counter()
            for (r, c), n in counts[main].items():
                totals[r] += n
                totals[c] += n
            kept = {c for c, _ in totals.most_common(MAX_CLASSES)}
            out += [f"*{len(classes) - MAX_CLASSES} of {len(classes)} classes left out (the rarest)*", ""]
            classes = [c for c in classes if c in kept]
        out.append(
            f"| {cell(row_field)} ↓ · {cell(col_field)} → | " + " | ".join(cell(c) for c in classes) + " |"
        )
        out.append("| --- |" + " ---: |" * len(classes))
        for r in classes:
            row_total = sum(counts[main][(r, c)] for c in classes)
            cells = []
            for c in classes:
                n = counts[main][(r, c)]
                shown = f"**{n}**" if r == c else str(n)
                if len(drawn) == 2:
                    d = n - counts[BASE][(r, c)]
                    shown += f" ({d:+d})" if d else ""
                if normalized and row_total:
                    shown += f" · {n / row_total:.0%}"
                cells.append(shown)
            out.append(f"| **{cell(r)}** | " + " | ".join(cells) + " |")
        out.append("")
        parts = []
        for side in [HEAD, BASE] if len(drawn) == 2 else [main]:
            total = sum(counts[side].values())
            right = sum(n for (r, c), n in counts[side].items() if r == c)
            share = f" ({fmt(round(right / total * 100, 1))}%)" if total else ""
            parts.append(f"{side} {right} of {total}{share}")
        out += [f"*Correct (diagonal): {' · '.join(parts)}*", ""]
    if len(keys) > MAX_CHARTS:
        out.append(f"*{len(keys) - MAX_CHARTS} more matrices not shown*\n")
    return out


def _class_order(label: str) -> tuple[int, float, str]:
    value = number(label)
    return (0, value, "") if value is not None else (1, 0.0, label)


_URL = re.compile(r"https?://[^\s<>()\[\]{}\"'`\\|^]+")


def artifact_link(url: str) -> str:
    """``url`` if it can be a Markdown link target as it is (http or https, nothing that ends the link
    or starts markup), else :class:`~mlops_gitops.errors.UsageError`."""
    from mlops_gitops.errors import UsageError

    if len(url) > 2000 or not _URL.fullmatch(url):
        raise UsageError(f"--artifact-url must be an http(s) URL without spaces, quotes or brackets: {url!r}")
    return url


def _images(images: list[Plot], artifact_url: str | None) -> str:
    where = (
        f"in [the workflow run's artifact]({artifact_link(artifact_url)})"
        if artifact_url
        else "in the workflow run's artifact, not in this comment"
    )
    lines = [f"**Images** ({where}):", ""]
    for plot in images:
        lines.append(f"- {span(plot.id)}: {STATUS_TEXT[plot.status]}")
    return "\n".join(lines) + "\n"


def text_lines(plots: Plots) -> list[str]:
    """The plots in ``--format text``: one line each, and what could not be read."""
    lines = ["", f"Plots ({len(plots.plots)}):"]
    if plots.error:
        lines.append(f"  not read: {plots.error}")
    for side, reason in plots.errors.items():
        lines.append(f"  not read at {side}: {reason}")
    for plot in plots.plots:
        kind = plot.kind if plot.template is None or plot.kind == IMAGE else f"{plot.kind}, {plot.template}"
        line = f"  {plot.title}  ({kind})  {STATUS_TEXT[plot.status]}"
        for side, reason in plot.errors.items():
            line += f"; not available at {side}: {reason}"
        lines.append(line)
    return lines
