"""`mlops-gitops changed`: does this change retrain, and which pipelines?

The PR workflow cannot use ``on.pull_request.paths`` for this: a skipped workflow leaves a required
check pending forever. It runs always and asks this command instead, which applies the very patterns
written into the training workflow's ``on.push.paths``, per pipeline (see :mod:`mlops_gitops.planning.triggers`).
"""

from __future__ import annotations

import click

from mlops_gitops.commands.options import manifest_option, show


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
    from mlops_gitops.planning.triggers import changed_pipelines

    return show(changed_pipelines(manifest_path, base, head, every, targets_file))
