"""Run the manifest's data checks over data files: ``validate-data``.

:func:`validate_data` is the command's flow. Exit codes: 0 every check passed, 1 a check failed (so
``dvc repro`` stops before training), 2 unreadable input (missing file, wrong format, empty file, bad
manifest)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mlops_gitops.data.results import FileResult, ValidationReport
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.sections import DataCheck


def select_checks(
    checks: tuple[DataCheck, ...], base: Path, paths: tuple[str, ...], manifest_path: str
) -> list[DataCheck]:
    """The checks to run: all of them, or those whose path is (or contains) one of ``paths``."""
    if not paths:
        return list(checks)
    chosen: list[DataCheck] = []
    for given in paths:
        target = Path(given).resolve()
        matched = []
        for check in checks:
            root = (base / check.path).resolve()
            if target == root or root in target.parents:
                matched.append(check if target == root else check.at(os.path.relpath(target, base.resolve())))
        if not matched:
            known = ", ".join(c.path for c in checks) or "none"
            raise UsageError(
                f"{given}: no data check in {manifest_path} covers this path (checked paths: {known})"
            )
        chosen.extend(m for m in matched if m not in chosen)
    return chosen


def validate(checks: list[DataCheck], base: Path) -> ValidationReport:
    """Read and check every file of every check; CSV examples also get their file line number."""
    from mlops_gitops.adapters.dvc import ensure_present
    from mlops_gitops.data.checks import run_checks, string_columns
    from mlops_gitops.data.read import csv_lines, data_files, detect_format, read_table

    results: list[FileResult] = []
    for check in checks:
        # Before `dvc repro` (hand-owned pipelines) data DVC tracks may not be checked out yet.
        root = ensure_present(base / check.path, check.path)
        for file in data_files(root, check.format):
            fmt = detect_format(file, check.format)
            table = read_table(file, fmt, string_columns(check) if fmt == "csv" else ())
            shown = check.path if file == root else os.path.relpath(file, base)
            result = run_checks(table, check, shown, fmt)
            if fmt == "csv":
                rows = sorted({e["row"] for c in result.checks for e in c.examples})
                lines = csv_lines(file, rows, result.rows)
                for c in result.checks:
                    for example in c.examples:
                        if example["row"] in lines:
                            example["line"] = lines[example["row"]]
            results.append(result)
    return ValidationReport(results)


@dataclass(frozen=True)
class DataValidated:
    """What ``validate-data`` prints: the report as asked for, or (when it went to a file) the short
    text summary; a failed check is exit code 1."""

    report: ValidationReport
    stdout: str
    stderr: tuple[str, ...] = ()

    @property
    def outputs(self) -> dict[str, str]:
        return {}

    @property
    def exit_code(self) -> int:
        return 0 if self.report.passed else 1


def validate_data(
    manifest_path: str, fmt: str = "text", output: str | None = None, paths: tuple[str, ...] = ()
) -> DataValidated:
    """Check ``paths`` (default: every ``data.checks`` entry) and report as ``fmt`` (text or json),
    on stdout or to ``output``."""
    from mlops_gitops.adapters.atomic import write_atomic
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.reporters.data_validation import render_text

    manifest = load_manifest(manifest_path)
    base = Path(manifest_path).parent
    report = validate(select_checks(manifest.data_checks, base, paths, manifest_path), base)
    text = render_text(report)
    chosen = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n" if fmt == "json" else text
    if output:
        write_atomic(output, chosen, "report")
        return DataValidated(report, text)
    return DataValidated(report, chosen)
