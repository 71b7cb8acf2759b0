"""Posting a report as the one sticky comment of the pull request its run was for: the report read
as untrusted text, the pull request found from what GitHub says of the run (never from the report),
and an optional section (recording the run) added once the pull request is known.

:func:`comment` is the ``comment`` command's flow. The report's first line is its hidden marker
(``<!-- mlops-gitops:pr-report project=NAME -->``, written by ``report``); the comment carrying it is
edited in place, left alone when unchanged, and created when missing. Exit codes: 0 posted/unchanged,
1 GitHub refused (403, retries exhausted), 2 bad input. On failure the report stays in the job
summary, where ``report`` already put it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlops_gitops.adapters import actions_runtime as gha
from mlops_gitops.adapters.github import events
from mlops_gitops.adapters.github.client import BotIdentity, GitHubContext, connect, translated_errors
from mlops_gitops.adapters.github.comments import Outcome, upsert
from mlops_gitops.errors import GitHubError, UsageError
from mlops_gitops.reporters.markup import defang, text

# ``section(repo, pr)``: what recording the run adds to the comment, once the pull request is known.
Section = Callable[[Any, Any], str]


class Recording(Protocol):
    """A section that records the run: ``announce`` first rewrites the report for it (the stale
    dvc.lock warning becomes the note that this run records it), then it is called as a section."""

    def announce(self, body: str) -> str: ...
    def __call__(self, repo: Any, pr: Any) -> str: ...


# How the run is recorded (``delivery.record.record_hook``, handed down by the command: recording
# belongs to delivery, a layer above this one): (mode, lock folder, run URL, conclusion) -> the
# recording, or None, and the list of lines it appends to saying what it recorded.
Recorder = Callable[[str, str | None, str, str], tuple[Recording | None, list[str]]]

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
    section: Section | None = None,
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
            body = with_section(body, extra)
        step.action = f"commenting on PR #{pr.number}"
        outcome = upsert(pr, body, marker, BotIdentity.from_env().login)
        return Posted(pr.number, outcome, record_error=record_error)


def with_section(body: str, section: str) -> str:
    """The report ``body`` with a section (recording the run) appended, as the comment carries it."""
    return body.rstrip("\n") + "\n" + section


@dataclass(frozen=True)
class Commented:
    """What ``comment`` prints: what recording the run did, then where the comment went (or why it
    was not posted); the comment's URL and action as step outputs inside GitHub Actions."""

    posted: Posted
    recorded: tuple[str, ...] = ()
    in_actions: bool = False

    @property
    def stdout(self) -> str:
        outcome = self.posted.outcome
        if outcome is None:
            said = f"not posted: {self.posted.reason}"
        else:
            said = f"{outcome.action} comment on PR #{self.posted.pr}: {outcome.url}"
        return "".join(f"{line}\n" for line in (*self.recorded, said))

    @property
    def stderr(self) -> tuple[str, ...]:
        return (self.posted.record_error,) if self.posted.outcome and self.posted.record_error else ()

    @property
    def outputs(self) -> dict[str, str]:
        outcome = self.posted.outcome
        if outcome is None or not self.in_actions:
            return {}
        return {"comment-url": outcome.url or "", "comment-action": outcome.action}

    @property
    def exit_code(self) -> int:
        return 1 if self.stderr else 0


def comment(
    report_path: str,
    pr_number: int | None = None,
    head_sha: str | None = None,
    record_mode: str = "off",
    lock_dir: str | None = None,
    run_url: str = "",
    run_conclusion: str = "success",
    recorder: Recorder | None = None,
) -> Commented:
    """Post the report at ``report_path`` as the sticky comment of its pull request (see
    :func:`post_report`); with ``recorder``, record the run as ``record_mode`` says (its lock files
    are read and checked before any request is made)."""
    body, marker = read_report(report_path)
    hook, recorded = recorder(record_mode, lock_dir, run_url, run_conclusion) if recorder else (None, [])
    if hook is not None:
        body = hook.announce(body)
    # `report` escaped the repository's text; in CI this file comes from the pull request's run (a
    # fork's code may have written it), so no mention, reference or closing keyword in it is live.
    posted = post_report(GitHubContext.from_env(), defang(body), marker, pr_number, head_sha, hook)
    return Commented(posted, tuple(recorded), gha.in_actions())
