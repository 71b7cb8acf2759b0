"""A retrain on the default branch, published: the "retrained model" PR when its gates pass, a note on
the drift issue when drift started it and they fail. The one flow behind ``retrain-pr``.

The PR goes through the bot lifecycle of :func:`mlops_gitops.adapters.github.pulls.publish`: one bot commit
holding the reproduced ``dvc.lock`` files on top of the commit that was trained (which must be on the
default branch), on ``record.retrain_branch``; a newer retrain replaces that commit while the branch
holds only the bot's; a human commit on it is never force-pushed over (the PR gets a comment).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops_gitops.errors import EXIT_CHECK_FAILED, EXIT_OK, UsageError
from mlops_gitops.names import DVC_FILE

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.github.client import BotIdentity, GitHubContext
    from mlops_gitops.delivery.retrain import Retrain
    from mlops_gitops.manifest.model import Manifest

TOKEN_VARS = ("MLOPS_GITOPS_TOKEN", "GITHUB_TOKEN")
PERMISSIONS = "contents: write, pull-requests: write and statuses: write"


@dataclass(frozen=True)
class Handled:
    """What ``retrain-pr`` did: the lines to print, its exit code, and the step outputs."""

    lines: list[str]
    exit_code: int
    outputs: dict[str, str] = field(default_factory=dict)


def preview(retrain: Retrain, manifest: Manifest) -> Handled:
    """``--dry-run``: what would be published, without any request."""
    from mlops_gitops.delivery import retrain as r

    if retrain.passed:
        plan = r.pull_request(retrain, manifest)
        lines = [
            f"# would open or update the PR from {plan.branch} into {plan.base}, one commit on "
            f"{retrain.run.sha[:12]} with {', '.join(retrain.paths)}",
            f"# PR: {plan.title}",
            plan.body.rstrip("\n"),
        ]
        return Handled(lines, EXIT_OK, {"action": "dry-run"})
    lines = [f"no pull request: {retrain.summary()}"]
    if retrain.run.reason == "drift":
        _, note = r.failure_note(retrain, manifest.default_branch)
        lines += ["# would comment on the open drift issue:", note.rstrip("\n")]
    return Handled(lines, EXIT_CHECK_FAILED, {"action": "gates-failed"})


def handle(ctx: GitHubContext, retrain: Retrain, manifest: Manifest) -> Handled:
    """Publish the retrained-model PR (gates pass), or note the failure on the drift issue (gates
    fail and drift started the retrain; any other failing retrain makes no request)."""
    if retrain.passed:
        return _publish(ctx, retrain, manifest)
    lines = [f"no pull request: {retrain.summary()}"]
    if retrain.run.reason != "drift":
        return Handled(lines, EXIT_CHECK_FAILED, {"action": "gates-failed"})
    return _note_on_drift_issue(ctx, retrain, manifest, lines)


def _bot() -> BotIdentity:
    from mlops_gitops.adapters.github.client import BotIdentity

    return BotIdentity.from_env()


def _publish(ctx: GitHubContext, retrain: Retrain, manifest: Manifest) -> Handled:
    from mlops_gitops.adapters.github import client
    from mlops_gitops.adapters.github.pulls import publish, read_file
    from mlops_gitops.delivery import retrain as r
    from mlops_gitops.delivery.record import STATUS_CONTEXT

    plan = r.pull_request(retrain, manifest)
    name = ctx.require_repository()
    gh = client.connect(ctx, token_hint=" or ".join(TOKEN_VARS))
    with client.translated_errors(ctx, f"reading {name}", PERMISSIONS) as step:
        repo = gh.get_repo(name)
        step.action = f"reading the pipelines of {retrain.run.sha[:12]}"
        sha = retrain.run.sha
        for path in retrain.locks:
            sibling = posixpath.join(posixpath.dirname(path), DVC_FILE)
            if read_file(repo, sibling, sha) is None:
                raise UsageError(
                    f"{path}: commit {sha[:12]} has no {sibling} beside it (or is not a commit of "
                    f"{name}), refused"
                )
        for path in retrain.outputs:
            # Only what Git already tracks: a DVC-cached output (the model) never goes into Git.
            if read_file(repo, path, sha) is None:
                raise UsageError(f"{path}: not a file Git tracks at {sha[:12]}, refused")
        step.action = f"opening the retrained-model PR from {plan.branch}"
        published = publish(repo, plan, _bot())
        if published.action in ("created", "updated"):
            # Pushed with GITHUB_TOKEN, the commit starts no workflow: like the bot's commit on a pull
            # request (github/record.py), it carries the result of the run whose files it records.
            step.action, step.permission = f"setting {STATUS_CONTEXT} on {plan.branch}", "statuses: write"
            head = repo.get_git_ref(f"heads/{plan.branch}").object.sha
            repo.get_commit(head).create_status(
                state="success",
                target_url=retrain.run.url,
                description=f"the retrain this commit records passes its gates against {plan.base}"[:140],
                context=STATUS_CONTEXT,
            )
    outputs = {
        "action": published.action,
        "pr-number": str(published.number or ""),
        "pr-url": published.url or "",
    }
    if published.action in ("created", "updated", "unchanged"):
        line = f"{published.action} retrained-model PR #{published.number}: {published.url}"
    elif published.action == "blocked":
        line = f"retrained model not pushed: {published.detail}"
    else:  # skipped | outdated | recorded
        line = f"no retrained-model PR ({published.action}): {published.detail}"
    return Handled([line], EXIT_OK, outputs)


def _note_on_drift_issue(
    ctx: GitHubContext, retrain: Retrain, manifest: Manifest, lines: list[str]
) -> Handled:
    from mlops_gitops.adapters.github import client
    from mlops_gitops.adapters.github.comments import upsert
    from mlops_gitops.adapters.github.issues import find_open_issue
    from mlops_gitops.delivery import retrain as r
    from mlops_gitops.reporters.drift import marker as drift_marker

    bot = _bot()
    labels = manifest.monitoring.on_drift.labels if manifest.monitoring else ()
    mark, note = r.failure_note(retrain, manifest.default_branch)
    name = ctx.require_repository()
    gh = client.connect(ctx, token_hint=" or ".join(TOKEN_VARS))
    with client.translated_errors(ctx, "finding the drift issue", "issues: write") as step:
        repo = gh.get_repo(name)
        issue = find_open_issue(repo, drift_marker(manifest.name), labels, bot.login)
        if issue is None:
            lines.append(f"no open drift issue by {bot.login} to note it on")
            return Handled(lines, EXIT_CHECK_FAILED, {"action": "gates-failed"})
        step.action = f"commenting on drift issue #{issue.number}"
        outcome = upsert(issue, note, mark, bot.login)
    lines.append(f"{outcome.action} comment on drift issue #{issue.number}: {outcome.url}")
    return Handled(
        lines,
        EXIT_CHECK_FAILED,
        {"action": "gates-failed", "issue-number": str(issue.number), "comment-url": outcome.url or ""},
    )
