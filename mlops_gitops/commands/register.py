"""`mlops-gitops register`: record deploy.model in DVC's model registry format (GTO Git tags); what
each mode tags, and the exit codes: :mod:`mlops_gitops.delivery.register`."""

from __future__ import annotations

import click

from mlops_gitops.commands.options import manifest_option, show


@click.command(name="register")
@click.option(
    "--version",
    "mode",
    flag_value="version",
    help="Tag the model of --model-ref (a default-branch commit) with the next version.",
)
@click.option(
    "--stages",
    "mode",
    flag_value="stages",
    help="Tag a stage assignment for each merged promotion PR not recorded yet.",
)
@click.option(
    "--model-ref",
    default="HEAD",
    show_default=True,
    metavar="REV",
    help="--version: the commit whose model to record.",
)
@manifest_option("whose deploy.model is recorded")
def command(mode: str | None, model_ref: str, manifest_path: str) -> int:
    """Record deploy.model in DVC's model registry format (GTO tags), as the bot."""
    from mlops_gitops.delivery.register import register

    return show(register(mode, model_ref, manifest_path))
