"""`mlops-gitops retrain-pr`: publish a retrain of the default branch from its artifact folder.

Gates pass: open the one "retrained model" PR on ``record.retrain_branch`` (or update the open one)
with the reproduced ``dvc.lock`` files as one bot commit on the commit that was trained. Gates fail: no
PR; when drift started the retrain, a comment on the open drift issue. The folder is checked as
untrusted input before any request (see :mod:`mlops_gitops.delivery.retrain`). Exit codes: 0 published or
nothing to do (also when a human owns the branch: the PR gets a comment), 1 gates failed (no PR) or
GitHub said no, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option


@click.command(name="retrain-pr")
@click.option(
    "--from",
    "folder",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="The retrain's artifact: run.json, report.json, report.md and files/<path>/dvc.lock.",
)
@click.option("--dry-run", is_flag=True, help="Print the PR (or the drift-issue note); make no API call.")
@manifest_option("whose project, pipelines, default branch and record.retrain_branch apply")
def command(folder: Path, dry_run: bool, manifest_path: str) -> int:
    """Open or update the retrained-model PR from a retrain's artifact (needs contents: write,
    pull-requests: write, and issues: write for the drift issue)."""
    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.adapters.github.client import GitHubContext
    from mlops_gitops.delivery import retrain
    from mlops_gitops.delivery import retrain_pr as retrained
    from mlops_gitops.errors import UsageError
    from mlops_gitops.manifest.loader import load_manifest

    path = Path(manifest_path)
    if not path.is_file():
        raise UsageError(f"{manifest_path}: no such manifest (pass --manifest PATH)")
    manifest = load_manifest(path)
    ctx = GitHubContext.from_env(token_vars=retrained.TOKEN_VARS)
    found = retrain.read_artifact(folder, manifest, ctx.repository)
    handled = retrained.preview(found, manifest) if dry_run else retrained.handle(ctx, found, manifest)
    for line in handled.lines:
        click.echo(line)
    if gha.in_actions() and not dry_run:
        gha.set_outputs(handled.outputs)
    return handled.exit_code
