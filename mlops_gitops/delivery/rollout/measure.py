"""One look at a rollout step: each arm's model version, its outcomes since the step started (from
the logs or Prometheus), and the decision over them (:func:`.decision.decide`)."""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass
from pathlib import Path

from mlops_gitops.delivery.rollout.arms import MetricOutcomes, Units
from mlops_gitops.delivery.rollout.decision import Decision, Step, decide
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Environment
from mlops_gitops.manifest.rollout import Rollout, template_fields

_SHORT = {"short_hash": ("model_hash", 8), "short_commit": ("commit", 7)}


@dataclass(frozen=True)
class Arm:
    """One arm: the value the deployment file gives it, and the version the serving layer logs."""

    value: str
    version: str


@dataclass(frozen=True)
class Measured:
    """What one look saw: the units and outcomes, what produced them (the log path, or the server)
    and a note on how much of it counted."""

    units: Units
    outcomes: tuple[MetricOutcomes, ...]
    source: str
    note: str = ""


def fields_of(value: str, template: str, env: str, model: str) -> dict[str, str]:
    """The placeholders of the environment's ``template`` read back from a ``value`` it rendered."""
    names = template_fields(template) or []
    pattern, seen = "", set()
    for literal, name, _, _ in string.Formatter().parse(template):
        pattern += re.escape(literal)
        if name is None:
            continue
        pattern += f"(?P={name})" if name in seen else f"(?P<{name}>.+?)"
        seen.add(name)
    found = re.fullmatch(pattern, value, re.DOTALL)
    if found is None:
        raise UsageError(
            f"deploy environment {env}: {value!r} does not have the form of its value template {template!r}"
        )
    fields = {name: found.group(name) for name in names}
    for short, (full, length) in _SHORT.items():
        if full in fields:
            fields.setdefault(short, fields[full][:length])
    return {**fields, "model": fields.get("model", model), "env": env, "value": value}


def arm(value: str, env: Environment, rollout: Rollout, model: str) -> Arm:
    """The arm a deployment value stands for, its version rendered from ``rollout.version``."""
    fields = fields_of(value, env.value, env.name, model)
    try:
        return Arm(value, rollout.version.format(**fields))
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"deploy environment {env.name}: rollout.version: cannot fill {exc}") from None


def step_of(rollout: Rollout, share: float, elapsed: dt.timedelta) -> Step:
    """The decision's view of the step at ``share`` (in the file's units)."""
    return Step(
        share=rollout.fraction(share),
        last=next_share(rollout, share) is None,
        elapsed=elapsed,
        min_duration=dt.timedelta(minutes=rollout.min_minutes),
        min_outcomes=rollout.min_outcomes,
        alpha=rollout.alpha,
    )


def next_share(rollout: Rollout, share: float) -> float | None:
    """The first configured step above ``share`` (a share set by hand between steps goes on from
    there), or None: the next move is the promotion."""
    return next((s for s in rollout.steps if s > share), None)


def measure(
    rollout: Rollout,
    control: Arm,
    candidate: Arm,
    since: dt.datetime,
    until: dt.datetime,
    root: Path,
) -> Measured:
    """Both arms' outcomes from ``since`` (the step's start) to ``until``, from the configured source."""
    if rollout.logs is not None:
        return _from_logs(rollout, control, candidate, since, until, root)
    return _from_prometheus(rollout, control, candidate, since, until)


def _from_logs(
    rollout: Rollout, control: Arm, candidate: Arm, since: dt.datetime, until: dt.datetime, root: Path
) -> Measured:
    from mlops_gitops.delivery.rollout.outcomes import LogMetric, LogSource, outcomes_from_logs

    logs = rollout.logs
    assert logs is not None
    if not (root / logs.path).exists():
        from mlops_gitops.adapters.dvc import ensure_present

        ensure_present(root / logs.path, logs.path)  # a DVC-tracked log, pulled as monitor does
    metrics = [
        LogMetric(
            column=m.column or "",
            kind="mean" if m.kind == "mean" else "proportion",
            value=m.value,
            direction="decrease" if m.direction == "decrease" else "increase",
            guardrail=m.guardrail,
            name=m.name,
            tolerance=m.tolerance,
        )
        for m in rollout.metrics
    ]
    source = LogSource(logs.path, logs.version, logs.format, logs.timestamp, logs.unit)
    read = outcomes_from_logs(
        source,
        metrics,
        control.version,
        candidate.version,
        segments=rollout.segments,
        since=since,
        until=until,
        base_dir=root,
    )
    note = f"{read.rows:,} rows in the step, {read.other_rows:,} of them from other versions"
    return Measured(read.units, read.outcomes, logs.path, note)


def _from_prometheus(
    rollout: Rollout, control: Arm, candidate: Arm, since: dt.datetime, until: dt.datetime
) -> Measured:
    from mlops_gitops.adapters.prometheus import Prometheus
    from mlops_gitops.delivery.rollout.outcomes import (
        QueryMetric,
        outcomes_from_prometheus,
        units_from_prometheus,
    )

    config = rollout.prometheus
    assert config is not None
    server = Prometheus(config.url, config.token_env)
    outcomes = []
    for m in rollout.metrics:
        q = m.queries
        metric = QueryMetric(
            name=m.name,
            kind="mean" if m.kind == "mean" else "proportion",
            count=q["count"],
            positives=q.get("positives"),
            sum=q.get("sum"),
            sum_squares=q.get("sum_squares"),
            direction="decrease" if m.direction == "decrease" else "increase",
            guardrail=m.guardrail,
            segment=m.segment,
            tolerance=m.tolerance,
        )
        outcomes.append(
            outcomes_from_prometheus(server, metric, control.version, candidate.version, until, since)
        )
    units = units_from_prometheus(server, config.units, control.version, candidate.version, until, since)
    return Measured(units, tuple(outcomes), server.server, f"units: {config.units}")


def look(rollout: Rollout, share: float, measured: Measured, elapsed: dt.timedelta) -> Decision:
    """The step's decision over what was measured."""
    return decide(step_of(rollout, share, elapsed), measured.units, measured.outcomes)
