"""`mlops-gitops report`: compare metrics and params between two revisions and apply the gates.

Exit codes: 0 every gate passes, 1 a gate fails, 2 bad input (one line on stderr). Inside GitHub
Actions the Markdown also goes to the job summary, ``verdict``/``failed``/``report-path`` to the step
outputs, and each failing gate becomes an ``::error`` annotation on its metrics file (each failing data
check, on its data file and first bad line).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from mlops_gitops import git
from mlops_gitops.commands.options import manifest_option
from mlops_gitops.manifest.model import VALIDATION_REPORT, Manifest
from mlops_gitops.metrics.compare import Comparison


def evaluate(root: Path, manifest: Manifest, base: str, head: str = "workspace") -> Comparison:
    """Collect both revisions under ``root`` (the manifest's folder), compare, gate, add lineage."""
    from mlops_gitops.errors import UsageError
    from mlops_gitops.metrics import collect, history, lineage
    from mlops_gitops.metrics.compare import compare, compare_params

    root = Path(root)
    reader = collect.Reader(root)
    base_rev = collect.resolve_revision(base, reader.top)
    head_rev = collect.resolve_revision(head, reader.top)
    if base_rev.sha is None:
        raise UsageError("--base must name a commit, not the work tree")
    files = list(manifest.metrics_files)
    param_files = collect.params_files(manifest.stages)
    before = collect.snapshot(reader, base_rev, files, param_files)
    after = collect.snapshot(reader, head_rev, files, param_files)
    rows, outcomes = compare(before.metrics, after.metrics, manifest.gates, files)
    wanted = history.charted(manifest.gates, files)
    hist = history.collect_history(reader, base_rev.sha, manifest.history, files, wanted, manifest.gates)
    lin = lineage.Lineage(
        base_commit=base_rev.sha,
        head_commit=head_rev.sha,
        base_subject=base_rev.subject,
        head_subject=head_rev.subject,
        data=lineage.data_hashes(before.lock, after.lock),
        python=lineage.python_version(),
        packages=lineage.package_versions(lineage.requirement_names(root, manifest.requirements)),
    )
    stale_lock = head_rev.sha is None and lock_differs_from_head(reader)
    validation = None
    if manifest.data_checks:
        validation = read_validation(reader.read_many(head_rev, [VALIDATION_REPORT])[VALIDATION_REPORT])
    return Comparison(
        stale_lock=stale_lock,
        data_validation=validation,
        project=manifest.name,
        base=base_rev,
        head=head_rev,
        metrics_files=files,
        rows=rows,
        gates=outcomes,
        params=compare_params(before.params, after.params),
        lineage=lin,
        history=hist,
        first_run=not any(before.metrics.values()),
        from_dvc=sorted(set(before.from_dvc) | set(after.from_dvc)),
    )


def lock_differs_from_head(reader: Any) -> bool:
    """After `dvc repro` in the work tree: does dvc.lock differ from the one committed at HEAD? Then
    what would merge is not what was evaluated (promotion reads dvc.lock from Git)."""
    from mlops_gitops.metrics import collect

    head = collect.Revision("HEAD", git.resolve("HEAD", reader.top))
    if head.sha is None:
        return False
    committed = reader.read_many(head, ["dvc.lock"])["dvc.lock"]
    here = reader.read_many(collect.Revision(collect.WORKSPACE, None), ["dvc.lock"])["dvc.lock"]
    return here is not None and committed != here


def read_validation(blob: bytes | None) -> dict[str, Any] | None:
    """The JSON `validate-data` wrote (the pipeline's first stage), or None when it did not run."""
    if blob is None:
        return None
    try:
        data = json.loads(blob)
    except ValueError:
        return {"passed": False, "files": [], "error": f"{VALIDATION_REPORT} is not valid JSON"}
    return data if isinstance(data, dict) else None


def _write(path: str, text: str) -> None:
    target = Path(path)
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


@click.command(name="report")
@click.option("--base", required=True, metavar="REV", help="Base revision (the PR's base branch or commit).")
@click.option(
    "--head", default="workspace", show_default=True, metavar="REV|workspace", help="Head revision."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "text"]),
    default="markdown",
    show_default=True,
)
@click.option("--output", "output", metavar="FILE", help="Write the report here instead of stdout.")
@click.option("--json-output", "json_output", metavar="FILE", help="Also write the full JSON report here.")
@click.option("--note", metavar="TEXT", help="A plain-text note shown near the top of the report.")
@manifest_option("whose metrics files and gates apply")
def command(
    base: str,
    head: str,
    fmt: str,
    output: str | None,
    json_output: str | None,
    note: str | None,
    manifest_path: str,
) -> int:
    """Compare metrics and params between two revisions and apply the manifest's gates."""
    from mlops_gitops import gha
    from mlops_gitops.errors import UsageError
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.reporters import json as json_reporter

    path = Path(manifest_path)
    if not path.is_file():
        raise UsageError(f"{manifest_path}: no such manifest (pass --manifest PATH)")
    manifest = load_manifest(path)
    comparison = evaluate(path.resolve().parent, manifest, base, head)
    comparison.json_path = json_output
    if json_output:
        _write(json_output, json_reporter.render(comparison))

    if fmt == "json":
        text = json_reporter.render(comparison)
    elif fmt == "text":
        from mlops_gitops.reporters import text as text_reporter

        color = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        text = text_reporter.render(comparison, color=color)
    else:
        from mlops_gitops.reporters import markdown

        text = markdown.render(comparison, note=note)
    if output:
        _write(output, text)
    else:
        click.echo(text, nl=not text.endswith("\n"))

    if gha.in_actions():
        from mlops_gitops.reporters import markdown

        summary = text if fmt == "markdown" else markdown.render(comparison, note=note)
        gha.append_summary(summary)
        gha.set_outputs(
            {
                "verdict": comparison.verdict,
                "failed": "\n".join(comparison.failed),
                "report-path": str(Path(output).resolve()) if output else "",
            }
        )
        for outcome in comparison.gates:
            for failure in outcome.failures:
                gha.error(
                    str(failure),
                    file=_repo_path(path, failure.file or _first(comparison)),
                    title=f"Gate failed: {outcome.gate.metric}",
                )
        for file in (comparison.data_validation or {}).get("files") or []:
            for check in file.get("checks") or []:
                if not check.get("passed", True):
                    first_line = next(
                        (e.get("line") for e in check.get("examples") or [] if e.get("line")), None
                    )
                    gha.error(
                        f"{check.get('bad_rows', 0)} bad row(s): {check.get('message') or check.get('check')}",
                        file=_repo_path(path, str(file.get("path"))),
                        line=first_line,
                        title=f"Data check failed: {check.get('check')} {check.get('column') or ''}".strip(),
                    )
    return 0 if comparison.verdict == "pass" else 1


def _first(comparison: Comparison) -> str | None:
    return comparison.metrics_files[0] if comparison.metrics_files else None


def _repo_path(manifest: Path, file: str | None) -> str | None:
    """Annotations need paths relative to the repository root, not the manifest's folder."""
    if file is None:
        return None
    from mlops_gitops import git

    top = git.toplevel(manifest.resolve().parent)
    full = manifest.resolve().parent / file
    try:
        return full.relative_to(top.resolve()).as_posix() if top else file
    except ValueError:
        return file
