"""``mlops-gitops push-runs``: share a run so that another machine restores it instead of re-running it."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="push-runs")
@click.option("--remote", metavar="NAME", help="DVC remote (default: core.remote).")
def command(remote: str | None) -> int:
    """`dvc push --run-cache`, plus the `cache: false` outputs (metrics, plots) that DVC 3 leaves out,
    without which the run cannot be restored on another machine."""
    from mlops_gitops.adapters.dvc import push_runs

    pushed = push_runs(Path("."), remote)
    click.echo(f"pushed outputs and {pushed.runs} run record(s); {pushed.objects} uncached output(s) added")
    return 0
