"""The full report as JSON: every row, gate, changed param, lineage, history and plot.

``metrics`` has the shape of ``dvc metrics diff --json --all`` (``{file: {key: {old, new, diff}}}``,
``null`` for a missing side, ``diff`` only between numbers) plus each row's ``status``, so tools
written for DVC's output read ours. Like DVC, NaN and infinities are written as ``NaN``/``Infinity``.
``plots`` holds every plot's points at both revisions as ``dvc plots diff --json`` has them (CSV
cells as text), or null when the report did not read plots.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from mlops_gitops.metrics.compare import Comparison, GateOutcome
from mlops_gitops.metrics.flatten import dvc_diff


def to_data(comparison: Comparison) -> dict[str, Any]:
    from mlops_gitops.reporters.gatechanges import json_data  # whose gates decided, what changed
    from mlops_gitops.reporters.markdown import section_verdict  # its gates and unreadable files

    metrics: dict[str, dict[str, Any]] = {f: {} for f in comparison.metrics_files}
    for row in comparison.rows:
        entry: dict[str, Any] = {"old": row.base, "new": row.head}
        diff = dvc_diff(row.base, row.head)
        if diff is not None:
            entry["diff"] = diff
        entry["status"] = row.status
        if row.reason:
            entry["reason"] = row.reason
        metrics.setdefault(row.file, {})[row.key] = entry
    params: dict[str, dict[str, Any]] = {}
    for p in comparison.params:
        params.setdefault(p.file, {})[p.key] = {"old": p.base, "new": p.head, "status": p.status}
    history: dict[str, Any] = {}
    if comparison.history is not None:
        series: dict[str, dict[str, list[float | None]]] = {}
        for (file, key), values in comparison.history.series.items():
            series.setdefault(file, {})[key] = values
        history = {"commits": comparison.history.commits, "series": series}
    return {
        "project": comparison.project,
        "verdict": comparison.verdict,
        "failed": comparison.failed,
        "counts": comparison.counts(),
        "base": _rev(comparison.base),
        "head": _rev(comparison.head),
        "first_run": comparison.first_run,
        "metrics_files": comparison.metrics_files,
        "from_dvc_cache": comparison.from_dvc,
        "gates": [_gate(g) for g in comparison.gates],
        "gate_source": json_data(comparison.gate_review),
        "metrics": metrics,
        "params": params,
        "lineage": asdict(comparison.lineage) if comparison.lineage else None,
        "history": history,
        "data_validation": comparison.data_validation.to_json() if comparison.data_validation else None,
        "stale_lock": comparison.stale_lock,
        "unavailable": comparison.unavailable,
        "plots": comparison.plots.to_json() if comparison.plots is not None else None,
        "pipelines": [
            {
                "dvcfile": s.pipeline,
                "verdict": section_verdict(comparison, s),
                "metrics_files": s.metrics_files,
                "gates": [_gate(g) for g in s.gates],
            }
            for s in comparison.sections
        ],
    }


def _rev(rev: Any) -> dict[str, Any]:
    return {"rev": rev.name, "commit": rev.sha, "subject": rev.subject}


def _gate(outcome: GateOutcome) -> dict[str, Any]:
    gate = outcome.gate
    worst = outcome.worst
    return {
        "metric": gate.metric,
        "file": gate.file,
        "direction": gate.direction,
        "min": gate.min,
        "max": gate.max,
        "regression": {"absolute": gate.regression_absolute, "relative": gate.regression_relative},
        "required": gate.required,
        "rule": outcome.rule,
        "passed": outcome.passed,
        "failures": [str(f) for f in outcome.failures],
        "matched": len(outcome.rows),
        "worst": (
            {"file": worst.file, "key": worst.key, "old": worst.base, "new": worst.head} if worst else None
        ),
    }


def render(comparison: Comparison) -> str:
    # No indent: the C encoder is ten times faster than the pure-Python one indent= selects.
    return json.dumps(to_data(comparison), ensure_ascii=False) + "\n"
