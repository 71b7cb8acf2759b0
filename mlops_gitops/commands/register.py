"""`mlops-gitops register`: record deploy.model in DVC's model registry format (GTO Git tags).

``--version`` tags the model of the checked-out default-branch commit ``MODEL@vX.Y.Z`` (nothing when
that model, or that commit, has a version already); ``--stages`` tags ``MODEL#ENV#N`` for each merged
promotion PR not recorded yet. Without ``record.registry: true`` in mlops.yaml it says so and does
nothing. Exit codes: 0 done (or nothing to do), 1 GitHub said no, 2 bad input.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option

# Promotion PRs in another repository are read with the token that opened them.
TOKEN_VARS = ("MLOPS_GITOPS_TOKEN", "GITHUB_TOKEN")


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
    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.errors import UsageError
    from mlops_gitops.manifest.loader import load_manifest

    if mode is None:
        raise UsageError("register: give --version or --stages")
    path = Path(manifest_path)
    if not path.is_file():
        raise UsageError(f"{manifest_path}: no such manifest (pass --manifest PATH)")
    manifest = load_manifest(path)
    if not manifest.record.registry or manifest.deploy is None:
        click.echo(f"record.registry is not enabled in {manifest_path}: no model registry tags")
        return 0
    ref = os.environ.get("GITHUB_REF") or ""
    if mode == "version" and ref and ref != f"refs/heads/{manifest.default_branch}":
        raise UsageError(
            f"register --version records models of {manifest.default_branch} only (this run is for {ref})"
        )

    from mlops_gitops.adapters.github import client
    from mlops_gitops.delivery import register
    from mlops_gitops.pipeline.project import load_project

    project = load_project(path.resolve().parent, manifest)
    ctx = client.GitHubContext.from_env()
    if mode == "version":
        recorded = register.record_version(project, model_ref, ctx)
    else:
        recorded = register.record_stages(project, ctx, client.GitHubContext.from_env(token_vars=TOKEN_VARS))
    for note in recorded.notes:
        click.echo(f"{recorded.artifact}: {note}")
    for new in recorded.created:
        what = f"stage {new.stage} of {new.version} (PR {new.promotion})" if new.stage else new.version
        click.echo(f"created tag {new.name}: {what} at commit {new.commit[:7]}")
    if gha.in_actions():
        gha.set_outputs({"tags": " ".join(new.name for new in recorded.created)})
    return 0
