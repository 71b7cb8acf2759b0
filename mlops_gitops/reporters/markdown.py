"""The pull-request report in GitHub-flavoured Markdown. Pure: a Comparison in, a string out.

The first line is a hidden marker the ``comment`` command finds its sticky comment by; the second
says the verdict and the counts. Then, in the order a reviewer decides (:func:`parts_of`): what
changes how the verdict reads (a note, a stale ``dvc.lock``, files that could not be read, the data
checks), what this pull request changes in the gates, the gates that failed or moved, the DVC plots
that changed (drawn in the open, base beside head), and then, folded when long, the segments, other
metrics, params, the history of the gated metrics and the lineage. Nothing is drawn that says
nothing: no history on a first run, and no chart with fewer than three points a line.

The text never exceeds ``limit`` characters (GitHub refuses comment bodies over 65,536): when it
would, the charts are dropped first (whole, history then plots, last first, with a note), then tables
are cut, each with a note of how many rows were left out and where the full JSON is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlops_gitops.metrics.compare import Comparison, GateOutcome, Row
from mlops_gitops.metrics.flatten import Scalar, number
from mlops_gitops.metrics.gates import fmt
from mlops_gitops.names import GITHUB_BODY_LIMIT
from mlops_gitops.reporters import mermaid
from mlops_gitops.reporters.markup import cell, code, html, message, span, text
from mlops_gitops.reporters.parts import Blocks, Part, Table

MARKER_PREFIX = "<!-- mlops-gitops:pr-report project="
MAX_CHARTS = 12  # gated metrics in the history
MIN_HISTORY_POINTS = 3  # values a metric needs before a chart of it says more than base and head
MAX_LINES = 5  # metrics in one history chart (Mermaid draws no legend: the line above it does)
LONG_TABLE = 10  # rows past which a table below the plots is folded
# Line colours of the history charts, readable on GitHub's light and dark themes; no digit after the
# "#", which in the raw text would read as an issue reference (see reporters.plots.COLORS).
HISTORY_COLORS = ["#e36209", "#a371f7", "#bf3989", "#d4a72c", "#afb8c1"]
HISTORY_COLOR_NAMES = dict(zip(HISTORY_COLORS, ["orange", "purple", "pink", "ochre", "grey"], strict=True))

ICONS = {
    "fail": "❌",
    "regressed": "⚠️",
    "improved": "🟢",
    "pass": "✅",
    "new": "🆕",
    "removed": "➖",
    "changed": "🔄",
    "not numeric": "🔤",
    "unchanged": "⚪",
}
# Failing first, then what a reviewer should look at, unchanged last.
ORDER = {s: i for i, s in enumerate(ICONS)}


STALE_LOCK = (
    "`dvc.lock` in this commit does not match the pipeline reproduced here, so what would merge is not "
    "what this report evaluated: promotion reads the model's hash from `dvc.lock`, and the default "
    "branch holds deployment while it is stale. With `record.pull_requests: commit` (the default) "
    "mlops-gitops commits the reproduced `dvc.lock` to this pull request's branch once this report is "
    "posted; otherwise reproduce locally (`dvc repro`) and commit `dvc.lock`."
)
# As the report writes it, so that whoever knows more replaces it whole: the comment job, when it
# records the run itself (RECORDING), and a retrained-model pull request, which is that record.
STALE_LOCK_BLOCK = f"> [!WARNING]\n> {STALE_LOCK}\n"
RECORDING = (
    "`dvc.lock` in this commit does not match the pipeline reproduced here; mlops-gitops records this "
    "run (`record.pull_requests: commit`): it commits the reproduced `dvc.lock` to this pull "
    "request's branch as this comment is posted. The end of this comment says which commit recorded "
    "it, or why none did."
)


def recording_note(body: str) -> str:
    """``body`` (a report) with its stale-``dvc.lock`` warning replaced by the note that the bot
    records the run: for the comment the bot posts as it commits (``record.pull_requests: commit``)."""
    return body.replace(STALE_LOCK_BLOCK, f"> [!NOTE]\n> {RECORDING}\n", 1)


def marker(project: str) -> str:
    return f"{MARKER_PREFIX}{project} -->"


def value(v: Scalar) -> str:
    return cell(fmt(v)) if not isinstance(v, str) else cell(f'"{v}"' if len(v) <= 60 else f'"{v[:57]}..."')


def change(row: Row) -> tuple[str, str]:
    b, h = number(row.base), number(row.head)
    if b is None or h is None:
        return "", ""
    d = h - b
    if d == 0:
        return "0", "0%"
    diff = ("+" if d > 0 else "") + fmt(row.diff)
    pct = row.change_pct
    return diff, "" if pct is None or math.isnan(pct) else f"{pct:+.2f}%"


def metric_name(row: Row, several_files: bool) -> str:
    return f"{code(row.key)} ({cell(row.file)})" if several_files else code(row.key)


FAILING, MOVED, QUIET = 0, 1, 2  # the gate rows' ranks: failing first, folded when quiet


def gate_rows(outcomes: list[GateOutcome], several: bool) -> list[tuple[bool, str]]:
    """(passed, row) per gate row, failing first, manifest order otherwise."""
    return [(rank != FAILING, line) for rank, line in _gate_lines(outcomes, several)]


def _gate_lines(outcomes: list[GateOutcome], several: bool) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for outcome in outcomes:
        rule = cell(outcome.rule)
        if outcome.gate.is_pattern:
            quiet = outcome.passed and all(r.status == "unchanged" for r in outcome.rows)
            rank = FAILING if not outcome.passed else QUIET if quiet else MOVED
            rows.append((rank, _pattern_row(outcome, rule)))
            continue
        if not any(r.head is not None for r in outcome.rows):
            reasons = "; ".join(dict.fromkeys(f.reason for f in outcome.failures))
            verdict = f"❌ {message(reasons)}" if outcome.failures else "➖ missing (optional)"
            base = value(outcome.rows[0].base) if outcome.rows else "—"
            rows.append(
                (
                    MOVED if outcome.passed else FAILING,
                    f"| {code(outcome.gate.metric)} | {base} | — |  |  | {verdict} · {rule} |",
                )
            )
            continue
        for row in outcome.rows:
            if row.head is None and not outcome.gate.required:
                continue
            diff, pct = change(row)
            status = f"❌ {message(row.reason)}" if row.reason else f"{ICONS[row.status]} {row.status}"
            line = f"| {metric_name(row, several)} | {value(row.base)} | {value(row.head)} | {diff} | {pct} | {status} · {rule} |"
            rank = FAILING if row.reason else QUIET if row.status == "unchanged" else MOVED
            rows.append((rank, line))
    rows.sort(key=lambda t: t[0] == FAILING, reverse=True)  # stable: failing first, manifest order
    return rows


def _pattern_row(outcome: GateOutcome, rule: str) -> str:
    worst = outcome.worst
    segments = [r for r in outcome.rows if r.head is not None]
    failing = sum(1 for r in segments if r.reason)
    name = f"{code(outcome.gate.metric)} worst of {len(segments)}"
    if worst is None:
        verdict = "❌ no segment at head" if outcome.failures else "➖ no segment (optional)"
        return f"| {name} | — | — |  |  | {verdict} · {rule} |"
    diff, pct = change(worst)
    verdict = f"❌ {failing} failing; worst {message(worst.reason or '')}" if failing else "✅ all pass"
    return (
        f"| {name}: {code(worst.key)} | {value(worst.base)} | {value(worst.head)} | {diff} | {pct} "
        f"| {verdict} · {rule} |"
    )


def metric_row(row: Row, several: bool) -> str:
    diff, pct = change(row)
    status = f"{ICONS[row.status]} {row.status}"
    if row.reason:
        status += f": {message(row.reason)}"
    return (
        f"| {metric_name(row, several)} | {value(row.base)} | {value(row.head)} | {diff} | {pct} | {status} |"
    )


def headline(comparison: Comparison) -> str:
    """The verdict in one line. Its mark is :attr:`Comparison.verdict`'s, and each reason for a fail
    is one of the facts that verdict counts (failing gates, failing data checks, metrics files that
    could not be read), so the headline never says pass, or "no gates", over a failing verdict."""
    total = len(comparison.gates)
    failing = sum(1 for g in comparison.gates if not g.passed)
    bad_data = len(comparison.data_failures)
    reasons: list[str] = []
    if failing:
        reasons.append(f"{failing} of {total} gate{'s' if total != 1 else ''} failed")
    if bad_data:
        reasons.append(f"{bad_data} data check{'s' if bad_data != 1 else ''} failed")
    unread = comparison.unreadable_sides()
    if unread:
        n = sum(len(files) for files in unread.values())
        reasons.append(f"{n} metrics file{'s' if n != 1 else ''} unreadable at {' and '.join(unread)}")
    if comparison.verdict == "fail":
        verdict = f"❌ **Fail**: {', '.join(reasons) or 'see below'}"
    elif not total:
        verdict = "✅ **No gates** configured"
    else:
        verdict = f"✅ **Pass**: {'all ' if total > 1 else ''}{total} gate{'s' if total != 1 else ''} passed"
    counts = comparison.counts()
    parts = ", ".join(f"{n:,} {status}" for status, n in counts.items())
    n = len(comparison.rows)
    return f"{verdict} · {n:,} metric{'s' if n != 1 else ''}{': ' + parts if parts else ''}"


def chart(title: str, labels: list[str], values: list[float]) -> str:
    """One metric's history as a line chart (see :mod:`mlops_gitops.reporters.mermaid`)."""
    return mermaid.xychart(title, labels, [values], title.split(" ")[0])


# --- history ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    """One gated metric over the base branch's last commits, then head: ``values`` one per label."""

    name: str  # as a chart shows it: key, (file), "worst segment" for a pattern gate
    key: str
    label: str  # the same in Markdown, for a table cell or a legend
    values: list[float | None]

    @property
    def points(self) -> int:
        return sum(v is not None for v in self.values)


def trends(comparison: Comparison, several: bool) -> tuple[list[str], list[Trend]]:
    """The x labels (short SHAs of the base branch, oldest first, then ``head``) and every charted
    gated metric's values on them. A pattern gate's values are its worst segment per commit; at head,
    the segment the gate reported."""
    history = comparison.history
    if history is None or not history.commits:
        return [], []
    heads = {(r.file, r.key): r.head for r in comparison.rows}
    patterns = {o.gate.metric for o in comparison.gates if o.gate.is_pattern}
    for outcome in comparison.gates:
        if outcome.gate.is_pattern and outcome.worst is not None:
            heads[(outcome.worst.file, outcome.gate.metric)] = outcome.worst.head
    with_head = comparison.head.sha != comparison.base.sha
    labels = list(history.commits) + (["head"] if with_head else [])
    out: list[Trend] = []
    for (file, key), series in list(history.series.items())[:MAX_CHARTS]:
        values = list(series[: len(history.commits)])
        values += [None] * (len(history.commits) - len(values))
        if with_head:
            head = heads.get((file, key))
            h = number(head) if head is not None else None
            values.append(h if h is not None and math.isfinite(h) else None)
        worst = " worst segment" if key in patterns else ""
        name = f"{key}{worst}" + (f" ({file})" if several else "")
        label = f"{code(key)}{worst}" + (f" ({cell(file)})" if several else "")
        out.append(Trend(name, key, label, values))
    return labels, out


def _common(trends: list[Trend]) -> list[int]:
    """The label positions where every one of ``trends`` has a value: what one chart can draw."""
    return [i for i in range(len(trends[0].values)) if all(t.values[i] is not None for t in trends)]


def _fits(group: list[Trend], trend: Trend) -> bool:
    """Whether ``trend`` shares a y-axis with ``group`` and still shows its moves: the range of them
    all at most four times the widest one's own (or a twentieth of their size, for flat lines)."""
    spans = [_range(t) for t in [*group, trend]]
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    own = max(max(b - a for a, b in spans), 0.05 * max(abs(lo), abs(hi)), 1e-12)
    return hi - lo <= 4 * own


def _range(trend: Trend) -> tuple[float, float]:
    present = [v for v in trend.values if v is not None]
    return min(present), max(present)


def chart_groups(trends: list[Trend]) -> list[list[Trend]]:
    """The metrics that say something over time (:data:`MIN_HISTORY_POINTS` values or more) in as
    few charts as their scales allow: a metric joins the first chart whose axis it fits and whose
    common commits stay at least :data:`MIN_HISTORY_POINTS`, at most :data:`MAX_LINES` per chart."""
    groups: list[list[Trend]] = []
    for trend in (t for t in trends if t.points >= MIN_HISTORY_POINTS):
        for group in groups:
            if (
                len(group) < MAX_LINES
                and _fits(group, trend)
                and len(_common([*group, trend])) >= MIN_HISTORY_POINTS
            ):
                group.append(trend)
                break
        else:
            groups.append([trend])
    return groups


def history_chart(labels: list[str], group: list[Trend]) -> str:
    """One chart of ``group`` over the commits where each of them has a value; with several lines, a
    legend above it (Mermaid draws none)."""
    at = _common(group)
    colors = HISTORY_COLORS[: len(group)]
    legend = " · ".join(f"{HISTORY_COLOR_NAMES[c]}: {t.label}" for c, t in zip(colors, group, strict=False))
    title = ", ".join(t.name for t in group)
    y_label = group[0].key if len(group) == 1 else "value"
    drawn = mermaid.xychart(
        title,
        [labels[i] for i in at],
        [[v for i in at if (v := t.values[i]) is not None] for t in group],
        y_label,
        colors=colors,
    )
    return f"{legend}\n\n{drawn}" if len(group) > 1 else drawn


def history_parts(comparison: Comparison, several: bool) -> list[Part]:
    """The gated metrics over the base branch's last commits, then head: a compact table of values,
    and charts of those with :data:`MIN_HISTORY_POINTS` values or more (two points say no more than
    the Gates table's base and head), several metrics to a chart, all folded. Nothing on a first run
    or when no metric has that many values."""
    if comparison.first_run:
        return []
    labels, all_trends = trends(comparison, several)
    groups = chart_groups(all_trends)
    if not groups:
        return []
    shown = [t for t in all_trends if t.points]
    n = len(comparison.history.commits) if comparison.history else 0
    head = ", then head" if labels and labels[-1] == "head" else ""
    summary = (
        f"History of {len(shown)} gated metric{'s' if len(shown) != 1 else ''}: "
        f"the last {n} commit{'s' if n != 1 else ''} of base{head}"
    )
    header = [
        "| Metric | " + " | ".join(cell(label) for label in labels) + " |",
        "| --- |" + " ---: |" * len(labels),
    ]
    rows = [
        f"| {t.label} | " + " | ".join("—" if v is None else fmt(v) for v in t.values) + " |" for t in shown
    ]
    return [
        Table(header, rows, "history rows", before=f"\n<details><summary>{summary}</summary>\n"),
        Blocks(["\n" + history_chart(labels, g) for g in groups], "history charts"),
        "\n</details>\n",
    ]


# --- plots, lineage -------------------------------------------------------------------------------


def plot_parts(comparison: Comparison) -> list[Part]:
    """The pipelines' DVC plots, base beside head (see :mod:`mlops_gitops.reporters.plots`): those
    that changed drawn in the open, first; the others folded."""
    if comparison.plots is None:
        return []
    from mlops_gitops.reporters import plots

    drawn = plots.render(
        comparison.plots, comparison.base.label, comparison.head.label, comparison.artifact_url
    )
    n = len(comparison.plots.plots)
    out: list[Part] = [f"\n### Plots ({n})\n\n" + (drawn.lead + "\n" if drawn.lead else "")]
    if drawn.blocks:
        out.append(Blocks(drawn.blocks, "plots"))
    return out


def lineage_parts(comparison: Comparison) -> list[Part]:
    lin = comparison.lineage
    if lin is None:
        return []
    head = (
        f"{span(lin.head_commit[:12])} {text(lin.head_subject)}"
        if lin.head_commit
        else "work tree (uncommitted)"
    )
    lines = [
        "### Lineage",
        "",
        f"- Base: {span((lin.base_commit or '')[:12])} {text(lin.base_subject)}",
        f"- Head: {head}",
        f"- Python {text(lin.python)}" + "".join(f" · {text(k)} {text(v)}" for k, v in lin.packages.items()),
    ]
    if comparison.from_dvc:
        lines.append("- Read from the DVC cache: " + ", ".join(span(f) for f in comparison.from_dvc))
    parts: list[Part] = ["\n".join(lines) + "\n"]
    if lin.data:
        changed = sum(1 for d in lin.data if d.changed)
        rows = [
            f"| {code(d.path)} | {_hash(d.base)} | {_hash(d.head)}{' 🔄' if d.changed else ''} |"
            for d in lin.data
        ]
        parts.append(
            Table(
                ["| Data (dvc.lock) | Base md5 | Head md5 |", "| --- | --- | --- |"],
                rows,
                "data hashes",
                before=f"\n<details><summary>Data hashes from dvc.lock ({changed} changed)</summary>\n",
                after="\n</details>",
            )
        )
    return parts


def _hash(h: str | None) -> str:
    return code(h[:10]) if h else "—"  # from dvc.lock: repository text like any other


# --- gates and metrics ------------------------------------------------------------------------------

METRIC_HEADER = [
    "| Metric | Base | Head | Change | Change % | Status |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
]
GATE_HEADER = [
    "| Metric | Base | Head | Change | Change % | Gate |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
]


def _folded(table: Table, summary: str) -> Table:
    """``table`` in a closed ``<details>`` whose summary says what it holds (our words only)."""
    table.before = f"\n<details><summary>{summary}</summary>\n"
    table.after = "\n</details>"
    return table


def gate_parts(outcomes: list[GateOutcome], several: bool, level: str) -> list[Part]:
    """The gates that failed or moved, in the open, failing first; those that pass unchanged folded."""
    lines = _gate_lines(outcomes, several)
    if not lines:
        return []
    loud = [line for rank, line in lines if rank < QUIET]
    quiet = [line for rank, line in lines if rank == QUIET]
    out: list[Part] = [f"\n{level} Gates\n\n"]
    if loud:
        out.append(Table(list(GATE_HEADER), loud, "gated rows"))
    if quiet:
        n = len(quiet)
        what = f"{n} gate row{'s' if n != 1 else ''} that pass{'es' if n == 1 else ''}, unchanged"
        out.append(_folded(Table(list(GATE_HEADER), quiet, "unchanged gated rows"), what.capitalize()))
    return out


def detail_parts(rows: list[Row], several: bool, level: str, where: str = "") -> list[Part]:
    """A report's (or one pipeline's) segments and other changed metrics; folded when long."""
    out: list[Part] = []
    segments = sorted((r for r in rows if r.segment), key=lambda r: ORDER[r.status])
    if segments:
        moved = sum(1 for r in segments if r.status != "unchanged")
        header = ["| Segment metric | Base | Head | Change | Change % | Status |", METRIC_HEADER[1]]
        table = Table(header, [metric_row(r, several) for r in segments], "segment rows")
        if len(segments) > LONG_TABLE:
            out.append(_folded(table, f"Segments{html(where)} ({len(segments):,}, {moved:,} moved)"))
        else:
            out += [f"\n{level} Segments{text(where)}\n\n", table]
    others = sorted(
        (r for r in rows if not r.gates and r.status != "unchanged"), key=lambda r: ORDER[r.status]
    )
    if others:
        table = Table(list(METRIC_HEADER), [metric_row(r, several) for r in others], "changed metrics")
        title = f"Other metrics that changed{where}"
        if len(others) > LONG_TABLE:
            out.append(_folded(table, f"{html(title)} ({len(others):,})"))
        else:
            out += [f"\n{level} {text(title)}\n\n", table]
    return out


def metric_parts(rows: list[Row], outcomes: list[GateOutcome], several: bool, level: str) -> list[Part]:
    """The gates, segments and other changed metrics of a report, or of one pipeline's section."""
    return gate_parts(outcomes, several, level) + detail_parts(rows, several, level)


# --- the report -------------------------------------------------------------------------------------


def notes(comparison: Comparison, note: str | None) -> list[Part]:
    """What changes how the verdict reads, right under it: the caller's note, the stale dvc.lock, a
    first run, the files that could not be read, the data checks."""
    out: list[Part] = []
    if note:
        out.append("\n> [!NOTE]\n> " + text(note) + "\n")
    if comparison.stale_lock:
        out.append(f"\n{STALE_LOCK_BLOCK}")
    if comparison.first_run:
        out.append("\n*First run: the base revision has no metrics, so every metric is new.*\n")
    if comparison.unavailable:
        lines = [
            f"> {span(path)} at {side} ({span(comparison.base.label if side == 'base' else comparison.head.label)}): "
            f"{message(reason, table=False)}"
            for side, files in comparison.unavailable.items()
            for path, reason in files.items()
        ]
        out.append(
            "\n> [!WARNING]\n> **Not available**, so not compared; gates that need it cannot pass:\n"
            + "\n".join(lines)
            + "\n"
        )
    if comparison.data_validation is not None:
        from mlops_gitops.reporters.data_validation import markdown_section

        out.append(markdown_section(comparison.data_validation))
    return out


def parts_of(comparison: Comparison, note: str | None) -> list[Part]:
    """The report in the order a reviewer decides: the verdict and counts; what changes how to read
    it; the gates that failed or moved (and what this pull request changes in them); the plots that
    changed, drawn; then the segments, other metrics, params, history and lineage, folded when long."""
    several = len({r.file for r in comparison.rows}) > 1
    out: list[Part] = [marker(comparison.project) + "\n" + headline(comparison) + "\n"]
    out.append(
        f"\n**{text(comparison.project)}**: base {span(comparison.base.label)} → head "
        f"{span(comparison.head.label)}\n"
    )
    out.extend(notes(comparison, note))
    from mlops_gitops.reporters.gatechanges import markdown_parts  # whose gates decided, what changed

    out.extend(markdown_parts(comparison))
    if comparison.sections:
        in_sections = {id(g) for s in comparison.sections for g in s.gates}
        for section in comparison.sections:
            passed = sum(1 for g in section.gates if g.passed)
            icon = "✅" if comparison.section_verdict(section) == "pass" else "❌"
            summary = f"{passed} of {len(section.gates)} gates pass" if section.gates else "no gates"
            out.append(f"\n## {icon} {span(section.pipeline)}: {summary}\n")
            out.extend(gate_parts(section.gates, several, level="###"))
        orphans = [g for g in comparison.gates if id(g) not in in_sections]
        if orphans:
            out.append("\n## ❌ Gates no pipeline's metrics answer\n")
            out.extend(gate_parts(orphans, several, level="###"))
    else:
        out.extend(gate_parts(comparison.gates, several, level="###"))
    out.extend(plot_parts(comparison))
    if comparison.sections:
        for section in comparison.sections:
            out.extend(detail_parts(section.rows, several, "###", f" · {section.pipeline}"))
    else:
        out.extend(detail_parts(comparison.rows, several, "###"))
    if comparison.params:
        several_params = len({p.file for p in comparison.params}) > 1
        table = Table(
            ["| Param | Base | Head |", "| --- | --- | --- |"],
            [
                f"| {code(p.key)}{f' ({cell(p.file)})' if several_params else ''} | {value(p.base)} | {value(p.head)} |"
                for p in comparison.params
            ],
            "params",
        )
        if len(comparison.params) > LONG_TABLE:
            out.append(_folded(table, f"Changed params ({len(comparison.params):,})"))
        else:
            out += ["\n### Changed params\n\n", table]
    unchanged = [r for r in comparison.rows if not r.gates and r.status == "unchanged"]
    if unchanged:
        out.append(
            _folded(
                Table(
                    ["| Metric | Value |", "| --- | ---: |"],
                    [f"| {metric_name(r, several)} | {value(r.head)} |" for r in unchanged],
                    "unchanged metrics",
                ),
                f"Unchanged metrics ({len(unchanged):,})",
            )
        )
    out.extend(history_parts(comparison, several))
    out.append("\n")
    out.extend(lineage_parts(comparison))
    return out


def render(comparison: Comparison, *, note: str | None = None, limit: int = GITHUB_BODY_LIMIT) -> str:
    """The report, at most ``limit`` characters; the first line is the sticky-comment marker."""
    parts = parts_of(comparison, note)
    hint = (
        f"all rows are in {code(comparison.json_path)}"
        if comparison.json_path
        else "all rows are in the JSON report (`mlops-gitops report --format json`; in CI the report artifact)"
    )
    text = _join(parts, hint)
    if len(text) <= limit:
        return text
    for blocks in reversed([p for p in parts if isinstance(p, Blocks)]):  # plots go before any table
        blocks.keep = len(blocks.blocks)
        while blocks.keep and len(text) > limit:
            blocks.keep -= 1
            text = _join(parts, hint)
    if len(text) <= limit:
        return text
    tables = [p for p in parts if isinstance(p, Table)]
    for t in tables:
        t.keep = 0
    fixed = len(_join(parts, hint))
    budget = limit - fixed - 16
    for t in tables:  # in display order: gates first, unchanged metrics and hashes last
        kept = 0
        for row in t.rows:
            if len(row) + 1 > budget:
                break
            budget -= len(row) + 1
            kept += 1
        t.keep = kept
    text = _join(parts, hint)
    if len(text) > limit:  # only a huge note or lineage can get here
        tail = f"\n\n*Report cut at {limit:,} characters; {hint}.*\n"
        text = text[: limit - len(tail)] + tail
    return text


def _join(parts: list[Part], hint: str) -> str:
    return "".join(p if isinstance(p, str) else p.text(hint) for p in parts)
