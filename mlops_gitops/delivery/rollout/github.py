"""A rollout on GitHub: its one pull request per environment (through :func:`.pulls.publish`, the one
bot-PR lifecycle) and the sticky status comment a hold updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_gitops.delivery.rollout import plan

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.github.pulls import Published


@dataclass(frozen=True)
class Pull:
    """Where a rollout's pull request goes: the repository (PyGithub's), its base branch, the file,
    and the labels it carries."""

    repo: Any
    base: str
    path: str
    labels: tuple[str, ...]


def publish_move(
    pull: Pull, project: str, env: str, change: plan.Change, title: str, body: str, content: str
) -> Published:
    """Open the move's pull request on the environment's rollout branch, or update the open one."""
    from mlops_gitops.adapters.github.pulls import BotPullRequest, publish

    return publish(
        pull.repo,
        BotPullRequest(
            base=pull.base,
            branch=plan.branch_name(env),
            files=((pull.path, change.text),),
            commit_message=plan.commit_message(title, f"mlops-gitops rollout of {env}: {change.move}."),
            title=title,
            body=body,
            labels=pull.labels,
            marker=plan.marker(project, env),
            content_hash=content,
            hash_label="rollout move",
        ),
    )


@dataclass(frozen=True)
class Status:
    action: str  # created | updated | unchanged | none (no rollout pull request to comment on)
    number: int | None
    url: str | None


def post_status(pull: Pull, project: str, env: str, body: str) -> Status:
    """The hold's sticky comment, on the rollout's open pull request (the move waiting to merge), else
    on the newest merged one (the step in progress); the bot's own pull requests only."""
    from mlops_gitops.adapters.github.client import BotIdentity
    from mlops_gitops.adapters.github.comments import upsert, written_by

    bot = BotIdentity.from_env().login
    repo, mark = pull.repo, plan.marker(project, env)
    head = f"{repo.owner.login}:{plan.branch_name(env)}"
    ours = [
        p
        for p in repo.get_pulls(state="all", head=head, base=pull.base)
        if written_by(p, bot) and mark in (p.body or "")
    ]
    ours.sort(key=lambda p: p.number, reverse=True)
    target = next((p for p in ours if p.state == "open"), None) or next((p for p in ours if p.merged), None)
    if target is None:
        return Status("none", None, None)
    done = upsert(target, body, plan.status_marker(project, env), bot)
    return Status(done.action, target.number, done.url)
