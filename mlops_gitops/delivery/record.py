"""Recording a pull request's reproduced ``dvc.lock`` on its branch, as the bot (``record.pull_requests``).

The comment job runs in the base repository with a write token and none of the pull request's code. It
has found the pull request by the triggering run's head (repository, branch, commit: see
:func:`mlops_gitops.adapters.github.events.pulls_for_run`). Here it adds one commit on top of exactly that head,
changing only ``dvc.lock`` files that sit beside a ``dvc.yaml`` of that commit, and moves the branch
without force: if anyone pushed meanwhile, GitHub refuses the fast-forward and nothing is recorded.

A commit pushed with ``GITHUB_TOKEN`` starts no workflow, so the new head would carry no checks. The
commit records the run that was just evaluated, with nothing else changed, so the commit gets a status
(:data:`STATUS_CONTEXT`) carrying the conclusion GitHub reported for that run (the ``workflow_run``
payload's, not the run's own artifact). Make it a required check; with a GitHub App token, workflows
run on the new commit as usual and restore the run from the pull request's DVC cache.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from mlops_gitops.adapters.files import unified_diff
from mlops_gitops.adapters.github.client import BotIdentity, cap
from mlops_gitops.pipeline.lockfiles import LOCK_NAME
from mlops_gitops.reporters.markup import plain

STATUS_CONTEXT = "mlops-gitops/recorded-run"


@dataclass(frozen=True)
class Recorded:
    """``action``: committed | unchanged | moved | refused; ``sha`` of the new commit when committed."""

    action: str
    detail: str
    sha: str | None = None
    url: str | None = None
    diff: str = ""


def _text_at(repo: Any, path: str, sha: str) -> str | None:
    from mlops_gitops.adapters.github.pulls import read_file

    return read_file(repo, path, sha)


def changed_files(repo: Any, head_sha: str, files: dict[str, str]) -> tuple[dict[str, str], str]:
    """The files that differ from ``head_sha``, and their diff. A ``dvc.lock`` without a ``dvc.yaml``
    beside it at the head is refused: the run may only record pipelines the pull request has (the other
    files are outputs those locks name, see :func:`~mlops_gitops.pipeline.lockfiles.read_run_files`).
    """
    from mlops_gitops.errors import UsageError

    commit = repo.get_git_commit(head_sha)
    tree = {e.path for e in repo.get_git_tree(commit.tree.sha, recursive=True).tree if e.type == "blob"}
    changed: dict[str, str] = {}
    diffs: list[str] = []
    for path, text in files.items():
        sibling = posixpath.join(posixpath.dirname(path), "dvc.yaml")
        if posixpath.basename(path) == LOCK_NAME and sibling not in tree:
            raise UsageError(f"{path}: commit {head_sha[:12]} has no {sibling} beside it, refused")
        old = _text_at(repo, path, head_sha) if path in tree else None
        if old != text:
            changed[path] = text
            diffs.append(unified_diff(path, old, text))
    return changed, "".join(diffs)


def commit_locks(
    repo: Any,
    branch: str,
    head_sha: str,
    files: dict[str, str],
    *,
    run_url: str,
    conclusion: str,
    bot: BotIdentity,
) -> Recorded:
    """One bot commit with ``files`` on top of ``head_sha``, ``branch`` fast-forwarded to it, and a status."""
    from github import GithubException, InputGitAuthor, InputGitTreeElement

    changed, diff = changed_files(repo, head_sha, files)
    if not changed:
        return Recorded("unchanged", "the commit already records this run")
    ref = repo.get_git_ref(f"heads/{branch}")
    if ref.object.sha != head_sha:
        return Recorded(
            "moved",
            f"branch {branch} moved from {head_sha[:12]} to {ref.object.sha[:12]} while the run ran: not recording",
            diff=diff,
        )
    head = repo.get_git_commit(head_sha)
    elements = [
        InputGitTreeElement(path, "100644", "blob", sha=repo.create_git_blob(text, "utf-8").sha)
        for path, text in changed.items()
    ]
    tree = repo.create_git_tree(elements, base_tree=head.tree)
    identity = InputGitAuthor(bot.name, bot.email)
    names = plain(", ".join(changed))  # paths a lock names: the pull request's text
    message = (
        f"Record the reproduced run: {names}\n\n"
        f"mlops-gitops reproduced the pipelines of {head_sha[:12]} and evaluated them in {run_url}; "
        "this commit records that run, so the next run restores it instead of training again.\n"
    )
    commit = repo.create_git_commit(message, tree, [head], author=identity, committer=identity)
    try:
        ref.edit(commit.sha, force=False)
    except GithubException as exc:
        if exc.status == 422:  # not a fast-forward: someone pushed after we read the ref
            return Recorded("moved", f"branch {branch} moved while recording: not recording", diff=diff)
        raise
    state = conclusion if conclusion in ("success", "failure") else "error"
    repo.get_commit(commit.sha).create_status(
        state=state,
        target_url=run_url,
        description=f"the run this commit records concluded {conclusion}"[:140],
        context=STATUS_CONTEXT,
    )
    return Recorded("committed", f"recorded {names} in {commit.sha[:12]}", commit.sha, commit.html_url, diff)


MAX_DIFF_CHARS = 20_000
SUGGESTION_HEADING = "\n### Record this run"


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``, so the text cannot close it."""
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def suggestion(diff: str, why: str) -> str:
    """The comment section that shows the reproduced dvc.lock as a patch and how to apply it."""
    if not diff:
        return ""
    if len(diff) > MAX_DIFF_CHARS:
        body = (
            f"The patch is {len(diff):,} characters, too long to show here. Reproduce locally "
            "(`dvc repro`, which trains) and commit the dvc.lock files it changes."
        )
    else:
        fence = _fence(diff)
        body = (
            "Save this as `dvc-lock.patch` at the repository root and run `git apply dvc-lock.patch`, "
            "then commit:\n\n"
            f"{fence}diff\n{diff}{fence}"
        )
    return (
        f"{SUGGESTION_HEADING}\n\n"
        f"{why} The committed dvc.lock does not record the model evaluated above; until it does, "
        "the default branch trains again after the merge.\n\n"
        f"<details><summary>The reproduced dvc.lock and outputs kept in Git</summary>\n\n{body}\n\n</details>\n"
    )


def recording_section(
    repo: Any,
    pr: Any,
    files: dict[str, str],
    mode: str,
    *,
    run_url: str,
    conclusion: str,
    bot: BotIdentity,
    announced: bool = False,
) -> tuple[Recorded | None, str]:
    """Record (``mode`` commit) or suggest the reproduced ``files`` for ``pr``; the comment section.
    ``announced``: the comment already says, at its top, that the bot records the run (see
    :meth:`Recording.announce`), so the section says what came of it in every case."""
    if mode == "off" or not files:
        return None, ""
    head_repo = pr.head.repo.full_name if pr.head.repo is not None else None
    if head_repo != repo.full_name:
        # A fork: its branch is not ours to write, and its run had no credentials to reproduce.
        _, diff = changed_files(repo, pr.head.sha, files)
        section = suggestion(
            diff, "This pull request comes from a fork, so mlops-gitops does not commit to it."
        )
        if announced and not section:
            section = _note(
                "This pull request comes from a fork, so mlops-gitops does not commit to it; its "
                "`dvc.lock` already records this run."
            )
        return None, section
    if mode == "suggest":
        _, diff = changed_files(repo, pr.head.sha, files)
        return None, suggestion(diff, "`record.pull_requests` is `suggest`.")
    recorded = commit_locks(
        repo, pr.head.ref, pr.head.sha, files, run_url=run_url, conclusion=conclusion, bot=bot
    )
    if recorded.action == "committed" and recorded.sha is not None:
        return recorded, committed_note(recorded.sha)
    if recorded.action == "moved":
        return recorded, suggestion(
            recorded.diff,
            f"The branch moved while the run ran, so nothing was committed ({recorded.detail}).",
        )
    if announced:  # unchanged: the branch already holds this run's dvc.lock
        return recorded, _note("Nothing to record: this branch's `dvc.lock` already records this run.")
    return recorded, ""


def _note(sentence: str) -> str:
    return f"\n> [!NOTE]\n> {sentence}\n"


def committed_note(sha: str) -> str:
    """The section that ends the comment once the bot committed the run in commit ``sha``."""
    return _note(
        f"Recorded by commit {sha}: mlops-gitops committed the reproduced dvc.lock there, "
        "on top of the commit evaluated above, so the next run restores this one instead of "
        f"training again. Pull before you push. The commit's status `{STATUS_CONTEXT}` carries "
        "this run's result."
    )


def recorded_comment(report: str, sha: str) -> str:
    """The pull request's comment as the comment job posts it (``record.pull_requests: commit``) once
    it recorded the run ``report`` evaluated in commit ``sha``: the stale-``dvc.lock`` warning turned
    into the note that this run records it (:meth:`Recording.announce`), and :func:`committed_note`
    appended as :func:`~mlops_gitops.reporting.comment.post_report` appends a section, within GitHub's
    limit. For telling the story without GitHub (``make demo``); the tests pin it to what is posted."""
    from mlops_gitops.reporters.markdown import recording_note
    from mlops_gitops.reporting.comment import with_section

    return cap(with_section(recording_note(report), committed_note(sha)))


class Recording:
    """The ``section`` callback :func:`~mlops_gitops.reporting.comment.post_report` runs once it knows
    the PR, which records (or suggests) the run's reproduced files there. ``said`` gets one line per
    outcome, for the command to print."""

    def __init__(self, mode: str, files: dict[str, str], run_url: str, conclusion: str, said: list[str]):
        self.mode, self.files, self.run_url, self.conclusion, self.said = (
            mode,
            files,
            run_url,
            conclusion,
            said,
        )
        self.announced = False

    def announce(self, body: str) -> str:
        """``body`` (the report) as the bot posts it while recording: with ``record.pull_requests:
        commit`` and a reproduced ``dvc.lock`` to commit, its warning that the commit's ``dvc.lock``
        is stale becomes the note that this comment's own run records it (the section appended
        then names the commit, or says why none was made)."""
        if self.mode != "commit" or not self.files:
            return body
        from mlops_gitops.reporters.markdown import recording_note

        announced = recording_note(body)
        self.announced = announced != body
        return announced

    def __call__(self, repo: Any, pr: Any) -> str:
        recorded, section = recording_section(
            repo,
            pr,
            self.files,
            self.mode,
            run_url=self.run_url,
            conclusion=self.conclusion,
            bot=BotIdentity.from_env(),
            announced=self.announced,
        )
        if recorded is not None:
            self.said.append(f"{recorded.action}: {recorded.detail}")
        elif section.startswith(SUGGESTION_HEADING):
            self.said.append(f"suggested the reproduced dvc.lock on PR #{pr.number}")
        return section


def record_hook(
    mode: str, lock_dir: str | None, run_url: str, conclusion: str
) -> tuple[Recording | None, list[str]]:
    """The :class:`Recording` to hand :func:`~mlops_gitops.reporting.comment.post_report` as its
    ``section`` (None when nothing is recorded), and the list it appends one line to saying what was
    recorded (for the command to print). The lock files are read and checked before any request is
    made."""
    from pathlib import Path

    from mlops_gitops.pipeline.lockfiles import read_run_files

    if mode == "off" or not lock_dir:
        return None, []
    run_files = read_run_files(Path(lock_dir))
    said = [
        f"not recorded: {path} (neither a dvc.lock nor an output one names)" for path in run_files.skipped
    ]
    return Recording(mode, run_files.files, run_url, conclusion, said), said
