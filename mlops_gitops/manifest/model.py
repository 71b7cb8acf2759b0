"""Plain, typed view of a validated manifest. Built only from data that passed the schema and had the
schema's defaults applied (:func:`mlops_gitops.manifest.defaults.apply_defaults`), so no field here
carries a default of its own: every default is declared once, in ``schema.json``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:  # pragma: no cover
    # Imported by the loader only when a manifest has these sections: each frozen dataclass costs
    # about half a millisecond to create, and every command pays for what it imports.
    from mlops_gitops.manifest.rollout import Rollout
    from mlops_gitops.manifest.sections import DataCheck, Monitoring


@dataclass(frozen=True)
class Gate:
    metric: str
    file: str | None
    pipeline: str | None  # a dvc.yaml path (normalised by the loader from a folder too)
    direction: str
    min: float | None
    max: float | None
    regression_absolute: float | None
    regression_relative: float | None
    required: bool

    @property
    def is_pattern(self) -> bool:
        return "*" in self.metric


EnvValue = str | int | float | bool


class _Image(TypedDict):
    image: str


class ContainerSpec(_Image, total=False):
    """``container:`` written as a mapping, as the schema checked it (GitHub's job ``container``)."""

    options: str
    env: dict[str, EnvValue]
    volumes: list[str]


class ServiceSpec(_Image, total=False):
    """One ``services:`` entry, as the schema checked it (GitHub's service container)."""

    env: dict[str, EnvValue]
    ports: list[str | int]
    options: str
    volumes: list[str]


# One of the user's extra steps, as the schema checked it (a GitHub Actions step; keys with dashes).
Step = TypedDict(
    "Step",
    {
        "name": str,
        "id": str,
        "if": str,
        "uses": str,
        "with": dict[str, EnvValue],
        "run": str,
        "shell": str,
        "env": dict[str, EnvValue],
        "working-directory": str,
        "continue-on-error": bool,
        "timeout-minutes": int,
    },
    total=False,
)


class DvcSections(TypedDict, total=False):
    """``dvc:``: top-level dvc.yaml sections other than stages, in dvc.yaml's own format."""

    vars: list[object]
    params: list[str]
    metrics: list[str]
    plots: list[object]
    artifacts: dict[str, object]
    datasets: list[object]


@dataclass(frozen=True)
class Runner:
    """Where and how a kind of job runs: labels, timeout, and what the user adds to it."""

    runs_on: str | tuple[str, ...]
    timeout_minutes: int
    env: Mapping[str, EnvValue]
    secrets: Mapping[str, str]  # env var -> repository secret name
    container: str | ContainerSpec | None
    services: Mapping[str, ServiceSpec]
    steps: Mapping[str, tuple[Step, ...]]  # before_install / after_install / after_repro

    def extra_steps(self, where: str) -> tuple[Step, ...]:
        return self.steps.get(where, ())


@dataclass(frozen=True)
class StageRunner:
    """A ``runners.stages`` entry: where the stages ``pattern`` matches run when training fans out
    (docs/scaling.md). A key left out (None) is ``runners.train``'s."""

    pattern: str  # a stage name, group, item, address, or a glob of one (fnmatch: *, ?, [...])
    runs_on: str | tuple[str, ...] | None
    timeout_minutes: int | None
    container: str | ContainerSpec | None

    def matches(self, address: str, name: str, group: str | None) -> bool:
        """Whether the pattern names this stage: its address (``pipelines/a/dvc.yaml:train@us``), its
        name (``train@us``), its foreach/matrix group (``train``) or the group's address."""
        from fnmatch import fnmatchcase

        names = [address, name]
        if group:
            names += [group, address[: len(address) - len(name)] + group]
        return any(fnmatchcase(candidate, self.pattern) for candidate in names)


@dataclass(frozen=True)
class Fanout:
    """``fanout:``: training split into parallel jobs (docs/scaling.md)."""

    enabled: bool
    max_parallel: int  # strategy.max-parallel of the matrix
    max_jobs: int  # matrix entries at most (GitHub: 256); more units are grouped
    min_jobs: int  # fewer parallel units than this: one job does everything


@dataclass(frozen=True)
class Environment:
    name: str
    file: str
    field: str
    value: str
    repo: str | None
    branch: str | None
    document: int
    after: tuple[str, ...]
    github_environment: str | None
    auto: bool
    rollout: Rollout | None = None  # traffic in steps, decided by outcomes (manifest/rollout.py)


@dataclass(frozen=True)
class Model:
    name: str
    path: str
    pipeline: str | None  # a dvc.yaml path; None: the pipeline whose outputs hold `path`


@dataclass(frozen=True)
class Deploy:
    model: Model
    environments: tuple[Environment, ...]
    token_secret: str | None
    labels: tuple[str, ...]
    token_login: str | None = None  # who token_secret acts as; only what it wrote is ever edited

    def environment(self, name: str) -> Environment | None:
        return next((e for e in self.environments if e.name == name), None)


@dataclass(frozen=True)
class Cloud:
    """``settings``: the identity of default-branch jobs; ``pull_requests``: the read-only one that
    pull-request runs use instead, merged over ``settings`` (None: pull requests get no cloud login)."""

    provider: str
    settings: Mapping[str, str]
    pull_requests: Mapping[str, str] | None = None


def _listed(value: object) -> Iterable[object]:
    """A list the definition holds (a ``do`` body is not checked by the schema: whatever it holds is
    iterated as written, as DVC would see it); nothing for a missing key."""
    return value if value and isinstance(value, Iterable) else []


def entry_paths(entries: object) -> tuple[str, ...]:
    """Paths of DVC outs/metrics/plots entries, written as ``path`` or ``{path: {options}}``."""
    out: list[str] = []
    for entry in _listed(entries):
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict):
            out.extend(str(k) for k in entry)
    return tuple(out)


@dataclass(frozen=True)
class Stage:
    """A stage of ``stages:``, in dvc.yaml's own format (``definition`` is written to dvc.yaml as is).
    For a ``foreach`` stage the paths are those of its ``do`` template, ``${item}`` references and all."""

    name: str
    definition: Mapping[str, object]  # YAML as the user wrote it: the schema checks the keys DVC reads

    @property
    def body(self) -> Mapping[str, object]:
        body = self.definition.get("do", self.definition)
        return body if isinstance(body, dict) else {}

    @property
    def deps(self) -> tuple[str, ...]:
        return tuple(str(d) for d in _listed(self.body.get("deps")))

    @property
    def outs(self) -> tuple[str, ...]:
        return entry_paths(self.body.get("outs"))

    @property
    def metrics(self) -> tuple[str, ...]:
        return entry_paths(self.body.get("metrics"))

    @property
    def plots(self) -> tuple[str, ...]:
        return entry_paths(self.body.get("plots"))

    @property
    def params_files(self) -> tuple[str, ...]:
        """Params files named explicitly (``params: [{file.yaml: [keys]}]``)."""
        return tuple(str(k) for p in _listed(self.body.get("params")) if isinstance(p, dict) for k in p)


@dataclass(frozen=True)
class Record:
    """``record:``: how trained models get into Git with no manual step."""

    pull_requests: str  # commit | suggest | off: the reproduced dvc.lock of a same-repository PR
    retrain_branch: str  # the one "retrained model" PR's branch
    registry: bool  # GTO tags for deploy.model


@dataclass(frozen=True)
class Manifest:
    """Everything the renderers, reporters and commands read from mlops.yaml."""

    name: str
    # The dvc.yaml files governed: patterns of `pipelines:` (hand-owned, never written), or
    # ("dvc.yaml",) when `stages:` is given and mlops-gitops writes dvc.yaml (`owns_dvc_yaml`).
    pipelines: tuple[str, ...]
    owns_dvc_yaml: bool
    stages: Mapping[str, Stage]
    default_branch: str
    python_version: str
    install: str  # empty: no install step (a conda environment installs the project)
    requirements: tuple[str, ...]
    tool: str | None  # python.tool: how CI installs mlops-gitops, when not the running tool's source
    dvc: DvcSections
    metrics_files: tuple[str, ...]  # `metrics.files`; empty: every metrics file of the pipelines
    gates: tuple[Gate, ...]
    history: int
    data_remote: str | None
    data_secrets: Mapping[str, str]
    data_pr_secrets: Mapping[str, str]  # read-only credentials for pull-request runs
    data_checks: tuple[DataCheck, ...]
    cloud: Cloud
    trigger_paths: tuple[str, ...]  # `triggers.paths`; empty: every input of the pipelines
    schedule: str | None
    runners: Mapping[str, Runner]
    deploy: Deploy | None
    monitoring: Monitoring | None
    record: Record
    fanout: Fanout
    stage_runners: tuple[StageRunner, ...]  # `runners.stages`, in the manifest's order
    conda: str | None = None  # python.conda: the environment CI creates with the runner's conda
    # The manifest as loaded (YAML, validated): what the validation memo keeps.
    raw: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)

    def runner(self, job: str) -> Runner:
        """The runner for a job kind (train, deploy, monitor), falling back to ``default``."""
        return self.runners.get(job) or self.runners["default"]

    def stage_runner(self, address: str, name: str, group: str | None) -> StageRunner | None:
        """The first ``runners.stages`` entry that matches a stage, or None (``runners.train``)."""
        return next((r for r in self.stage_runners if r.matches(address, name, group)), None)
