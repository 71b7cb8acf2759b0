"""Typed results of data validation and drift monitoring, and their JSON form. Pure: no pyarrow.

``validate-data`` writes a :class:`ValidationReport` as JSON inside the pipeline; ``report`` reads it
back from a revision (where a pull request may have written anything), so :meth:`ValidationReport.
from_json` takes untrusted data: a value of the wrong shape makes a report that fails with a reason,
never an exception. ``monitor`` builds a :class:`DriftReport`; the reporters render both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CheckResult:
    """One check of one column (or of the whole file when ``column`` is None)."""

    check: str
    column: str | None
    passed: bool
    bad_rows: int = 0
    message: str = ""
    # {"row": 1-based data row, "value": JSON value, "line": 1-based file line (CSV only)}
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def first_line(self) -> int | None:
        return next((e["line"] for e in self.examples if isinstance(e.get("line"), int)), None)

    def describe(self, path: str) -> str:
        """``data/iris.csv: range on sepal_length: 3 bad rows (values outside [0, 10])``."""
        column = f" on {self.column}" if self.column else ""
        detail = f"{self.bad_rows} bad row{'' if self.bad_rows == 1 else 's'}"
        if self.message:
            detail += f" ({self.message})"
        return f"{path}: {self.check}{column}: {detail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "passed": self.passed,
            "bad_rows": self.bad_rows,
            "message": self.message,
            "examples": self.examples,
        }


@dataclass
class FileResult:
    path: str
    format: str
    rows: int
    checks: list[CheckResult]
    segments: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "rows": self.rows,
            "passed": self.passed,
            "checks": [c.to_json() for c in self.checks],
            "segments": self.segments,
        }


@dataclass
class ValidationReport:
    """Every file ``validate-data`` checked; ``error`` when the report itself could not be read."""

    files: list[FileResult]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(f.passed for f in self.files)

    @property
    def failures(self) -> list[str]:
        """One description per failing check, or the error."""
        out = [c.describe(f.path) for f in self.files for c in f.failures]
        if self.error:
            out.insert(0, self.error)
        elif not out and not self.passed:
            out.append("data validation failed")
        return out

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"passed": self.passed, "files": [f.to_json() for f in self.files]}
        if self.error:
            data["error"] = self.error
        return data

    @classmethod
    def from_json(cls, data: Any, source: str) -> ValidationReport:
        """Read what ``validate-data`` wrote; anything malformed fails the report, naming ``source``."""
        try:
            return cls(files=[_file(f) for f in _list(data, "files")])
        except _Malformed as exc:
            return cls(files=[], error=f"{source} is not a validation report written by mlops-gitops ({exc})")


class _Malformed(ValueError):
    pass


def _list(data: Any, key: str) -> list[Any]:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise _Malformed(f"'{key}' is not a list")
    return list(data[key])


def _typed(data: dict[str, Any], key: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _Malformed(f"'{key}' has the wrong type")
    return value


def _file(data: Any) -> FileResult:
    if not isinstance(data, dict):
        raise _Malformed("a file entry is not a mapping")
    segments = data.get("segments") or {}
    if not isinstance(segments, dict) or not all(
        isinstance(v, dict) and all(isinstance(n, int) for n in v.values()) for v in segments.values()
    ):
        raise _Malformed("'segments' has the wrong shape")
    return FileResult(
        path=_typed(data, "path", str),
        format=_typed(data, "format", str, optional=True) or "",
        rows=_typed(data, "rows", int),
        checks=[_check(c) for c in _list(data, "checks")],
        segments={str(k): {str(n): c for n, c in v.items()} for k, v in segments.items()},
    )


def _check(data: Any) -> CheckResult:
    if not isinstance(data, dict):
        raise _Malformed("a check entry is not a mapping")
    examples = data.get("examples") or []
    if not isinstance(examples, list) or not all(isinstance(e, dict) for e in examples):
        raise _Malformed("'examples' is not a list of mappings")
    return CheckResult(
        check=_typed(data, "check", str),
        column=_typed(data, "column", str, optional=True),
        passed=_typed(data, "passed", bool),
        bad_rows=_typed(data, "bad_rows", int),
        message=_typed(data, "message", str, optional=True) or "",
        examples=[dict(e) for e in examples],
    )


# --- drift ------------------------------------------------------------------------------------------


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

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "feature": self.feature,
            "kind": self.kind,
            "baseline_count": self.baseline_count,
            "window_count": self.window_count,
        }
        if self.kind == "numeric":
            data.update(psi=self.psi, ks_statistic=self.ks_statistic, ks_pvalue=self.ks_pvalue)
        else:
            data.update(chi2=self.chi2, chi2_pvalue=self.chi2_pvalue, dof=self.dof)
        data.update(drift=self.drift, reasons=self.reasons)
        return data


@dataclass
class ClassShare:
    label: str
    baseline_share: float
    window_share: float
    difference: float
    drift: bool

    def to_json(self) -> dict[str, Any]:
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

    def to_json(self) -> dict[str, Any]:
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

    def to_json(self) -> dict[str, Any]:
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

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
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

    def to_json(self) -> dict[str, Any]:
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
    alert: dict[str, Any] | None = None

    @property
    def drift(self) -> bool:
        return self.findings.drift

    def to_json(self) -> dict[str, Any]:
        findings = self.findings.to_json()
        return {
            "project": self.project,
            "drift": self.drift,
            "logs": self.logs.to_json(),
            "baseline": {"path": self.baseline_path, "rows": self.baseline_rows},
            **{k: v for k, v in findings.items() if k != "drift"},
            "alert": self.alert,
        }
