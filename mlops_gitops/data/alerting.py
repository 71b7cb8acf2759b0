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

from mlops_gitops.manifest.sections import OnDrift
from mlops_gitops.reporters.drift import marker

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.github.client import GitHubContext

TRAIN_WORKFLOW = "mlops-train.yml"


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
    on_drift: OnDrift,
    default_branch: str,
    window_summary: str = "",
) -> AlertOutcome:
    """Open/update the drift issue (and dispatch training) on a breach; comment and close it when clear."""
    from mlops_gitops.github.client import connect, translated_errors
    from mlops_gitops.github.issues import close_issue, dispatch_workflow, upsert_issue

    labels = on_drift.labels
    mark = marker(project)
    name = ctx.require_repository()
    gh = connect(ctx)
    with translated_errors(ctx, f"reading {name}", "issues: write") as step:
        repo = gh.get_repo(name)
        if drift:
            outcome = AlertOutcome("disabled")
            if on_drift.issue:
                step.action = "opening or updating the drift issue"
                result = upsert_issue(repo, f"Drift detected: {project}", body, mark, labels)
                outcome = AlertOutcome(result.action, result.number, result.url)
            if on_drift.retrain and (not on_drift.issue or outcome.issue_action == "created"):
                step.action, step.permission = (
                    f"dispatching {TRAIN_WORKFLOW} on {default_branch}",
                    "actions: write",
                )
                dispatch_workflow(repo, TRAIN_WORKFLOW, default_branch)
                outcome = AlertOutcome(outcome.issue_action, outcome.issue_number, outcome.issue_url, True)
            return outcome
        if not on_drift.issue:
            return AlertOutcome("disabled")
        step.action = "closing the drift issue"
        comment = (
            f"Drift cleared: no threshold is breached in the latest window{window_summary}. "
            "Closing this issue; a new breach opens a new one.\n\n" + body
        )
        result = close_issue(repo, mark, comment=comment, labels=labels)
        return AlertOutcome(result.action, result.number, result.url)
