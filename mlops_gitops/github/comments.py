"""The one sticky comment per project and report kind, found by the hidden marker on its first line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_gitops.errors import UsageError
from mlops_gitops.github.client import GitHubContext, cap, connect, translated_errors


@dataclass(frozen=True)
class Outcome:
    action: str  # created | updated | unchanged
    url: str | None
    id: int | None = None


def find_sticky(comments: Any, marker: str) -> Any | None:
    """The first comment whose body starts with ``marker``; a reply quoting it ("> <!--") does not count.

    ``comments`` is a PyGithub PaginatedList: iterating it fetches every page, so a PR with hundreds of
    comments is searched whole.
    """
    for comment in comments:
        text = (comment.body or "").lstrip()
        if text.startswith(marker):
            return comment
    return None


def upsert(target: Any, body: str, marker: str) -> Outcome:
    """Edit the marked comment on ``target`` (a PullRequest or an Issue), or create it.

    Leaves the comment alone when the body is already the same, so reruns cause no notification.
    """
    body = cap(body)
    if hasattr(target, "get_issue_comments"):
        comments, create = target.get_issue_comments(), target.create_issue_comment
    else:
        comments, create = target.get_comments(), target.create_comment
    existing = find_sticky(comments, marker)
    if existing is None:
        made = create(body)
        return Outcome("created", made.html_url, made.id)
    if (existing.body or "").strip() == body.strip():
        return Outcome("unchanged", existing.html_url, existing.id)
    existing.edit(body)
    return Outcome("updated", existing.html_url, existing.id)


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
    """``outcome`` None: not posted, because the PR's head moved on (``reason`` says so)."""

    pr: int
    outcome: Outcome | None
    reason: str = ""


def post_report(
    ctx: GitHubContext, body: str, marker: str, pr_number: int | None, head_sha: str | None
) -> Posted:
    """Post ``body`` as the sticky comment of the PR: ``pr_number``, else the one in the event payload,
    else the open PR containing GITHUB_SHA; only while ``head_sha`` (when given) is the PR's head."""
    from mlops_gitops.github import pulls

    repo_name = ctx.require_repository()
    number = pr_number or pulls.pr_number_from_event(ctx.event_path)
    gh = connect(ctx)
    with translated_errors(
        ctx, "finding the pull request", "pull-requests: write", "; the report remains in the job summary"
    ) as step:
        repo = gh.get_repo(repo_name)
        if number is None:
            if not ctx.sha:
                raise UsageError("no PR: pass --pr N (no PR in the event payload and GITHUB_SHA is unset)")
            found = pulls.pulls_for_commit(repo, ctx.sha)
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
        step.action = f"commenting on PR #{number}"
        return Posted(number, upsert(pr, body, marker))
