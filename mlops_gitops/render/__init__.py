"""The pure core: manifest and pipeline facts in, generated files out (as data). Nothing here writes."""

from __future__ import annotations

from mlops_gitops.adapters.files import Rendered, with_header
from mlops_gitops.pipeline.project import Project, record_of


def render_all(project: Project, dvc_yaml: Rendered | None) -> list[Rendered]:
    """Every file the project produces: the root dvc.yaml when the manifest owns it (``dvc_yaml``,
    rendered first because the pipeline facts are read from it), the workflows, and the record of
    what DVC resolved the pipelines to."""
    from mlops_gitops.pipeline import record
    from mlops_gitops.render.workflows import render_workflows

    files = [dvc_yaml] if dvc_yaml is not None else []
    for path, body in sorted(render_workflows(project).items()):
        files.append(Rendered(path, with_header(body)))
    files.append(Rendered(record.RECORD_FILE, record.render(record_of(project))))
    return files
