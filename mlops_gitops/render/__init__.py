"""The pure core: manifest in, generated files out (as data). Nothing here writes to disk."""

from __future__ import annotations

from collections.abc import Callable

from mlops_gitops.files import Rendered, with_header
from mlops_gitops.manifest.model import Manifest


def render_all(manifest: Manifest, read: Callable[[str], str | None]) -> list[Rendered]:
    """Every file ``manifest`` produces. ``read(path)`` gives a file's current text (dvc.yaml is merged
    into the existing one so hand-written stages survive)."""
    from mlops_gitops.render import dvcyaml
    from mlops_gitops.render.workflows import render_workflows

    files = [dvcyaml.render(manifest, read(dvcyaml.DVC_FILE))]
    for path, body in sorted(render_workflows(manifest).items()):
        files.append(Rendered(path, with_header(body)))
    return files
