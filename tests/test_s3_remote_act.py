"""A repository whose DVC remote is S3, adopted by `init --yes`, then mlops-pr -> mlops-comment ->
mlops-train under act against the fake GitHub and moto's S3 API (tests/s3server.py): every transfer
goes through the dvc-s3 plugin the generated job installs, to a real S3 endpoint on the loopback.

The remote is ``s3://BUCKET/dvc`` with its ``endpointurl`` committed in ``.dvc/config``; credentials
are never committed: the developer's sit in ``.dvc/config.local``, CI's come from repository secrets
through ``data.secrets`` (default branch) and ``data.pull_request_secrets`` (pull requests).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import repos
from tests.actrunner import (
    VENV_BIN,
    ActRun,
    act_green,
    fail_without_act,
    git,
    pr_reference,
    pull_request_event,
    push_event,
    run,
    workflow_run_event,
)
from tests.fakegithub import FakeGitHub
from tests.s3server import S3Endpoint, s3_fixture  # noqa: F401  (the fixture `s3`)
from tests.test_e2e import mirror_commit

pytestmark = pytest.mark.slow

REPO = "acme/scorer"
TRAIN = """\
import json

rows = [line.split(",") for line in open("data/train.csv").read().splitlines()[1:]]
scale = float(open("params.yaml").read().split(":")[1])
json.dump({"scale": scale, "weights": [scale * float(r[1]) for r in rows]}, open("model.json", "w"))
json.dump({"rows": len(rows), "score": scale * len(rows)}, open("metrics.json", "w"))
"""
PIPELINE = """\
stages:
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/train.csv]
    params: [scale]
    outs: [model.json]
    metrics:
      - metrics.json: {cache: false}
"""
# Repository secrets: the writer's key pair for the default branch, the reader's for pull requests.
SECRETS_BLOCK = """\
  secrets:
    AWS_ACCESS_KEY_ID: DVC_S3_KEY_ID
    AWS_SECRET_ACCESS_KEY: DVC_S3_SECRET
  pull_request_secrets:
    AWS_ACCESS_KEY_ID: DVC_S3_READ_KEY_ID
    AWS_SECRET_ACCESS_KEY: DVC_S3_READ_SECRET
"""


def build(root: Path, s3: S3Endpoint) -> tuple[Path, str]:
    """The project with its S3 remote, adopted by `init --yes`, with the remote's secrets declared.
    Returns (dev clone, what init printed)."""
    dev = root / "dev"
    repos.init(dev)
    repos.write(
        dev,
        {
            "requirements.txt": "numpy\n",
            "src/train.py": TRAIN,
            "dvc.yaml": PIPELINE,
            "params.yaml": "scale: 2\n",
            "data/train.csv": "id,age\n1,30\n2,40\n3,50\n",
        },
    )
    s3.add_dvc_remote(dev)
    config = (dev / ".dvc/config").read_text()
    assert f"endpointurl = {s3.endpoint}" in config and s3.writer.access_key_id not in config
    assert s3.writer.secret_access_key in (dev / ".dvc/config.local").read_text()
    repos.commit(dev, "The project as it ships")
    assert ".dvc/config.local" not in git(dev, "ls-files", ".dvc"), "credentials were committed"
    printed = run([str(VENV_BIN / "mlops-gitops"), "init", "--yes"], dev)
    manifest = dev / "mlops.yaml"
    text = manifest.read_text()
    assert re.search(r"^data:\n  remote: storage\n", text, flags=re.M), text
    text = re.sub(r"^data:\n", "data:\n" + SECRETS_BLOCK, text, count=1, flags=re.M)
    manifest.write_text(text + "metrics:\n  gates:\n    - {metric: rows, min: 1}\n")
    run([str(VENV_BIN / "mlops-gitops"), "generate"], dev)
    return dev, printed


def test_an_s3_remote_goes_green_pr_comment_train_through_dvc_s3(tmp_path: Path, s3: S3Endpoint) -> None:
    fail_without_act()
    origin = tmp_path / "origin.git"
    dev, printed = build(tmp_path, s3)
    assert f"remote 'storage' is {s3.url()}: CI installs dvc-s3 with mlops-gitops" in printed, printed
    workflows = dev / ".github/workflows"
    for name in ("mlops-pr", "mlops-train"):
        text = (workflows / f"{name}.yml").read_text()
        assert re.search(r"-m mlops_gitops\.locks install( \w+)* --remote s3\n", text), name
    # Pull requests get the read-only pair only; the default branch the writer's.
    pr_yml, train_yml = (workflows / "mlops-pr.yml").read_text(), (workflows / "mlops-train.yml").read_text()
    assert "${{ secrets.DVC_S3_READ_KEY_ID }}" in pr_yml and "secrets.DVC_S3_KEY_ID" not in pr_yml
    assert "${{ secrets.DVC_S3_KEY_ID }}" in train_yml and "DVC_S3_READ" not in train_yml

    # The developer's first training, shared through dvc-s3 with their own (local, uncommitted) keys.
    assert s3.keys() == []
    run(["dvc", "repro", "-q"], dev)
    run(["dvc", "push", "-q", "--run-cache"], dev)
    adopted_runs = s3.keys("dvc/runs/")
    assert len(adopted_runs) == 1 and s3.keys("dvc/files/md5/"), s3.keys()
    # `dvc push --run-cache` leaves out the `cache: false` metrics the run record names; push-runs
    # adds them, so another machine can restore this run (the last step of this test does).
    pushed = s3.keys()
    run([str(VENV_BIN / "mlops-gitops"), "push-runs"], dev)
    assert len(set(s3.keys()) - set(pushed)) == 1, sorted(set(s3.keys()) - set(pushed))
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "Adopt mlops-gitops")
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    git(dev, "remote", "add", "origin", str(origin))
    git(dev, "push", "-q", "origin", "main")
    base = git(dev, "rev-parse", "HEAD")

    def branch(name: str, scale: str, message: str) -> str:
        git(dev, "checkout", "-q", "main")
        git(dev, "checkout", "-qb", name)
        (dev / "params.yaml").write_text(f"scale: {scale}\n")
        git(dev, "add", "-A")
        git(dev, "commit", "-qm", message)
        git(dev, "push", "-q", "origin", f"HEAD:refs/heads/{name}")
        return git(dev, "rev-parse", "HEAD")

    head = branch("tune", "3", "Tune the scale")
    secrets = {
        "DVC_S3_KEY_ID": s3.writer.access_key_id,
        "DVC_S3_SECRET": s3.writer.secret_access_key,
        "DVC_S3_READ_KEY_ID": s3.reader.access_key_id,
        "DVC_S3_READ_SECRET": s3.reader.secret_access_key,
    }

    with FakeGitHub() as fake:
        fake.add_repo(REPO, "main")
        mirror_commit(fake, REPO, dev, head, "tune")
        number = fake.add_pull(REPO, "tune", "main", title="Tune the scale")

        def act_run(
            name: str,
            event_name: str,
            workflow: str,
            sha: str,
            event: dict[str, Any],
            artifacts: Path | None = None,
        ) -> ActRun:
            result = act_green(
                tmp_path / "runs" / name,
                origin,
                REPO,
                sha,
                event_name,
                workflow,
                event,
                (fake.url, fake.token),
                artifacts,
                secrets=secrets,
            )
            # Nothing in the job fell back to another store: the S3 plugin was there and reached moto.
            assert "requires 'dvc-s3' to be installed" not in result.log
            return result

        # ---- the PR: trains with the reader's keys (run records pulled from S3), pushes nothing.
        before_pr = s3.keys()
        pr_run = act_run(
            "pr", "pull_request", "mlops-pr", head, pull_request_event(REPO, number, base, head, "tune")
        )
        assert pr_run.stages.executed == ["train"], pr_run.stages
        # The job installed the tool's lock merged with dvc-s3's (hash-checked), then reached moto with it.
        assert re.search(r"uv pip install .*--require-hashes .*-r \S*/dvc\+s3\.txt", pr_run.log)
        assert "+ dvc-s3==" in pr_run.log
        assert s3.keys() == before_pr, "a pull request's run wrote to the DVC remote"
        event = workflow_run_event(
            REPO,
            "mlops-pr",
            7301,
            head,
            "tune",
            "pull_request",
            "success",
            [pr_reference(REPO, number, "tune", head, "main", base)],
        )
        act_run("comment", "workflow_run", "mlops-comment", base, event, pr_run.artifacts)
        comments = [
            c.body for c in fake.comments(REPO, number) if c.body.startswith("<!-- mlops-gitops:pr-report")
        ]
        assert len(comments) == 1, comments
        assert "score" in comments[0] and "Pass" in comments[0], comments[0]

        # ---- merge with the run recorded (dvc.lock on the branch; the author trained locally but
        # shared nothing): main trains it with the writer's keys and shares the run through dvc-s3.
        run(["dvc", "repro", "-q"], dev)
        git(dev, "add", "-A")
        git(dev, "commit", "-qm", "Record the run")
        merged = git(dev, "rev-parse", "HEAD")
        git(dev, "checkout", "-q", "main")
        git(dev, "merge", "-q", "--ff-only", "tune")
        git(dev, "push", "-q", "origin", "main")
        mirror_commit(fake, REPO, dev, merged, "main")
        before_train = s3.keys()
        train = act_run(
            "train", "push", "mlops-train", merged, push_event(REPO, "refs/heads/main", base, merged)
        )
        assert train.job_result("reproduce and publish") == "succeeded", train.log[-6000:]
        assert train.stages.executed == ["train"], train.stages
        new = sorted(set(s3.keys()) - set(before_train))
        new_runs = [key for key in new if key.startswith("dvc/runs/")]
        assert len(new_runs) == 1 and new_runs[0] not in adopted_runs, new
        model_md5 = re.search(
            r"path: model\.json\n\s+hash: md5\n\s+md5: ([0-9a-f]{32})", git(dev, "show", "HEAD:dvc.lock")
        )
        assert model_md5, git(dev, "show", "HEAD:dvc.lock")
        assert f"dvc/files/md5/{model_md5.group(1)[:2]}/{model_md5.group(1)[2:]}" in new, new
        assert [p for p in fake.pulls(REPO) if p.number != number] == [], "no retrained-model PR was needed"

        # ---- a PR back to the adopted scale: its run is already in S3, so the stage is restored from
        # the run-cache (the model object pulled through dvc-s3), not trained; still nothing pushed.
        back = branch("back", "2", "Back to the first scale")
        mirror_commit(fake, REPO, dev, back, "back")
        back_pr = fake.add_pull(REPO, "back", "main", title="Back to the first scale")
        before_back = s3.keys()
        again = act_run(
            "pr-back",
            "pull_request",
            "mlops-pr",
            back,
            pull_request_event(REPO, back_pr, merged, back, "back"),
        )
        assert "Stage 'train' is cached - skipping run" in again.log, again.log[-6000:]
        assert again.stages.executed == [] and again.stages.restored == ["train"], again.stages
        assert s3.keys() == before_back, "a pull request's run wrote to the DVC remote"
