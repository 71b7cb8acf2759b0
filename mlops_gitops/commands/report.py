"""`mlops-gitops report`: compare metrics and params between two revisions and apply the gates.

Exit codes: 0 every gate passes, 1 a gate fails, 2 bad input (one line on stderr). What it writes
inside GitHub Actions: :mod:`mlops_gitops.reporting.report`.
"""

from __future__ import annotations

import click

from mlops_gitops.commands.options import manifest_option, show


@click.command(name="report")
@click.option("--base", required=True, metavar="REV", help="Base revision (the PR's base branch or commit).")
@click.option(
    "--head", default="workspace", show_default=True, metavar="REV|workspace", help="Head revision."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "text"]),
    default="markdown",
    show_default=True,
)
@click.option("--output", "output", metavar="FILE", help="Write the report here instead of stdout.")
@click.option("--json-output", "json_output", metavar="FILE", help="Also write the full JSON report here.")
@click.option("--note", metavar="TEXT", help="A plain-text note shown near the top of the report.")
@click.option(
    "--artifact-url",
    envvar="MLOPS_GITOPS_ARTIFACT_URL",
    metavar="URL",
    help="Where reviewers find the plot images (the workflow run's artifact, or the run's page): "
    "each image plot is listed with this link. Env: MLOPS_GITOPS_ARTIFACT_URL.",
)
@click.option(
    "--images-dir",
    metavar="DIR",
    help="Also write the plot images of both revisions here (DIR/base/<path>, DIR/head/<path>), for "
    "the workflow to upload as that artifact.",
)
@manifest_option("whose metrics files apply; its gates as committed at --base decide")
def command(
    base: str,
    head: str,
    fmt: str,
    output: str | None,
    json_output: str | None,
    note: str | None,
    artifact_url: str | None,
    images_dir: str | None,
    manifest_path: str,
) -> int:
    """Compare metrics and params between two revisions and apply the gates of the manifest as
    committed at --base (a pull request cannot loosen its own gates; the report lists its changes)."""
    from mlops_gitops.reporting.report import report

    return show(report(manifest_path, base, head, fmt, output, json_output, note, artifact_url, images_dir))
