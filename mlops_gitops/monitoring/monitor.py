"""``monitor``: compare the latest production window with the training baseline.

:func:`measure` reads the latest window of production logs and the training baseline (pulling either
from the DVC remote when it is tracked but missing) and compares them; :func:`monitor` is the
command's flow: the report as Markdown or JSON, written where asked, the drift issue kept in step
inside GitHub Actions, or (``--alert-from``) only the issue, from what an earlier run measured.

Exit codes: 0 no drift, 1 drift (after the issue and retrain dispatch are taken care of), 2 bad input
(missing or unreadable logs/baseline, unknown columns, no monitoring section)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from mlops_gitops.adapters import actions_runtime as gha
from mlops_gitops.data.drift_report import DriftReport
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Manifest


def measure(manifest: Manifest, base_dir: Path, manifest_path: str) -> DriftReport:
    """Drift of the configured logs window against the baseline; paths are relative to ``base_dir``."""
    from mlops_gitops.adapters.dvc import ensure_present
    from mlops_gitops.data.drift import compare, select_window
    from mlops_gitops.data.read import data_files, read_many

    config = manifest.monitoring
    if config is None:
        raise UsageError(
            f"{manifest_path}: no monitoring section; add monitoring.logs and monitoring.baseline"
        )
    logs_path = ensure_present(base_dir / config.logs, config.logs)
    baseline_path = ensure_present(base_dir / config.baseline, config.baseline)
    logs = read_many(data_files(logs_path, config.format), config.format)
    baseline = read_many(data_files(baseline_path, config.format), config.format)
    if logs.num_rows == 0:
        raise UsageError(f"{config.logs}: the logs hold no rows")
    if baseline.num_rows == 0:
        raise UsageError(f"{config.baseline}: the baseline holds no rows")
    window, window_info = select_window(logs, config)
    if window.num_rows == 0:
        raise UsageError(f"{config.logs}: no rows in the monitoring window")
    findings = compare(baseline, window, config, config.thresholds)
    return DriftReport(manifest.name, window_info, config.baseline, baseline.num_rows, findings)


@dataclass(frozen=True)
class Monitored:
    """What ``monitor`` prints: the report (unless it went to a file: then one line on stderr saying
    where), or with ``--alert-from`` what became of the drift issue. Drift is exit code 1."""

    drift: bool
    stdout: str = ""
    stderr: tuple[str, ...] = ()

    @property
    def outputs(self) -> dict[str, str]:
        return {}

    @property
    def exit_code(self) -> int:
        return 1 if self.drift else 0


def monitor(
    manifest_path: str,
    fmt: str = "markdown",
    output: str | None = None,
    json_output: str | None = None,
    no_github: bool = False,
    alert_from: str | None = None,
) -> Monitored:
    """Measure drift and report it as ``fmt`` (markdown or json) on stdout or to ``output``, the JSON
    also to ``json_output``; inside GitHub Actions (unless ``no_github``) open, update or close the
    drift issue. ``alert_from``: measure nothing, post what that folder's report found."""
    from mlops_gitops.adapters.atomic import write_atomic
    from mlops_gitops.manifest.loader import load_manifest

    manifest = load_manifest(manifest_path)
    if alert_from is not None:
        return alert(manifest, Path(alert_from))

    from mlops_gitops.reporters import drift as drift_reporter

    report = measure(manifest, Path(manifest_path).parent, manifest_path)
    markdown = drift_reporter.render(report)
    if not no_github and gha.in_actions() and manifest.monitoring is not None:
        sync(manifest, report, markdown)
    as_json = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    text = as_json if fmt == "json" else markdown
    if output:
        write_atomic(output, text, "report")
    if json_output:
        write_atomic(json_output, as_json, "JSON report")
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        gha.append_summary(markdown)
    if not output:
        return Monitored(report.drift, text)
    drifted = sum(1 for g in report.findings.groups if g.drift)
    total = len(report.findings.groups)
    state = f"drift in {drifted} of {total} groups" if report.drift else "no drift"
    return Monitored(report.drift, stderr=(f"monitor: {state}; report written to {output}",))


def sync(manifest: Manifest, report: DriftReport, markdown: str) -> None:
    """Bring the drift issue in step with ``report`` (its outcome goes into the report's JSON); without
    a token, a warning annotation and no issue."""
    from mlops_gitops.adapters.github.client import GitHubContext
    from mlops_gitops.monitoring.alerting import sync_issue

    assert manifest.monitoring is not None
    ctx = GitHubContext.from_env()
    if not ctx.token:
        gha.annotate(
            "warning",
            "GITHUB_TOKEN is not set: the drift issue is not updated",
            title="mlops-gitops monitor",
            stream=sys.stderr,
        )
        return
    logs = report.logs
    span = f" ({logs.rows} rows" + (f", {logs.start} to {logs.end})" if logs.start else ")")
    outcome = sync_issue(
        ctx,
        manifest.name,
        report.drift,
        markdown,
        manifest.monitoring.on_drift,
        manifest.default_branch,
        span,
    )
    report.alert = outcome.to_json()


def alert(manifest: Manifest, directory: Path) -> Monitored:
    """``--alert-from``: post what the measuring job found (GitHub only: no pyarrow, no DVC)."""
    from mlops_gitops.adapters.github.client import GitHubContext
    from mlops_gitops.monitoring.alerting import read_measured, sync_issue

    if manifest.monitoring is None:
        raise UsageError(f"{manifest.name}: mlops.yaml has no monitoring section")
    measured = read_measured(directory, manifest.name)
    outcome = sync_issue(
        GitHubContext.from_env(),
        manifest.name,
        measured.drift,
        measured.markdown,
        manifest.monitoring.on_drift,
        manifest.default_branch,
        measured.window,
    )
    retrain = ", training dispatched" if outcome.dispatched else ""
    return Monitored(measured.drift, f"drift issue: {outcome.issue_action}{retrain}\n")
