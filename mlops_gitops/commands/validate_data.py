"""``mlops-gitops validate-data``: check input data files against the manifest's ``data.checks``
(the flow and its exit codes: :mod:`mlops_gitops.monitoring.validate`)."""

from __future__ import annotations

import click

from mlops_gitops.commands.options import manifest_option, show


@click.command("validate-data")
@manifest_option("whose data checks apply")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report to FILE (a short text summary still goes to stdout).",
)
@click.argument("paths", nargs=-1)
def command(manifest_path: str, fmt: str, output: str | None, paths: tuple[str, ...]) -> int:
    """Check data files (PATH..., default: every data.checks entry) and report each failing check."""
    from mlops_gitops.monitoring.validate import validate_data

    return show(validate_data(manifest_path, fmt, output, paths))
