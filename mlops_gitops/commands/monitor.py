"""``mlops-gitops monitor``: compare the latest production window with the training baseline (the
flow and its exit codes: :mod:`mlops_gitops.monitoring.monitor`)."""

from __future__ import annotations

import click

from mlops_gitops.commands.options import manifest_option, show


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
    from mlops_gitops.monitoring.monitor import monitor

    return show(monitor(manifest_path, fmt, output, json_output, no_github, alert_from))
