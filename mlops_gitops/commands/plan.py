"""`mlops-gitops plan`: which changed stage runs in which job when training fans out.

The generated workflows run it in a light job (no DVC: the pipeline facts come from the committed
record), then a job for the stages the fanned-out ones need, a job matrix, and a final job; each of
them runs ``mlops-gitops plan --entry "$JOB" --targets-file targets`` and
``xargs -0 -r -a targets dvc repro``. See docs/scaling.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option


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
    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.adapters.atomic import write_atomic
    from mlops_gitops.errors import UsageError

    if entry is not None or targets_file is not None:
        from mlops_gitops.pipeline.fanout import PlanError, targets_of

        if entry is None or targets_file is None or base or every:
            raise UsageError("give --entry JSON and --targets-file FILE together, without --base or --all")
        try:
            targets = targets_of(entry)
        except PlanError as exc:
            raise UsageError(str(exc)) from None
        write_atomic(targets_file, "".join(f"{t}\0" for t in targets), "targets file")
        click.echo(f"dvc repro targets: {' '.join(targets)}")
        return 0

    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project
    from mlops_gitops.planning.triggers import plan

    if (base is None) == (not every):
        raise UsageError("give --base REV, or --all")
    manifest = load_manifest(manifest_path)
    project = load_project(Path(manifest_path).resolve().parent, manifest)
    result = plan(project, None if every else base, head)
    outputs = result.outputs()
    for line in result.lines():
        click.echo(line)
    if output:
        write_atomic(output, json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", "plan file")
    gha.set_outputs(outputs)
    return 0
