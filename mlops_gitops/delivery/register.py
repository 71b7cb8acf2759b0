"""The two flows of ``mlops-gitops register``: tag each new model with the next version, and tag a
stage assignment for each merged promotion PR (DVC's model registry in Git, GTO's grammar).

What the tags are called and say is planned in :mod:`mlops_gitops.delivery.registry` (pure); the tags
are read and created through :mod:`mlops_gitops.adapters.github.tags`, which never moves one: a name
another run took meanwhile makes the flow plan again from the tags as they now are.

:func:`register` is the command's flow: ``--version`` tags the model of the checked-out default-branch
commit ``MODEL@vX.Y.Z`` (nothing when that model, or that commit, has a version already); ``--stages``
tags ``MODEL#ENV#N`` for each merged promotion PR not recorded yet. Without ``record.registry: true``
in mlops.yaml it says so and does nothing. Exit codes: 0 done (or nothing to do), 1 GitHub said no,
2 bad input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_gitops.adapters.github import tags
from mlops_gitops.adapters.github.client import BotIdentity, GitHubContext, connect, translated_errors
from mlops_gitops.adapters.github.comments import written_by
from mlops_gitops.delivery import registry
from mlops_gitops.delivery.registry import NewTag, Promoted, TagInfo
from mlops_gitops.errors import GitHubError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.pipeline.project import Project

PERMISSION = "contents: write"
# Promotion PRs in another repository are read with the token that opened them.
TOKEN_VARS = ("MLOPS_GITOPS_TOKEN", "GITHUB_TOKEN")
# A concurrent run that takes the name we planned: plan again this many times before giving up.
ATTEMPTS = 3


def artifact_tags(repo: Any, artifact: str) -> list[TagInfo]:
    """The tags of ``artifact`` in GTO's grammar (not those of another artifact whose name starts the
    same: ``model2@v1.0.0`` for ``model``)."""
    return [
        tag
        for tag in tags.list_tags(repo, registry.tag_prefix(artifact))
        if (parsed := registry.parse_tag(tag.name)) is not None and parsed.artifact == artifact
    ]


def _create(repo: Any, new: NewTag, bot: BotIdentity) -> bool:
    return tags.create_tag(repo, new.name, new.message, new.commit, bot, date=new.date)


def _iso(value: Any) -> str:
    from datetime import timezone

    return str(value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def merged_promotions(repo: Any, project: str, env: str, model: str, bot: BotIdentity) -> list[Promoted]:
    """The promotion PRs to ``env`` in ``repo`` that merged: opened by the bot from the env/model branch,
    whose marker names this project, env and model, and the model hash."""
    from mlops_gitops.delivery import promotion

    owner = repo.owner.login
    marker = promotion.marker(project, env, model) + " hash="
    found = []
    for pr in repo.get_pulls(state="closed", head=f"{owner}:{promotion.branch_name(env, model)}"):
        # merged_at is in the list response (``merged`` would cost a request per PR).
        if pr.merged_at is None or not written_by(pr, bot.login):
            continue
        body = pr.body or ""
        digest = promotion.marked_hash(body)
        if marker in body and digest:
            found.append(Promoted(str(repo.full_name), int(pr.number), env, digest, _iso(pr.merged_at)))
    return found


@dataclass(frozen=True)
class Recorded:
    """What ``register`` did: the tags it created, and a line for each thing it left as it was."""

    artifact: str
    created: tuple[NewTag, ...]
    notes: tuple[str, ...]


def artifact_of(project: Project) -> str:
    """GTO's name for deploy.model: the ``artifacts:`` entry of the pipelines whose path is the model's."""
    from mlops_gitops.adapters import git

    assert project.manifest.deploy is not None
    top = git.toplevel(project.root)
    prefix = project.root.resolve().relative_to(top.resolve()).as_posix() if top else ""
    entries = [a for p in project.pipelines for a in p.artifacts]
    return registry.artifact_name(
        entries, project.manifest.deploy.model.path, "" if prefix == "." else prefix
    )


def record_version(
    project: Project, model_ref: str, ctx: GitHubContext, bot: BotIdentity | None = None
) -> Recorded:
    """Tag the model of ``model_ref`` (its hash from the committed dvc.lock, as ``promote`` reads it)
    with the next version, unless that model or that commit has one."""
    from mlops_gitops.delivery.deployment import model_at

    bot = bot or BotIdentity.from_env()
    artifact = artifact_of(project)
    model = model_at(project, model_ref)
    gh = connect(ctx)
    with translated_errors(ctx, "reading the registry tags", PERMISSION) as step:
        repo = gh.get_repo(ctx.require_repository())
        for _ in range(ATTEMPTS):
            step.action = f"reading the tags of {artifact}"
            plan = registry.plan_version(
                artifact_tags(repo, artifact), artifact, model.hash, model.commit, bot.email
            )
            if plan.create is None:
                return Recorded(artifact, (), (plan.detail,))
            step.action = f"creating tag {plan.create.name}"
            if _create(repo, plan.create, bot):
                return Recorded(artifact, (plan.create,), ())
    raise GitHubError(
        f"creating a version tag of {artifact}: other runs took {ATTEMPTS} names in a row; run again"
    )


def record_stages(
    project: Project,
    ctx: GitHubContext,
    pulls_ctx: GitHubContext | None = None,
    bot: BotIdentity | None = None,
) -> Recorded:
    """Tag a stage assignment for every merged promotion PR whose model has a version and that no tag
    records yet. ``ctx`` creates the tags in this repository; ``pulls_ctx`` (default ``ctx``) reads the
    promotion PRs, which may live in other repositories (``deploy.environments[].repo``)."""
    manifest = project.manifest
    assert manifest.deploy is not None
    bot = bot or BotIdentity.from_env()
    artifact = artifact_of(project)
    for env in manifest.deploy.environments:
        registry.check_stage(env.name)
    pulls_ctx = pulls_ctx or ctx
    home = ctx.require_repository()
    promoted: list[Promoted] = []
    reader = connect(pulls_ctx, token_hint="MLOPS_GITOPS_TOKEN or GITHUB_TOKEN")
    with translated_errors(pulls_ctx, "reading the promotion PRs", "pull-requests: read") as step:
        repos: dict[str, Any] = {}
        for env in manifest.deploy.environments:
            name = pulls_ctx.require_repository(env.repo) if env.repo else home
            step.action = f"reading the promotion PRs of {env.name} in {name}"
            if name not in repos:
                repos[name] = reader.get_repo(name)
            promoted += merged_promotions(
                repos[name], manifest.name, env.name, manifest.deploy.model.name, bot
            )
    if not promoted:
        return Recorded(artifact, (), ("no merged promotion PR",))
    gh = connect(ctx)
    created: list[NewTag] = []
    with translated_errors(ctx, "reading the registry tags", PERMISSION) as step:
        repo = gh.get_repo(home)
        for _ in range(ATTEMPTS):
            step.action = f"reading the tags of {artifact}"
            plan = registry.plan_stages(artifact_tags(repo, artifact), artifact, promoted, bot.email)
            ours = {new.promotion for new in created}
            notes = [f"{p.id} ({p.env}): recorded already" for p in plan.done if p.id not in ours]
            notes += list(plan.waiting)
            for new in plan.create:
                step.action = f"creating tag {new.name}"
                if not _create(repo, new, bot):
                    break  # another run took the counter: plan what is left again
                created.append(new)
            else:
                return Recorded(artifact, tuple(created), tuple(notes))
    raise GitHubError(
        f"creating stage tags of {artifact}: other runs took {ATTEMPTS} names in a row; run again"
    )


@dataclass(frozen=True)
class Registered:
    """What ``register`` prints: a line per thing left as it was, then per tag created (whose names
    are also the ``tags`` step output inside GitHub Actions)."""

    lines: tuple[str, ...]
    outputs: dict[str, str] = field(default_factory=dict)
    stderr: tuple[str, ...] = ()
    exit_code: int = 0

    @property
    def stdout(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


def register(mode: str | None, model_ref: str = "HEAD", manifest_path: str = "mlops.yaml") -> Registered:
    """``mode`` "version": tag the model of ``model_ref`` with the next version; "stages": tag a stage
    assignment for each merged promotion PR not recorded yet."""
    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project

    if mode is None:
        raise UsageError("register: give --version or --stages")
    path = Path(manifest_path)
    if not path.is_file():
        raise UsageError(f"{manifest_path}: no such manifest (pass --manifest PATH)")
    manifest = load_manifest(path)
    if not manifest.record.registry or manifest.deploy is None:
        return Registered((f"record.registry is not enabled in {manifest_path}: no model registry tags",))
    ref = os.environ.get("GITHUB_REF") or ""
    if mode == "version" and ref and ref != f"refs/heads/{manifest.default_branch}":
        raise UsageError(
            f"register --version records models of {manifest.default_branch} only (this run is for {ref})"
        )
    project = load_project(path.resolve().parent, manifest)
    ctx = GitHubContext.from_env()
    if mode == "version":
        recorded = record_version(project, model_ref, ctx)
    else:
        recorded = record_stages(project, ctx, GitHubContext.from_env(token_vars=TOKEN_VARS))
    lines = [f"{recorded.artifact}: {note}" for note in recorded.notes]
    for new in recorded.created:
        what = f"stage {new.stage} of {new.version} (PR {new.promotion})" if new.stage else new.version
        lines.append(f"created tag {new.name}: {what} at commit {new.commit[:7]}")
    outputs = {"tags": " ".join(new.name for new in recorded.created)} if gha.in_actions() else {}
    return Registered(tuple(lines), outputs)
