"""The one sticky comment per project and report kind, found by the hidden marker on its first line."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from mlops_gitops.adapters.github.client import cap

if TYPE_CHECKING:  # pragma: no cover
    from github.Issue import Issue
    from github.IssueComment import IssueComment
    from github.PullRequest import PullRequest


@dataclass(frozen=True)
class Outcome:
    action: str  # created | updated | unchanged
    url: str | None
    id: int | None = None


def written_by(item: object, login: str) -> bool:
    """Whether a comment, issue or pull request was written by ``login`` (our bot identity).

    Anything with a ``user`` will do (PyGithub's comments, issues and pull requests all have one)."""
    user = getattr(item, "user", None)
    return user is not None and str(user.login).lower() == login.lower()


def find_sticky(comments: Iterable[IssueComment], marker: str, bot_login: str) -> IssueComment | None:
    """The first comment by ``bot_login`` whose body starts with ``marker``.

    The marker is public: anyone can post a comment starting with it, and editing that comment would
    overwrite their text (or fail where GitHub refuses the edit), so only the bot's own comments are
    candidates. A reply quoting ours ("> <!--") does not count either. ``comments`` is a PyGithub
    PaginatedList: iterating it fetches every page, so a PR with hundreds of comments is searched whole.
    """
    for comment in comments:
        text = (comment.body or "").lstrip()
        if text.startswith(marker) and written_by(comment, bot_login):
            return comment
    return None


def upsert(target: PullRequest | Issue, body: str, marker: str, bot_login: str) -> Outcome:
    """Edit the bot's marked comment on ``target`` (a PullRequest or an Issue), or create it.

    Leaves the comment alone when the body is already the same, so reruns cause no notification.
    """
    body = cap(body)
    comments: Iterable[IssueComment]
    create: Callable[[str], IssueComment]
    # Told apart by what they can do rather than by class, so a stand-in for either works too.
    if hasattr(target, "get_issue_comments"):
        pull = cast("PullRequest", target)
        comments, create = pull.get_issue_comments(), pull.create_issue_comment
    else:
        comments, create = target.get_comments(), target.create_comment
    existing = find_sticky(comments, marker, bot_login)
    if existing is None:
        made = create(body)
        return Outcome("created", made.html_url, made.id)
    if (existing.body or "").strip() == body.strip():
        return Outcome("unchanged", existing.html_url, existing.id)
    existing.edit(body)
    return Outcome("updated", existing.html_url, existing.id)
