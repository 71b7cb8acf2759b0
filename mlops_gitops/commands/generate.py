"""``mlops-gitops generate``: mlops.yaml -> dvc.yaml + .github/workflows/*, all or nothing."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_gitops.commands.options import dir_option


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
    from mlops_gitops.generation.generate import generate

    result = generate(root, force=force, check=check)
    for line in result.lines():
        click.echo(line)
    for line in result.warnings:
        click.echo(line, err=True)
    return result.exit_code
