"""``mlops-gitops schema``: print the manifest's JSON Schema for editors and other tools."""

from __future__ import annotations

import json

import click

from mlops_gitops.manifest.loader import schema


@click.command(name="schema")
def command() -> None:
    """Print the JSON Schema of mlops.yaml (e.g. `mlops-gitops schema > mlops.schema.json`)."""
    click.echo(json.dumps(schema(), indent=2))
