"""The one sticky comment per project and report kind, found by the hidden marker on its first line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_gitops.github.client import cap


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
