"""``report`` as one flow: the comparison of a head revision with a base (:mod:`.evaluate`, judged by
the gates of the manifest as committed at the base), rendered in the format asked for and written
where asked; inside GitHub Actions the Markdown also goes to the job summary, ``verdict``/``failed``/
``report-path`` to the step outputs, and each failing gate becomes an ``::error`` annotation on its
metrics file (each failing data check, on its data file and first bad line).

Exit codes: 0 every gate passes, 1 a gate fails, 2 bad input (one line on stderr)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mlops_gitops.adapters import actions_runtime as gha
from mlops_gitops.adapters.atomic import write_atomic
from mlops_gitops.errors import UsageError
from mlops_gitops.metrics.compare import Comparison


@dataclass(frozen=True)
class Reported:
    """What ``report`` prints: the report, unless it went to a file, then (inside GitHub Actions) an
    annotation per failing check; the verdict is the exit code."""

    comparison: Comparison
    text: str | None  # None: written to --output
    annotations: tuple[str, ...] = ()  # workflow commands (``::error file=...::message``)
    outputs: dict[str, str] = field(default_factory=dict)
    stderr: tuple[str, ...] = ()

    @property
    def stdout(self) -> str:
        shown = () if self.text is None else (self.text.removesuffix("\n"),)
        return "".join(f"{line}\n" for line in (*shown, *self.annotations))

    @property
    def exit_code(self) -> int:
        return 0 if self.comparison.verdict == "pass" else 1


def report(
    manifest_path: str,
    base: str,
    head: str = "workspace",
    fmt: str = "markdown",
    output: str | None = None,
    json_output: str | None = None,
    note: str | None = None,
    artifact_url: str | None = None,
    images_dir: str | None = None,
) -> Reported:
    """Compare ``head`` with ``base`` for the manifest at ``manifest_path`` and render the report as
    ``fmt`` (markdown, json or text), to ``output`` or for stdout; the full JSON also to
    ``json_output``, the plot images of both revisions under ``images_dir``, linked to ``artifact_url``."""
    if artifact_url:
        from mlops_gitops.reporters.plots import artifact_link

        artifact_link(artifact_url)  # refused before any work, in one line
    comparison = compare(manifest_path, base, head)
    comparison.json_path = json_output
    comparison.artifact_url = artifact_url or None
    if images_dir and comparison.plots is not None:
        from mlops_gitops.metrics.plots import write_images

        write_images(comparison.plots, Path(images_dir))
    if json_output:
        write_atomic(json_output, render(comparison, "json"), "JSON report")
    color = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    text = render(comparison, fmt, note=note, color=color)
    if output:
        write_atomic(output, text, "report")
    shown = None if output else text
    if not gha.in_actions():
        return Reported(comparison, shown)
    from mlops_gitops.reporters import markdown

    gha.append_summary(text if fmt == "markdown" else markdown.render(comparison, note=note))
    outputs = {
        "verdict": comparison.verdict,
        "failed": "\n".join(comparison.failed),
        "report-path": str(Path(output).resolve()) if output else "",
    }
    return Reported(comparison, shown, error_annotations(comparison, Path(manifest_path)), outputs)


def compare(manifest_path: str, base: str, head: str) -> Comparison:
    """The comparison, gates and plots included, judged by the gates of the manifest at ``base``
    (this one's changes to them are listed, not applied)."""
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project
    from mlops_gitops.reporting.evaluate import evaluate

    path = Path(manifest_path)
    if not path.is_file():
        raise UsageError(f"{manifest_path}: no such manifest (pass --manifest PATH)")
    project = load_project(path.resolve().parent, load_manifest(path))
    return evaluate(project, base, head, manifest_file=path.name, plots=True)


def render(comparison: Comparison, fmt: str, *, note: str | None = None, color: bool = False) -> str:
    """The report as ``fmt``: markdown (with ``note`` near the top), json, or text (``color``: ANSI)."""
    if fmt == "json":
        from mlops_gitops.reporters import json as json_reporter

        return json_reporter.render(comparison)
    if fmt == "text":
        from mlops_gitops.reporters import text as text_reporter

        return text_reporter.render(comparison, color=color)
    from mlops_gitops.reporters import markdown

    return markdown.render(comparison, note=note)


def error_annotations(comparison: Comparison, manifest: Path) -> tuple[str, ...]:
    """An ``::error`` workflow command per failing check, on paths from the repository's root."""
    from mlops_gitops.adapters import git
    from mlops_gitops.reporters.annotations import collect

    folder = manifest.resolve().parent
    top = git.toplevel(folder)
    prefix = folder.relative_to(top.resolve()).as_posix() if top else ""
    return tuple(
        gha.command("error", note.message, file=note.file, line=note.line, title=note.title)
        for note in collect(comparison, "" if prefix == "." else prefix)
    )
