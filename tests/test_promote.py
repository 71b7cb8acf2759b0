"""`mlops-gitops promote` end to end: a real git repo with dvc.lock and metrics, the fake GitHub over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from mlops_gitops.cli import cli
from tests.fakegithub import BOT_EMAIL, FakeGitHub, env_for

REPO = "acme/models"
BRANCH = "mlops/promote/staging/iris-clf"

MANIFEST = """\
version: 1
project:
  name: iris
stages:
  train:
    cmd: python train.py
    deps: [data/train.csv, train.py]
    params: [train.lr]
    outs: [models]
    metrics:
      - metrics.json:
          cache: false
metrics:
  gates:
    - metric: accuracy
      min: 0.8
deploy:
  model:
    name: iris-clf
    path: models/model.pkl
  labels: [deploy, model]
  environments:
    - name: staging
      file: deploy/staging/isvc.yaml
      field: spec.predictor.model.storageUri
      value: s3://models/iris/{model_hash}
    - name: production
      file: deploy/production/isvc.yaml
      field: spec.predictor.model.storageUri
      value: s3://models/iris/{model_hash}
      after: [staging]
"""

LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: data/train.csv
      hash: md5
      md5: 0123456789abcdef0123456789abcdef
      size: 10
    params:
      params.yaml:
        train.lr: 0.1
    outs:
    - path: models
      hash: md5
      md5: {md5}.dir
      size: 20
      nfiles: 1
    - path: metrics.json
      hash: md5
      md5: 11111111111111111111111111111111
      size: 5
"""

ISVC = """\
# KServe InferenceService for {env} -- keep this comment
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: iris   # the service name
  annotations:
    note: 'quoted, stays quoted'
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn

      storageUri: "s3://models/iris/{old}"  # set by mlops-gitops
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: untouched
"""

MD5_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
MD5_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit_model(project: Path, md5: str, accuracy: float) -> str:
    (project / "dvc.lock").write_text(LOCK.format(md5=md5))
    (project / "metrics.json").write_text(f'{{"accuracy": {accuracy}}}\n')
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"model {md5[:4]}")
    return git(project, "rev-parse", "HEAD")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "mlops.yaml").write_text(MANIFEST)
    (root / "params.yaml").write_text("train:\n  lr: 0.1\n")
    for env in ("staging", "production"):
        (root / "deploy" / env).mkdir(parents=True)
        (root / "deploy" / env / "isvc.yaml").write_text(ISVC.format(env=env, old="old"))
    commit_model(root, "0" * 32, 0.85)
    commit_model(root, MD5_A, 0.9)
    return root


@pytest.fixture
def gh(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(
        REPO,
        files={
            "deploy/staging/isvc.yaml": ISVC.format(env="staging", old="old"),
            "deploy/production/isvc.yaml": ISVC.format(env="production", old="old"),
        },
    )
    return fake_github


def promote(
    fake: FakeGitHub, project: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    runner = CliRunner()
    full_env = {**env_for(fake, REPO), "GITHUB_ACTIONS": "", **(env or {})}
    old = Path.cwd()
    os.chdir(project)
    try:
        result = runner.invoke(cli, ["promote", *args], env=full_env)
    finally:
        os.chdir(old)
    out = result.output
    if result.exception and not isinstance(result.exception, SystemExit):
        from mlops_gitops.errors import MlopsError

        if isinstance(result.exception, MlopsError):
            return result.exception.exit_code, out + str(result.exception)
        raise result.exception
    return result.exit_code, out


def test_opens_a_labelled_pr_with_a_byte_minimal_edit(gh: FakeGitHub, project: Path) -> None:
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0, out
    assert "created promotion PR #1" in out
    (pr,) = gh.pulls(REPO)
    assert pr.head == BRANCH and pr.base == "main"
    assert pr.title == f"Promote iris-clf {MD5_A[:8]} to staging"
    assert set(pr.labels) == {"deploy", "model"}
    assert pr.body is not None
    assert pr.body.startswith(
        "<!-- mlops-gitops:promotion project=iris env=staging model=iris-clf hash=" + MD5_A
    )
    assert git(project, "rev-parse", "HEAD") in pr.body
    assert "0123456789abcdef0123456789abcdef" in pr.body  # lineage: data hash
    assert "accuracy" in pr.body  # the evaluation report
    edited = gh.file(REPO, BRANCH, "deploy/staging/isvc.yaml")
    assert edited == ISVC.format(env="staging", old="old").replace(
        '"s3://models/iris/old"', f'"s3://models/iris/{MD5_A}"'
    )
    head = gh.head_commit(REPO, BRANCH)
    assert head.author["email"] == BOT_EMAIL
    assert head.parents == [gh.repo(REPO).refs["heads/main"]]
    assert gh.file(REPO, "main", "deploy/staging/isvc.yaml") == ISVC.format(env="staging", old="old")


def test_rerun_is_unchanged_and_newer_model_updates_the_same_pr(gh: FakeGitHub, project: Path) -> None:
    assert promote(gh, project, "--env", "staging")[0] == 0
    writes = len(gh.writes())
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0 and "unchanged promotion PR #1" in out, out
    assert len(gh.writes()) == writes

    commit_model(project, MD5_B, 0.92)
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0 and "updated promotion PR #1" in out, out
    (pr,) = gh.pulls(REPO)
    assert MD5_B[:8] in pr.title and f"hash={MD5_B}" in (pr.body or "")
    assert MD5_B in (gh.file(REPO, BRANCH, "deploy/staging/isvc.yaml") or "")
    assert gh.head_commit(REPO, BRANCH).parents == [gh.repo(REPO).refs["heads/main"]]


def test_human_commit_on_the_branch_is_not_overwritten(gh: FakeGitHub, project: Path) -> None:
    assert promote(gh, project, "--env", "staging")[0] == 0
    human = gh.add_commit_by(REPO, BRANCH, "Bob Human", "bob@example.com")
    commit_model(project, MD5_B, 0.92)
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0, out
    assert "not force-pushing" in out
    assert gh.repo(REPO).refs[f"heads/{BRANCH}"] == human
    comments = gh.comments(REPO, 1)
    assert len(comments) == 1 and "Bob Human" in comments[0].body
    assert promote(gh, project, "--env", "staging")[0] == 0
    assert len(gh.comments(REPO, 1)) == 1, "a rerun edits the same note"


def test_production_before_staging_is_refused(gh: FakeGitHub, project: Path) -> None:
    code, out = promote(gh, project, "--env", "production")
    assert code == 1
    assert "only takes a model already in staging" in out
    assert gh.writes() == [] and gh.pulls(REPO) == []


def test_production_after_staging_is_merged(gh: FakeGitHub, project: Path) -> None:
    gh.add_file(REPO, "main", "deploy/staging/isvc.yaml", ISVC.format(env="staging", old=MD5_A))
    code, out = promote(gh, project, "--env", "production")
    assert code == 0, out
    (pr,) = gh.pulls(REPO)
    assert pr.head == "mlops/promote/production/iris-clf"


def test_failing_gate_is_refused_and_force_records_the_reason(gh: FakeGitHub, project: Path) -> None:
    commit_model(project, MD5_B, 0.5)
    code, out = promote(gh, project, "--env", "staging")
    assert code == 1 and "accuracy" in out and "--force --reason" in out
    assert gh.requests == []

    code, out = promote(gh, project, "--env", "staging", "--force")
    assert code == 2 and "--reason" in out

    code, out = promote(gh, project, "--env", "staging", "--force", "--reason", "hotfix for incident 42")
    assert code == 0, out
    (pr,) = gh.pulls(REPO)
    assert "hotfix for incident 42" in (pr.body or "") and "--force" in (pr.body or "")


def test_existing_pr_found_by_branch_is_updated_not_duplicated(gh: FakeGitHub, project: Path) -> None:
    assert promote(gh, project, "--env", "staging")[0] == 0
    gh.fail("POST", r"/pulls$", count=5, kind="server")  # a second create would fail loudly
    commit_model(project, MD5_B, 0.95)
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0 and "updated" in out, out
    assert len(gh.pulls(REPO)) == 1


def test_closed_unmerged_pr_skips_that_model(gh: FakeGitHub, project: Path) -> None:
    assert promote(gh, project, "--env", "staging")[0] == 0
    gh.repo(REPO).issues[1].state = "closed"
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0 and "closed without merging" in out, out
    assert len(gh.pulls(REPO)) == 1


def test_a_pr_someone_else_opened_on_the_branch_is_not_ours(gh: FakeGitHub, project: Path) -> None:
    """Hostile: a collaborator opens a PR from the promotion branch name, with our marker in its body.
    The bot neither edits it nor pushes to the branch under it; it says so."""
    gh.add_file(REPO, BRANCH, "deploy/staging/isvc.yaml", ISVC.format(env="staging", old="evil"))
    number = gh.add_pull(
        REPO, BRANCH, title="Promote", body="<!-- mlops-gitops:promotion -->", user="mallory"
    )
    before = gh.repo(REPO).refs[f"heads/{BRANCH}"]
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0 and f"PR #{number}" in out and "opened by mallory" in out, out
    (pr,) = gh.pulls(REPO)
    assert pr.title == "Promote" and pr.user == "mallory"
    assert gh.repo(REPO).refs[f"heads/{BRANCH}"] == before
    assert gh.comments(REPO, number) == []


def test_a_closed_pr_someone_else_opened_does_not_skip_the_model(gh: FakeGitHub, project: Path) -> None:
    """Hostile: a human PR closed unmerged, carrying our marker for this model, must not block it."""
    gh.add_file(REPO, BRANCH, "x.txt", "x\n")
    body = f"<!-- mlops-gitops:promotion project=iris env=staging model=iris-clf hash={MD5_A} -->"
    gh.add_pull(REPO, BRANCH, body=body, user="mallory", state="closed")
    gh.repo(REPO).refs.pop(f"heads/{BRANCH}")
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0 and "closed without merging" not in out, out
    assert [p.user for p in gh.pulls(REPO, state="open")] == ["github-actions[bot]"]


def test_already_deployed_is_a_no_op(gh: FakeGitHub, project: Path) -> None:
    gh.add_file(REPO, "main", "deploy/staging/isvc.yaml", ISVC.format(env="staging", old=MD5_A))
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0 and "nothing to do" in out
    assert gh.writes() == []


def test_dry_run_makes_no_api_call_even_without_a_token(gh: FakeGitHub, project: Path) -> None:
    code, out = promote(
        gh, project, "--env", "staging", "--dry-run", env={"GITHUB_TOKEN": "", "GITHUB_REPOSITORY": ""}
    )
    assert code == 0, out
    assert gh.requests == []
    assert '-      storageUri: "s3://models/iris/old"  # set by mlops-gitops' in out
    assert f'+      storageUri: "s3://models/iris/{MD5_A}"  # set by mlops-gitops' in out
    assert "<!-- mlops-gitops:promotion project=iris env=staging" in out


def test_permission_error_is_one_line_without_token(gh: FakeGitHub, project: Path) -> None:
    gh.fail("POST", r"/git/blobs$", kind="permission", permissions="contents=write")
    code, out = promote(gh, project, "--env", "staging")
    assert code == 1
    assert "contents: write" in out and gh.token not in out
    assert "Traceback" not in out


def test_secondary_rate_limit_and_server_error_are_retried(gh: FakeGitHub, project: Path) -> None:
    gh.fail("POST", r"/pulls$", kind="secondary")
    gh.fail("GET", r"/contents/", count=2, kind="server")
    code, out = promote(gh, project, "--env", "staging")
    assert code == 0, out
    assert len(gh.pulls(REPO)) == 1


def test_unknown_environment_is_a_usage_error(gh: FakeGitHub, project: Path) -> None:
    code, out = promote(gh, project, "--env", "qa")
    assert code == 2 and "staging, production" in out


def test_token_never_leaks_from_a_subprocess(gh: FakeGitHub, project: Path) -> None:
    gh.fail("GET", r".*", count=100, kind="server")
    env = {**os.environ, **env_for(gh, REPO), "MLOPS_GITOPS_TOKEN": gh.token}
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "promote", "--env", "staging"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert gh.token not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_model_from_a_pipeline_in_a_subfolder(tmp_path: Path) -> None:
    """The model's hash comes from the dvc.lock beside its pipeline's dvc.yaml, whose paths are
    relative to the stage's wdir (which dvc.lock does not record)."""
    import json as json_
    import subprocess as sp
    import sys as sys_

    from tests.repos import subfolder_pipeline

    root = subfolder_pipeline(tmp_path / "repo").root
    (root / "deploy").mkdir()
    (root / "deploy/staging.yaml").write_text("model:\n  uri: s3://m/none\n")
    sp.run(
        [sys_.executable, "-m", "mlops_gitops", "init", "--yes"], cwd=root, check=True, capture_output=True
    )
    with open(root / "mlops.yaml", "a", encoding="utf-8") as handle:
        handle.write(
            "deploy:\n  model: {name: points, path: models/model.json}\n  environments:\n"
            "    - {name: staging, file: deploy/staging.yaml, field: model.uri, value: 's3://m/{model_hash}'}\n"
        )
    sp.run([sys_.executable, "-m", "mlops_gitops", "generate"], cwd=root, check=True, capture_output=True)
    sp.run(["git", "add", "-A"], cwd=root, check=True)
    sp.run(["git", "commit", "-qm", "deploy"], cwd=root, check=True)
    lock = YAML(typ="safe").load((root / "pipelines/dvc.lock").read_text())
    md5 = next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model.json")
    proc = sp.run(
        [sys_.executable, "-m", "mlops_gitops", "promote", "--env", "staging", "--dry-run", "--base", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"+  uri: s3://m/{md5}" in proc.stdout
    assert "(stage `train`)" in proc.stdout and json_.dumps(md5)[1:-1] in proc.stdout


def test_dry_run_body_names_the_real_repository_and_flattens_params(gh: FakeGitHub, project: Path) -> None:
    """A params entry that is a mapping (`params: [train]` in dvc.yaml) reads `train.lr`, not a repr;
    the PR body names the repository and the branch instead of placeholders."""
    lock = (
        (project / "dvc.lock")
        .read_text()
        .replace(
            "        train.lr: 0.1\n",
            "        train:\n          lr: 0.1\n          layers:\n            units: 8\n",
        )
    )
    (project / "dvc.lock").write_text(lock)
    git(project, "commit", "-qam", "params as a mapping")
    code, out = promote(gh, project, "--env", "staging", "--dry-run", env={"GITHUB_TOKEN": ""})
    assert code == 0, out
    assert "| `params.yaml:train.lr` | `0.1` |" in out and "| `params.yaml:train.layers.units` | `8` |" in out
    assert "{'lr'" not in out and "{&#x27;" not in out
    assert f"| File | `{REPO}`: `deploy/staging/isvc.yaml` (branch `main`) |" in out
    assert "this repository" not in out and "default branch`" not in out
    git(project, "remote", "add", "origin", "git@github.com:acme/iris-models.git")
    code, out = promote(
        gh, project, "--env", "staging", "--dry-run", env={"GITHUB_TOKEN": "", "GITHUB_REPOSITORY": ""}
    )
    assert code == 0 and "| File | `acme/iris-models`: `deploy/staging/isvc.yaml`" in out, out
