"""Typed ``data.checks`` and ``monitoring`` sections of the manifest. Kept apart from
:mod:`mlops_gitops.manifest.model` so that a manifest without them (and every command that never
reads them) does not pay for creating these classes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnCheck:
    type: str | None
    required: bool
    not_null: bool
    not_empty: bool
    unique: bool
    min: float | None
    max: float | None
    allowed: tuple[object, ...] | None  # any YAML values: the schema does not restrict them
    pattern: str | None


@dataclass(frozen=True)
class DataCheck:
    """One ``data.checks`` entry: a data file (or directory of files) and what must hold for it."""

    path: str
    format: str | None
    min_rows: int | None
    max_rows: int | None
    segments: tuple[str, ...]
    unique: tuple[str, ...]
    columns: Mapping[str, ColumnCheck]

    def at(self, path: str) -> DataCheck:
        """The same checks for one file inside this check's directory."""
        return DataCheck(
            path, self.format, self.min_rows, self.max_rows, self.segments, self.unique, self.columns
        )


@dataclass(frozen=True)
class Thresholds:
    """Drift when PSI > psi, a p-value < its threshold (0 disables a test), a share moves > prediction_share."""

    psi: float
    ks_pvalue: float
    chi2_pvalue: float
    prediction_share: float

    def to_json(self) -> dict[str, float]:
        return {
            "psi": self.psi,
            "ks_pvalue": self.ks_pvalue,
            "chi2_pvalue": self.chi2_pvalue,
            "prediction_share": self.prediction_share,
        }


@dataclass(frozen=True)
class Window:
    rows: int | None
    days: float | None


@dataclass(frozen=True)
class OnDrift:
    issue: bool
    retrain: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Monitoring:
    logs: str
    baseline: str
    format: str | None
    prediction: str | None
    features: tuple[str, ...] | None  # None: every column both sides share
    categorical: tuple[str, ...]
    segments: tuple[str, ...]
    timestamp: str | None
    window: Window
    thresholds: Thresholds
    schedule: str
    on_drift: OnDrift
