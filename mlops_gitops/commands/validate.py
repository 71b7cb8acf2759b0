"""``mlops-gitops validate``: check mlops.yaml alone, one line per problem."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_gitops.manifest import MANIFEST_FILE, load_manifest


@click.command(name="validate")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path), default=MANIFEST_FILE)
def command(manifest: Path) -> int:
    """Validate MANIFEST (default mlops.yaml): every problem as FILE:LINE:COL: key.path: message, exit 2."""
    loaded = load_manifest(manifest)
    click.echo(f"{manifest}: valid ({len(loaded.stages)} stage(s), {len(loaded.gates)} gate(s))")
    return 0
