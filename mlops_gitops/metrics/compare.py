"""Compare flattened metrics at two revisions and apply the manifest's gates. Pure: no I/O.

Row statuses (``STATUSES``):

* gated rows: ``fail`` when a gate fails; otherwise ``improved`` / ``regressed`` (within tolerance) /
  ``unchanged`` against base, ``new`` when base has no value, ``removed`` when an optional gated metric
  is gone, ``pass`` when base holds no comparable number (NaN, text);
* other rows: ``new``, ``removed``, ``unchanged``, ``changed`` (a number moved; no direction is known
  without a gate) and ``not numeric`` (text or booleans that changed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops_gitops.manifest.model import Gate
from mlops_gitops.metrics import gates as G
from mlops_gitops.metrics.collect import Revision
from mlops_gitops.metrics.flatten import Scalar, is_number, number, same
from mlops_gitops.metrics.history import History
from mlops_gitops.metrics.lineage import Lineage
from mlops_gitops.metrics.outcomes import Failure, GateOutcome, Row

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.data.results import ValidationReport
    from mlops_gitops.metrics.gatediff import GateReview
    from mlops_gitops.metrics.plots import Plots

STATUSES = ("fail", "regressed", "improved", "pass", "new", "removed", "changed", "not numeric", "unchanged")


@dataclass
class ParamRow:
    file: str
    key: str
    base: Scalar
    head: Scalar
    status: str  # changed | new | removed


@dataclass
class Section:
    """One pipeline's part of a report in a repository with several: its metrics and its gates."""

    pipeline: str  # its dvc.yaml
    metrics_files: list[str]
    rows: list[Row]
    gates: list[GateOutcome]

    @property
    def verdict(self) -> str:
        return "pass" if all(g.passed for g in self.gates) else "fail"


@dataclass
class Comparison:
    """Everything a reporter shows; built by :func:`mlops_gitops.reporting.evaluate.evaluate`."""

    project: str
    base: Revision
    head: Revision
    metrics_files: list[str]
    rows: list[Row]
    gates: list[GateOutcome]
    params: list[ParamRow] = field(default_factory=list)
    lineage: Lineage | None = None
    history: History | None = None
    first_run: bool = False
    from_dvc: list[str] = field(default_factory=list)
    json_path: str | None = None  # where the full JSON is, for notes on cut tables
    # What `validate-data` wrote at head, when the manifest has data checks and it ran.
    data_validation: ValidationReport | None = None
    # The work tree's dvc.lock (just reproduced) differs from the committed one: commit it before merging.
    stale_lock: bool = False
    # One per pipeline when the repository has several (rows and gates are also in the lists above).
    sections: list[Section] = field(default_factory=list)
    # Files that exist but could not be read, per side ("base", "head"): path -> why.
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)
    # Whose gates decided (the base's manifest, else the head's and why), and what the head changes in
    # them; None when the caller chose the gates (``promote``: the checked-out manifest's).
    gate_review: GateReview | None = None
    # The pipelines' DVC plots at both revisions (None: not collected, or the pipelines declare none).
    plots: Plots | None = None
    artifact_url: str | None = None  # the workflow run's artifact holding the plot images, to link

    @property
    def data_failures(self) -> list[str]:
        """One description per failing data check: ``data/iris.csv: range on sepal_length: 3 bad rows``."""
        return self.data_validation.failures if self.data_validation else []

    @property
    def verdict(self) -> str:
        failing = any(not g.passed for g in self.gates) or self.data_failures or self.unreadable
        return "fail" if failing else "pass"

    @property
    def unreadable(self) -> list[str]:
        """Metrics files that exist at a side but could not be read: a report that could not see
        them cannot vouch for them, so the verdict is not a pass."""
        return [
            f"{path} at {side} is not available: {reason}"
            for side, files in self.unavailable.items()
            for path, reason in files.items()
            if path in self.metrics_files
        ]

    def unreadable_sides(self, files: list[str] | None = None) -> dict[str, list[str]]:
        """Side -> the metrics files (of ``files``, else every compared one) that exist there but
        could not be read: what :attr:`unreadable` counts against the verdict."""
        wanted = self.metrics_files if files is None else files
        out = {
            side: [path for path in unread if path in wanted and path in self.metrics_files]
            for side, unread in self.unavailable.items()
        }
        return {side: paths for side, paths in out.items() if paths}

    def section_verdict(self, section: Section) -> str:
        """A pipeline's verdict: its gates, and its metrics files that could not be read (as the
        report's)."""
        failing = section.verdict == "fail" or self.unreadable_sides(section.metrics_files)
        return "fail" if failing else "pass"

    @property
    def failed(self) -> list[str]:
        """One description per failing gate check (``metrics.json: acc: 0.71 < min 0.8``), then per
        failing data check, then per metrics file that could not be read."""
        gated = [str(f) for g in self.gates for f in g.failures]
        judged = {f.file for g in self.gates for f in g.failures if "cannot be evaluated" in f.reason}
        unread = [
            f"{path} at {side} is not available: {reason}"
            for side, files in self.unavailable.items()
            for path, reason in files.items()
            if path in self.metrics_files and path not in judged
        ]
        return gated + self.data_failures + unread

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            out[row.status] += 1
        return {k: v for k, v in out.items() if v}


def compare(
    base: dict[str, dict[str, Scalar]],
    head: dict[str, dict[str, Scalar]],
    gates: list[Gate] | tuple[Gate, ...],
    files: list[str] | None = None,
) -> tuple[list[Row], list[GateOutcome]]:
    """Rows for every key at either revision, in file order then key order, and gate outcomes."""
    order = list(dict.fromkeys([*(files or []), *base, *head]))
    rows: list[Row] = []
    for file in order:
        b, h = base.get(file, {}), head.get(file, {})
        for key in dict.fromkeys([*h, *b]):
            rows.append(Row(file, key, b.get(key), h.get(key)))
    outcomes = [GateOutcome(gate) for gate in gates]
    for index, outcome in enumerate(outcomes):
        gate = outcome.gate
        for row in rows:
            if G.matches(gate, row.file, row.key):
                row.gates.append(index)
                row.segment = row.segment or gate.is_pattern
                outcome.rows.append(row)
        _judge(outcome, files or order)
    for row in rows:
        row.status = _status(row, outcomes)
    return rows, outcomes


def _judge(outcome: GateOutcome, files: list[str]) -> None:
    gate = outcome.gate
    if not any(row.head is not None for row in outcome.rows):
        if gate.required:
            outcome.failures.append(
                Failure(gate.file or (files[0] if len(files) == 1 else None), gate.metric, "missing at head")
            )
        outcome.worst = outcome.rows[0] if outcome.rows else None
        for row in outcome.rows:
            row.reason = row.reason or ("missing at head" if gate.required else None)
        return
    ranked: list[tuple[int, float, Row]] = []
    for row in outcome.rows:
        if row.head is None and gate.is_pattern:
            continue  # a segment that disappeared is listed as removed, not judged
        reason = G.check(gate, row.base, row.head)
        if reason:
            row.reason = row.reason or reason
            outcome.failures.append(Failure(row.file, row.key, reason))
        ranked.append((0 if reason else 1, -G.badness(gate, row.head), row))
    ranked.sort(key=lambda t: (t[0], t[1]))
    outcome.worst = ranked[0][2] if ranked else None


def _status(row: Row, outcomes: list[GateOutcome]) -> str:
    if row.reason:
        return "fail"
    if row.gates:
        gate = outcomes[row.gates[0]].gate
        if row.base is None:
            return "new"
        if row.head is None:
            return "removed"
        b, h = number(row.base), number(row.head)
        if b is not None and h is not None and math.isfinite(b):
            return {1: "improved", -1: "regressed", 0: "unchanged"}[G.better(gate, b, h)]
        return "pass"
    if row.base is None:
        return "new"
    if row.head is None:
        return "removed"
    if same(row.base, row.head):
        return "unchanged"
    if is_number(row.base) and is_number(row.head):
        return "changed"
    return "not numeric"


def compare_params(base: dict[str, dict[str, Scalar]], head: dict[str, dict[str, Scalar]]) -> list[ParamRow]:
    """Only params whose value differs, was added or was removed."""
    out: list[ParamRow] = []
    for file in dict.fromkeys([*head, *base]):
        b, h = base.get(file, {}), head.get(file, {})
        for key in dict.fromkeys([*h, *b]):
            if key not in b:
                out.append(ParamRow(file, key, None, h[key], "new"))
            elif key not in h:
                out.append(ParamRow(file, key, b[key], None, "removed"))
            elif not same(b[key], h[key]):
                out.append(ParamRow(file, key, b[key], h[key], "changed"))
    return out
