"""``mlops-gitops validate-data``: check input data files against the manifest's ``data.checks``.

Exit codes: 0 every check passed, 1 a check failed (so ``dvc repro`` stops before training),
2 unreadable input (missing file, wrong format, empty file, bad manifest).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlops_gitops.commands.options import manifest_option


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
    from mlops_gitops.adapters.atomic import write_atomic
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.monitoring.validate import select_checks, validate
    from mlops_gitops.reporters.data_validation import render_text

    manifest = load_manifest(manifest_path)
    base = Path(manifest_path).parent
    report = validate(select_checks(manifest.data_checks, base, paths, manifest_path), base)
    text = render_text(report)
    as_json = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    if output:
        write_atomic(output, as_json if fmt == "json" else text, "report")
        click.echo(text, nl=False)
    else:
        click.echo(as_json if fmt == "json" else text, nl=False)
    return 0 if report.passed else 1
