"""Plain, typed view of a validated manifest. Built only from data that passed the schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_RUNS_ON = "ubuntu-latest"
# Written by the generated data-validation stage (`validate-data --output`), read by `report`.
VALIDATION_REPORT = ".mlops/data-validation.json"
DEFAULT_TIMEOUT = {"default": 30, "train": 120, "deploy": 15, "monitor": 30}


@dataclass(frozen=True)
class Gate:
    metric: str
    file: str | None = None
    direction: str = "higher"
    min: float | None = None
    max: float | None = None
    regression_absolute: float | None = None
    regression_relative: float | None = None
    required: bool = True

    @property
    def is_pattern(self) -> bool:
        return "*" in self.metric


@dataclass(frozen=True)
class Runner:
    runs_on: str | tuple[str, ...]
    timeout_minutes: int


@dataclass(frozen=True)
class Environment:
    name: str
    file: str
    field: str
    value: str
    repo: str | None = None
    branch: str | None = None
    document: int = 0
    after: tuple[str, ...] = ()
    github_environment: str | None = None
    auto: bool = True


@dataclass(frozen=True)
class Model:
    name: str
    path: str


@dataclass(frozen=True)
class Deploy:
    model: Model
    environments: tuple[Environment, ...]
    token_secret: str | None = None
    labels: tuple[str, ...] = ()

    def environment(self, name: str) -> Environment | None:
        return next((e for e in self.environments if e.name == name), None)


@dataclass(frozen=True)
class Cloud:
    provider: str = "none"
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """Everything the renderers, reporters and commands read from mlops.yaml."""

    name: str
    stages: dict[str, Any]
    default_branch: str = "main"
    python_version: str = "3.11"
    install: str = "pip install -r requirements.txt"
    requirements: tuple[str, ...] = ("requirements.txt",)
    dvc: dict[str, Any] = field(default_factory=dict)
    metrics_files: tuple[str, ...] = ()
    gates: tuple[Gate, ...] = ()
    history: int = 20
    data_remote: str | None = None
    data_secrets: dict[str, str] = field(default_factory=dict)
    data_checks: tuple[dict[str, Any], ...] = ()
    cloud: Cloud = field(default_factory=Cloud)
    train_paths: tuple[str, ...] = ()
    schedule: str | None = None
    runners: dict[str, Runner] = field(default_factory=dict)
    deploy: Deploy | None = None
    monitoring: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def runner(self, job: str) -> Runner:
        """The runner for a job kind (train, deploy, monitor), falling back to ``default``."""
        return self.runners.get(job) or self.runners["default"]
