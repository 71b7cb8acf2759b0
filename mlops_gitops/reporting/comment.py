"""Posting a report as the one sticky comment of the pull request its run was for: the report read
as untrusted text, the pull request found from what GitHub says of the run (never from the report),
and an optional section (recording the run) added once the pull request is known."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_gitops.adapters.github import events
from mlops_gitops.adapters.github.client import BotIdentity, GitHubContext, connect, translated_errors
from mlops_gitops.adapters.github.comments import Outcome, upsert
from mlops_gitops.errors import GitHubError, UsageError
from mlops_gitops.reporters.markup import text

MARKER = re.compile(r"^<!-- mlops-gitops:[a-z-]+( [^>]*)? -->$")


def read_report(path: str) -> tuple[str, str]:
    """The report text and its marker (first line); bad or unmarked reports are refused."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the report: {exc.__class__.__name__}") from None
    first = text.split("\n", 1)[0].strip()
    if not MARKER.match(first):
        raise UsageError(
            f"{path}:1:1: the report must start with its marker line "
            "'<!-- mlops-gitops:pr-report project=NAME -->' (write it with `mlops-gitops report`)"
        )
    if "\x00" in text:
        raise UsageError(f"{path}: the report is not text")
    return text, first


@dataclass(frozen=True)
class Posted:
    """``outcome`` None: not posted (``reason`` says why: the PR's head moved on, or the report does not
    belong to the pull request it names)."""

    pr: int | None
    outcome: Outcome | None
    reason: str = ""
    # Recording the run failed (GitHub refused): the report was posted all the same, saying so.
    record_error: str = ""


def post_report(
    ctx: GitHubContext,
    body: str,
    marker: str,
    pr_number: int | None,
    head_sha: str | None,
    section: Callable[[Any, Any], str] | None = None,
) -> Posted:
    """Post ``body`` as the sticky comment of the PR the report belongs to.

    Run from a ``workflow_run`` event (the comment workflow), the pull request is the open one whose head
    repository, branch and commit all equal the triggering run's, as the event payload states them;
    ``pr_number`` (from the run's own artifact) is only a hint that must name that same PR. Otherwise:
    ``pr_number``, else the PR in the event payload, else the open PR containing GITHUB_SHA, and only
    while ``head_sha`` (when given) is its head. ``section(repo, pr)``, once the PR is known, may act
    on it (record the run) and returns Markdown appended to the body.
    """
    repo_name = ctx.require_repository()
    run = events.run_head_from_event(ctx.event_path)
    if run is not None and head_sha and head_sha != run.sha:
        raise UsageError(
            f"--head-sha {head_sha[:12]} is not the triggering run's head commit {run.sha[:12]} "
            "(workflow_run.head_sha)"
        )
    number = pr_number or (None if run else events.pr_number_from_event(ctx.event_path))
    gh = connect(ctx)
    with translated_errors(
        ctx, "finding the pull request", "pull-requests: write", "; the report remains in the job summary"
    ) as step:
        repo = gh.get_repo(repo_name)
        if run is not None:
            matches = events.pulls_for_run(repo, run)
            where = f"{run.repository}:{run.branch} at {run.sha[:12]}"
            if not matches:
                return Posted(number, None, f"no open pull request has the run's head {where}")
            pr = matches[0]
            if number is not None and number != pr.number:
                return Posted(
                    number,
                    None,
                    f"the report names PR #{number}, but its run was for {where}, the head of PR "
                    f"#{pr.number}: a report is posted only on the pull request its run was for",
                )
        else:
            if number is None:
                if not ctx.sha:
                    raise UsageError(
                        "no PR: pass --pr N (no PR in the event payload and GITHUB_SHA is unset)"
                    )
                found = events.pulls_for_commit(repo, ctx.sha)
                if not found:
                    raise UsageError(f"no open pull request contains commit {ctx.sha[:12]}: pass --pr N")
                number = found[0].number
            pr = repo.get_pull(number)
            if head_sha and pr.head.sha != head_sha:
                return Posted(
                    number,
                    None,
                    f"the report is for commit {head_sha[:12]}, but PR #{number}'s head is "
                    f"{pr.head.sha[:12]} (a newer push, or a run of another pull request)",
                )
        record_error = ""
        if section is not None:
            # Reviewers need the report even when recording the run is refused (a missing grant).
            try:
                with translated_errors(
                    ctx, f"recording the run on PR #{pr.number}", "contents: write and statuses: write"
                ):
                    extra = section(repo, pr)
            except GitHubError as exc:
                record_error = str(exc)
                extra = f"\n> [!WARNING]\n> mlops-gitops could not record this run: {text(record_error)}\n"
            body = body.rstrip("\n") + "\n" + extra
        step.action = f"commenting on PR #{pr.number}"
        outcome = upsert(pr, body, marker, BotIdentity.from_env().login)
        return Posted(pr.number, outcome, record_error=record_error)
