"""Git tags on GitHub: listing those under a prefix (peeled to their commit, with the message and
tagger of annotated ones), and creating an annotated tag as the bot.

A tag is created as Git does for ``git tag -a NAME -m MESSAGE COMMIT``: a tag object (``POST
git/tags``) then its ref (``POST git/refs``). Nothing here moves or deletes a ref: a name taken
meanwhile is reported (False), and the caller plans again. What the tags are called and say (GTO's
grammar) is :mod:`mlops_gitops.delivery.registry`'s; the flows of ``register`` are
:mod:`mlops_gitops.delivery.register`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_gitops.adapters.github.client import BotIdentity

if TYPE_CHECKING:  # pragma: no cover
    from github.Repository import Repository


@dataclass(frozen=True)
class TagInfo:
    """A tag the repository holds: ``commit`` it points at (peeled; None when not a commit), and for
    an annotated tag its message and tagger (``message`` None: a lightweight tag, which GTO ignores)."""

    name: str
    commit: str | None
    message: str | None = None
    tagger_email: str | None = None

    @property
    def annotated(self) -> bool:
        return self.message is not None


def list_tags(repo: Repository, prefix: str) -> list[TagInfo]:
    """Every tag whose name starts with ``prefix``, with the commit each points at and, for annotated
    tags, their message and tagger. One request per annotated tag."""
    found = []
    for ref in repo.get_git_matching_refs(f"tags/{prefix}"):
        name = str(ref.ref).removeprefix("refs/tags/")
        kind, sha = str(ref.object.type), str(ref.object.sha)
        if kind == "commit":
            found.append(TagInfo(name, sha))
            continue
        if kind != "tag":
            found.append(TagInfo(name, None))
            continue
        tag = repo.get_git_tag(sha)
        message, email = str(tag.message), (tag.tagger.email if tag.tagger else None)
        target = tag.object
        for _ in range(4):  # a tag of a tag: peel it to the commit
            if target.type != "tag":
                break
            target = repo.get_git_tag(target.sha).object
        commit = str(target.sha) if target.type == "commit" else None
        found.append(TagInfo(name, commit, message, email))
    return found


def create_tag(
    repo: Repository, name: str, message: str, commit: str, bot: BotIdentity, date: str | None = None
) -> bool:
    """Create the annotated tag ``name`` on ``commit`` as ``bot`` (tagger date ``date``, ISO 8601, or
    now); False when the name is taken already."""
    from github import GithubException, InputGitAuthor

    tagger = InputGitAuthor(bot.name, bot.email, date) if date else InputGitAuthor(bot.name, bot.email)
    obj = repo.create_git_tag(name, message, commit, "commit", tagger)
    try:
        repo.create_git_ref(f"refs/tags/{name}", obj.sha)
    except GithubException as exc:
        text = str(exc.data.get("message", "")) if isinstance(exc.data, dict) else ""
        if exc.status == 422 and "already exists" in text.lower():
            return False
        raise
    return True
