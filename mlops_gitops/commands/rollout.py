"""`mlops-gitops rollout`: look at each environment's rollout in progress and move it by one pull
request (next step, promotion or rollback), or comment the hold (the flow, the hand-over between the
workflow's two jobs and what is trusted: :mod:`mlops_gitops.delivery.rollout.flow`)."""

from __future__ import annotations

import click

from mlops_gitops.commands.options import manifest_option, show


@click.command(name="rollout")
@click.option(
    "--env", "envs", multiple=True, metavar="NAME", help="An environment with a rollout (default: all)."
)
@click.option(
    "--measure-only", is_flag=True, help="Look and decide; open nothing (with --output: hand over)."
)
@click.option(
    "--output",
    type=click.Path(file_okay=False),
    help="Write each environment's decision to DIR/rollout-ENV.json, for --act-from.",
)
@click.option(
    "--act-from",
    type=click.Path(file_okay=False, exists=True),
    help="Look at nothing: act on the decisions in DIR (the workflow's job that holds the write token).",
)
@click.option("--rollback-now", is_flag=True, help="Open the rollback PR of --env at once, without a look.")
@click.option("--dry-run", is_flag=True, help="Look, decide and print the evidence; no API call.")
@click.option(
    "--checkout",
    "checkouts",
    multiple=True,
    metavar="OWNER/NAME=DIR",
    help="A clone, with its full history, of another repository holding a deployment file.",
)
@manifest_option("whose deploy environments roll out")
def command(
    envs: tuple[str, ...],
    measure_only: bool,
    output: str | None,
    act_from: str | None,
    rollback_now: bool,
    dry_run: bool,
    checkouts: tuple[str, ...],
    manifest_path: str,
) -> int:
    """Move each rollout in progress one step: advance, promote, roll back, or hold."""
    from mlops_gitops.delivery.rollout.flow import rollout

    return show(
        rollout(manifest_path, envs, measure_only, output, act_from, rollback_now, dry_run, checkouts)
    )
