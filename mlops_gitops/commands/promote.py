"""`mlops-gitops promote`: open or update the deployment PR that sets an environment's model (the
checks, the flow and the exit codes: :mod:`mlops_gitops.delivery.deployment`)."""

from __future__ import annotations

import click

from mlops_gitops.commands.options import manifest_option, show


@click.command(name="promote")
@click.option(
    "--env",
    "env_name",
    required=True,
    metavar="NAME",
    help="Deploy environment (mlops.yaml deploy.environments).",
)
@click.option(
    "--model-ref", default="HEAD", show_default=True, metavar="REV", help="Commit whose model to promote."
)
@click.option(
    "--base",
    "base_rev",
    metavar="REV",
    help="Revision the gates compare against (default: REV's first parent).",
)
@click.option("--dry-run", is_flag=True, help="Print the file diff and the PR body; make no API call.")
@click.option("--force", is_flag=True, help="Promote although gates fail (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why --force is needed; written into the PR.")
@click.option(
    "--target-dir",
    type=click.Path(file_okay=False, exists=True),
    help="--dry-run: checkout holding the deployment files (default: this repository's work tree).",
)
@manifest_option("whose deploy section applies")
def command(
    env_name: str,
    model_ref: str,
    base_rev: str | None,
    dry_run: bool,
    force: bool,
    reason: str | None,
    target_dir: str | None,
    manifest_path: str,
) -> int:
    """Open or update the deployment PR that promotes a model to an environment."""
    from mlops_gitops.delivery.deployment import promote

    return show(promote(manifest_path, env_name, model_ref, base_rev, dry_run, force, reason, target_dir))
