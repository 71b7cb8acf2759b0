"""Promotion as a flow: which model a commit holds, whether it passes its gates, whether the
environments before this one already run it, and the deployment file edit to publish.

:mod:`mlops_gitops.delivery.promotion` holds the pure pieces (identity, branch, body); this module drives them
over a source of deployment files (the local work tree for ``--dry-run``, or GitHub through
:class:`GitHubTarget`) and returns a typed :class:`Outcome` that the ``promote`` command prints.

:func:`promote` is that command's flow. Checks run before any API call, so a refused promotion costs
nothing: the model must pass its gates (unless ``--force --reason``), and an environment with
``after:`` only takes a model its predecessors already run. Exit codes: 0 PR opened / updated /
already current (also when a human owns the branch: then the PR gets a comment and a warning is
printed), 1 refused (gate, order) or GitHub said no, 2 bad input.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlops_gitops.adapters import actions_runtime as gha
from mlops_gitops.adapters import git
from mlops_gitops.delivery import promotion, yamledit
from mlops_gitops.delivery.promotion import ModelIdentity
from mlops_gitops.errors import CheckFailed, UsageError
from mlops_gitops.manifest.model import Environment, Manifest
from mlops_gitops.pipeline.project import Project, load_project

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.github.client import GitHubContext, Step
    from mlops_gitops.adapters.github.pulls import Published

# The deployment repositories may be other repositories: a token that can write there comes first.
TOKEN_VARS = ("MLOPS_GITOPS_TOKEN", "GITHUB_TOKEN")


@dataclass(frozen=True)
class Evaluated:
    verdict: str
    failed: list[str]
    report: str | None


@dataclass(frozen=True)
class Outcome:
    """What ``promote`` did: ``action`` is dry-run, current (the environment already runs the model),
    or the publication's own (created, updated, unchanged, blocked, skipped). ``in_actions``: inside
    GitHub Actions, where a blocked push is an annotation and the PR is also in the step outputs."""

    action: str
    env: Environment
    model: ModelIdentity
    value: str
    title: str
    body: str
    diff: str = ""
    published: Published | None = None
    in_actions: bool = False
    exit_code: int = 0

    @property
    def stdout(self) -> str:
        env, published = self.env, self.published
        if self.action == "dry-run":
            no_change = f"# {env.file}: {env.field} is already {self.value!r}: no change"
            lines = [self.diff or no_change, f"# PR: {self.title}", self.body.removesuffix("\n")]
        elif published is None:
            model = self.model
            lines = [
                f"{env.name} already runs {model.name} {model.short_hash} ({env.file} {env.field}): nothing to do"
            ]
        elif published.action == "blocked":
            lines = (
                [gha.command("warning", self.blocked, title="mlops-gitops promote")]
                if self.in_actions
                else []
            )
        elif published.action == "skipped":
            lines = [f"{env.name}: {published.detail}: {published.url}"]
        else:
            lines = [f"{published.action} promotion PR #{published.number} for {env.name}: {published.url}"]
        return "".join(f"{line}\n" for line in lines)

    @property
    def blocked(self) -> str:
        detail = self.published.detail if self.published else ""
        return f"promotion to {self.env.name} not pushed: {detail}"

    @property
    def stderr(self) -> tuple[str, ...]:
        blocked = self.published is not None and self.published.action == "blocked"
        return (f"warning: {self.blocked}",) if blocked and not self.in_actions else ()

    @property
    def outputs(self) -> dict[str, str]:
        published = self.published
        if published is None or not self.in_actions:
            return {}
        return {
            "action": published.action,
            "pr-number": str(published.number or ""),
            "pr-url": published.url or "",
        }


def model_at(project: Project, ref: str) -> ModelIdentity:
    """The model's identity at ``ref``: its out hash from the dvc.lock of the pipeline producing it,
    and the commit."""
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe
    from mlops_gitops.pipeline.project import model_stage

    manifest = project.manifest
    assert manifest.deploy is not None
    root = project.root
    commit = git.resolve(ref, root)
    if commit is None:
        raise UsageError(f"--model-ref {ref}: not a commit in this repository")
    found = model_stage(project)
    if found is None:
        raise UsageError(
            f"deploy.model.path {manifest.deploy.model.path}: no stage of the pipelines outputs it"
        )
    pipeline, _ = found
    top = git.toplevel(root) or root
    lock_path = (root.resolve() / project.lock_of(pipeline)).relative_to(top.resolve()).as_posix()
    data = git.show(commit, lock_path, top)
    where = f"{lock_path}@{commit[:7]}"
    if data is None:
        raise UsageError(f"{where}: no dvc.lock at this commit: run the pipeline and commit its dvc.lock")
    try:
        lock = load_safe(data.decode("utf-8"), where)
    except (YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
    model = manifest.deploy.model
    wdirs = {s.name: s.wdir for s in pipeline.stages}
    base = posixpath.dirname(pipeline.dvcfile)
    return promotion.model_identity(lock, model.path, commit, model.name, where, wdirs, base)


def evaluate(project: Project, base: str, commit: str) -> Evaluated:
    """The gate verdict and the Markdown report for the model's commit against ``base``.

    The gates are those of the project's manifest as loaded, the checked-out one (in mlops-deploy,
    the default branch: reviewed and merged), never those at ``base`` or at the model's commit: the
    model's commit (``--model-ref``) and its parent may be a pull request's, whose gates only it
    introduced."""
    from mlops_gitops.reporters import markdown
    from mlops_gitops.reporting.evaluate import evaluate as evaluate_revisions

    comparison = evaluate_revisions(project, base, commit, gates_from="manifest")
    return Evaluated(comparison.verdict, list(comparison.failed), markdown.render(comparison))


def default_base(root: Path, commit: str) -> str:
    """The first parent: what the default branch ran before this model (itself on a root commit)."""
    return git.resolve(f"{commit}^", root) or commit


class Target(Protocol):
    """Where deployment files are read and the change is published."""

    def read(self, env: Environment) -> str | None: ...

    def where(self, env: Environment) -> tuple[str, str]: ...


class LocalTarget:
    """A checkout on disk (``--dry-run``): nothing is published."""

    def __init__(self, root: Path, repository: str, default_branch: str) -> None:
        self.root, self.repository, self.default_branch = root, repository, default_branch

    def read(self, env: Environment) -> str | None:
        file = self.root / env.file
        return file.read_text(encoding="utf-8") if file.is_file() else None

    def where(self, env: Environment) -> tuple[str, str]:
        return (env.repo or self.repository, env.branch or self.default_branch)


class GitHubTarget:
    """The deployment repositories on GitHub; ``step`` names what is being done if GitHub says no."""

    def __init__(self, ctx: GitHubContext, gh: Any, step: Step, env: Environment) -> None:
        self.ctx, self.gh, self.step, self.env = ctx, gh, step, env
        self.repos: dict[str, Any] = {}
        self.bases: dict[str, str] = {}

    def repo_of(self, e: Environment) -> Any:
        name = self.ctx.require_repository(e.repo)
        if name not in self.repos:
            self.repos[name] = self.gh.get_repo(name)
        return self.repos[name]

    def base_of(self, e: Environment) -> str:
        return e.branch or str(self.repo_of(e).default_branch)

    def read(self, e: Environment) -> str | None:
        from mlops_gitops.adapters.github.pulls import read_file

        repo, branch = self.repo_of(e), self.base_of(e)
        if e.name == self.env.name:
            # Pin the base commit so the edit, the diff and the new commit all start from the same tree.
            self.bases[e.name] = repo.get_git_ref(f"heads/{branch}").object.sha
            return read_file(repo, e.file, self.bases[e.name])
        return read_file(repo, e.file, branch)

    def where(self, e: Environment) -> tuple[str, str]:
        return (str(self.repo_of(e).full_name), self.base_of(e))

    def publish(
        self, manifest: Manifest, model: ModelIdentity, text: str, title: str, body: str
    ) -> Published:
        from mlops_gitops.adapters.github.pulls import Promotion, publish

        assert manifest.deploy is not None
        self.step.action = f"opening the promotion PR in {self.repo_of(self.env).full_name}"
        plan = Promotion(
            base=self.base_of(self.env),
            branch=promotion.branch_name(self.env.name, model.name),
            path=self.env.file,
            text=text,
            commit_message=promotion.commit_message(self.env.name, model),
            title=title,
            body=body,
            labels=manifest.deploy.labels,
            marker=promotion.marker(manifest.name, self.env.name, model.name),
            model_hash=model.hash,
        )
        return publish(self.repo_of(self.env), plan)


def apply_promotion(
    manifest: Manifest,
    env: Environment,
    model: ModelIdentity,
    result: Evaluated,
    reason: str | None,
    target: Target,
    publish: Callable[[str, str, str], Published] | None,
) -> Outcome:
    """Check the order of environments, edit the deployment file, and publish it (unless ``publish``
    is None: a dry run). Refusals raise CheckFailed; a missing file is bad input."""
    assert manifest.deploy is not None
    environments = {e.name: e for e in manifest.deploy.environments}
    value = promotion.render_value(env.value, model, env.name)
    current: dict[str, str | None] = {}
    for name in env.after:
        before = environments.get(name)
        text = target.read(before) if before else None
        if before is not None and text is not None:
            current[name] = yamledit.get_scalar(text, before.field, before.document, source=before.file)
    problems = promotion.order_problems(env, environments, current, model)
    if problems:
        raise CheckFailed("; ".join(problems))
    if env.rollout is not None:  # the first step of a rollout instead (delivery/rollout/start.py)
        from mlops_gitops.delivery.rollout.start import first_step

        s = first_step(
            manifest, env, model, result.verdict, result.report, reason, target, publish is not None
        )
        return Outcome(s.action, env, model, s.value, s.title, s.body, s.diff, s.published)

    old_text = target.read(env)
    if old_text is None:
        raise UsageError(f"deploy environment {env.name}: {env.file} does not exist in the target repository")
    old_value = yamledit.get_scalar(old_text, env.field, env.document, source=env.file)
    new_text = yamledit.set_scalar(old_text, env.field, value, env.document, source=env.file)
    repo_name, branch = target.where(env)
    where = promotion.Target(repo_name, branch, env.file, env.field, env.document, old_value, value)
    body = promotion.body(
        manifest.name, env.name, model, where, result.verdict, result.failed, result.report, reason
    )
    title = promotion.title(env.name, model)
    if publish is None:
        return Outcome(
            "dry-run", env, model, value, title, body, promotion.file_diff(old_text, new_text, env.file)
        )
    if new_text == old_text:
        return Outcome("current", env, model, value, title, body)
    published = publish(new_text, title, body)
    return Outcome(published.action, env, model, value, title, body, published=published)


def promote(
    manifest_path: str,
    env_name: str,
    model_ref: str = "HEAD",
    base_rev: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    reason: str | None = None,
    target_dir: str | None = None,
) -> Outcome:
    """Open or update the deployment PR that sets ``env_name``'s model to the one of ``model_ref``,
    once it passes its gates against ``base_rev`` (default: its first parent) or ``force`` with a
    ``reason``. ``dry_run``: the edit and the PR against the checkout ``target_dir``, no API call."""
    if force and not (reason and reason.strip()):
        raise UsageError("--force needs --reason TEXT (it is written into the PR)")
    if reason and not force:
        raise UsageError("--reason only applies with --force")
    manifest, env = environment_of(manifest_path, env_name)
    root = Path(manifest_path).resolve().parent
    project = load_project(root, manifest)
    model = model_at(project, model_ref)
    result = evaluate(project, base_rev or default_base(root, model.commit), model.commit)
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
        local = LocalTarget(top, repository, manifest.default_branch)
        return apply_promotion(manifest, env, model, result, reason, local, None)
    return replace(on_github(manifest, env, model, result, reason), in_actions=gha.in_actions())


def environment_of(manifest_path: str, env_name: str) -> tuple[Manifest, Environment]:
    """The manifest and its deploy environment ``env_name``, or one line saying what is missing."""
    from mlops_gitops.manifest.loader import load_manifest

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
    return manifest, env


def on_github(
    manifest: Manifest, env: Environment, model: ModelIdentity, result: Evaluated, reason: str | None
) -> Outcome:
    """The promotion over the deployment repositories on GitHub, as the bot."""
    from mlops_gitops.adapters.github import client

    ctx = client.GitHubContext.from_env(token_vars=TOKEN_VARS)
    gh = client.connect(ctx, token_hint="MLOPS_GITOPS_TOKEN or GITHUB_TOKEN")
    with client.translated_errors(
        ctx, "reading the deployment repository", "contents: write and pull-requests: write"
    ) as step:
        target = GitHubTarget(ctx, gh, step, env)
        return apply_promotion(
            manifest,
            env,
            model,
            result,
            reason,
            target,
            lambda text, title, body: target.publish(manifest, model, text, title, body),
        )
