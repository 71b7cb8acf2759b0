"""Evaluate a head revision against a base: collect both, compare, apply the gates, add lineage and
the data-validation result. Used by ``report`` and, for the model it promotes, by ``promote``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_gitops import git
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Manifest
from mlops_gitops.metrics import collect, history, lineage
from mlops_gitops.metrics.compare import Comparison, compare, compare_params
from mlops_gitops.names import DVC_LOCK, VALIDATION_REPORT

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.data.results import ValidationReport


def evaluate(root: Path, manifest: Manifest, base: str, head: str = collect.WORKSPACE) -> Comparison:
    """Collect both revisions under ``root`` (the manifest's folder), compare, gate, add lineage."""
    root = Path(root)
    reader = collect.Reader(root)
    base_rev = collect.resolve_revision(base, reader.top)
    head_rev = collect.resolve_revision(head, reader.top)
    if base_rev.sha is None:
        raise UsageError("--base must name a commit, not the work tree")
    files = list(manifest.metrics_files)
    param_files = manifest.params_files
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
    validation = None
    if manifest.data_checks:
        validation = read_validation(reader.read_many(head_rev, [VALIDATION_REPORT])[VALIDATION_REPORT])
    return Comparison(
        stale_lock=head_rev.sha is None and lock_differs_from_head(reader),
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


def lock_differs_from_head(reader: collect.Reader) -> bool:
    """After `dvc repro` in the work tree: does dvc.lock differ from the one committed at HEAD? Then
    what would merge is not what was evaluated (promotion reads dvc.lock from Git)."""
    head = collect.Revision("HEAD", git.resolve("HEAD", reader.top))
    if head.sha is None:
        return False
    committed = reader.read_many(head, [DVC_LOCK])[DVC_LOCK]
    here = reader.read_many(collect.Revision(collect.WORKSPACE, None), [DVC_LOCK])[DVC_LOCK]
    return here is not None and committed != here


def read_validation(blob: bytes | None) -> ValidationReport | None:
    """What `validate-data` wrote (the pipeline's first stage), or None when it did not run."""
    if blob is None:
        return None
    from mlops_gitops.data.results import ValidationReport

    try:
        data = json.loads(blob)
    except ValueError:
        return ValidationReport([], error=f"{VALIDATION_REPORT} is not valid JSON")
    return ValidationReport.from_json(data, VALIDATION_REPORT)
