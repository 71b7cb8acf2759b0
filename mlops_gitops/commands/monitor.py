"""``mlops-gitops monitor``: compare the latest production window with the training baseline.

Exit codes: 0 no drift, 1 drift (after the issue and retrain dispatch are taken care of),
2 bad input (missing or unreadable logs/baseline, unknown columns, no monitoring section).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlops_gitops.commands.options import manifest_option

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.manifest.model import Manifest


@click.command("monitor")
@manifest_option("whose monitoring section applies")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="Format of the report on stdout (or in --output).",
)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the report to FILE.")
@click.option(
    "--json-output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the JSON report to FILE (whatever --format is).",
)
@click.option("--no-github", is_flag=True, help="Never open, update or close the GitHub issue.")
@click.option(
    "--alert-from",
    "alert_from",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Measure nothing: bring the drift issue in step with monitor.md and monitor.json in DIR, as "
    "written by an earlier `monitor --no-github --output DIR/monitor.md --json-output DIR/monitor.json`. "
    "The generated workflow measures in a read-only job and posts from this minimal one.",
)
def command(
    manifest_path: str,
    fmt: str,
    output: str | None,
    json_output: str | None,
    no_github: bool,
    alert_from: str | None,
) -> int:
    """Drift of production logs against the training baseline: PSI, KS, chi-square, prediction shares."""
    from mlops_gitops.manifest.loader import load_manifest

    manifest = load_manifest(manifest_path)
    if alert_from is not None:
        return _alert(manifest, Path(alert_from))

    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.adapters.atomic import write_atomic
    from mlops_gitops.monitoring.monitor import monitor
    from mlops_gitops.reporters import drift as drift_reporter

    report = monitor(manifest, Path(manifest_path).parent, manifest_path)
    markdown = drift_reporter.render(report)
    if not no_github and gha.in_actions() and manifest.monitoring is not None:
        from mlops_gitops.adapters.github.client import GitHubContext
        from mlops_gitops.monitoring.alerting import sync_issue

        ctx = GitHubContext.from_env()
        if ctx.token:
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
        else:
            gha.annotate(
                "warning",
                "GITHUB_TOKEN is not set: the drift issue is not updated",
                title="mlops-gitops monitor",
                stream=sys.stderr,
            )

    as_json = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    text = as_json if fmt == "json" else markdown
    if output:
        write_atomic(output, text, "report")
    else:
        click.echo(text, nl=False)
    if json_output:
        write_atomic(json_output, as_json, "JSON report")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        gha.append_summary(markdown)
    if output:
        drifted = sum(1 for g in report.findings.groups if g.drift)
        total = len(report.findings.groups)
        state = f"drift in {drifted} of {total} groups" if report.drift else "no drift"
        click.echo(f"monitor: {state}; report written to {output}", err=True)
    return 1 if report.drift else 0


def _alert(manifest: Manifest, directory: Path) -> int:
    """``--alert-from``: post what the measuring job found (GitHub only: no pyarrow, no DVC)."""
    from mlops_gitops.adapters.github.client import GitHubContext
    from mlops_gitops.errors import UsageError
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
    click.echo(f"drift issue: {outcome.issue_action}{retrain}")
    return 1 if measured.drift else 0
