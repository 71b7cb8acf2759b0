"""``mlops-gitops validate-data``: check input data files against the manifest's ``data.checks``.

Exit codes: 0 every check passed, 1 a check failed (so ``dvc repro`` stops before training),
2 unreadable input (missing file, wrong format, empty file, bad manifest).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from mlops_gitops.commands.options import manifest_option
from mlops_gitops.errors import UsageError


@click.command("validate-data")
@manifest_option("whose data checks apply")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report to FILE (a short text summary still goes to stdout).",
)
@click.argument("paths", nargs=-1)
def command(manifest_path: str, fmt: str, output: str | None, paths: tuple[str, ...]) -> int:
    """Check data files (PATH..., default: every data.checks entry) and report each failing check."""
    from mlops_gitops.manifest.loader import load_manifest

    manifest = load_manifest(manifest_path)
    base = Path(manifest_path).parent
    checks = select_checks(list(manifest.data_checks), base, paths, manifest_path)
    results = validate(checks, base)
    report = {"passed": all(r.passed for r in results), "files": [r.to_json() for r in results]}
    text = render_text(report)
    if output:
        body = json.dumps(report, indent=2, ensure_ascii=False) + "\n" if fmt == "json" else text
        write_atomic(Path(output), body)
        click.echo(text, nl=False)
    elif fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(text, nl=False)
    return 0 if report["passed"] else 1


def select_checks(
    checks: list[dict[str, Any]], base: Path, paths: tuple[str, ...], manifest_path: str
) -> list[dict[str, Any]]:
    """The checks to run: all of them, or those whose path is (or contains) one of ``paths``."""
    if not paths:
        return checks
    chosen: list[dict[str, Any]] = []
    for given in paths:
        target = Path(given).resolve()
        matched = []
        for check in checks:
            root = (base / check["path"]).resolve()
            if target == root or root in target.parents:
                matched.append(
                    {**check, "path": os.path.relpath(target, base.resolve())} if target != root else check
                )
        if not matched:
            known = ", ".join(c["path"] for c in checks) or "none"
            raise UsageError(
                f"{given}: no data check in {manifest_path} covers this path (checked paths: {known})"
            )
        chosen.extend(m for m in matched if m not in chosen)
    return chosen


def validate(checks: list[dict[str, Any]], base: Path) -> list[Any]:
    """Read and check every file of every check; CSV examples also get their file line number."""
    from mlops_gitops.data.checks import run_checks, string_columns
    from mlops_gitops.data.read import csv_lines, data_files, detect_format, read_table

    results = []
    for check in checks:
        root = base / check["path"]
        for file in data_files(root, check.get("format")):
            fmt = detect_format(file, check.get("format"))
            table = read_table(file, fmt, string_columns(check) if fmt == "csv" else ())
            shown = check["path"] if file == root else os.path.relpath(file, base)
            result = run_checks(table, check, shown, fmt)
            if fmt == "csv":
                rows = sorted({e["row"] for c in result.checks for e in c.examples})
                lines = csv_lines(file, rows, result.rows)
                for c in result.checks:
                    for example in c.examples:
                        if example["row"] in lines:
                            example["line"] = lines[example["row"]]
            results.append(result)
    return results


def render_text(report: dict[str, Any]) -> str:
    """The human report: one line per file, then each failing check with its first bad rows."""
    out: list[str] = []
    failed_files = 0
    for file in report["files"]:
        failures = [c for c in file["checks"] if not c["passed"]]
        if failures:
            failed_files += 1
            out.append(
                f"FAIL {file['path']}: {_rows(file['rows'])}, {len(failures)} of {len(file['checks'])} checks failed"
            )
        else:
            out.append(f"ok   {file['path']}: {_rows(file['rows'])}, {len(file['checks'])} checks passed")
        for c in failures:
            where = f"{c['column']}: " if c["column"] is not None else ""
            n = c["bad_rows"]
            count = (
                f"{n} bad row{'s' if n != 1 else ''}: "
                if n and c["check"] not in ("required", "segment")
                else ""
            )
            out.append(f"  - {where}{c['check']}: {count}{c['message']}")
            for example in c["examples"]:
                line = f" (line {example['line']})" if "line" in example else ""
                value = json.dumps(example["value"], ensure_ascii=False)
                if len(value) > 80:
                    value = value[:77] + "..."
                out.append(f"      row {example['row']}{line}: {value}")
            if c["bad_rows"] > len(c["examples"]) and c["examples"]:
                out.append(f"      ... and {c['bad_rows'] - len(c['examples'])} more")
        for column, counts in file.get("segments", {}).items():
            shown = ", ".join(f"{k}: {v}" for k, v in list(counts.items())[:10])
            more = ", ..." if len(counts) > 10 else ""
            out.append(f"  segments by {column}: {shown}{more}")
    total = len(report["files"])
    if not total:
        out.append("no data checks to run (add data.checks to the manifest)")
    elif failed_files:
        out.append(f"validate-data: {failed_files} of {total} files failed")
    else:
        out.append(f"validate-data: all {total} files passed")
    return "\n".join(out) + "\n"


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so DVC never records a half-written report."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the report: {exc.strerror}") from None
