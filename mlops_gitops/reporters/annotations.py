"""GitHub Actions annotations for a comparison: one ``::error`` per failing gate check (on its metrics
file) and per failing data check (on its data file, at the first bad line). Pure: data out; the
``report`` command prints them with :func:`mlops_gitops.adapters.actions_runtime.annotate`."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from mlops_gitops.metrics.compare import Comparison


@dataclass(frozen=True)
class Annotation:
    message: str
    title: str
    file: str | None = None
    line: int | None = None


def collect(comparison: Comparison, prefix: str = "") -> list[Annotation]:
    """``prefix``: the manifest's folder inside the repository ('' at the top); annotation paths are
    relative to the repository root."""

    def repo_path(file: str | None) -> str | None:
        return posixpath.join(prefix, file) if file and prefix else file

    first = comparison.metrics_files[0] if comparison.metrics_files else None
    out: list[Annotation] = []
    for outcome in comparison.gates:
        for failure in outcome.failures:
            out.append(
                Annotation(
                    str(failure), f"Gate failed: {outcome.gate.metric}", repo_path(failure.file or first)
                )
            )
    if comparison.data_validation is not None:
        for file in comparison.data_validation.files:
            for check in file.failures:
                out.append(
                    Annotation(
                        f"{check.bad_rows} bad row(s): {check.message or check.check}",
                        f"Data check failed: {check.check} {check.column or ''}".strip(),
                        repo_path(file.path),
                        check.first_line,
                    )
                )
    return out
