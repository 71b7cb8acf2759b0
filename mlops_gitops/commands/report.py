"""`mlops-gitops report`: compare metrics and params between two revisions and apply the gates.

Exit codes: 0 every gate passes, 1 a gate fails, 2 bad input (one line on stderr). Inside GitHub
Actions the Markdown also goes to the job summary, ``verdict``/``failed``/``report-path`` to the step
outputs, and each failing gate becomes an ``::error`` annotation on its metrics file (each failing data
check, on its data file and first bad line).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option


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
    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.adapters import git
    from mlops_gitops.adapters.atomic import write_atomic
    from mlops_gitops.errors import UsageError
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project
    from mlops_gitops.reporters import json as json_reporter
    from mlops_gitops.reporters import markdown
    from mlops_gitops.reporting.evaluate import evaluate

    if artifact_url:
        from mlops_gitops.reporters.plots import artifact_link

        artifact_link(artifact_url)  # refused before any work, in one line
    path = Path(manifest_path)
    if not path.is_file():
        raise UsageError(f"{manifest_path}: no such manifest (pass --manifest PATH)")
    manifest = load_manifest(path)
    # The gates of the manifest at --base decide; this one's changes to them are listed, not applied.
    project = load_project(path.resolve().parent, manifest)
    comparison = evaluate(project, base, head, manifest_file=path.name, plots=True)
    comparison.json_path = json_output
    comparison.artifact_url = artifact_url or None
    if images_dir and comparison.plots is not None:
        from mlops_gitops.metrics.plots import write_images

        write_images(comparison.plots, Path(images_dir))
    if json_output:
        write_atomic(json_output, json_reporter.render(comparison), "JSON report")

    if fmt == "json":
        text = json_reporter.render(comparison)
    elif fmt == "text":
        from mlops_gitops.reporters import text as text_reporter

        color = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        text = text_reporter.render(comparison, color=color)
    else:
        text = markdown.render(comparison, note=note)
    if output:
        write_atomic(output, text, "report")
    else:
        click.echo(text, nl=not text.endswith("\n"))

    if gha.in_actions():
        gha.append_summary(text if fmt == "markdown" else markdown.render(comparison, note=note))
        gha.set_outputs(
            {
                "verdict": comparison.verdict,
                "failed": "\n".join(comparison.failed),
                "report-path": str(Path(output).resolve()) if output else "",
            }
        )
        from mlops_gitops.reporters import annotations

        top = git.toplevel(path.resolve().parent)
        prefix = path.resolve().parent.relative_to(top.resolve()).as_posix() if top else ""
        for note_ in annotations.collect(comparison, "" if prefix == "." else prefix):
            gha.error(note_.message, file=note_.file, line=note_.line, title=note_.title)
    return 0 if comparison.verdict == "pass" else 1
