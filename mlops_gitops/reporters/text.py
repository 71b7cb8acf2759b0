"""A terminal table for local use: verdict, gates, then every metric that is not unchanged."""

from __future__ import annotations

import click

from mlops_gitops.metrics.compare import Comparison, Row
from mlops_gitops.metrics.flatten import Scalar
from mlops_gitops.metrics.gates import fmt

COLORS = {
    "fail": "red",
    "regressed": "yellow",
    "improved": "green",
    "pass": "green",
    "new": "cyan",
    "removed": "magenta",
    "changed": "blue",
    "not numeric": "blue",
    "unchanged": None,
}
_MAX_CELL = 48


def _short(v: Scalar) -> str:
    text = fmt(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 3] + "..."


def _table(header: list[str], rows: list[list[str]], statuses: list[str], color: bool) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    numeric = {1, 2, 3, 4}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    top = line(header).rstrip()
    out = [click.style(top, bold=True) if color else top]
    out.append("  ".join("-" * w for w in widths))
    for cells, status in zip(rows, statuses, strict=True):
        text = line(cells).rstrip()
        fg = COLORS.get(status)
        out.append(click.style(text, fg=fg, bold=status == "fail") if color and fg else text)
    return out


def _row_cells(row: Row, several: bool) -> list[str]:
    diff = row.diff
    pct = row.change_pct
    name = f"{row.file}:{row.key}" if several else row.key
    return [
        name,
        _short(row.base),
        _short(row.head),
        "" if diff is None or isinstance(row.base, bool) else (("+" if diff > 0 else "") + fmt(diff)),
        "" if pct is None else f"{pct:+.2f}%",
        row.status + (f": {row.reason}" if row.reason else ""),
    ]


def render(comparison: Comparison, color: bool) -> str:
    several = len({r.file for r in comparison.rows}) > 1
    verdict = comparison.verdict.upper()
    head = click.style(verdict, fg="green" if verdict == "PASS" else "red", bold=True) if color else verdict
    lines = [f"{head}  {comparison.project}: {comparison.base.label} -> {comparison.head.label}"]
    counts = comparison.counts()
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()) or "no metrics found")
    if comparison.stale_lock:
        from mlops_gitops.reporters.markdown import STALE_LOCK

        lines.append("warning: " + STALE_LOCK.replace("`", ""))
    if comparison.first_run:
        lines.append("first run: the base revision has no metrics")
    if comparison.data_validation is not None:
        failures = comparison.data_failures
        mark = "FAIL" if failures else "ok  "
        if color:
            mark = click.style(mark, fg="red" if failures else "green", bold=bool(failures))
        files = ", ".join(f.path for f in comparison.data_validation.files)
        lines += ["", f"Data validation:  {mark}  {files}"]
        lines += [f"        {failure}" for failure in failures[:20]]
    for side, unread in comparison.unavailable.items():
        for path, reason in unread.items():
            lines.append(f"not available at {side}: {path}: {reason}")
    from mlops_gitops.reporters.gatechanges import text_lines  # whose gates decided, what changed

    lines += text_lines(comparison)

    for section in comparison.sections:
        mark = comparison.section_verdict(section).upper()
        if color:
            mark = click.style(mark, fg="green" if mark == "PASS" else "red", bold=True)
        lines.append(f"pipeline {section.pipeline}: {mark} ({len(section.gates)} gates)")
    if comparison.gates:
        lines += ["", "Gates:"]
        for g in comparison.gates:
            mark = "ok  " if g.passed else "FAIL"
            if color:
                mark = click.style(mark, fg="green" if g.passed else "red", bold=not g.passed)
            worst = (
                f" (worst {g.worst.key} = {_short(g.worst.head)})" if g.gate.is_pattern and g.worst else ""
            )
            lines.append(f"  {mark}  {g.gate.metric}  {g.rule}{worst}")
            for failure in g.failures[:20]:
                lines.append(f"        {failure}")
            if len(g.failures) > 20:
                lines.append(f"        ... {len(g.failures) - 20} more")
    shown = sorted(
        (r for r in comparison.rows if r.status != "unchanged"), key=lambda r: (r.status != "fail", r.file)
    )
    if shown:
        lines += [""]
        lines += _table(
            ["Metric", "Base", "Head", "Change", "Change %", "Status"],
            [_row_cells(r, several) for r in shown],
            [r.status for r in shown],
            color,
        )
    unchanged = len(comparison.rows) - len(shown)
    if unchanged:
        lines.append(f"({unchanged} unchanged metrics not shown; --format json lists all)")
    if comparison.params:
        lines += ["", "Changed params:"]
        width = max(len(p.key) for p in comparison.params)
        for p in comparison.params:
            lines.append(f"  {p.key.ljust(width)}  {_short(p.base)} -> {_short(p.head)}")
    if comparison.plots is not None:
        from mlops_gitops.reporters import plots

        lines += plots.text_lines(comparison.plots)
    return "\n".join(lines) + "\n"
