"""`mlops-gitops changed`: does this change retrain, and which pipelines?

The PR workflow cannot use ``on.pull_request.paths`` for this: a skipped workflow leaves a required
check pending forever. It runs always and asks this command instead, which applies the very patterns
written into the training workflow's ``on.push.paths``, per pipeline (see :mod:`mlops_gitops.planning.triggers`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option


@click.command(name="changed")
@click.option("--base", metavar="REV", help="Base revision (the PR's base commit, or the push's before).")
@click.option("--head", default="HEAD", show_default=True, metavar="REV", help="Head revision.")
@click.option("--all", "every", is_flag=True, help="Every pipeline retrains (a schedule or a dispatch).")
@click.option(
    "--targets-file",
    metavar="FILE",
    help="Write the dvc.yaml of each pipeline to reproduce, NUL-terminated (for `xargs -0 dvc repro`).",
)
@manifest_option("whose pipelines and triggers decide")
def command(base: str | None, head: str, every: bool, targets_file: str | None, manifest_path: str) -> int:
    """Print the changed files that retrain and the pipelines they hit, then retrain=true|false and
    pipelines=[...] (also to $GITHUB_OUTPUT)."""
    from mlops_gitops.adapters import actions_runtime as gha
    from mlops_gitops.adapters.atomic import write_atomic
    from mlops_gitops.errors import UsageError
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project
    from mlops_gitops.planning.triggers import changed

    if (base is None) == (not every):
        raise UsageError("give --base REV, or --all")
    manifest = load_manifest(manifest_path)
    project = load_project(Path(manifest_path).resolve().parent, manifest)
    result = changed(project, None if every else base, head)
    for path in result.files:
        click.echo(path)
    for pipeline in result.pipelines:
        click.echo(f"reproduce {pipeline}: {', '.join(result.because[pipeline][:5])}")
    verdict = "true" if result.retrain else "false"
    click.echo(f"retrain={verdict}")
    if targets_file:
        write_atomic(targets_file, "".join(f"{p}\0" for p in result.pipelines), "targets file")
    gha.set_outputs({"retrain": verdict, "pipelines": json.dumps(result.pipelines)})
    return 0
