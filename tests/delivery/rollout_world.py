"""A repository in the middle of a rollout, for the rollout tests (in process and under act): the
manifest, a KServe InferenceService whose history holds each step as a commit landed at a chosen
time, and prediction logs drawn with a fixed seed where each arm and region has its own
positive-class share."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

OLD_HASH = "0" * 32
NEW_HASH = "ab12cd34" * 4
OLD_VERSION, NEW_VERSION = OLD_HASH[:8], NEW_HASH[:8]
DEPLOY = "deploy/production/inference.yaml"
LOGS = "logs/predictions.csv"
URI = "s3://mlops-demo-models/iris/{}"
METRIC = "setosa share"

INFERENCE = """\
# KServe serves the iris classifier to production traffic.
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: iris-classifier
spec:
  predictor:
    minReplicas: 2
    model:
      modelFormat:
        name: sklearn
      # Set by promotion to the DVC hash of models/model.pkl.
      storageUri: s3://mlops-demo-models/iris/{hash}
"""


def rollout_section(
    metric: str = METRIC, min_outcomes: int = 200, source: str | None = None, segments: str = "[region]"
) -> str:
    """The production environment's rollout: a guardrail on the share of setosa predictions."""
    source = source or f"logs: {{path: {LOGS}, version: model_version, timestamp: ts}}"
    return f"""\
      rollout:
        steps: [5, 25, 50]
        min_minutes: 30
        min_outcomes: {min_outcomes}
        segments: {segments}
        metrics:
          - name: {json.dumps(metric)}
            kind: proportion
            column: prediction
            value: setosa
            direction: increase
            guardrail: true
            tolerance: 0.05
        source:
          {source}
"""


def environment(rollout: str) -> str:
    """The production environment of the iris example's manifest, with ``rollout``."""
    return f"""\
    - name: production
      file: {DEPLOY}
      field: spec.predictor.model.storageUri
      value: s3://mlops-demo-models/iris/{{model_hash}}
{rollout}"""


MANIFEST = """\
version: 1
project: {{name: iris}}
stages:
  train: {{cmd: python train.py, outs: [models/model.pkl]}}
deploy:
  model: {{name: iris-classifier, path: models/model.pkl}}
  environments:
{environment}"""


def inference(model_hash: str, share: float | None = None) -> str:
    """The InferenceService with ``model_hash`` served, as a canary at ``share`` percent when given."""
    text = INFERENCE.format(hash=model_hash)
    if share is not None:
        text = text.replace("    minReplicas: 2", f"    canaryTrafficPercent: {share:g}\n    minReplicas: 2")
    return text


def git(root: Path, *args: str, when: dt.datetime | None = None) -> str:
    env = dict(os.environ)
    if when is not None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env.update(GIT_COMMITTER_DATE=stamp, GIT_AUTHOR_DATE=stamp)
    done = subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(root: Path, files: Mapping[str, str], message: str, when: dt.datetime) -> str:
    """Write ``files`` and commit them as landed at ``when``; the new commit's SHA."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", message, when=when)
    return git(root, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Traffic:
    """How the logs are drawn: rows per minute, the candidate's share of them, and the positive-class
    share of each arm in each region."""

    per_minute: int
    candidate: float
    control_share: Mapping[str, float]
    candidate_share: Mapping[str, float]


SAME = {"eu": 0.33, "us": 0.33}
WORSE_IN_EU = {"eu": 0.10, "us": 0.33}
BETTER = {"eu": 0.60, "us": 0.60}


def logs(
    since: dt.datetime,
    until: dt.datetime,
    traffic: Traffic,
    seed: int,
    regions: tuple[str, ...] = ("eu", "us"),
) -> str:
    """One row per prediction from ``since`` to ``until`` (CSV), arms and regions drawn at random."""
    rng = np.random.default_rng(seed)
    minutes = int((until - since).total_seconds() // 60)
    n = minutes * traffic.per_minute
    offsets = np.sort(rng.uniform(0, (until - since).total_seconds(), n))
    candidate = rng.random(n) < traffic.candidate
    region = rng.choice(regions, n)
    p = np.array(
        [
            (traffic.candidate_share if c else traffic.control_share)[r]
            for c, r in zip(candidate, region, strict=True)
        ]
    )
    hit = rng.random(n) < p
    rows = ["ts,model_version,region,prediction"]
    for off, c, r, h in zip(offsets, candidate, region, hit, strict=True):
        at = since + dt.timedelta(seconds=float(off))
        rows.append(
            f"{at:%Y-%m-%dT%H:%M:%S}Z,{NEW_VERSION if c else OLD_VERSION},{r},{'setosa' if h else 'other'}"
        )
    return "\n".join(rows) + "\n"


def make_repo(root: Path, manifest: str, now: dt.datetime, step_started: dt.datetime) -> Path:
    """A repository whose production runs the old model since three days, and the candidate at 5%
    since ``step_started`` (the first step's PR merged then)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    commit(
        root,
        {"mlops.yaml": manifest, DEPLOY: inference(OLD_HASH)},
        "Serve the model",
        now - dt.timedelta(days=3),
    )
    commit(root, {DEPLOY: inference(NEW_HASH, 5)}, "Merge the first step", step_started)
    return root
