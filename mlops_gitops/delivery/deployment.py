"""Promotion as a flow: which model a commit holds, whether it passes its gates, whether the
environments before this one already run it, and the deployment file edit to publish.

:mod:`mlops_gitops.delivery.promotion` holds the pure pieces (identity, branch, body); this module drives them
over a source of deployment files (the local work tree for ``--dry-run``, or GitHub through
:class:`GitHubTarget`) and returns a typed :class:`Outcome` that the ``promote`` command prints.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlops_gitops.adapters import git
from mlops_gitops.delivery import promotion, yamledit
from mlops_gitops.delivery.promotion import ModelIdentity
from mlops_gitops.errors import CheckFailed, UsageError
from mlops_gitops.manifest.model import Environment, Manifest
from mlops_gitops.pipeline.project import Project

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.github.client import GitHubContext, Step
    from mlops_gitops.adapters.github.pulls import Published


@dataclass(frozen=True)
class Evaluated:
    verdict: str
    failed: list[str]
    report: str | None


@dataclass(frozen=True)
class Outcome:
    """What ``promote`` did: ``action`` is dry-run, current (the environment already runs the model),
    or the publication's own (created, updated, unchanged, blocked, skipped)."""

    action: str
    env: str
    model: ModelIdentity
    value: str
    title: str
    body: str
    diff: str = ""
    published: Published | None = None


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


def promote(
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
            "dry-run", env.name, model, title, body, promotion.file_diff(old_text, new_text, env.file)
        )
    if new_text == old_text:
        return Outcome("current", env.name, model, value, title, body)
    published = publish(new_text, title, body)
    return Outcome(published.action, env.name, model, value, title, body, published=published)
