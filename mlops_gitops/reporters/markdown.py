"""The pull-request report in GitHub-flavoured Markdown. Pure: a Comparison in, a string out.

The first line is a hidden marker the ``comment`` command finds its sticky comment by; the second
says the verdict and the counts. The text never exceeds ``limit`` characters (GitHub refuses comment
bodies over 65,536): when it would, the plots are dropped first (whole, last first, with a note), then
tables are cut, each with a note of how many rows were left out and where the full JSON is.
"""

from __future__ import annotations

import math

from mlops_gitops.metrics.compare import Comparison, GateOutcome, Row, Section
from mlops_gitops.metrics.flatten import Scalar, number
from mlops_gitops.metrics.gates import fmt
from mlops_gitops.names import GITHUB_BODY_LIMIT
from mlops_gitops.reporters import mermaid
from mlops_gitops.reporters.markup import cell, code
from mlops_gitops.reporters.parts import Blocks, Part, Table

MARKER_PREFIX = "<!-- mlops-gitops:pr-report project="
MAX_CHARTS = 12

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


def gate_rows(outcomes: list[GateOutcome], several: bool) -> list[tuple[bool, str]]:
    rows: list[tuple[bool, str]] = []
    for outcome in outcomes:
        rule = cell(outcome.rule)
        if outcome.gate.is_pattern:
            rows.append((outcome.passed, _pattern_row(outcome, rule)))
            continue
        if not any(r.head is not None for r in outcome.rows):
            reasons = "; ".join(dict.fromkeys(f.reason for f in outcome.failures))
            verdict = f"❌ {cell(reasons)}" if outcome.failures else "➖ missing (optional)"
            base = value(outcome.rows[0].base) if outcome.rows else "—"
            rows.append(
                (outcome.passed, f"| {code(outcome.gate.metric)} | {base} | — |  |  | {verdict} · {rule} |")
            )
            continue
        for row in outcome.rows:
            if row.head is None and not outcome.gate.required:
                continue
            diff, pct = change(row)
            status = f"❌ {cell(row.reason)}" if row.reason else f"{ICONS[row.status]} {row.status}"
            line = f"| {metric_name(row, several)} | {value(row.base)} | {value(row.head)} | {diff} | {pct} | {status} · {rule} |"
            rows.append((row.reason is None, line))
    rows.sort(key=lambda t: t[0])  # stable: failing first, manifest order otherwise
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
    verdict = f"❌ {failing} failing; worst {cell(worst.reason or '')}" if failing else "✅ all pass"
    return (
        f"| {name}: {code(worst.key)} | {value(worst.base)} | {value(worst.head)} | {diff} | {pct} "
        f"| {verdict} · {rule} |"
    )


def metric_row(row: Row, several: bool) -> str:
    diff, pct = change(row)
    status = f"{ICONS[row.status]} {row.status}"
    if row.reason:
        status += f": {cell(row.reason)}"
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
    unread = unreadable_sides(comparison)
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


def unreadable_sides(comparison: Comparison, files: list[str] | None = None) -> dict[str, list[str]]:
    """Side -> the metrics files (of ``files``, else every compared one) that exist there but could
    not be read: what :attr:`Comparison.unreadable` counts against the verdict."""
    wanted = comparison.metrics_files if files is None else files
    out = {
        side: [path for path in unread if path in wanted and path in comparison.metrics_files]
        for side, unread in comparison.unavailable.items()
    }
    return {side: paths for side, paths in out.items() if paths}


def section_verdict(comparison: Comparison, section: Section) -> str:
    """A pipeline's verdict: its gates, and its metrics files that could not be read (as the report's)."""
    return (
        "fail" if section.verdict == "fail" or unreadable_sides(comparison, section.metrics_files) else "pass"
    )


def chart(title: str, labels: list[str], values: list[float]) -> str:
    """One metric's history as a line chart (see :mod:`mlops_gitops.reporters.mermaid`)."""
    return mermaid.xychart(title, labels, [values], title.split(" ")[0])


def charts(comparison: Comparison, several: bool) -> list[str]:
    history = comparison.history
    if history is None or not history.commits:
        return []
    heads = {(r.file, r.key): r.head for r in comparison.rows}
    # A pattern gate's series is its worst segment per commit; at head, the segment the gate reported.
    patterns = {o.gate.metric for o in comparison.gates if o.gate.is_pattern}
    for outcome in comparison.gates:
        if outcome.gate.is_pattern and outcome.worst is not None:
            heads[(outcome.worst.file, outcome.gate.metric)] = outcome.worst.head
    out: list[str] = []
    for (file, key), series in list(history.series.items())[:MAX_CHARTS]:
        points = [(c, v) for c, v in zip(history.commits, series, strict=False) if v is not None]
        head = heads.get((file, key))
        h = number(head) if head is not None else None
        if comparison.head.sha != comparison.base.sha and h is not None and math.isfinite(h):
            points.append(("head", h))
        if len(points) < 2:
            continue
        title = f"{key} ({file})" if several else key
        if key in patterns:
            title = f"{title.split(' ')[0]} worst segment" + (f" ({file})" if several else "")
        out.append(chart(title, [p[0] for p in points], [p[1] for p in points]))
    return out


def plot_parts(comparison: Comparison) -> list[Part]:
    """The pipelines' DVC plots, base beside head (see :mod:`mlops_gitops.reporters.plots`)."""
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
        f"`{lin.head_commit[:12]}` {cell(lin.head_subject)}" if lin.head_commit else "work tree (uncommitted)"
    )
    lines = [
        "### Lineage",
        "",
        f"- Base: `{(lin.base_commit or '')[:12]}` {cell(lin.base_subject)}",
        f"- Head: {head}",
        f"- Python {lin.python}" + "".join(f" · {cell(k)} {cell(v)}" for k, v in lin.packages.items()),
    ]
    if comparison.from_dvc:
        lines.append("- Read from the DVC cache: " + ", ".join(code(f) for f in comparison.from_dvc))
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


def metric_parts(rows: list[Row], outcomes: list[GateOutcome], several: bool, level: str) -> list[Part]:
    """The gates, segments and other changed metrics of a report, or of one pipeline's section."""
    out: list[Part] = []
    gated = gate_rows(outcomes, several)
    if gated:
        out.append(f"\n{level} Gates\n\n")
        out.append(
            Table(
                [
                    "| Metric | Base | Head | Change | Change % | Gate |",
                    "| --- | ---: | ---: | ---: | ---: | --- |",
                ],
                [line for _, line in gated],
                "gated rows",
            )
        )
    segments = sorted((r for r in rows if r.segment), key=lambda r: ORDER[r.status])
    if segments:
        out.append(f"\n{level} Segments\n\n")
        out.append(
            Table(
                [
                    "| Segment metric | Base | Head | Change | Change % | Status |",
                    "| --- | ---: | ---: | ---: | ---: | --- |",
                ],
                [metric_row(r, several) for r in segments],
                "segment rows",
            )
        )
    others = sorted(
        (r for r in rows if not r.gates and r.status != "unchanged"), key=lambda r: ORDER[r.status]
    )
    if others:
        out.append(f"\n{level} Other metrics that changed\n\n")
        out.append(
            Table(
                [
                    "| Metric | Base | Head | Change | Change % | Status |",
                    "| --- | ---: | ---: | ---: | ---: | --- |",
                ],
                [metric_row(r, several) for r in others],
                "changed metrics",
            )
        )
    return out


def parts_of(comparison: Comparison, note: str | None) -> list[Part]:
    several = len({r.file for r in comparison.rows}) > 1
    out: list[Part] = [marker(comparison.project) + "\n" + headline(comparison) + "\n"]
    head_label = comparison.head.label
    intro = (
        f"\n**{cell(comparison.project)}**: base {code(comparison.base.label)} → head {code(head_label)}\n"
    )
    out.append(intro)
    if note:
        out.append("\n> [!NOTE]\n> " + cell(note) + "\n")
    if comparison.stale_lock:
        out.append("\n> [!WARNING]\n> " + STALE_LOCK + "\n")
    if comparison.first_run:
        out.append("\n*First run: the base revision has no metrics, so every metric is new.*\n")
    if comparison.data_validation is not None:
        from mlops_gitops.reporters.data_validation import markdown_section

        out.append(markdown_section(comparison.data_validation))
    if comparison.unavailable:
        lines = [
            f"> {code(path)} at {side} ({code(comparison.base.label if side == 'base' else comparison.head.label)}): {cell(reason)}"
            for side, files in comparison.unavailable.items()
            for path, reason in files.items()
        ]
        out.append(
            "\n> [!WARNING]\n> **Not available**, so not compared; gates that need it cannot pass:\n"
            + "\n".join(lines)
            + "\n"
        )
    from mlops_gitops.reporters.gatechanges import markdown_parts  # whose gates decided, what changed

    out.extend(markdown_parts(comparison))
    if comparison.sections:
        in_sections = {id(g) for s in comparison.sections for g in s.gates}
        for section in comparison.sections:
            passed = sum(1 for g in section.gates if g.passed)
            icon = "✅" if section_verdict(comparison, section) == "pass" else "❌"
            summary = f"{passed} of {len(section.gates)} gates pass" if section.gates else "no gates"
            out.append(f"\n## {icon} {code(section.pipeline)}: {summary}\n")
            out.extend(metric_parts(section.rows, section.gates, several, level="###"))
        orphans = [g for g in comparison.gates if id(g) not in in_sections]
        if orphans:
            out.append("\n## ❌ Gates no pipeline's metrics answer\n")
            out.extend(metric_parts([], orphans, several, level="###"))
    else:
        out.extend(metric_parts(comparison.rows, comparison.gates, several, level="###"))
    if comparison.params:
        out.append("\n### Changed params\n\n")
        several_params = len({p.file for p in comparison.params}) > 1
        out.append(
            Table(
                ["| Param | Base | Head |", "| --- | --- | --- |"],
                [
                    f"| {code(p.key)}{f' ({cell(p.file)})' if several_params else ''} | {value(p.base)} | {value(p.head)} |"
                    for p in comparison.params
                ],
                "params",
            )
        )
    unchanged = [r for r in comparison.rows if not r.gates and r.status == "unchanged"]
    if unchanged:
        out.append(
            Table(
                ["| Metric | Value |", "| --- | ---: |"],
                [f"| {metric_name(r, several)} | {value(r.head)} |" for r in unchanged],
                "unchanged metrics",
                before=f"\n<details><summary>Unchanged metrics ({len(unchanged):,})</summary>\n",
                after="\n</details>",
            )
        )
    drawn = charts(comparison, several)
    if drawn:
        n = len(comparison.history.commits) if comparison.history else 0
        out.append(f"\n### History (last {n} commit{'s' if n != 1 else ''} of base, then head)\n\n")
        out.extend(drawn)
    out.extend(plot_parts(comparison))
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
