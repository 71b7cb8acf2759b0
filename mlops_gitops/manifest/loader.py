"""Load mlops.yaml: parse with positions, validate against the schema, build the typed model.

Every problem becomes a :class:`~mlops_gitops.errors.Problem` with ``file:line:col``; all problems
are collected before raising, so a user fixes the manifest in one pass.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mlops_gitops.adapters.memo import GitMemo
from mlops_gitops.errors import ManifestError, Problem
from mlops_gitops.manifest.defaults import apply_defaults, builtin
from mlops_gitops.manifest.model import (
    Cloud,
    Deploy,
    Environment,
    Fanout,
    Gate,
    Manifest,
    Model,
    Record,
    Runner,
    Stage,
    StageRunner,
)
from mlops_gitops.manifest.rules import INSTALL_PLACEHOLDER as INSTALL_PLACEHOLDER
from mlops_gitops.manifest.rules import semantic_problems
from mlops_gitops.manifest.source import Path_, SourceMap, dotted, schema
from mlops_gitops.names import MANIFEST_FILE

if TYPE_CHECKING:  # pragma: no cover
    from jsonschema.exceptions import ValidationError

    from mlops_gitops.manifest.rollout import Rollout
    from mlops_gitops.manifest.sections import DataCheck, Monitoring
    from mlops_gitops.manifest.shapes import (
        DataCheckData,
        DeployData,
        EnvironmentData,
        GateData,
        MonitoringData,
    )


def to_plain(node: Any) -> Any:
    """ruamel's commented containers -> plain dicts and lists (ordered), scalars unchanged."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if hasattr(node, "value") and hasattr(node, "tag"):
        return to_plain(node.value)  # a custom-tagged scalar (!foo bar): the tag means nothing here
    return node


def parse_yaml(text: str, filename: str) -> tuple[Any, SourceMap]:
    """Round-trip parse (keeps positions). YAML errors become one located Problem."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from mlops_gitops.adapters.yamlsafe import load_roundtrip

    try:
        doc = load_roundtrip(text, filename)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if "found duplicate key" in (exc.problem or ""):
            problem = exc.problem.split(" with value")[0]
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ManifestError([Problem(filename, line, col, "", f"YAML syntax error: {problem}")]) from None
    except YAMLError as exc:
        raise ManifestError([Problem(filename, None, None, "", f"YAML error: {exc}")]) from None
    source = SourceMap()
    source.record(doc)
    return doc, source


def load_manifest(path: str | Path = MANIFEST_FILE) -> Manifest:
    """Read, validate and type ``path``; raises ManifestError with every problem found."""
    file = Path(path)
    # Errors name the file as the user would type it: relative to where they stand when that is shorter.
    name = (
        os.path.relpath(file)
        if file.is_absolute() and not os.path.relpath(file).startswith("..")
        else str(path)
    )
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            [Problem(name, None, None, "", "not found; run `mlops-gitops init` to create it")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ManifestError([Problem(name, None, None, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ManifestError([Problem(name, None, None, "", f"cannot read: {exc.strerror}")]) from None
    memo = ValidationMemo.beside(file)
    data = memo.recall(text) if memo is not None else None
    if data is not None:
        return build(data)
    manifest = load_manifest_text(text, name)
    if memo is not None:
        memo.remember(text, manifest.raw)
    return manifest


class ValidationMemo:
    """Manifests that passed validation, as plain data keyed by a hash, kept in the repository's
    ``.git`` (never committed).

    Every command loads the manifest, and in CI several run one after another on the same text:
    validating (and even parsing) it once is enough. A key covers the text, the tool version and the
    schema and loader files, so a changed manifest or tool is validated again."""

    NAME = "mlops-gitops-valid.json"
    KEEP = 16

    def __init__(self, memo: GitMemo) -> None:
        self.memo = memo

    @classmethod
    def beside(cls, manifest: Path) -> ValidationMemo | None:
        memo = GitMemo.beside(manifest.resolve().parent, cls.NAME, cls.KEEP)
        return cls(memo) if memo is not None else None

    @staticmethod
    def key(text: str) -> str:
        import hashlib

        from mlops_gitops.adapters.resources import tool_signature

        return hashlib.sha256(f"{tool_signature()}\0{text}".encode()).hexdigest()

    def recall(self, text: str) -> dict[str, Any] | None:
        data = self.memo.recall(self.key(text))
        return data if isinstance(data, dict) else None

    def remember(self, text: str, data: Mapping[str, object]) -> None:
        try:
            if json.loads(json.dumps(data)) != data:
                return  # a value JSON cannot carry (a YAML timestamp): validate every time instead
        except (TypeError, ValueError):
            return
        self.memo.remember(self.key(text), data)


def load_manifest_text(text: str, filename: str = MANIFEST_FILE) -> Manifest:
    data = quick_parse(text, filename)
    if isinstance(data, dict):
        data = to_plain(data)  # keys as strings, as the round-trip path gives them
        # The happy path: the plain parser is much faster than the round trip, and positions are
        # only needed to report problems.
        problems = find_problems(data, SourceMap(), filename)
        if not problems:
            return build(data)
    doc, source = parse_yaml(text, filename)
    if doc is None:
        raise ManifestError(
            [
                Problem(
                    filename, 1, 1, "", "the manifest is empty; it needs at least version, project and stages"
                )
            ]
        )
    data = to_plain(doc)
    problems = find_problems(data, source, filename)
    if problems:
        raise ManifestError(problems)
    return build(data)


def quick_parse(text: str, filename: str) -> Any:
    """Plain data from ruamel's safe loader, or None when the text needs the careful path (a syntax
    error, a custom tag, an empty document). An alias bomb is refused here, in one line."""
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe

    try:
        return load_safe(text, filename)
    except YAMLError:
        return None


def find_problems(data: Any, source: SourceMap, filename: str) -> list[Problem]:
    problems = schema_problems(data, source, filename)
    if not problems:
        from mlops_gitops.manifest.rollout import rollout_problems

        problems = semantic_problems(data, source, filename) + rollout_problems(data, source, filename)
        problems.sort(key=lambda p: (p.line or 0, p.col or 0, p.path))
    return problems


def schema_problems(data: Any, source: SourceMap, filename: str) -> list[Problem]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in validator.iter_errors(data):
        for problem in describe(error, source, filename):
            if str(problem) not in seen:
                seen.add(str(problem))
                problems.append(problem)
    problems.sort(key=lambda p: (p.line or 0, p.col or 0, p.path))
    return problems


def describe(error: ValidationError, source: SourceMap, filename: str) -> list[Problem]:
    """Turn one jsonschema error into located, human-worded problems."""
    path: Path_ = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        # The schema of an object: a mapping (jsonschema also types it as a boolean schema).
        node = error.schema if isinstance(error.schema, Mapping) else {}
        allowed = sorted(node.get("properties", {}))
        out = []
        for key in error.instance:
            if key in allowed or not isinstance(node.get("additionalProperties"), bool):
                continue
            import difflib  # only on the path of an unknown key

            near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = (
                f"; did you mean '{near[0]}'?"
                if near
                else (f"; valid keys: {', '.join(allowed)}" if allowed else "")
            )
            line, col = source.key((*path, key)) or (None, None)
            out.append(Problem(filename, line, col, dotted((*path, key)), f"unknown key{hint}"))
        return out
    if kind in ("anyOf", "oneOf") and error.context:
        # Prefer the branch that got furthest: its message names the real problem.
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), -len(str(e.message))))
        if len(deepest.absolute_path) > len(path):
            return describe(deepest, source, filename)
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        line, col = source.key(path) or (1, 1)
        return [
            Problem(filename, line, col, dotted(path), f"missing required key '{m}'") for m in missing
        ] or [Problem(filename, line, col, dotted(path), error.message)]
    line, col = source.value(path) or (None, None)
    return [Problem(filename, line, col, dotted(path), wording(error))]


def wording(error: ValidationError) -> str:
    kind = error.validator
    inst = error.instance
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {expected}, got {type_name(inst)}"
    if kind == "enum":
        choices = cast("list[object]", error.validator_value)  # an enum's values: a list
        return f"{inst!r} is not one of: {', '.join(map(str, choices))}"
    if kind == "const":
        return f"must be {error.validator_value!r}, got {inst!r}"
    if kind == "pattern":
        return f"{inst!r} does not match the expected format ({error.validator_value})"
    if kind == "minProperties":
        return "must not be empty"
    if kind == "minItems":
        return f"needs at least {error.validator_value} item(s)"
    if kind in ("minimum", "maximum", "exclusiveMinimum"):
        return error.message
    if kind == "not":
        return "a foreach stage takes its cmd inside 'do', and cannot also have cmd or matrix"
    if kind == "dependentRequired":
        return error.message
    return str(error.message)


def type_name(value: object) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def dvcfile_of(where: str) -> str:
    """A pipeline named by its dvc.yaml path or the folder holding it, as a dvc.yaml path."""
    where = where.strip().rstrip("/").removeprefix("./") or "."
    if where.endswith("dvc.yaml"):
        return where
    return "dvc.yaml" if where == "." else f"{where}/dvc.yaml"


def build(raw: dict[str, Any]) -> Manifest:
    """The typed manifest from validated data; every default comes from the schema, applied here once."""
    data = apply_defaults(raw, schema())
    raw_python = raw.get("python") or {}
    project, python, metrics, section = data["project"], data["python"], data["metrics"], data["data"]
    triggers = data["triggers"]
    owned = "stages" in data
    return Manifest(
        name=project["name"],
        pipelines=("dvc.yaml",) if owned else tuple(data["pipelines"]),
        owns_dvc_yaml=owned,
        default_branch=project["default_branch"],
        python_version=python["version"],
        # A conda environment installs the project itself; the default pip command is only for others.
        install=python["install"] if ("install" in raw_python or "conda" not in python) else "",
        conda=python.get("conda"),
        requirements=tuple(python["requirements"]),
        tool=python.get("tool"),
        stages={name: Stage(name, body) for name, body in (data.get("stages") or {}).items()},
        dvc=data["dvc"],
        metrics_files=tuple(metrics.get("files") or ()),
        gates=tuple(gate(g) for g in metrics["gates"]),
        history=metrics["history"],
        data_remote=section.get("remote"),
        data_secrets=dict(section["secrets"]),
        data_pr_secrets=dict(section["pull_request_secrets"]),
        data_checks=tuple(data_check(c) for c in section["checks"]),
        cloud=cloud_of(data["cloud"]),
        trigger_paths=tuple(triggers.get("paths") or ()),
        schedule=triggers.get("schedule"),
        runners=runners_of(data["runners"]),
        deploy=deploy_of(data["deploy"]) if data.get("deploy") else None,
        monitoring=monitoring(data["monitoring"]) if data.get("monitoring") else None,
        record=Record(**data["record"]),
        fanout=Fanout(**data["fanout"]),
        stage_runners=stage_runners_of(data["runners"]["stages"]),
        raw=raw,
    )


def runners_of(runners: dict[str, Any]) -> dict[str, Runner]:
    """The runner of each job: the built-in settings, then ``runners.default``, then the job's own."""
    out: dict[str, Runner] = {}
    for job in ("default", "train", "deploy", "monitor"):
        own, fallback = runners.get(job) or {}, runners.get("default") or {}
        spec = {
            **builtin(schema(), "runners", "default"),
            **builtin(schema(), "runners", job),
            **fallback,
            **own,
        }
        runs_on = spec["runs_on"]
        out[job] = Runner(
            runs_on=tuple(runs_on) if isinstance(runs_on, list) else runs_on,
            timeout_minutes=spec["timeout_minutes"],
            # Variables and secrets add up (the job's win); the rest is the job's own, else default's.
            env={**(fallback.get("env") or {}), **(own.get("env") or {})},
            secrets={**(fallback.get("secrets") or {}), **(own.get("secrets") or {})},
            container=spec.get("container"),
            services=dict(spec.get("services") or {}),
            steps={where: tuple(steps) for where, steps in (spec.get("steps") or {}).items()},
        )
    return out


def stage_runners_of(patterns: dict[str, Any]) -> tuple[StageRunner, ...]:
    """``runners.stages``: stage name pattern -> where the stages it matches run."""
    return tuple(
        StageRunner(
            pattern=pattern,
            runs_on=tuple(spec["runs_on"]) if isinstance(spec.get("runs_on"), list) else spec.get("runs_on"),
            timeout_minutes=spec.get("timeout_minutes"),
            container=spec.get("container"),
        )
        for pattern, spec in patterns.items()
    )


def deploy_of(d: DeployData) -> Deploy:
    return Deploy(
        model=Model(
            name=d["model"]["name"],
            path=d["model"]["path"],
            pipeline=dvcfile_of(d["model"]["pipeline"]) if d["model"].get("pipeline") else None,
        ),
        token_secret=d.get("token_secret"),
        token_login=d.get("token_login"),
        labels=tuple(d["labels"]),
        environments=tuple(environment(e) for e in d["environments"]),
    )


def cloud_of(cloud: dict[str, Any]) -> Cloud:
    """The two identities: default-branch jobs' (``settings``) and pull requests' (merged over it)."""
    settings = dict(cloud.get(cloud["provider"]) or {})
    pull_requests = settings.pop("pull_requests", None)
    return Cloud(
        provider=cloud["provider"],
        settings=settings,
        pull_requests={**settings, **pull_requests} if pull_requests else None,
    )


def gate(g: GateData) -> Gate:
    return Gate(
        metric=g["metric"],
        file=g.get("file"),
        pipeline=dvcfile_of(g["pipeline"]) if g.get("pipeline") else None,
        direction=g["direction"],
        min=g.get("min"),
        max=g.get("max"),
        regression_absolute=(g.get("regression") or {}).get("absolute"),
        regression_relative=(g.get("regression") or {}).get("relative"),
        required=g["required"],
    )


def environment(e: EnvironmentData) -> Environment:
    return Environment(
        name=e["name"],
        file=e["file"],
        field=e["field"],
        value=e["value"],
        repo=e.get("repo"),
        branch=e.get("branch"),
        document=e["document"],
        after=tuple(e["after"]),
        github_environment=e.get("github_environment"),
        # Not a schema default: it depends on `after` (the first environments go automatically).
        auto=e.get("auto", not e["after"]),
        rollout=rollout(e),
    )


def rollout(e: EnvironmentData) -> Rollout | None:
    """An environment's rollout (manifest/rollout.py, imported only for a manifest that has one)."""
    if "rollout" not in e:
        return None
    from mlops_gitops.manifest.rollout import rollout_of

    return rollout_of(e)


def gate_of(raw: Mapping[str, object]) -> Gate:
    """A typed gate from one (valid) ``metrics.gates`` entry, its defaults applied."""
    # Valid is the caller's promise; with the defaults applied, the entry has every key GateData needs.
    return gate(cast("GateData", apply_defaults(raw, schema(), "gate")))


def environment_of(raw: Mapping[str, object]) -> Environment:
    """A typed environment from one (valid) ``deploy.environments`` entry, its defaults applied."""
    return environment(cast("EnvironmentData", apply_defaults(raw, schema(), "environment")))


def data_check_of(raw: Mapping[str, object]) -> DataCheck:
    """A typed data check from one (valid) ``data.checks`` entry, its defaults applied."""
    return data_check(cast("DataCheckData", apply_defaults(raw, schema(), "data_check")))


def monitoring_of(raw: Mapping[str, object]) -> Monitoring:
    """The typed monitoring section from (valid) raw data, its defaults applied."""
    return monitoring(cast("MonitoringData", apply_defaults(raw, schema(), "monitoring")))


def data_check(c: DataCheckData) -> DataCheck:
    from mlops_gitops.manifest.sections import ColumnCheck, DataCheck

    return DataCheck(
        path=c["path"],
        format=c.get("format"),
        min_rows=c.get("min_rows"),
        max_rows=c.get("max_rows"),
        segments=tuple(c["segments"]),
        unique=tuple(c["unique"]),
        columns={
            name: ColumnCheck(
                type=col.get("type"),
                required=col["required"],
                not_null=col["not_null"],
                not_empty=col["not_empty"],
                unique=col["unique"],
                min=col.get("min"),
                max=col.get("max"),
                allowed=tuple(col["allowed"]) if "allowed" in col else None,
                pattern=col.get("pattern"),
            )
            for name, col in c["columns"].items()
        },
    )


def monitoring(m: MonitoringData) -> Monitoring:
    from mlops_gitops.manifest.sections import Monitoring, OnDrift, Thresholds, Window

    th, on_drift = m["thresholds"], m["on_drift"]
    return Monitoring(
        logs=m["logs"],
        baseline=m["baseline"],
        format=m.get("format"),
        prediction=m.get("prediction"),
        features=tuple(m["features"]) if m.get("features") else None,
        categorical=tuple(m["categorical"]),
        segments=tuple(m["segments"]),
        timestamp=m.get("timestamp"),
        window=Window(rows=m["window"].get("rows"), days=m["window"].get("days")),
        thresholds=Thresholds(
            psi=float(th["psi"]),
            ks_pvalue=float(th["ks_pvalue"]),
            chi2_pvalue=float(th["chi2_pvalue"]),
            prediction_share=float(th["prediction_share"]),
        ),
        schedule=m["schedule"],
        on_drift=OnDrift(
            issue=on_drift["issue"], retrain=on_drift["retrain"], labels=tuple(on_drift["labels"])
        ),
    )
