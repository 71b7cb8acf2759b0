"""`mlops-gitops changed`: does this pull request touch anything that retrains?

The PR workflow cannot use ``on.pull_request.paths`` for this: a skipped workflow leaves a required
check pending forever. It runs always and asks this command instead, which applies the very patterns
written into the training workflow's ``on.push.paths`` (see :mod:`mlops_gitops.triggers`).
"""

from __future__ import annotations

from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option


@click.command(name="changed")
@click.option("--base", required=True, metavar="REV", help="Base revision (the PR's base commit).")
@click.option("--head", default="HEAD", show_default=True, metavar="REV", help="Head revision.")
@manifest_option("whose triggers.paths decide")
def command(base: str, head: str, manifest_path: str) -> int:
    """Print the changed files that retrain, then retrain=true|false (also to $GITHUB_OUTPUT)."""
    from mlops_gitops import gha
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.triggers import changed

    manifest = load_manifest(manifest_path)
    result = changed(manifest, Path(manifest_path).resolve().parent, base, head)
    for path in result.files:
        click.echo(path)
    verdict = "true" if result.retrain else "false"
    click.echo(f"retrain={verdict}")
    gha.set_outputs({"retrain": verdict})
    return 0
