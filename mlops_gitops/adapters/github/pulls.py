"""The bot lifecycle of its own PRs (Renovate conventions): promotion PRs and the retrained-model PR.

One branch per PR. The branch is always rebuilt as one bot commit on top of its parent (the base
branch's head, or a commit of it the plan names), so a newer version (or a moved parent) just replaces
that commit; but only while the branch head is our own commit: once someone else pushed to it, we
comment on the PR instead of force-pushing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_gitops.adapters.github.client import BotIdentity, cap
from mlops_gitops.adapters.github.comments import upsert, written_by
from mlops_gitops.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from github.GitCommit import GitCommit
    from github.GitRef import GitRef
    from github.PullRequest import PullRequest
    from github.Repository import Repository


def read_file(repo: Repository, path: str, ref: str) -> str | None:
    """Text of ``path`` at ``ref`` in ``repo``, or None when it does not exist there."""
    from github import UnknownObjectException

    try:
        content = repo.get_contents(path, ref=ref)
    except UnknownObjectException:
        return None
    if isinstance(content, list):
        raise UsageError(f"{repo.full_name}: {path} is a directory, not a deployment file")
    data: bytes = content.decoded_content
    return data.decode("utf-8")


@dataclass(frozen=True)
class BotPullRequest:
    """What the bot publishes: ``files`` (``(path, text)`` pairs) as one bot commit on ``branch``, on top
    of ``parent`` (a commit of ``base``; None: the head of ``base``), proposed to ``base``.

    ``marker`` is the stable part of the hidden marker (the same for every version the PR carries: it
    finds the PR); the body holds it followed by ``hash=CONTENT_HASH``, which a PR closed without merging
    compares against (Renovate's convention: "not this version"). ``hash_label`` names that hash in the
    note left on a PR whose branch someone else pushed to.
    """

    base: str
    branch: str
    files: tuple[tuple[str, str], ...]
    commit_message: str
    title: str
    body: str
    labels: tuple[str, ...]
    marker: str
    content_hash: str
    parent: str | None = None
    hash_label: str = "model"


@dataclass(frozen=True)
class Promotion:
    """What to publish: ``text`` as the new content of ``path`` on ``branch``, proposed to ``base``."""

    base: str
    branch: str
    path: str
    text: str
    commit_message: str
    title: str
    body: str
    labels: tuple[str, ...]
    marker: str  # stable part: same for every model version of this env/model
    model_hash: str

    def pull_request(self) -> BotPullRequest:
        return BotPullRequest(
            base=self.base,
            branch=self.branch,
            files=((self.path, self.text),),
            commit_message=self.commit_message,
            title=self.title,
            body=self.body,
            labels=self.labels,
            marker=self.marker,
            content_hash=self.model_hash,
        )


@dataclass(frozen=True)
class Published:
    action: str  # created | updated | unchanged | blocked | skipped | outdated | recorded
    number: int | None
    url: str | None
    detail: str = ""


def _ref(repo: Repository, branch: str) -> GitRef | None:
    from github import UnknownObjectException

    try:
        return repo.get_git_ref(f"heads/{branch}")
    except UnknownObjectException:
        return None


def marked_hash(body: str | None, marker: str) -> str | None:
    """The ``hash=`` recorded after the stable ``marker`` in a PR body, if any."""
    m = re.search(re.escape(marker) + r" (?:[^>]*? )?hash=([^\s>]+)", body or "")
    return m.group(1) if m else None


def blocked_marker(marker: str) -> str:
    """The marker of the note left on a PR whose branch holds someone else's commit:
    ``<!-- mlops-gitops:KIND ...`` becomes ``<!-- mlops-gitops:KIND-blocked ...``."""
    return re.sub(r"^(<!-- mlops-gitops:[a-z-]+)", r"\1-blocked", marker, count=1)


def _parent_check(repo: Repository, plan: BotPullRequest, base_sha: str) -> Published | None:
    """For a plan built on an older commit of ``base``: refuse a parent that is not on ``base``, and say
    when there is nothing to publish (the parent already holds the files) or when ``base`` has changed
    those files since (the plan is outdated: the files describe a state ``base`` has left)."""
    assert plan.parent is not None
    if plan.parent != base_sha:
        status = repo.compare(plan.parent, base_sha).status
        if status not in ("ahead", "identical"):
            raise UsageError(
                f"commit {plan.parent[:12]} is not on {plan.base} (GitHub compares it as {status}): "
                "refusing to propose files built on it"
            )
    at_parent = {path: read_file(repo, path, plan.parent) for path, _ in plan.files}
    if all(at_parent[path] == text for path, text in plan.files):
        return Published("recorded", None, None, f"commit {plan.parent[:12]} already holds these files")
    if plan.parent != base_sha:
        moved = [path for path, _ in plan.files if read_file(repo, path, base_sha) != at_parent[path]]
        if moved:
            return Published(
                "outdated",
                None,
                None,
                f"{plan.base} changed {', '.join(moved)} after {plan.parent[:12]}: not proposing files "
                f"that describe {plan.parent[:12]} (the next run on {plan.base} will)",
            )
    return None


def publish(repo: Repository, plan: Promotion | BotPullRequest, bot: BotIdentity | None = None) -> Published:
    """Open the bot's PR, or update the open one; never force-push over someone else's commit.

    The branch is one bot commit holding ``plan.files`` on top of the parent (the head of the base
    branch, or ``plan.parent``). While the branch head is the bot's own commit, a newer plan or a moved
    parent replaces that commit; once someone else pushed to it, the PR gets a comment instead."""
    if isinstance(plan, Promotion):
        plan = plan.pull_request()
    bot = bot or BotIdentity.from_env()
    found = _our_pull(repo, plan, bot)
    if isinstance(found, Published):
        return found
    pr = found
    base_sha = repo.get_git_ref(f"heads/{plan.base}").object.sha
    if plan.parent is not None:
        settled = _parent_check(repo, plan, base_sha)
        if settled is not None:
            return Published(
                settled.action,
                pr.number if pr else None,
                pr.html_url if pr else None,
                settled.detail,
            )
    parent = repo.get_git_commit(plan.parent or base_sha)
    ref = _ref(repo, plan.branch)
    push = True
    if ref is not None:
        head = repo.get_git_commit(ref.object.sha)
        if head.author.email != bot.email:
            return _blocked_by_commit(plan, bot, pr, head)
        push = not _holds(repo, head, parent, plan)
    if push:
        _push(repo, plan, bot, parent, ref)
    return _propose(repo, plan, pr, push)


def _our_pull(repo: Repository, plan: BotPullRequest, bot: BotIdentity) -> PullRequest | Published | None:
    """The bot's open PR from ``plan.branch`` (None: there is none yet), or why not to publish: a PR
    from that branch someone else opened (blocked), or the bot's PR for this very content closed
    without merging (skipped)."""
    owner = repo.owner.login
    open_prs = list(repo.get_pulls(state="open", head=f"{owner}:{plan.branch}", base=plan.base))
    # Only PRs the bot opened are ours to edit: the marker in a body is public and proves nothing.
    ours = [p for p in open_prs if written_by(p, bot.login)]
    pr = next((p for p in ours if plan.marker in (p.body or "")), ours[0] if ours else None)
    if pr is not None:
        return pr
    if open_prs:
        other = open_prs[0]
        return Published(
            "blocked",
            other.number,
            other.html_url,
            f"PR #{other.number} from branch {plan.branch} was opened by {other.user.login}, not by "
            f"{bot.login}: not touching it (close it, or delete the branch, to let mlops-gitops manage it)",
        )
    # Renovate's convention: a PR closed without merging means "not this version".
    for closed in repo.get_pulls(state="closed", head=f"{owner}:{plan.branch}", base=plan.base):
        if (
            not closed.merged
            and written_by(closed, bot.login)
            and marked_hash(closed.body, plan.marker) == plan.content_hash
        ):
            return Published(
                "skipped",
                closed.number,
                closed.html_url,
                f"PR #{closed.number} for this {plan.hash_label} was closed without merging; "
                "not reopening it",
            )
    return None


def _blocked_by_commit(
    plan: BotPullRequest, bot: BotIdentity, pr: PullRequest | None, head: GitCommit
) -> Published:
    """The branch head is someone else's commit: leave it, and say so on the PR when there is one."""
    who = f"{head.author.name} <{head.author.email}>"
    detail = f"branch {plan.branch} has commit {head.sha[:7]} by {who}: not force-pushing over it"
    if pr is None:
        return Published("blocked", None, None, detail + " (and no open PR to comment on)")
    note = (
        f"{blocked_marker(plan.marker)} -->\n"
        f"mlops-gitops wanted to update this PR to **{plan.title}** "
        f"({plan.hash_label} `{plan.content_hash}`), "
        f"but the branch `{plan.branch}` has commit {head.sha} by {who}, so it did not "
        "force-push over that work.\n\nTo let mlops-gitops manage the branch again, close this PR "
        "and delete the branch (the next run opens a fresh PR), or apply the change yourself."
    )
    upsert(pr, note, note.splitlines()[0], bot.login)
    return Published("blocked", pr.number, pr.html_url, detail + "; commented on the PR")


def _holds(repo: Repository, head: GitCommit, parent: GitCommit, plan: BotPullRequest) -> bool:
    """Whether the bot's branch head already is the commit ``plan`` would push: on ``parent``, with
    the same files."""
    return [p.sha for p in head.parents] == [parent.sha] and all(
        _file_at(repo, head, path) == text for path, text in plan.files
    )


def _push(
    repo: Repository, plan: BotPullRequest, bot: BotIdentity, parent: GitCommit, ref: GitRef | None
) -> None:
    """One bot commit with ``plan.files`` on top of ``parent``, as the head of ``plan.branch``."""
    from github import InputGitAuthor, InputGitTreeElement

    elements = [
        InputGitTreeElement(path, "100644", "blob", sha=repo.create_git_blob(text, "utf-8").sha)
        for path, text in plan.files
    ]
    tree = repo.create_git_tree(elements, base_tree=parent.tree)
    identity = InputGitAuthor(bot.name, bot.email)
    commit = repo.create_git_commit(plan.commit_message, tree, [parent], author=identity, committer=identity)
    if ref is None:
        repo.create_git_ref(f"refs/heads/{plan.branch}", commit.sha)
    else:
        # Our own single commit on top of the parent: replacing it is the point (newer version,
        # moved base).
        ref.edit(commit.sha, force=True)


def _propose(repo: Repository, plan: BotPullRequest, pr: PullRequest | None, pushed: bool) -> Published:
    """Open the PR, or bring the open one's title and body up to date; add the missing labels."""
    body = cap(plan.body)
    if pr is None:
        pr = repo.create_pull(base=plan.base, head=plan.branch, title=plan.title, body=body, draft=False)
        action = "created"
    else:
        changed = pr.title != plan.title or (pr.body or "").strip() != body.strip()
        if changed:
            pr.edit(title=plan.title, body=body)
        action = "updated" if changed or pushed else "unchanged"
    have = {label.name for label in pr.labels}
    missing = [name for name in plan.labels if name not in have]
    if missing:
        pr.add_to_labels(*missing)
    return Published(action, pr.number, pr.html_url)


def _file_at(repo: Repository, commit: GitCommit, path: str) -> str | None:
    return read_file(repo, path, commit.sha)
