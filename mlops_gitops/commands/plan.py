"""`mlops-gitops plan`: which changed stage runs in which job when training fans out.

The generated workflows run it in a light job (no DVC: the pipeline facts come from the committed
record), then a job for the stages the fanned-out ones need, a job matrix, and a final job; each of
them runs ``mlops-gitops plan --entry "$JOB" --targets-file targets`` and
``xargs -0 -r -a targets dvc repro``. See docs/scaling.md.
"""

from __future__ import annotations

import click

from mlops_gitops.commands.options import manifest_option, show


@click.command(name="plan")
@click.option("--base", metavar="REV", help="Base revision (the PR's base commit, or the push's before).")
@click.option("--head", default="HEAD", show_default=True, metavar="REV", help="Head revision.")
@click.option("--all", "every", is_flag=True, help="Every stage retrains (a schedule or a dispatch).")
@click.option("--output", metavar="FILE", help="Also write the whole plan as JSON (stages and reasons too).")
@click.option(
    "--entry",
    metavar="JSON",
    help="Instead of planning: one job of a plan (a matrix entry, or the upstream or final output); "
    "with --targets-file, write its dvc repro targets.",
)
@click.option(
    "--targets-file",
    metavar="FILE",
    help="With --entry: write the job's targets NUL-terminated (for `xargs -0 dvc repro`).",
)
@manifest_option("whose pipelines, triggers, fanout and runners decide")
def command(
    base: str | None,
    head: str,
    every: bool,
    output: str | None,
    entry: str | None,
    targets_file: str | None,
    manifest_path: str,
) -> int:
    """Print why each changed stage runs again and which job runs it (upstream, the matrix, final);
    write retrain, pipelines, has_upstream, has_fan, upstream, matrix and final to $GITHUB_OUTPUT."""
    from mlops_gitops.planning.triggers import planned_jobs

    return show(planned_jobs(manifest_path, base, head, every, output, entry, targets_file))
