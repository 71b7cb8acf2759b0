"""`mlops-gitops comment`: post or update the one sticky PR comment holding a report.

The report's first line is its hidden marker (``<!-- mlops-gitops:pr-report project=NAME -->``,
written by ``report``); the comment carrying it is edited in place, left alone when unchanged, and
created when missing. Exit codes: 0 posted/unchanged, 1 GitHub refused (403, retries exhausted),
2 bad input. On failure the report stays in the job summary, where ``report`` already put it.
"""

from __future__ import annotations

import click


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
@click.option(
    "--record",
    "record_mode",
    type=click.Choice(["commit", "suggest", "off"]),
    default="off",
    show_default=True,
    help="With --lock-dir: commit the reproduced dvc.lock files to the PR branch as the bot (same "
    "repository only; needs contents: write and statuses: write), show them as a patch, or neither.",
)
@click.option(
    "--lock-dir",
    metavar="DIR",
    help="Folder of reproduced dvc.lock files at their repository paths (from the run's artifact; "
    "checked as untrusted input).",
)
@click.option("--run-url", default="", metavar="URL", help="The run that reproduced them (linked).")
@click.option(
    "--run-conclusion",
    default="success",
    metavar="CONCLUSION",
    help="That run's conclusion as GitHub reports it; the status set on the recording commit.",
)
def command(
    report_path: str,
    pr_number: int | None,
    head_sha: str | None,
    record_mode: str,
    lock_dir: str | None,
    run_url: str,
    run_conclusion: str,
) -> int:
    """Post or update the one sticky PR comment with a report (needs pull-requests: write)."""
    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.adapters.github.client import GitHubContext
    from mlops_gitops.delivery.record import record_hook
    from mlops_gitops.reporters.markup import defang
    from mlops_gitops.reporting.comment import post_report, read_report

    body, marker = read_report(report_path)
    hook, recorded = record_hook(record_mode, lock_dir, run_url, run_conclusion)
    # `report` escaped the repository's text; in CI this file comes from the pull request's run (a
    # fork's code may have written it), so no mention, reference or closing keyword in it is live.
    posted = post_report(GitHubContext.from_env(), defang(body), marker, pr_number, head_sha, hook)
    for line in recorded:
        click.echo(line)
    if posted.outcome is None:
        click.echo(f"not posted: {posted.reason}")
        return 0
    outcome = posted.outcome
    click.echo(f"{outcome.action} comment on PR #{posted.pr}: {outcome.url}")
    if gha.in_actions():
        gha.set_outputs({"comment-url": outcome.url or "", "comment-action": outcome.action})
    if posted.record_error:
        click.echo(posted.record_error, err=True)
        return 1
    return 0
