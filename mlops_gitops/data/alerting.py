"""Keep one GitHub issue in step with the drift report, and ask for a retrain when drift starts.

One open issue per project, found by the hidden marker the Markdown report starts with (the same
sticky idea as the PR comment): a breach opens it or updates its body; a clean run comments and
closes it. With ``on_drift.retrain`` the training workflow is dispatched once per drift episode,
when the issue is opened, so an hourly monitor does not start a training run every hour while the
first one is still running (without an issue, every breach dispatches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.github.client import GitHubContext

TRAIN_WORKFLOW = "mlops-train.yml"
DEFAULT_LABELS = ("mlops-gitops", "drift")


def marker(project: str) -> str:
    """The hidden first line of every monitoring report of ``project``."""
    return f"<!-- mlops-gitops:monitor project={project} -->"


@dataclass(frozen=True)
class AlertOutcome:
    issue_action: str  # created | updated | unchanged | closed | none | disabled
    issue_number: int | None = None
    issue_url: str | None = None
    dispatched: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "issue": self.issue_action,
            "number": self.issue_number,
            "url": self.issue_url,
            "retrain_dispatched": self.dispatched,
        }


def sync_issue(
    ctx: GitHubContext,
    project: str,
    drift: bool,
    body: str,
    on_drift: dict[str, Any] | None,
    default_branch: str,
    window_summary: str = "",
) -> AlertOutcome:
    """Open/update the drift issue (and dispatch training) on a breach; comment and close it when clear."""
    from github import GithubException

    from mlops_gitops.github.client import connect, describe
    from mlops_gitops.github.issues import close_issue, dispatch_workflow, upsert_issue

    settings = on_drift or {}
    want_issue = bool(settings.get("issue", True))
    retrain = bool(settings.get("retrain", False))
    labels = tuple(settings.get("labels") or DEFAULT_LABELS)
    mark = marker(project)
    name = ctx.require_repository()
    gh = connect(ctx)
    action = f"reading {name}"
    try:
        repo = gh.get_repo(name)
        if drift:
            outcome = AlertOutcome("disabled")
            if want_issue:
                action = "opening or updating the drift issue"
                result = upsert_issue(repo, f"Drift detected: {project}", body, mark, labels)
                outcome = AlertOutcome(result.action, result.number, result.url)
            if retrain and (not want_issue or outcome.issue_action == "created"):
                action = f"dispatching {TRAIN_WORKFLOW} on {default_branch}"
                dispatch_workflow(repo, TRAIN_WORKFLOW, default_branch)
                outcome = AlertOutcome(outcome.issue_action, outcome.issue_number, outcome.issue_url, True)
            return outcome
        if not want_issue:
            return AlertOutcome("disabled")
        action = "closing the drift issue"
        comment = (
            f"Drift cleared: no threshold is breached in the latest window{window_summary}. "
            "Closing this issue; a new breach opens a new one.\n\n" + body
        )
        result = close_issue(repo, mark, comment=comment, labels=labels)
        return AlertOutcome(result.action, result.number, result.url)
    except GithubException as exc:
        permission = "actions: write" if "dispatch" in action else "issues: write"
        raise describe(exc, action, ctx.token, permission) from None
    except OSError as exc:  # connection refused, DNS, timeouts after retries
        raise describe(exc, action, ctx.token) from None
