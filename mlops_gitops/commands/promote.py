"""`mlops-gitops promote`: open or update the deployment PR that sets an environment's model.

Checks run before any API call, so a refused promotion costs nothing: the model must pass its gates
(unless ``--force --reason``), and an environment with ``after:`` only takes a model its predecessors
already run. Exit codes: 0 PR opened / updated / already current (also when a human owns the branch:
then the PR gets a comment and a warning is printed), 1 refused (gate, order) or GitHub said no,
2 bad input.
"""

from __future__ import annotations

from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option

TOKEN_VARS = ("MLOPS_GITOPS_TOKEN", "GITHUB_TOKEN")


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
    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.adapters import git
    from mlops_gitops.delivery import deployment
    from mlops_gitops.errors import CheckFailed, UsageError
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project

    if force and not (reason and reason.strip()):
        raise UsageError("--force needs --reason TEXT (it is written into the PR)")
    if reason and not force:
        raise UsageError("--reason only applies with --force")
    path = Path(manifest_path)
    if not path.is_file():
        raise UsageError(f"{manifest_path}: no such manifest (pass --manifest PATH)")
    manifest = load_manifest(path)
    if manifest.deploy is None:
        raise UsageError(f"{manifest_path}: no deploy section: nothing to promote")
    env = manifest.deploy.environment(env_name)
    if env is None:
        names = ", ".join(e.name for e in manifest.deploy.environments)
        raise UsageError(f"--env {env_name}: not a deploy environment in {manifest_path} (have: {names})")
    root = path.resolve().parent
    project = load_project(root, manifest)
    model = deployment.model_at(project, model_ref)
    result = deployment.evaluate(
        project, base_rev or deployment.default_base(root, model.commit), model.commit
    )
    if result.verdict != "pass" and not force:
        raise CheckFailed(
            f"model {model.short_hash} at {model.short_commit} fails its gates: "
            + "; ".join(result.failed or ["see the report"])
            + " (promote anyway with --force --reason TEXT)"
        )

    if dry_run:
        top = Path(target_dir) if target_dir else (git.toplevel(root) or root)
        # The PR body names where it would land: this repository by its GitHub name (else its folder).
        repository = git.github_repository(root) or top.resolve().name
        local = deployment.LocalTarget(top, repository, manifest.default_branch)
        outcome = deployment.promote(manifest, env, model, result, reason, local, None)
        click.echo(outcome.diff or f"# {env.file}: {env.field} is already {outcome.value!r}: no change")
        click.echo(f"# PR: {outcome.title}")
        click.echo(outcome.body, nl=not outcome.body.endswith("\n"))
        return 0

    from mlops_gitops.adapters.github import client

    ctx = client.GitHubContext.from_env(token_vars=TOKEN_VARS)
    gh = client.connect(ctx, token_hint="MLOPS_GITOPS_TOKEN or GITHUB_TOKEN")
    with client.translated_errors(
        ctx, "reading the deployment repository", "contents: write and pull-requests: write"
    ) as step:
        target = deployment.GitHubTarget(ctx, gh, step, env)
        outcome = deployment.promote(
            manifest,
            env,
            model,
            result,
            reason,
            target,
            lambda text, title, body: target.publish(manifest, model, text, title, body),
        )
    published = outcome.published
    if published is None:
        click.echo(
            f"{env.name} already runs {model.name} {model.short_hash} ({env.file} {env.field}): nothing to do"
        )
        return 0
    if published.action == "blocked":
        message = f"promotion to {env.name} not pushed: {published.detail}"
        if gha.in_actions():
            gha.annotate("warning", message, title="mlops-gitops promote")
        else:
            click.echo(f"warning: {message}", err=True)
    elif published.action == "skipped":
        click.echo(f"{env.name}: {published.detail}: {published.url}")
    else:
        click.echo(f"{published.action} promotion PR #{published.number} for {env.name}: {published.url}")
    if gha.in_actions():
        gha.set_outputs(
            {
                "action": published.action,
                "pr-number": str(published.number or ""),
                "pr-url": published.url or "",
            }
        )
    return 0
