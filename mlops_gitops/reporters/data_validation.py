"""A data-validation report as terminal text (``validate-data``) and as a Markdown section (the PR
report). Pure: a :class:`~mlops_gitops.data.results.ValidationReport` in, text out."""

from __future__ import annotations

import json

from mlops_gitops.data.results import ValidationReport
from mlops_gitops.reporters.markup import cell, code, message, span


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def render_text(report: ValidationReport) -> str:
    """One line per file, then each failing check with its first bad rows."""
    out: list[str] = []
    failed_files = 0
    if report.error:
        out.append(f"FAIL {report.error}")
    for file in report.files:
        failures = file.failures
        if failures:
            failed_files += 1
            out.append(
                f"FAIL {file.path}: {_rows(file.rows)}, {len(failures)} of {len(file.checks)} checks failed"
            )
        else:
            out.append(f"ok   {file.path}: {_rows(file.rows)}, {len(file.checks)} checks passed")
        for c in failures:
            where = f"{c.column}: " if c.column is not None else ""
            n = c.bad_rows
            count = (
                f"{n} bad row{'s' if n != 1 else ''}: "
                if n and c.check not in ("required", "segment")
                else ""
            )
            out.append(f"  - {where}{c.check}: {count}{c.message}")
            for example in c.examples:
                line = f" (line {example['line']})" if "line" in example else ""
                value = json.dumps(example.get("value"), ensure_ascii=False)
                if len(value) > 80:
                    value = value[:77] + "..."
                out.append(f"      row {example.get('row')}{line}: {value}")
            if c.bad_rows > len(c.examples) and c.examples:
                out.append(f"      ... and {c.bad_rows - len(c.examples)} more")
        for column, counts in file.segments.items():
            shown = ", ".join(f"{k}: {v}" for k, v in list(counts.items())[:10])
            more = ", ..." if len(counts) > 10 else ""
            out.append(f"  segments by {column}: {shown}{more}")
    total = len(report.files)
    if not total and not report.error:
        out.append("no data checks to run (add data.checks to the manifest)")
    elif failed_files:
        out.append(f"validate-data: {failed_files} of {total} files failed")
    elif total:
        out.append(f"validate-data: all {total} files passed")
    return "\n".join(out) + "\n"


def markdown_section(report: ValidationReport) -> str:
    """What the pipeline's data-validation stage found at head: one line per file, failing checks listed."""
    lines: list[str] = []
    failing: list[str] = []
    if report.error:
        lines.append(f"❌ {message(report.error, table=False)}")
    for file in report.files:
        bad = file.failures
        status = (
            f"{len(bad)} of {len(file.checks)} checks failed"
            if bad
            else f"all {len(file.checks)} checks passed"
        )
        lines.append(f"{'❌' if bad else '✅'} {span(file.path)}: {file.rows:,} rows, {status}")
        for check in bad:
            examples = ", ".join(
                f"row {e.get('row')}: {code(json.dumps(e.get('value'), default=str))}"
                for e in check.examples[:3]
            )
            failing.append(
                f"| {code(file.path)} | {cell(check.check)} | "
                f"{code(check.column) if check.column else ''} | {check.bad_rows:,} | "
                f"{cell(check.message)} | {examples} |"
            )
    text = "\n### Data validation\n\n" + "\n".join(f"{line}  " for line in lines) + "\n"
    if failing:
        header = "\n| File | Check | Column | Bad rows | Rule | First examples |\n| --- | --- | --- | ---: | --- | --- |\n"
        text += header + "\n".join(failing) + "\n"
    return text
