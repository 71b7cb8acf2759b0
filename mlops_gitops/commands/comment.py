"""`mlops-gitops comment`: post or update the one sticky PR comment holding a report (the flow, its
exit codes: :mod:`mlops_gitops.reporting.comment`)."""

from __future__ import annotations

import click

from mlops_gitops.commands.options import show


@click.command(name="comment")
@click.option("--report", "report_path", required=True, metavar="FILE", help="Markdown report to post.")
@click.option(
    "--pr",
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
    pr: int | None,
    head_sha: str | None,
    record: str,
    lock_dir: str | None,
    run_url: str,
    run_conclusion: str,
) -> int:
    """Post or update the one sticky PR comment with a report (needs pull-requests: write)."""
    from mlops_gitops.delivery.record import record_hook
    from mlops_gitops.reporting.comment import comment

    return show(comment(report_path, pr, head_sha, record, lock_dir, run_url, run_conclusion, record_hook))
