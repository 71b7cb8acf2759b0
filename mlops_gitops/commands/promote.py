"""`mlops-gitops promote`: open or update the deployment PR that sets an environment's model.

Checks run before any API call, so a refused promotion costs nothing: the model must pass its gates
(unless ``--force --reason``), and an environment with ``after:`` only takes a model its predecessors
already run. Exit codes: 0 PR opened / updated / already current (also when a human owns the branch:
then the PR gets a comment and a warning is printed), 1 refused (gate, order) or GitHub said no,
2 bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlops_gitops.commands.options import manifest_option
from mlops_gitops.errors import CheckFailed, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.manifest.model import Environment, Manifest
    from mlops_gitops.promotion import ModelIdentity

TOKEN_VARS = ("MLOPS_GITOPS_TOKEN", "GITHUB_TOKEN")


@dataclass(frozen=True)
class Evaluated:
    verdict: str
    failed: list[str]
    report: str | None


def model_at(root: Path, manifest: Manifest, ref: str) -> ModelIdentity:
    """The model's identity at ``ref``: its out hash from dvc.lock, and the commit."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from mlops_gitops import git
    from mlops_gitops.promotion import model_identity

    assert manifest.deploy is not None
    commit = git.resolve(ref, root)
    if commit is None:
        raise UsageError(f"--model-ref {ref}: not a commit in this repository")
    top = git.toplevel(root) or root
    lock_path = (root.resolve() / "dvc.lock").relative_to(top.resolve()).as_posix()
    data = git.show(commit, lock_path, top)
    where = f"{lock_path}@{commit[:7]}"
    if data is None:
        raise UsageError(f"{where}: no dvc.lock at this commit: run the pipeline and commit dvc.lock")
    try:
        lock = YAML(typ="safe").load(data.decode("utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
    model = manifest.deploy.model
    return model_identity(lock, model.path, commit, model.name, where)


def evaluate(root: Path, manifest: Manifest, base: str, commit: str) -> Evaluated:
    """The gate verdict and the Markdown report for the model's commit against ``base``."""
    from mlops_gitops.commands.report import evaluate as report_evaluate
    from mlops_gitops.reporters import markdown

    comparison = report_evaluate(root, manifest, base, commit)
    return Evaluated(comparison.verdict, list(comparison.failed), markdown.render(comparison))


def default_base(root: Path, commit: str) -> str:
    """The first parent: what the default branch ran before this model (itself on a root commit)."""
    from mlops_gitops import git

    return git.resolve(f"{commit}^", root) or commit


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
    from mlops_gitops import git, promotion
    from mlops_gitops.manifest.loader import load_manifest

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
    model = model_at(root, manifest, model_ref)
    result = evaluate(root, manifest, base_rev or default_base(root, model.commit), model.commit)
    if result.verdict != "pass" and not force:
        raise CheckFailed(
            f"model {model.short_hash} at {model.short_commit} fails its gates: "
            + "; ".join(result.failed or ["see the report"])
            + " (promote anyway with --force --reason TEXT)"
        )
    value = promotion.render_value(env.value, model, env.name)
    environments = {e.name: e for e in manifest.deploy.environments}

    if dry_run:
        local = Path(target_dir) if target_dir else (git.toplevel(root) or root)

        def read_local(e: Environment) -> str | None:
            file = local / e.file
            return file.read_text(encoding="utf-8") if file.is_file() else None

        return _run(manifest, env, environments, model, value, result, reason, read_local, None)

    from mlops_gitops.github import client

    ctx = client.GitHubContext.from_env(token_vars=TOKEN_VARS)
    gh = client.connect(ctx, token_hint="MLOPS_GITOPS_TOKEN or GITHUB_TOKEN")
    state: dict[str, Any] = {"action": "reading the deployment repository"}
    repos: dict[str, Any] = {}
    bases: dict[str, str] = {}

    def repo_of(e: Environment) -> Any:
        name = ctx.require_repository(e.repo)
        if name not in repos:
            repos[name] = gh.get_repo(name)
        return repos[name]

    def base_of(e: Environment) -> str:
        return e.branch or repo_of(e).default_branch

    def read_remote(e: Environment) -> str | None:
        from mlops_gitops.github.pulls import read_file

        repo = repo_of(e)
        branch = base_of(e)
        if e.name == env.name:
            # Pin the base commit so the edit, the diff and the new commit all start from the same tree.
            bases[e.name] = repo.get_git_ref(f"heads/{branch}").object.sha
            return read_file(repo, e.file, bases[e.name])
        return read_file(repo, e.file, branch)

    def publish(plan_text: str, title: str, body: str) -> Any:
        from mlops_gitops.github.pulls import Promotion, publish

        assert manifest.deploy is not None
        state["action"] = f"opening the promotion PR in {repo_of(env).full_name}"
        plan = Promotion(
            base=base_of(env),
            branch=promotion.branch_name(env.name, model.name),
            path=env.file,
            text=plan_text,
            commit_message=promotion.commit_message(env.name, model),
            title=title,
            body=body,
            labels=manifest.deploy.labels,
            marker=promotion.marker(manifest.name, env.name, model.name),
            model_hash=model.hash,
        )
        return publish(repo_of(env), plan)

    try:
        return _run(
            manifest,
            env,
            environments,
            model,
            value,
            result,
            reason,
            read_remote,
            publish,
            lambda e: (repo_of(e).full_name, base_of(e)),
        )
    except (UsageError, CheckFailed):
        raise
    except Exception as exc:  # GithubException or transport error, reported without the token
        from github import GithubException

        if not isinstance(exc, GithubException) and not _is_transport_error(exc):
            raise
        raise client.describe(
            exc, str(state["action"]), ctx.token, permission="contents: write and pull-requests: write"
        ) from None


def _is_transport_error(exc: Exception) -> bool:
    import requests

    return isinstance(exc, requests.RequestException)


def _run(
    manifest: Manifest,
    env: Environment,
    environments: dict[str, Environment],
    model: ModelIdentity,
    value: str,
    result: Evaluated,
    reason: str | None,
    read: Callable[[Environment], str | None],
    publish: Callable[[str, str, str], Any] | None,
    where: Callable[[Environment], tuple[str, str]] | None = None,
) -> int:
    from mlops_gitops import gha, promotion, yamledit

    current: dict[str, str | None] = {}
    for name in env.after:
        before = environments.get(name)
        text = read(before) if before else None
        if before is not None and text is not None:
            current[name] = yamledit.get_scalar(text, before.field, before.document, source=before.file)
    problems = promotion.order_problems(env, environments, current, model)
    if problems:
        raise CheckFailed("; ".join(problems))

    old_text = read(env)
    if old_text is None:
        raise UsageError(f"deploy environment {env.name}: {env.file} does not exist in the target repository")
    old_value = yamledit.get_scalar(old_text, env.field, env.document, source=env.file)
    new_text = yamledit.set_scalar(old_text, env.field, value, env.document, source=env.file)
    repo_name, branch = (
        where(env) if where else (env.repo or "this repository", env.branch or "default branch")
    )
    target = promotion.Target(
        repo=repo_name,
        branch=branch,
        file=env.file,
        field=env.field,
        document=env.document,
        old=old_value,
        new=value,
    )
    body = promotion.body(
        manifest.name, env.name, model, target, result.verdict, result.failed, result.report, reason
    )
    title = promotion.title(env.name, model)
    if publish is None:
        diff = promotion.file_diff(old_text, new_text, env.file)
        click.echo(diff or f"# {env.file}: {env.field} is already {value!r}: no change")
        click.echo(f"# PR: {title}")
        click.echo(body, nl=not body.endswith("\n"))
        return 0
    if new_text == old_text:
        click.echo(
            f"{env.name} already runs {model.name} {model.short_hash} ({env.file} {env.field}): nothing to do"
        )
        return 0
    published = publish(new_text, title, body)
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
