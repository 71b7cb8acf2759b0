"""``mlops-gitops generate``: mlops.yaml -> dvc.yaml + .github/workflows/*, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from mlops_gitops import checkcache
from mlops_gitops.commands.options import dir_option
from mlops_gitops.errors import MlopsError
from mlops_gitops.files import Plan, apply, plan, read_text
from mlops_gitops.manifest import MANIFEST_FILE, load_manifest

VERBS = {"create": "created", "update": "updated", "remove": "removed"}


def build_plan(root: Path, *, force: bool = False, writing: bool = True) -> Plan:
    """Load and validate the manifest, render every file in memory and compare with the tree.
    Before ``writing``, each templated file must parse: a template bug must not reach the tree
    (dvc.yaml was just dumped by ruamel.yaml; a check writes nothing and shows any difference)."""
    from mlops_gitops.render import render_all

    manifest = load_manifest(root / MANIFEST_FILE)
    rendered = render_all(manifest, lambda rel: read_text(root / rel))
    if writing:
        for item in rendered:
            if item.path.startswith(".github/"):
                check_yaml(item.path, item.text)
    return plan(root, rendered, force=force)


def check_yaml(path: str, text: str) -> None:
    """A rendered file must parse before anything is written; a failure here is our bug, not the user's."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise MlopsError(f"{path}: mlops-gitops rendered invalid YAML ({exc}); nothing was written") from None


def generate(
    root: Path, *, force: bool = False, check: bool = False, echo: Callable[[str], None] = print
) -> int:
    """Render and write (or, with ``check``, only compare). Returns the exit code: 0 done / current,
    1 stale (check) or a hand-edited file in the way (without ``force``)."""
    if check and not force and checkcache.still_current(root):
        echo("generated files are current")
        return 0
    the_plan = build_plan(root, force=force, writing=not check)
    if check:
        stale = the_plan.by_op("create", "update", "conflict", "remove")
        for action in stale:
            what = {"create": "missing", "update": "stale", "remove": "no longer produced by mlops.yaml"}.get(
                action.op, action.reason
            )
            echo(f"{action.path}: {what}")
            echo(action.diff().rstrip("\n"))
        if stale:
            echo(f"{len(stale)} generated file(s) out of date: run `mlops-gitops generate`")
            return 1
        checkcache.remember(root, the_plan)
        echo("generated files are current")
        return 0
    if the_plan.conflicts:
        for action in the_plan.conflicts:
            echo(f"{action.path}: {action.reason}; not overwritten. Differences from what mlops.yaml gives:")
            echo(action.diff().rstrip("\n"))
        echo(
            "nothing was written: move your edits into mlops.yaml (or keep them with a hand-written stage),"
            " or rerun with --force to overwrite"
        )
        return 1
    apply(root, the_plan)
    checkcache.remember(root, the_plan)
    for action in the_plan.actions:
        if action.op in VERBS:
            echo(f"{VERBS[action.op]} {action.path}")
        elif action.op == "keep":
            echo(f"kept {action.path}: {action.reason}")
    if not the_plan.writes:
        echo("generated files are current")
    return 0


@click.command(name="generate")
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; exit 1 with a diff when a generated file is stale, missing or hand-edited.",
)
@click.option("--force", is_flag=True, help="Overwrite generated files that were edited by hand.")
@dir_option("Project root holding mlops.yaml.")
def command(check: bool, force: bool, root: Path) -> int:
    """Render dvc.yaml and .github/workflows/* from mlops.yaml.

    Every file is rendered and checked in memory first, then written atomically: a failure leaves the
    tree as it was. Stages you wrote by hand in dvc.yaml are kept.
    """
    return generate(root, force=force, check=check, echo=click.echo)
