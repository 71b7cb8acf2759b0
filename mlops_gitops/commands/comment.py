"""`mlops-gitops comment`: post or update the one sticky PR comment holding a report.

The report's first line is its hidden marker (``<!-- mlops-gitops:pr-report project=NAME -->``,
written by ``report``); the comment carrying it is edited in place, left alone when unchanged, and
created when missing. Exit codes: 0 posted/unchanged, 1 GitHub refused (403, retries exhausted),
2 bad input. On failure the report stays in the job summary, where ``report`` already put it.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from mlops_gitops.errors import UsageError

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


@click.command(name="comment")
@click.option("--report", "report_path", required=True, metavar="FILE", help="Markdown report to post.")
@click.option(
    "--pr",
    "pr_number",
    type=click.IntRange(min=1),
    metavar="N",
    help="PR number (default: from the event payload, else the open PRs containing GITHUB_SHA).",
)
@click.option(
    "--head-sha",
    metavar="SHA",
    help="Commit the report was made for; it is posted only while it is the PR's head. The comment "
    "workflow passes workflow_run.head_sha, so a fork's run cannot post on another pull request.",
)
def command(report_path: str, pr_number: int | None, head_sha: str | None) -> int:
    """Post or update the one sticky PR comment with a report (needs pull-requests: write)."""
    from mlops_gitops import gha
    from mlops_gitops.github import client, comments, pulls

    body, marker = read_report(report_path)
    ctx = client.GitHubContext.from_env()
    repo_name = ctx.require_repository()
    number = pr_number or pulls.pr_number_from_event(ctx.event_path)
    gh = client.connect(ctx)
    action = "finding the pull request"
    try:
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
            click.echo(
                f"not posted: the report is for commit {head_sha[:12]}, but PR #{number}'s head is "
                f"{pr.head.sha[:12]} (a newer push, or a run of another pull request)"
            )
            return 0
        action = f"commenting on PR #{number}"
        outcome = comments.upsert(pr, body, marker)
    except UsageError:
        raise
    except Exception as exc:  # GithubException or a transport error; reported without the token
        error = client.describe(exc, action, ctx.token, permission="pull-requests: write")
        raise type(error)(f"{error}; the report remains in the job summary") from None
    click.echo(f"{outcome.action} comment on PR #{number}: {outcome.url}")
    if gha.in_actions():
        gha.set_outputs({"comment-url": outcome.url or "", "comment-action": outcome.action})
    return 0
