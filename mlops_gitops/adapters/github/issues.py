"""Sticky issues (one open issue per marker, e.g. the monitoring alert) and workflow dispatch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_gitops.adapters.github.client import BOT_LOGIN, cap
from mlops_gitops.adapters.github.comments import written_by

if TYPE_CHECKING:  # pragma: no cover
    from github.Issue import Issue
    from github.Repository import Repository


@dataclass(frozen=True)
class IssueOutcome:
    action: str  # created | updated | unchanged | closed | none
    number: int | None
    url: str | None


def find_open_issue(
    repo: Repository, marker: str, labels: tuple[str, ...] | list[str] = (), bot_login: str = BOT_LOGIN
) -> Issue | None:
    """The open issue opened by ``bot_login`` (never a PR: GitHub lists PRs as issues too) whose body
    holds ``marker``. Anyone can open an issue carrying the marker; only the bot's own is edited.

    Filtering by the labels we put on it keeps the listing short on busy repositories; the marker is
    what decides, so a human relabelling the issue only costs a longer listing on the next run.
    """
    for candidates in ([list(labels)] if labels else []) + [[]]:
        issues = (
            repo.get_issues(state="open", labels=candidates) if candidates else repo.get_issues(state="open")
        )
        for issue in issues:
            if issue.pull_request is None and marker in (issue.body or "") and written_by(issue, bot_login):
                return issue
    return None


def upsert_issue(
    repo: Repository,
    title: str,
    body: str,
    marker: str,
    labels: tuple[str, ...] | list[str] = (),
    bot_login: str = BOT_LOGIN,
) -> IssueOutcome:
    """Create the marked issue, or bring the open one up to date (title, body, labels)."""
    body = cap(body)
    if marker not in body:
        body = f"{marker}\n{body}"
    issue = find_open_issue(repo, marker, labels, bot_login)
    if issue is None:
        made = repo.create_issue(title=title, body=body, labels=list(labels))
        return IssueOutcome("created", made.number, made.html_url)
    have = {label.name for label in issue.labels}
    missing = [name for name in labels if name not in have]
    changed = (issue.body or "").strip() != body.strip() or issue.title != title
    if changed:
        issue.edit(title=title, body=body)
    if missing:
        issue.add_to_labels(*missing)
    return IssueOutcome("updated" if changed or missing else "unchanged", issue.number, issue.html_url)


def close_issue(
    repo: Repository,
    marker: str,
    comment: str | None = None,
    labels: tuple[str, ...] | list[str] = (),
    bot_login: str = BOT_LOGIN,
) -> IssueOutcome:
    """Close the bot's open marked issue (with a closing comment when given); nothing to do when none."""
    issue = find_open_issue(repo, marker, labels, bot_login)
    if issue is None:
        return IssueOutcome("none", None, None)
    if comment:
        issue.create_comment(cap(comment))
    issue.edit(state="closed", state_reason="completed")
    return IssueOutcome("closed", issue.number, issue.html_url)


def dispatch_workflow(
    repo: Repository, workflow_file: str, ref: str, inputs: dict[str, str] | None = None
) -> None:
    """Start ``workflow_file`` (``on: workflow_dispatch``) on ``ref``; raises GithubException on refusal."""
    repo.get_workflow(workflow_file).create_dispatch(ref=ref, inputs=inputs or {}, throw=True)
