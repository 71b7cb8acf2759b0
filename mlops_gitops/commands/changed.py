"""`mlops-gitops changed`: does this pull request touch anything that retrains?

The PR workflow cannot use ``on.pull_request.paths`` for this: a skipped workflow leaves a required
check pending forever. It runs always and asks this command instead, which applies the very patterns
written into the training workflow's ``on.push.paths`` (see :mod:`mlops_gitops.pathfilter`).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option
from mlops_gitops.errors import UsageError


@click.command(name="changed")
@click.option("--base", required=True, metavar="REV", help="Base revision (the PR's base commit).")
@click.option("--head", default="HEAD", show_default=True, metavar="REV", help="Head revision.")
@manifest_option("whose triggers.paths decide")
def command(base: str, head: str, manifest_path: str) -> int:
    """Print the changed files that retrain, then retrain=true|false (also to $GITHUB_OUTPUT)."""
    from mlops_gitops import git
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pathfilter import matching

    manifest = load_manifest(manifest_path)
    root = git.toplevel(Path(manifest_path).resolve().parent)
    if root is None:
        raise UsageError(f"{manifest_path}: not inside a git repository")
    for rev in (base, head):
        if git.resolve(rev, root) is None:
            hint = (
                "; this is a shallow clone: fetch the history (actions/checkout with fetch-depth: 0, "
                "or `git fetch --unshallow`)"
                if git.is_shallow(root)
                else ""
            )
            raise UsageError(f"unknown revision '{rev}'{hint}")
    hits = matching(git.changed_files(base, head, root), manifest.train_paths)
    for path in hits:
        click.echo(path)
    verdict = "true" if hits else "false"
    click.echo(f"retrain={verdict}")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as fh:
            fh.write(f"retrain={verdict}\n")
    return 0
