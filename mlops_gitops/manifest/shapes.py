"""Sections of mlops.yaml as plain data, once the schema has accepted them and its defaults are applied.

What the loader turns into the frozen dataclasses of :mod:`mlops_gitops.manifest.model` and
:mod:`mlops_gitops.manifest.sections`. A key with a schema ``default`` is always present; the others
(the ``...Optional`` bases) only when the user wrote them. ``schema.json`` is the source of truth:
these only spell out for the type checker what it guarantees.
"""

from __future__ import annotations

from typing import TypedDict

from mlops_gitops.adapters.jsontypes import JSONScalar


class RegressionData(TypedDict, total=False):
    absolute: float
    relative: float


class _GateOptional(TypedDict, total=False):
    file: str
    pipeline: str
    min: float
    max: float
    regression: RegressionData


class GateData(_GateOptional):
    """One ``metrics.gates`` entry."""

    metric: str
    direction: str
    required: bool


class _EnvironmentOptional(TypedDict, total=False):
    repo: str
    branch: str
    github_environment: str
    auto: bool


class EnvironmentData(_EnvironmentOptional):
    """One ``deploy.environments`` entry."""

    name: str
    file: str
    field: str
    value: str
    document: int
    after: list[str]


class _ModelOptional(TypedDict, total=False):
    pipeline: str


class ModelData(_ModelOptional):
    name: str
    path: str


class _DeployOptional(TypedDict, total=False):
    token_secret: str
    token_login: str


class DeployData(_DeployOptional):
    """The ``deploy`` section."""

    model: ModelData
    labels: list[str]
    environments: list[EnvironmentData]


class _ColumnOptional(TypedDict, total=False):
    type: str
    min: float
    max: float
    allowed: list[JSONScalar]
    pattern: str


class ColumnData(_ColumnOptional):
    """One column of a data check."""

    required: bool
    not_null: bool
    not_empty: bool
    unique: bool


class _DataCheckOptional(TypedDict, total=False):
    format: str
    min_rows: int
    max_rows: int


class DataCheckData(_DataCheckOptional):
    """One ``data.checks`` entry."""

    path: str
    segments: list[str]
    unique: list[str]
    columns: dict[str, ColumnData]


class WindowData(TypedDict, total=False):
    rows: int
    days: float


class ThresholdsData(TypedDict):
    psi: float
    ks_pvalue: float
    chi2_pvalue: float
    prediction_share: float


class OnDriftData(TypedDict):
    issue: bool
    retrain: bool
    labels: list[str]


class _MonitoringOptional(TypedDict, total=False):
    format: str
    prediction: str
    features: list[str]
    timestamp: str


class MonitoringData(_MonitoringOptional):
    """The ``monitoring`` section."""

    logs: str
    baseline: str
    categorical: list[str]
    segments: list[str]
    window: WindowData
    thresholds: ThresholdsData
    schedule: str
    on_drift: OnDriftData
