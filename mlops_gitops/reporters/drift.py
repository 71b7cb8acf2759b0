"""The drift report in Markdown: the monitoring issue's body and the job summary. Pure: a
:class:`~mlops_gitops.data.results.DriftReport` in, text out, never longer than GitHub accepts."""

from __future__ import annotations

from mlops_gitops.data.drift_report import DriftReport, GroupDrift
from mlops_gitops.names import GITHUB_BODY_LIMIT
from mlops_gitops.reporters.markup import cell, code


def marker(project: str) -> str:
    """The hidden first line of every monitoring report of ``project``: it finds the drift issue."""
    return f"<!-- mlops-gitops:monitor project={project} -->"


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.2e}"
    return f"{value:.{digits}f}"


def _feature_table(group: GroupDrift) -> list[str]:
    lines = [
        "| Feature | Kind | PSI | KS statistic | KS p-value | χ² | χ² p-value | Drift |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for f in group.features:
        flag = "🔴 " + "; ".join(f.reasons) if f.drift else "✅"
        if f.kind == "numeric":
            row = [f.feature, "numeric", _num(f.psi), _num(f.ks_statistic), _num(f.ks_pvalue), "", ""]
        else:
            row = [f.feature, "categorical", "", "", "", _num(f.chi2, 2), _num(f.chi2_pvalue)]
        lines.append("| " + " | ".join(cell(str(c)) for c in [*row, flag]) + " |")
    return lines


def _prediction_table(group: GroupDrift) -> list[str]:
    preds = group.predictions
    assert preds is not None
    lines = [
        f"| Predicted {code(preds.column)} | Baseline share | Window share | Difference | Drift |",
        "|---|---:|---:|---:|---|",
    ]
    for c in preds.classes[:50]:
        lines.append(
            f"| {cell(c.label)} | {c.baseline_share:.3f} | {c.window_share:.3f} | "
            f"{c.difference:+.3f} | {'🔴' if c.drift else '✅'} |"
        )
    return lines


def render(report: DriftReport, limit: int = GITHUB_BODY_LIMIT) -> str:
    """The issue / job-summary report; its first line is the hidden marker that finds the issue."""
    findings = report.findings
    th = findings.thresholds
    logs = report.logs
    overall, segments = findings.overall, findings.segments
    title = "🔴 Drift detected" if report.drift else "✅ No drift"
    if logs.rows_limit:
        span = f"last {logs.rows_limit} rows"
    elif logs.days:
        span = f"last {logs.days:g} days"
    else:
        span = "all rows"
    times = f", {cell(logs.start)} to {cell(str(logs.end))}" if logs.start else ""
    out = [
        marker(report.project),
        f"## {title}: {cell(report.project)}",
        "",
        f"Window: {span} of {code(logs.path, table=False)} ({logs.rows} of {logs.total_rows} rows{times}); "
        f"baseline {code(report.baseline_path, table=False)} ({report.baseline_rows} rows).",
        f"Thresholds: PSI > {th['psi']:g}, KS p-value < {th['ks_pvalue']:g}, "
        f"χ² p-value < {th['chi2_pvalue']:g}, prediction share moves > {th['prediction_share']:g}.",
        "",
        f"### Overall ({overall.rows} rows)",
        "",
    ]
    if overall.features:
        out += [*_feature_table(overall), ""]
    if overall.predictions:
        out += [*_prediction_table(overall), ""]
    if segments:
        out += [
            "### Segments",
            "",
            "| Segment | Rows | Baseline rows | Drifted | Details |",
            "|---|---:|---:|---|---|",
        ]
        for g in sorted(
            segments,
            key=lambda g: (not g.drift, g.segment.column, g.segment.value) if g.segment else (True, "", ""),
        ):
            seg = f"{g.segment.column} = {g.segment.value}" if g.segment else ""
            if g.skipped:
                detail, flag = f"not tested: {g.skipped}", "–"
            else:
                bits = [f"{f.feature} ({'; '.join(f.reasons)})" for f in g.features if f.drift]
                if g.predictions and g.predictions.drift:
                    moved = [f"{c.label} {c.difference:+.3f}" for c in g.predictions.classes if c.drift]
                    bits.append("prediction share: " + ", ".join(moved))
                detail, flag = "; ".join(bits), "🔴" if g.drift else "✅"
            out.append(f"| {cell(seg)} | {g.rows} | {g.baseline_rows} | {flag} | {cell(detail)} |")
        out.append("")
    text = "\n".join(out)
    if len(text) > limit:
        note = "\n… (truncated: the full report is in the JSON output)\n"
        text = text[: limit - len(note)] + note
    return text
