"""Typed results of drift monitoring and their JSON form. Pure: no pyarrow, no numpy.

``data.drift`` builds :class:`DriftFindings`, ``data.monitor`` wraps them in a :class:`DriftReport`,
and ``reporters.drift`` renders it for the drift issue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

# The JSON `monitor --format json` writes.


class _FeatureDriftCounts(TypedDict):
    feature: str
    kind: str
    baseline_count: int
    window_count: int
    drift: bool
    reasons: list[str]


class FeatureDriftJSON(_FeatureDriftCounts, total=False):
    """The statistics of the feature's kind: PSI and KS for numeric, chi-square for categorical."""

    psi: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    chi2: float | None
    chi2_pvalue: float | None
    dof: int | None


ClassShareJSON = TypedDict(
    "ClassShareJSON",
    {"class": str, "baseline_share": float, "window_share": float, "difference": float, "drift": bool},
)


class PredictionSharesJSON(TypedDict):
    column: str
    drift: bool
    classes: list[ClassShareJSON]


class SegmentJSON(TypedDict):
    column: str
    value: str


class GroupDriftJSON(TypedDict):
    segment: SegmentJSON | None
    rows: int
    baseline_rows: int
    drift: bool
    skipped: str | None
    features: list[FeatureDriftJSON]
    predictions: PredictionSharesJSON | None


class _LogWindowRows(TypedDict):
    path: str
    total_rows: int
    start: str | None
    end: str | None
    rows: int


class LogWindowJSON(_LogWindowRows, total=False):
    rows_limit: int
    days: float


class FeatureNamesJSON(TypedDict):
    numeric: list[str]
    categorical: list[str]


class DriftFindingsJSON(TypedDict):
    drift: bool
    thresholds: dict[str, float]
    features: FeatureNamesJSON
    prediction: str | None
    groups: list[GroupDriftJSON]


class BaselineJSON(TypedDict):
    path: str
    rows: int


class DriftReportJSON(TypedDict):
    project: str
    drift: bool
    logs: LogWindowJSON
    baseline: BaselineJSON
    thresholds: dict[str, float]
    features: FeatureNamesJSON
    prediction: str | None
    groups: list[GroupDriftJSON]
    alert: Mapping[str, object] | None  # the monitoring flow's outcome on GitHub, its shape


@dataclass
class FeatureDrift:
    feature: str
    kind: str  # numeric | categorical
    baseline_count: int
    window_count: int
    drift: bool
    reasons: list[str]
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    chi2: float | None = None
    chi2_pvalue: float | None = None
    dof: int | None = None

    def to_json(self) -> FeatureDriftJSON:
        # In the order the JSON has always had: counts, the statistics of the feature's kind, verdict.
        if self.kind == "numeric":
            return {
                "feature": self.feature,
                "kind": self.kind,
                "baseline_count": self.baseline_count,
                "window_count": self.window_count,
                "psi": self.psi,
                "ks_statistic": self.ks_statistic,
                "ks_pvalue": self.ks_pvalue,
                "drift": self.drift,
                "reasons": self.reasons,
            }
        return {
            "feature": self.feature,
            "kind": self.kind,
            "baseline_count": self.baseline_count,
            "window_count": self.window_count,
            "chi2": self.chi2,
            "chi2_pvalue": self.chi2_pvalue,
            "dof": self.dof,
            "drift": self.drift,
            "reasons": self.reasons,
        }


@dataclass
class ClassShare:
    label: str
    baseline_share: float
    window_share: float
    difference: float
    drift: bool

    def to_json(self) -> ClassShareJSON:
        return {
            "class": self.label,
            "baseline_share": self.baseline_share,
            "window_share": self.window_share,
            "difference": self.difference,
            "drift": self.drift,
        }


@dataclass
class PredictionShares:
    column: str
    classes: list[ClassShare]

    @property
    def drift(self) -> bool:
        return any(c.drift for c in self.classes)

    def to_json(self) -> PredictionSharesJSON:
        return {"column": self.column, "drift": self.drift, "classes": [c.to_json() for c in self.classes]}


@dataclass
class Segment:
    column: str
    value: str


@dataclass
class GroupDrift:
    """Drift over all rows (``segment`` None) or over the rows of one segment value."""

    segment: Segment | None
    rows: int
    baseline_rows: int
    skipped: str | None = None
    features: list[FeatureDrift] = field(default_factory=list)
    predictions: PredictionShares | None = None

    @property
    def drift(self) -> bool:
        return any(f.drift for f in self.features) or bool(self.predictions and self.predictions.drift)

    def to_json(self) -> GroupDriftJSON:
        return {
            "segment": None
            if self.segment is None
            else {"column": self.segment.column, "value": self.segment.value},
            "rows": self.rows,
            "baseline_rows": self.baseline_rows,
            "drift": self.drift,
            "skipped": self.skipped,
            "features": [f.to_json() for f in self.features],
            "predictions": self.predictions.to_json() if self.predictions else None,
        }


@dataclass
class LogWindow:
    """Which rows of the logs were compared."""

    path: str
    rows: int
    total_rows: int
    start: str | None = None
    end: str | None = None
    rows_limit: int | None = None
    days: float | None = None

    def to_json(self) -> LogWindowJSON:
        data: LogWindowJSON = {
            "path": self.path,
            "total_rows": self.total_rows,
            "start": self.start,
            "end": self.end,
            "rows": self.rows,
        }
        if self.rows_limit is not None:
            data["rows_limit"] = self.rows_limit
        if self.days is not None:
            data["days"] = self.days
        return data


@dataclass
class DriftFindings:
    """What comparing a window with the baseline found, overall (first group) and per segment value."""

    thresholds: dict[str, float]
    numeric: list[str]
    categorical: list[str]
    prediction: str | None
    groups: list[GroupDrift]

    @property
    def drift(self) -> bool:
        return any(g.drift for g in self.groups)

    @property
    def overall(self) -> GroupDrift:
        return self.groups[0]

    @property
    def segments(self) -> list[GroupDrift]:
        return self.groups[1:]

    def to_json(self) -> DriftFindingsJSON:
        return {
            "drift": self.drift,
            "thresholds": self.thresholds,
            "features": {"numeric": self.numeric, "categorical": self.categorical},
            "prediction": self.prediction,
            "groups": [g.to_json() for g in self.groups],
        }


@dataclass
class DriftReport:
    """One monitoring run: which logs against which baseline, the findings, and what was done on GitHub."""

    project: str
    logs: LogWindow
    baseline_path: str
    baseline_rows: int
    findings: DriftFindings
    alert: Mapping[str, object] | None = None

    @property
    def drift(self) -> bool:
        return self.findings.drift

    def to_json(self) -> DriftReportJSON:
        findings = self.findings.to_json()
        return {
            "project": self.project,
            "drift": self.drift,
            "logs": self.logs.to_json(),
            "baseline": {"path": self.baseline_path, "rows": self.baseline_rows},
            # The findings' keys but their own `drift` (the report's is the same), in their order.
            "thresholds": findings["thresholds"],
            "features": findings["features"],
            "prediction": findings["prediction"],
            "groups": findings["groups"],
            "alert": self.alert,
        }
