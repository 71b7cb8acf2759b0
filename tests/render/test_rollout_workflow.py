"""mlops-rollout.yml: written only when an environment has a rollout; a read-only job that looks and
a minimal one with the write token that acts, as mlops-monitor; GitHub's schema and zizmor (pedantic)
find nothing in it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from mlops_gitops.manifest import load_manifest_text
from mlops_gitops.render.actions import ACTIONS
from mlops_gitops.render.workflows import render_workflows
from tests.parts import project_of
from tests.test_workflow_validators import tool

BASE = """\
version: 1
project: {name: iris}
stages: {train: {cmd: python train.py, outs: [models/model.pkl]}}
deploy:
  model: {name: iris, path: models/model.pkl}
  environments:
    - {name: staging, file: deploy/staging.yaml, field: spec.predictor.model.storageUri, value: "s3://m/{model_hash}"}
    - name: production
      file: deploy/production.yaml
      field: spec.predictor.model.storageUri
      value: "s3://m/{model_hash}"
      after: [staging]
      rollout:
        metrics: [{name: positives, kind: proportion, column: prediction, value: 1, direction: increase}]
        source: {logs: {path: logs/, version: model_version, timestamp: ts}}
"""

EVERYTHING = """\
version: 1
project: {name: iris}
stages: {train: {cmd: python train.py, outs: [models/model.pkl]}}
data:
  remote: storage
  secrets: {AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET}
cloud:
  provider: aws
  aws: {role_to_assume: "arn:aws:iam::1:role/r", region: eu-west-1}
runners:
  monitor:
    secrets: {PROMETHEUS_TOKEN: PROMETHEUS_TOKEN}
deploy:
  model: {name: iris, path: models/model.pkl}
  token_secret: DEPLOY_TOKEN
  token_login: "deployer[bot]"
  environments:
    - name: eu
      file: deploy/eu.yaml
      field: spec.storageUri
      value: "s3://m/{model_hash}"
      rollout:
        traffic: seldon
        schedule: "*/20 * * * *"
        metrics:
          - name: errors
            kind: proportion
            direction: decrease
            guardrail: true
            query: {positives: 'sum(errors{v="{{version}}"})', count: 'sum(requests{v="{{version}}"})'}
        source:
          prometheus: {url: "https://prometheus.example", token_env: PROMETHEUS_TOKEN, units: 'sum(requests{v="{{version}}"})'}
    - name: us
      file: deploy/us.yaml
      repo: acme/gitops
      branch: live
      field: spec.predictor.model.storageUri
      value: "s3://m/{model_hash}"
      rollout:
        metrics: [{name: latency, kind: mean, column: ms, direction: decrease, tolerance: 5}]
        source: {logs: {path: logs/us, version: model_version, timestamp: ts}}
"""


def rendered(text: str) -> dict[str, str]:
    return render_workflows(project_of(load_manifest_text(text)))


def test_only_an_environment_with_a_rollout_gets_the_workflow() -> None:
    assert ".github/workflows/mlops-rollout.yml" in rendered(BASE)
    without = BASE.split("      rollout:")[0]
    assert ".github/workflows/mlops-rollout.yml" not in rendered(without)


def test_one_job_looks_read_only_and_a_minimal_one_acts() -> None:
    workflow = YAML(typ="safe").load(rendered(BASE)[".github/workflows/mlops-rollout.yml"])
    assert workflow["permissions"] == {}
    assert workflow["on"]["schedule"] == [{"cron": "17 * * * *"}]
    assert workflow["on"]["workflow_dispatch"]["inputs"]["rollback_now"]["options"] == [
        "(none)",
        "production",
    ]
    measure, act, rollback = (workflow["jobs"][j] for j in ("measure", "act", "rollback"))
    assert measure["permissions"] == {"contents": "read"}
    assert act["permissions"] == rollback["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert act["needs"] == "measure"
    runs = [step.get("run", "") for step in measure["steps"]]
    assert any("rollout --measure-only --output" in r for r in runs)
    # It reads logs with pyarrow and NumPy; the decision needs no SciPy (the checks extra).
    assert any("-m mlops_gitops.locks install checks dvc" in r for r in runs)
    assert measure["steps"][0]["with"]["fetch-depth"] == 0  # the step's start is in the history
    # The acting jobs check out only the manifest and the deployment files, with their history, and
    # install the tool with PyGithub only.
    for job, command in ((act, "--act-from"), (rollback, "--rollback-now")):
        checkout = job["steps"][0]
        assert checkout["uses"].startswith(ACTIONS["checkout"].ref)
        assert checkout["with"]["sparse-checkout"] == "mlops.yaml\ndeploy/production.yaml"
        assert checkout["with"]["fetch-depth"] == 0
        text = "\n".join(str(step) for step in job["steps"])
        assert "data" not in text.split("locks install")[-1].split("\n")[0]
        assert any(command in step.get("run", "") for step in job["steps"])
    (last,) = [s for s in rollback["steps"] if "--rollback-now" in s.get("run", "")]
    # The dispatch input reaches the shell only through the environment.
    assert last["env"]["ENVIRONMENT"] == "${{ inputs.rollback_now }}" and "${{" not in last["run"]


def test_token_secret_cloud_data_and_every_schedule() -> None:
    workflow = YAML(typ="safe").load(rendered(EVERYTHING)[".github/workflows/mlops-rollout.yml"])
    assert workflow["on"]["schedule"] == [{"cron": "*/20 * * * *"}, {"cron": "17 * * * *"}]
    measure, act = workflow["jobs"]["measure"], workflow["jobs"]["act"]
    assert measure["permissions"] == {"contents": "read", "id-token": "write"}
    assert measure["env"] == {"PROMETHEUS_TOKEN": "${{ secrets.PROMETHEUS_TOKEN }}"}
    # With an App's token the write goes through it; GITHUB_TOKEN only reads.
    assert act["permissions"] == {"contents": "read"}
    (step,) = [s for s in act["steps"] if "--act-from" in s.get("run", "")]
    assert step["env"] == {
        "GITHUB_TOKEN": "${{ secrets.DEPLOY_TOKEN }}",
        "MLOPS_GITOPS_BOT_LOGIN": "deployer[bot]",
    }
    (look,) = [s for s in measure["steps"] if "--measure-only" in s.get("run", "")]
    assert look["env"]["DVC_REMOTE"] == "storage"


def test_each_job_checks_out_another_repository_with_its_history() -> None:
    workflow = YAML(typ="safe").load(rendered(EVERYTHING)[".github/workflows/mlops-rollout.yml"])
    for name, command in (
        ("measure", "--measure-only"),
        ("act", "--act-from"),
        ("rollback", "--rollback-now"),
    ):
        steps = workflow["jobs"][name]["steps"]
        (other,) = [s for s in steps if s.get("with", {}).get("repository")]
        assert other["uses"].startswith(ACTIONS["checkout"].ref)
        assert other["with"] == {
            "repository": "acme/gitops",
            "path": ".mlops-checkouts/acme/gitops",
            "fetch-depth": 0,  # every branch, with its history: `live` is read as origin/live
            "persist-credentials": False,
            "token": "${{ secrets.DEPLOY_TOKEN }}",
        }
        (run,) = [s["run"] for s in steps if command in s.get("run", "")]
        assert run.endswith(" --checkout acme/gitops=.mlops-checkouts/acme/gitops")
    # Without another repository, no other checkout and no --checkout.
    base = rendered(BASE)[".github/workflows/mlops-rollout.yml"]
    assert "repository:" not in base and "--checkout" not in base


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = []
    for name, text in (("base", BASE), ("everything", EVERYTHING)):
        path = tmp_path_factory.mktemp(name) / ".github" / "workflows" / "mlops-rollout.yml"
        path.parent.mkdir(parents=True)
        path.write_text(rendered(text)[".github/workflows/mlops-rollout.yml"])
        out.append(path)
    return out


def test_githubs_schema_accepts_it(files: list[Path]) -> None:
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing(files: list[Path]) -> None:
    args = [tool("zizmor"), "--offline", "--no-progress", "--persona", "pedantic", "--format", "plain"]
    proc = subprocess.run([*args, *map(str, files)], capture_output=True, text=True)
    assert proc.returncode == 0 and "No findings to report" in proc.stdout, proc.stdout + proc.stderr
