"""``deploy.environments[].rollout``: an environment that takes a new model in steps of traffic.

The typed section (:class:`Rollout`, built by :func:`rollout_of` from data the schema accepted, its
defaults applied) and the rules the schema cannot say (:func:`rollout_problems`, each problem at
``file:line:col``). The loader calls both; the flows that act on a rollout live in
:mod:`mlops_gitops.delivery.rollout`, and docs/rollout.md says what each key does for the user.

Imported only when a manifest is validated or has a rollout: its dataclasses cost import time every
other command would pay for nothing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_gitops.errors import Problem
from mlops_gitops.manifest.rules import Findings
from mlops_gitops.manifest.source import SourceMap, schema

# What a step's traffic shape means for each ready-made name: the candidate's share, and (for shapes
# where the candidate has a place of its own) where it goes. ``seldon``'s documents are found in the
# file by their kind and name (see delivery/rollout/traffic.py), so none is fixed here.
KSERVE_SHARE = "spec.predictor.canaryTrafficPercent"
KSERVE_RAW_SHARE = "spec.canary.0.trafficPercent"
KSERVE_RAW_PREDICTOR = "spec.canary.0.predictor."
SELDON_SHARE = "spec.candidates.1.weight"
SELDON_CONTROL_SHARE = "spec.candidates.0.weight"
PREDICTOR = "spec.predictor."

# The placeholders of an environment's value, and which of them each can be read back from: a value
# holding {model_hash} gives {short_hash} too (its first 8 characters), {commit} gives {short_commit}.
VALUE_FIELDS = ("model_hash", "short_hash", "commit", "short_commit", "model", "env")
DERIVED = {"short_hash": "model_hash", "short_commit": "commit"}
VERSION_FIELDS = (*VALUE_FIELDS, "value")
QUERY_ROLES = {"proportion": ("positives", "count"), "mean": ("count", "sum", "sum_squares")}
QUERY_PLACEHOLDERS = ("version", "window")
_QUERY_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?LW#]+$")  # as rules.schedules checks the other crons

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Traffic:
    """Where the split lives in the deployment file. ``share`` is the dotted path of the candidate's
    share (in ``document``; None: the environment's). With ``candidate`` None the candidate replaces
    the environment's value in place and ``share`` exists only during the rollout (KServe's
    ``canaryTrafficPercent``); otherwise the candidate's value goes to ``candidate`` and the current
    model stays in the environment's field. ``control_share``, when set, takes ``scale - share``."""

    shape: str  # kserve | kserve-raw | seldon | custom
    share: str
    document: int | None
    candidate: str | None
    candidate_document: int | None
    control_share: str | None
    scale: float

    @property
    def in_place(self) -> bool:
        return self.candidate is None


@dataclass(frozen=True)
class RolloutMetric:
    """One metric both arms are compared on. From logs: ``column`` (and, for a proportion, the
    positive ``value``; None: a true/false column). From Prometheus: ``queries`` by role and the
    ``segment`` label they select."""

    name: str
    kind: str  # proportion | mean
    direction: str  # increase | decrease: which way is better
    guardrail: bool
    tolerance: float
    column: str | None
    value: Scalar | None
    queries: Mapping[str, str]
    segment: str | None


@dataclass(frozen=True)
class LogsSource:
    path: str
    format: str | None
    version: str  # the column naming the model version that answered
    timestamp: str
    unit: str | None


@dataclass(frozen=True)
class PrometheusSource:
    url: str
    token_env: str | None
    units: str  # the query counting each arm's requests or users


@dataclass(frozen=True)
class Rollout:
    traffic: Traffic
    steps: tuple[float, ...]  # the candidate's shares, in traffic.scale's units, increasing
    min_minutes: float
    min_outcomes: int
    alpha: float
    schedule: str  # cron of mlops-rollout's looks
    version: str  # template: how the serving layer names a model version
    segments: tuple[str, ...]
    metrics: tuple[RolloutMetric, ...]
    logs: LogsSource | None
    prometheus: PrometheusSource | None

    def fraction(self, share: float) -> float:
        """A share in the file's units as a fraction of all traffic."""
        return share / self.traffic.scale


# --- the typed section ---------------------------------------------------------------------------


def _rollout_schema() -> Mapping[str, Any]:
    node: Mapping[str, Any] = schema()["$defs"]["environment"]["properties"]["rollout"]
    return node


def _default(key: str) -> Any:
    """A rollout key's default, from the schema: the rules read the user's data before defaults."""
    return _rollout_schema()["properties"][key]["default"]


def default_scale() -> float:
    """``traffic.scale``'s default, from the schema (apply_defaults does not reach into an if/else)."""
    custom = _rollout_schema()["properties"]["traffic"]["else"]
    return float(custom["properties"]["scale"]["default"])


def traffic_of(traffic: str | Mapping[str, Any], field: str) -> Traffic:
    """The shape of the split: a ready-made name resolved against the environment's ``field``."""
    scale = default_scale()
    if traffic == "kserve":
        return Traffic("kserve", KSERVE_SHARE, None, None, None, None, scale)
    if traffic == "kserve-raw":
        candidate = KSERVE_RAW_PREDICTOR + field.removeprefix(PREDICTOR)
        return Traffic("kserve-raw", KSERVE_RAW_SHARE, None, candidate, None, None, scale)
    if traffic == "seldon":
        return Traffic("seldon", SELDON_SHARE, None, field, None, SELDON_CONTROL_SHARE, scale)
    assert isinstance(traffic, Mapping)
    return Traffic(
        "custom",
        traffic["share"],
        traffic.get("document"),
        traffic.get("candidate"),
        traffic.get("candidate_document"),
        traffic.get("control_share"),
        float(traffic.get("scale", scale)),
    )


def rollout_of(env: Mapping[str, Any]) -> Rollout | None:
    """The typed rollout of one ``deploy.environments`` entry (defaults applied), or None."""
    r = env.get("rollout")
    if r is None:
        return None
    source = r["source"]
    logs, prometheus = source.get("logs"), source.get("prometheus")
    return Rollout(
        traffic=traffic_of(r["traffic"], env["field"]),
        steps=tuple(float(s) for s in r["steps"]),
        min_minutes=float(r["min_minutes"]),
        min_outcomes=int(r["min_outcomes"]),
        alpha=float(r["alpha"]),
        schedule=r["schedule"],
        version=r["version"],
        segments=tuple(r["segments"]),
        metrics=tuple(
            RolloutMetric(
                name=m["name"],
                kind=m["kind"],
                direction=m["direction"],
                guardrail=m["guardrail"],
                tolerance=float(m["tolerance"]),
                column=m.get("column"),
                value=m.get("value"),
                queries=dict(m.get("query") or {}),
                segment=m.get("segment"),
            )
            for m in r["metrics"]
        ),
        logs=LogsSource(
            logs["path"], logs.get("format"), logs["version"], logs["timestamp"], logs.get("unit")
        )
        if logs
        else None,
        prometheus=PrometheusSource(prometheus["url"], prometheus.get("token_env"), prometheus["units"])
        if prometheus
        else None,
    )


# --- values and versions -------------------------------------------------------------------------


def template_fields(template: str) -> list[str] | None:
    """The placeholders of a ``{name}`` template in order, or None when it is not one."""
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError:
        return None


def readable_fields(value_template: str) -> set[str]:
    """What can be read back from a value the environment's template rendered (see DERIVED)."""
    fields = set(template_fields(value_template) or ())
    fields |= {short for short, full in DERIVED.items() if full in fields}
    return fields | {"model", "env", "value"}


# --- the rules the schema cannot say -------------------------------------------------------------


def rollout_problems(data: Mapping[str, Any], source: SourceMap, filename: str) -> list[Problem]:
    """Every rollout's problems the schema cannot express, located (data: as the schema accepted it)."""
    found = Findings(source, filename)
    deploy = data.get("deploy") or {}
    for i, env in enumerate(deploy.get("environments") or []):
        if isinstance(env, Mapping) and isinstance(env.get("rollout"), Mapping):
            where = ("deploy", "environments", i, "rollout")
            _traffic(env, where, found)
            _steps(env["rollout"], where, found)
            cron = env["rollout"].get("schedule")
            if cron and not all(_CRON_FIELD.match(f) for f in cron.split()):
                found.add((*where, "schedule"), f"'{cron}' is not a valid cron expression")
            _version(env, where, found)
            _metrics(env["rollout"], where, found)
    return found.problems


def _traffic(env: Mapping[str, Any], where: tuple[str | int, ...], found: Findings) -> None:
    traffic = env["rollout"].get("traffic", _default("traffic"))
    field = env["field"]
    if traffic in ("kserve", "kserve-raw") and not field.startswith(PREDICTOR):
        found.add(
            (*where, "traffic"),
            f"traffic {traffic} splits spec.predictor: field must be a path below {PREDICTOR.rstrip('.')} "
            f"(it is {field})",
        )
    if isinstance(traffic, Mapping):
        document = env.get("document", 0)
        if traffic.get("candidate") == field and traffic.get("candidate_document", document) == document:
            found.add(
                (*where, "traffic", "candidate"),
                "the candidate's place must differ from field, which keeps the current model "
                "(leave candidate out to replace field in place)",
            )
        if traffic["share"] in (field, traffic.get("control_share")):
            found.add((*where, "traffic", "share"), "share must be a field of its own")


def _steps(rollout: Mapping[str, Any], where: tuple[str | int, ...], found: Findings) -> None:
    traffic = rollout.get("traffic")
    scale = traffic.get("scale", default_scale()) if isinstance(traffic, Mapping) else default_scale()
    steps = rollout.get("steps") or []
    for j, step in enumerate(steps):
        if step >= scale:
            found.add(
                (*where, "steps", j),
                f"a step is the candidate's share before promotion: below {scale:g} (all traffic); "
                "the promotion after the last step gives it everything",
            )
        elif j and step <= steps[j - 1]:
            found.add((*where, "steps", j), f"steps must increase: {step:g} follows {steps[j - 1]:g}")


def _version(env: Mapping[str, Any], where: tuple[str | int, ...], found: Findings) -> None:
    version = env["rollout"].get("version", _default("version"))
    fields = template_fields(version)
    path = (*where, "version")
    if fields is None:
        found.add(path, f"bad template {version!r}: braces must pair up around a placeholder")
        return
    readable = readable_fields(env["value"])
    for name in dict.fromkeys(fields):
        if name not in VERSION_FIELDS:
            known = ", ".join("{" + f + "}" for f in VERSION_FIELDS)
            found.add(path, f"unknown placeholder {{{name}}}; use one of {known}")
        elif name not in readable:
            held = sorted(readable - {"model", "env", "value"})
            have = ", ".join("{" + f + "}" for f in held) or "no model placeholder"
            found.add(
                path,
                f"{{{name}}} cannot be read back from value {env['value']!r}, which holds {have}: name "
                "the version by what value holds, or {value} (the whole value)",
            )


def _metrics(rollout: Mapping[str, Any], where: tuple[str | int, ...], found: Findings) -> None:
    source = rollout["source"]
    if "logs" in source and "prometheus" in source:
        found.add((*where, "source"), "give either logs or prometheus, not both", at_key=True)
        return
    prometheus = "prometheus" in source
    if prometheus:
        _query(source["prometheus"]["units"], (*where, "source", "prometheus", "units"), found)
        if rollout.get("segments"):
            found.add(
                (*where, "segments"),
                "segments are log columns; with prometheus give each metric's segment and select it in its queries",
            )
    names: set[str] = set()
    for j, metric in enumerate(rollout["metrics"]):
        at = (*where, "metrics", j)
        if metric["name"] in names:
            found.add((*at, "name"), f"metric '{metric['name']}' is defined twice")
        names.add(metric["name"])
        if metric["kind"] == "mean" and "tolerance" not in metric:
            found.add(
                at,
                "a mean needs tolerance: the largest degradation you accept, in its own units (5 for "
                "5 ms of latency); 0 asks for proof that the candidate is better",
                at_key=True,
            )
        if prometheus:
            _prometheus_metric(metric, at, found)
        else:
            _logs_metric(metric, at, found)


def _logs_metric(metric: Mapping[str, Any], at: tuple[str | int, ...], found: Findings) -> None:
    if "column" not in metric:
        found.add(at, "a metric read from source.logs needs column", at_key=True)
    for key in ("query", "segment"):
        if key in metric:
            found.add((*at, key), f"{key} is for source.prometheus; source.logs reads column", at_key=True)
    if metric["kind"] == "mean" and "value" in metric:
        found.add((*at, "value"), "a mean averages its column; only a proportion counts a value", at_key=True)


def _prometheus_metric(metric: Mapping[str, Any], at: tuple[str | int, ...], found: Findings) -> None:
    for key in ("column", "value"):
        if key in metric:
            found.add((*at, key), f"{key} is for source.logs; source.prometheus reads query", at_key=True)
    queries = metric.get("query")
    roles = QUERY_ROLES[metric["kind"]]
    if queries is None:
        found.add(at, f"a {metric['kind']} read from prometheus needs query: {', '.join(roles)}", at_key=True)
        return
    for role in roles:
        if role not in queries:
            found.add((*at, "query"), f"a {metric['kind']} needs a {role} query", at_key=True)
    for role, query in queries.items():
        if role not in roles:
            found.add((*at, "query", role), f"a {metric['kind']} takes no {role} query", at_key=True)
        else:
            _query(query, (*at, "query", role), found)


def _query(query: str, path: tuple[str | int, ...], found: Findings) -> None:
    names = _QUERY_PLACEHOLDER.findall(query)
    for name in sorted(set(names) - set(QUERY_PLACEHOLDERS)):
        found.add(path, f"unknown placeholder {{{{{name}}}}}; use {{{{version}}}} and {{{{window}}}}")
    if "version" not in names:
        found.add(path, "no {{version}}: without it both arms would read the same numbers")
