"""Keep one GitHub issue in step with the drift report, and ask for a retrain when drift starts.

One open issue per project, found by the hidden marker the Markdown report starts with (the same
sticky idea as the PR comment): a breach opens it or updates its body; a clean run comments and
closes it. With ``on_drift.retrain`` the training workflow is dispatched once per drift episode,
when the issue is opened, so an hourly monitor does not start a training run every hour while the
first one is still running (without an issue, every breach dispatches).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_gitops.manifest.sections import OnDrift
from mlops_gitops.reporters.drift import marker

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.github.client import GitHubContext

TRAIN_WORKFLOW = "mlops-train.yml"
# The training workflow's workflow_dispatch input saying why it runs: with "drift", a retrain whose
# gates fail is noted on the drift issue (`retrain-pr`).
RETRAIN_INPUTS = {"reason": "drift"}


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
    from mlops_gitops.adapters.github.client import BotIdentity, connect, translated_errors
    from mlops_gitops.adapters.github.issues import close_issue, dispatch_workflow, upsert_issue
    from mlops_gitops.reporters.markup import defang, plain, text

    # The report escaped the data's text itself; defang the whole body again all the same, as with
    # --alert-from it is a file handed over by another job. Our markers and wording have nothing to
    # defang, so a clean report is unchanged.
    body = defang(body)
    bot = BotIdentity.from_env().login
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
                issue_title = plain(f"Drift detected: {project}")
                result = upsert_issue(repo, issue_title, body, mark, labels, bot)
                outcome = AlertOutcome(result.action, result.number, result.url)
            if on_drift.retrain and (not on_drift.issue or outcome.issue_action == "created"):
                step.action, step.permission = (
                    f"dispatching {TRAIN_WORKFLOW} on {default_branch}",
                    "actions: write",
                )
                dispatch_workflow(repo, TRAIN_WORKFLOW, default_branch, dict(RETRAIN_INPUTS))
                outcome = AlertOutcome(outcome.issue_action, outcome.issue_number, outcome.issue_url, True)
            return outcome
        if not on_drift.issue:
            return AlertOutcome("disabled")
        step.action = "closing the drift issue"
        comment = (
            f"Drift cleared: no threshold is breached in the latest window{text(window_summary)}. "
            "Closing this issue; a new breach opens a new one.\n\n" + body
        )
        result = close_issue(repo, mark, comment=comment, labels=labels, bot_login=bot)
        return AlertOutcome(result.action, result.number, result.url)


@dataclass(frozen=True)
class MeasuredDrift:
    """What the measuring job of mlops-monitor handed over: its Markdown report and whether it found
    drift. Read as untrusted text: it is only ever posted as an issue body."""

    drift: bool
    markdown: str
    window: str


def read_measured(directory: Path, project: str) -> MeasuredDrift:
    """``monitor.md`` and ``monitor.json`` written by ``monitor --output ... --json-output ...``."""
    import json

    from mlops_gitops.errors import UsageError

    md, js = directory / "monitor.md", directory / "monitor.json"
    try:
        markdown = md.read_text(encoding="utf-8")
        data = json.loads(js.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            f"{directory}: cannot read the monitoring report: {exc.__class__.__name__}"
        ) from None
    if markdown.split("\n", 1)[0].strip() != marker(project):
        raise UsageError(
            f"{md}:1:1: not a monitoring report of project {project} (its first line is the marker)"
        )
    drift = data.get("drift") if isinstance(data, dict) else None
    if not isinstance(drift, bool):
        raise UsageError(f"{js}: 'drift' must be true or false")
    logs = data.get("logs") if isinstance(data.get("logs"), dict) else {}
    rows, start, end = logs.get("rows"), logs.get("start"), logs.get("end")
    window = ""
    if isinstance(rows, int) and not isinstance(rows, bool):
        window = f" ({rows} rows" + (
            f", {start} to {end})" if isinstance(start, str) and isinstance(end, str) else ")"
        )
    return MeasuredDrift(drift, markdown, window)
