"""The whole loop, run for real: push -> retrain -> PR comment -> merge -> deployment PR -> production.

One story on the bundled iris example (see docs/e2e.md): a bare git repository as `origin`, an S3
DVC remote (moto's S3 API on the loopback, tests/s3server.py, reached through dvc-s3 with credentials
from repository secrets), the fake GitHub REST server, and the generated workflows run by `act` in
host mode with stand-ins for the remote actions (tests/actrunner.py). Each step asserts what a user
would see, and DVC's own log lines give the stages executed per step; the table is printed at the end
and written to $MLOPS_E2E_COUNTS (JSON) for benchmarks/bench_e2e.py.

It is one test function on purpose: the steps depend on each other (step 6 merges step 2's branch),
and pytest-xdist must not split them across workers.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.actrunner import (
    VENV_BIN,
    ActRun,
    StageCounts,
    act_green,
    fail_without_act,
    git,
    pr_reference,
    pull_request_event,
    push_event,
    run,
    schedule_event,
    stage_counts,
    workflow_dispatch_event,
    workflow_run_event,
)
from tests.fakegithub import FakeGitHub
from tests.s3server import S3Endpoint, s3_fixture  # noqa: F401  (the fixture `s3`)

pytestmark = pytest.mark.slow

REPO = "acme/iris"
ZERO = "0" * 40
REPORT_MARKER = "<!-- mlops-gitops:pr-report project=iris -->"
STAGING = "deploy/staging/inference.yaml"
PRODUCTION = "deploy/production/inference.yaml"
WEEKLY = "0 4 * * 1"
RETRAIN_BRANCH = "mlops-gitops/retrained-model"
STORAGE_URI = re.compile(r"storageUri: s3://mlops-demo-models/iris/([0-9a-f]{32})")
# The DVC remote's credentials, as repository secrets: the writer's key pair for the default branch,
# a read-only pair for pull requests (data.secrets, data.pull_request_secrets).
DATA_SECRETS = """\
  remote: storage
  secrets:
    AWS_ACCESS_KEY_ID: DVC_S3_KEY_ID
    AWS_SECRET_ACCESS_KEY: DVC_S3_SECRET
  pull_request_secrets:
    AWS_ACCESS_KEY_ID: DVC_S3_READ_KEY_ID
    AWS_SECRET_ACCESS_KEY: DVC_S3_READ_SECRET
"""


@dataclass
class Step:
    name: str
    ci: StageCounts = field(default_factory=StageCounts)
    local: StageCounts = field(default_factory=StageCounts)
    # CI events that a naive workflow (dvc repro on every push and PR event) would also run on.
    events: list[dict[str, str]] = field(default_factory=list)


def mirror_commit(fake: FakeGitHub, repo: str, clone: Path, sha: str, branch: str) -> None:
    """Make the fake GitHub serve the real commit ``sha`` of ``clone`` as the head of ``branch``."""
    paths = git(clone, "ls-tree", "-r", "--name-only", sha).splitlines()
    files = {
        p: subprocess.run(["git", "show", f"{sha}:{p}"], cwd=clone, capture_output=True, check=True).stdout
        for p in paths
    }
    parents = git(clone, "rev-parse", f"{sha}^@").split()
    fake.add_git_commit(repo, sha, files, git(clone, "log", "-1", "--format=%s", sha), parents)
    fake.repo(repo).refs[f"heads/{branch}"] = sha


class Story:
    """The temp world: developer clone, bare origin, DVC remote (S3), fake GitHub; and the act runs."""

    def __init__(self, root: Path, fake: FakeGitHub, s3: S3Endpoint) -> None:
        self.root = root
        self.fake = fake
        self.s3 = s3
        self.origin = root / "origin.git"
        self.dev = root / "dev"
        self.steps: list[Step] = []
        self._runs = itertools.count(1)
        self._run_ids = itertools.count(7001)

    @property
    def step(self) -> Step:
        return self.steps[-1]

    def begin(self, name: str) -> None:
        self.steps.append(Step(name))

    # ------------------------------------------------------------------ developer side
    def sha(self, rev: str = "HEAD") -> str:
        return git(self.dev, "rev-parse", rev)

    def commit_and_push(self, message: str, branch: str) -> str:
        git(self.dev, "add", "-A")
        git(self.dev, "commit", "-qm", message)
        git(self.dev, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        sha = self.sha()
        if branch != "main":
            # The fake GitHub's main keeps its own commits (the deployment files promote edits); a PR
            # branch is the real head, its files served by the API (the bot records runs on top of it).
            self.mirror(sha, branch)
        return sha

    def mirror(self, sha: str, branch: str) -> None:
        mirror_commit(self.fake, REPO, self.dev, sha, branch)

    def pull_bot_commit(self, branch: str) -> str:
        """What `git pull` gives the developer after the bot pushed to ``branch`` on GitHub: the fake's
        commit replayed into the real repository (same files, the bot as author), then pushed."""
        fake_head = self.fake.repo(REPO).refs[f"heads/{branch}"]
        commit = self.fake.repo(REPO).commits[fake_head]
        for path, data in self.fake.changed_files(REPO, fake_head).items():
            (self.dev / path).parent.mkdir(parents=True, exist_ok=True)
            (self.dev / path).write_bytes(data)
        git(self.dev, "add", "-A")
        author = f"{commit.author['name']} <{commit.author['email']}>"
        git(self.dev, "commit", "-q", "--author", author, "-m", commit.message)
        git(self.dev, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        sha = self.sha()
        self.mirror(sha, branch)
        return sha

    def sync_deployments(self) -> None:
        """`git pull` of what merged on GitHub meanwhile: the promotion PRs' deployment files."""
        for path in (STAGING, PRODUCTION):
            text = self.fake.file(REPO, "main", path)
            assert text is not None
            (self.dev / path).write_text(text)

    def merge_bot_pull(self, branch: str) -> str:
        """Someone merges the bot's PR from ``branch`` on GitHub: its commit's files land on main."""
        (pull,) = [p for p in self.fake.pulls(REPO, "open") if p.head == branch]
        for path, data in self.fake.changed_files(REPO, self.fake.repo(REPO).refs[f"heads/{branch}"]).items():
            (self.dev / path).write_bytes(data)
        git(self.dev, "add", "-A")
        git(self.dev, "commit", "-qm", f"Merge pull request #{pull.number} from {branch}")
        git(self.dev, "push", "-q", "origin", "main")
        pull.state, pull.merged = "closed", True
        sha = self.sha()
        self.mirror(sha, "main")
        return sha

    def pr_cache(self, number: int) -> Path:
        """The pull request's own actions/cache scope (GitHub never restores a PR's cache on the
        default branch); the stand-in saves into it, as the post step of actions/cache would."""
        scope = self.root / "actions-cache" / f"pr-{number}"
        scope.mkdir(parents=True, exist_ok=True)
        return scope

    def train_locally(self, branch: str) -> str:
        """The developer trains on their own machine and commits what it recorded (dvc.lock, metrics)."""
        log = run(["dvc", "repro", "--pull"], self.dev)
        self.step.local = self.step.local + stage_counts(log)
        return self.commit_and_push("Record a locally trained model", branch)

    def record_lock(self, branch: str) -> str:
        """The developer takes the model CI trained: `dvc pull --run-cache` then `dvc repro` restores
        it without training, and dvc.lock + metrics are committed (promote reads the committed lock)."""
        run(["dvc", "pull", "--run-cache", "--allow-missing", "-q"], self.dev)
        log = run(["dvc", "repro", "--pull"], self.dev)
        counts = stage_counts(log)
        self.step.local = self.step.local + counts
        # Only the model-producing stages come from the run-cache. DVC never run-caches a stage with a
        # plain `cache: false` out (data validation), and `push --run-cache` does not upload the
        # `cache: false` metrics and plots a run record names (evaluate): both run again, in seconds.
        assert set(counts.executed) <= {"mlops_validate_data", "evaluate"}, f"the developer retrained:\n{log}"
        assert {"prepare", "train"} <= set(counts.restored + counts.unchanged), log
        return self.commit_and_push("Record the model CI trained (dvc.lock, metrics)", branch)

    # ------------------------------------------------------------------ CI side
    def _act(
        self,
        event_name: str,
        workflow: str,
        sha: str,
        event: dict[str, Any],
        artifacts: Path | None,
        cache: Path | None = None,
    ) -> ActRun:
        n = next(self._runs)
        # check=False: some runs fail on purpose (gates that fail, a refused deploy, a held retrain);
        # each step asserts its run's exit code.
        result = act_green(
            self.root / "runs" / f"{n:02d}-{workflow}",
            self.origin,
            REPO,
            sha,
            event_name,
            workflow,
            event,
            (self.fake.url, self.fake.token),
            artifacts,
            env={"MLOPS_ACT_CACHE_DIR": str(cache), "MLOPS_ACT_CACHE_SAVE": "1"} if cache else {},
            secrets={
                "DVC_S3_KEY_ID": self.s3.writer.access_key_id,
                "DVC_S3_SECRET": self.s3.writer.secret_access_key,
                "DVC_S3_READ_KEY_ID": self.s3.reader.access_key_id,
                "DVC_S3_READ_SECRET": self.s3.reader.secret_access_key,
            },
            check=False,
        )
        self.step.ci = self.step.ci + result.stages
        return result

    def push(self, before: str, after: str) -> ActRun:
        self.step.events.append({"event": "push", "sha": after})
        return self._act(
            "push", "mlops-train", after, push_event(REPO, "refs/heads/main", before, after), None
        )

    def schedule(self, sha: str) -> ActRun:
        self.step.events.append({"event": "schedule", "sha": sha})
        return self._act("schedule", "mlops-train", sha, schedule_event(REPO, WEEKLY), None)

    def pull_request(
        self, number: int, branch: str, base_sha: str, head_sha: str, cache: Path | None = None
    ) -> ActRun:
        self.step.events.append({"event": "pull_request", "sha": head_sha})
        event = pull_request_event(REPO, number, base_sha, head_sha, branch)
        return self._act("pull_request", "mlops-pr", head_sha, event, None, cache)

    def comment(self, pr_run: ActRun, number: int, branch: str, base_sha: str, head_sha: str) -> ActRun:
        """mlops-comment for a finished mlops-pr run; it runs on the default branch, like GitHub does."""
        conclusion = "success" if pr_run.returncode == 0 else "failure"
        event = workflow_run_event(
            REPO,
            "mlops-pr",
            next(self._run_ids),
            head_sha,
            branch,
            "pull_request",
            conclusion,
            [pr_reference(REPO, number, branch, head_sha, "main", base_sha)],
        )
        # The download-artifact stand-in reads what the PR run's upload-artifact stand-in wrote.
        return self._act("workflow_run", "mlops-comment", self.sha("main"), event, pr_run.artifacts)

    def deploy_after_training(self, sha: str) -> ActRun:
        event = workflow_run_event(REPO, "mlops-train", next(self._run_ids), sha, "main", "push", "success")
        return self._act("workflow_run", "mlops-deploy", sha, event, None)

    def dispatch_deploy(self, environment: str, sha: str) -> ActRun:
        event = workflow_dispatch_event(
            REPO, "mlops-deploy", "refs/heads/main", {"environment": environment, "model_ref": ""}
        )
        return self._act("workflow_dispatch", "mlops-deploy", sha, event, None)

    def open_pull(self, branch: str, title: str) -> int:
        return self.fake.add_pull(REPO, branch, "main", title=title)

    # ------------------------------------------------------------------ reading results
    def stored(self, prefix: str = "") -> list[str]:
        """The DVC remote's files under ``prefix`` (``runs/``, ``files/md5/``): the bucket's keys."""
        return self.s3.keys(f"dvc/{prefix}")

    def lock_md5(self, rev: str, path: str) -> str:
        from ruamel.yaml import YAML

        lock = YAML(typ="safe").load(git(self.dev, "show", f"{rev}:dvc.lock"))
        for stage in lock["stages"].values():
            for entry in stage.get("outs", []) + stage.get("deps", []):
                if entry["path"] == path:
                    return str(entry["md5"])
        raise AssertionError(f"{path} not in dvc.lock at {rev}")

    def report_comments(self, number: int) -> list[str]:
        return [c.body for c in self.fake.comments(REPO, number) if c.body.startswith(REPORT_MARKER)]

    def table(self) -> str:
        lines = [
            f"{'step':<44} {'CI runs':>7} {'executed':>8} {'restored':>8} {'unchanged':>9} {'local exec':>10}",
        ]
        for s in self.steps:
            lines.append(
                f"{s.name:<44} {len(s.events):>7} {len(s.ci.executed):>8} {len(s.ci.restored):>8} "
                f"{len(s.ci.unchanged):>9} {len(s.local.executed):>10}"
            )
        total = sum(len(s.ci.executed) for s in self.steps)
        lines.append(f"{'total':<44} {sum(len(s.events) for s in self.steps):>7} {total:>8}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": str(self.origin),
            "dvc_remote": self.s3.url(),
            "steps": [
                {
                    "name": s.name,
                    "events": s.events,
                    "executed": s.ci.executed,
                    "restored": s.ci.restored,
                    "unchanged": s.ci.unchanged,
                    "local_executed": s.local.executed,
                }
                for s in self.steps
            ],
        }


def change_params(dev: Path, c: str) -> None:
    params = dev / "params.yaml"
    text = params.read_text()
    assert "C: 1.0" in text
    params.write_text(text.replace("C: 1.0", f"C: {c}"))


def drop_rows(path: Path, per_class: int) -> None:
    """Remove the last ``per_class`` rows of every species (still >= 100 rows, all checks pass)."""
    rows = list(csv.reader(io.StringIO(path.read_text())))
    header, body = rows[0], rows[1:]
    col = header.index("species")
    keep: list[list[str]] = []
    for species in dict.fromkeys(r[col] for r in body):
        keep += [r for r in body if r[col] == species][:-per_class]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *keep])
    path.write_text(out.getvalue())


def test_the_loop(tmp_path: Path, s3: S3Endpoint) -> None:
    fail_without_act()
    with FakeGitHub() as fake:
        story = Story(tmp_path, fake, s3)
        try:
            _story(story)
        finally:
            print("\nDVC stages per step of the story (CI = the act runs; local = the developer):")
            print(story.table())
            counts_path = os.environ.get("MLOPS_E2E_COUNTS")
            if counts_path:
                Path(counts_path).write_text(json.dumps(story.as_json(), indent=2) + "\n")


def _story(s: Story) -> None:
    fake, dev = s.fake, s.dev

    # ---- set-up: the example adopted, data pushed by the developer, main on origin and on the fake.
    # The DVC remote is s3://BUCKET/dvc on moto, its endpoint committed in .dvc/config; the developer's
    # keys sit in .dvc/config.local (never committed), CI's come from the secrets in mlops.yaml.
    dev.mkdir()
    git(dev, "init", "-q", "-b", "main")
    run([str(VENV_BIN / "mlops-gitops"), "init", "--example", "iris", "--yes"], dev)
    s.s3.add_dvc_remote(dev)
    manifest = dev / "mlops.yaml"
    assert re.search(r"^data:\n", manifest.read_text(), flags=re.M)
    manifest.write_text(
        re.sub(r"^data:\n", "data:\n" + DATA_SECRETS, manifest.read_text(), count=1, flags=re.M)
    )
    # A weekly retrain, for data that changes without a push that would retrain (step 7).
    (dev / "mlops.yaml").write_text((dev / "mlops.yaml").read_text() + f"triggers:\n  schedule: '{WEEKLY}'\n")
    run([str(VENV_BIN / "mlops-gitops"), "generate"], dev)
    run(["dvc", "push", "-q"], dev)  # the raw data: CI pulls it
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "Adopt mlops-gitops on the iris example")
    run(["git", "init", "-q", "--bare", str(s.origin)], s.root)
    git(dev, "remote", "add", "origin", str(s.origin))
    git(dev, "push", "-q", "origin", "main")
    fake.add_repo(REPO, "main", files={p: (dev / p).read_text() for p in (STAGING, PRODUCTION)})

    # ---- 1. push to main: mlops-train trains and publishes outputs and run records.
    s.begin("1. push to main: first training")
    first = s.sha()
    result = s.push(ZERO, first)
    assert result.returncode == 0, result.log[-6000:]
    assert result.job_result("reproduce and publish") == "succeeded"
    assert {"mlops_validate_data", "prepare", "train", "evaluate"} <= set(result.stages.executed)
    assert s.stored("runs/"), "no run-cache entries in the DVC remote"
    assert s.stored("files/md5/"), "no outputs in the DVC remote"
    s.record_lock("main")
    main_locked = s.sha()
    result = s.push(first, main_locked)
    assert result.returncode == 0, result.log[-6000:]
    assert not result.stages.executed, "dvc.lock matches: nothing should train"

    # ---- 2. a param change: the PR retrains, reports the change, one sticky comment; it pushes nothing.
    s.begin("2. PR: train.C 1.0 -> 2.0")
    git(dev, "checkout", "-qb", "tune-c")
    change_params(dev, "2.0")
    head = s.commit_and_push("Weaker regularisation: C 2.0", "tune-c")
    tune_pr = s.open_pull("tune-c", "Tune C")
    stored = s.stored()
    pr_run = s.pull_request(tune_pr, "tune-c", main_locked, head)
    assert pr_run.returncode == 0, pr_run.log[-6000:]
    assert pr_run.job_result("reproduce and report") == "succeeded"
    assert "train" in pr_run.stages.executed
    # The PR's code ran with the remote's credentials: nothing it made reaches the store main deploys.
    assert s.stored() == stored
    report = (pr_run.artifacts / "mlops-report" / "report.md").read_text()
    assert report.startswith(REPORT_MARKER)
    assert "### Changed params" in report
    assert re.search(r"^\| `train\.C` \| 1(\.0)? \| 2(\.0)? \|$", report, flags=re.M), report
    com = s.comment(pr_run, tune_pr, "tune-c", main_locked, head)
    assert com.returncode == 0, com.log[-6000:]
    assert com.job_result("post the report") == "succeeded"
    assert len(s.report_comments(tune_pr)) == 1
    # A re-run of the same head edits that comment; it never adds a second one.
    pr_run = s.pull_request(tune_pr, "tune-c", main_locked, head, s.pr_cache(tune_pr))
    assert pr_run.returncode == 0, pr_run.log[-6000:]
    com = s.comment(pr_run, tune_pr, "tune-c", main_locked, head)
    assert com.returncode == 0, com.log[-6000:]
    comments = s.report_comments(tune_pr)
    assert len(comments) == 1, "a second report comment was created"
    assert fake.count("POST", rf"/issues/{tune_pr}/comments") == 1
    # The comment job recorded the run: the bot's commit on the PR branch holds the reproduced
    # dvc.lock and metrics, on top of exactly the head that was evaluated, with the run's result.
    bot_head = fake.repo(REPO).refs["heads/tune-c"]
    assert bot_head != head and fake.repo(REPO).commits[bot_head].parents == [head]
    assert set(fake.changed_files(REPO, bot_head)) >= {"dvc.lock", "metrics.json"}
    assert [st["state"] for st in fake.repo(REPO).statuses[bot_head]] == ["success"]
    assert "committed the reproduced dvc.lock" in comments[0]

    s.begin("2b. PR: the bot's dvc.lock commit")
    recorded = s.pull_bot_commit("tune-c")
    # With a GitHub App token this commit starts mlops-pr (GITHUB_TOKEN pushes start nothing): the
    # run restores the model from the pull request's DVC cache and trains nothing.
    pr_run = s.pull_request(tune_pr, "tune-c", main_locked, recorded, s.pr_cache(tune_pr))
    assert pr_run.returncode == 0, pr_run.log[-6000:]
    assert not {"prepare", "train"} & set(pr_run.stages.executed), pr_run.stages
    assert not (pr_run.artifacts / "mlops-report" / "lock" / "dvc.lock").exists()
    head = recorded

    # ---- 3. a data change: the PR retrains and the lineage shows the new data hash.
    s.begin("3. PR: fewer rows in data/iris.csv")
    git(dev, "checkout", "-q", "main")
    git(dev, "checkout", "-qb", "less-data")
    run(["dvc", "checkout", "-q"], dev)
    drop_rows(dev / "data" / "iris.csv", 2)
    run(["dvc", "add", "-q", "data/iris.csv"], dev)
    run(["dvc", "push", "-q", "data/iris.csv.dvc"], dev)
    head = s.commit_and_push("Drop two rows per species", "less-data")
    new_data = run(["git", "show", "HEAD:data/iris.csv.dvc"], dev)
    data_md5 = re.search(r"md5: ([0-9a-f]{32})", new_data)
    assert data_md5
    data_pr = s.open_pull("less-data", "Less data")
    pr_run = s.pull_request(data_pr, "less-data", main_locked, head)
    assert pr_run.job_result("reproduce and report") is not None, pr_run.log[-6000:]
    assert {"mlops_validate_data", "prepare", "train"} <= set(pr_run.stages.executed)
    report = (pr_run.artifacts / "mlops-report" / "report.md").read_text()
    assert f"`{data_md5.group(1)[:10]}`" in report, report
    lineage = json.loads((pr_run.artifacts / "mlops-report" / "report.json").read_text())["lineage"]
    assert data_md5.group(1) in json.dumps(lineage)

    # ---- 4. docs only: no training job, and a push of it would not start mlops-train.
    s.begin("4. PR: docs only")
    git(dev, "checkout", "-q", "main")
    run(["dvc", "checkout", "-q"], dev)
    git(dev, "checkout", "-qb", "docs")
    (dev / "docs").mkdir(exist_ok=True)
    (dev / "docs" / "notes.md").write_text("# Notes\n\nHow we label flowers.\n")
    head = s.commit_and_push("Notes on labelling", "docs")
    docs_pr = s.open_pull("docs", "Notes")
    pr_run = s.pull_request(docs_pr, "docs", main_locked, head)
    assert pr_run.returncode == 0, pr_run.log[-6000:]
    assert "retrain=false" in pr_run.log
    assert pr_run.job_result("reproduce and report") is None
    assert not pr_run.stages.executed
    # `changed` applies the same patterns as mlops-train's on.push.paths (act ignores `paths`).
    out = run([str(VENV_BIN / "mlops-gitops"), "changed", "--base", main_locked, "--head", head], dev)
    assert out.strip().splitlines()[-1] == "retrain=false"

    # ---- 5. a gate broken: the check fails and no deployment PR can be opened for it.
    s.begin("5. PR: train.C 0.01 (breaks gates)")
    git(dev, "checkout", "-q", "main")
    git(dev, "checkout", "-qb", "too-strong")
    change_params(dev, "0.01")
    head = s.commit_and_push("Much stronger regularisation: C 0.01", "too-strong")
    gate_pr = s.open_pull("too-strong", "C 0.01")
    pr_run = s.pull_request(gate_pr, "too-strong", main_locked, head)
    assert pr_run.returncode != 0
    assert pr_run.job_result("reproduce and report") == "failed"
    bad = s.train_locally("too-strong")
    pulls_before = len(fake.pulls(REPO))
    proc = subprocess.run(
        [str(VENV_BIN / "mlops-gitops"), "promote", "--env", "staging", "--model-ref", bad],
        cwd=dev,
        capture_output=True,
        text=True,
        env={**os.environ, "GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": fake.token},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "accuracy" in proc.stdout + proc.stderr or "f1" in proc.stdout + proc.stderr, proc.stderr
    assert len(fake.pulls(REPO)) == pulls_before
    assert not fake.matching("POST", r"/git/refs")

    # ---- 6. merge step 2: its dvc.lock was recorded by the bot, so main's commit describes the model.
    # Main trains it once with its own identity (a PR's run is never trusted), finds that dvc.lock
    # matches, shares the run and deploys: no manual dvc.lock step anywhere.
    s.begin("6. merge tune-c; deploy")
    git(dev, "checkout", "-q", "main")
    git(dev, "merge", "-q", "--no-ff", "-m", "Merge tune-c", "tune-c")
    git(dev, "push", "-q", "origin", "main")
    merge = s.sha()
    result = s.push(main_locked, merge)
    assert result.returncode == 0, result.log[-6000:]
    assert "train" in result.stages.executed
    assert "dvc.lock is out of date" not in result.log
    tuned_hash = s.lock_md5(merge, "models/model.pkl")
    assert s.stored(f"files/md5/{tuned_hash[:2]}/{tuned_hash[2:]}"), "main did not push the model"
    deploy = s.deploy_after_training(merge)
    assert deploy.returncode == 0, deploy.log[-6000:]
    assert deploy.job_result("promote to staging") == "succeeded"
    promotions = [p for p in fake.pulls(REPO) if p.head and p.head.startswith("mlops/promote/")]
    assert len(promotions) == 1
    staging_pr = promotions[0]
    staged = fake.file(REPO, str(staging_pr.head), STAGING)
    assert staged is not None
    found = STORAGE_URI.search(staged)
    assert found and found.group(1) == tuned_hash, staged
    # Production before staging runs the model: refused, and no PR opened.
    refused = s.dispatch_deploy("production", merge)
    assert refused.returncode != 0
    assert refused.job_result("promote to production") == "failed"
    assert "staging" in refused.log
    assert len([p for p in fake.pulls(REPO) if p.head and p.head.startswith("mlops/promote/")]) == 1
    # Someone merges the staging PR on GitHub.
    fake.add_file(REPO, "main", STAGING, staged, message="Merge the staging promotion")
    staging_pr.state, staging_pr.merged = "closed", True
    ok = s.dispatch_deploy("production", merge)
    assert ok.returncode == 0, ok.log[-6000:]
    assert ok.job_result("promote to production") == "succeeded"
    production = [p for p in fake.pulls(REPO) if p.head and p.head.startswith("mlops/promote/production")]
    assert len(production) == 1
    prod_text = fake.file(REPO, str(production[0].head), PRODUCTION)
    assert prod_text is not None
    found = STORAGE_URI.search(prod_text)
    assert found and found.group(1) == tuned_hash

    # ---- 7. fresh data lands on main from a data-refresh job ("[skip ci]": no push run), so the
    # weekly schedule retrains; the model differs, so it opens the retrained-model PR with the report
    # and holds deployment; merging that PR trains nothing more and leads to the deployment PR.
    s.begin("7. schedule: retrain on refreshed data")
    s.sync_deployments()
    run(["dvc", "checkout", "-q", "data/iris.csv.dvc"], dev)
    drop_rows(dev / "data" / "iris.csv", 1)
    run(["dvc", "add", "-q", "data/iris.csv"], dev)
    run(["dvc", "push", "-q", "data/iris.csv.dvc"], dev)
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "Refresh data/iris.csv from production [skip ci]")
    git(dev, "push", "-q", "origin", "main")
    refreshed = s.sha()
    s.mirror(refreshed, "main")
    result = s.schedule(refreshed)
    assert result.returncode != 0, "a retrain whose dvc.lock differs from the commit must be held"
    assert "train" in result.stages.executed
    assert result.job_result("retrained-model pull request") == "succeeded", result.log[-6000:]
    (retrained,) = [p for p in fake.pulls(REPO, "open") if p.head == RETRAIN_BRANCH]
    assert "scheduled retrain" in (retrained.body or "")
    assert "accuracy" in (retrained.body or "")  # the report against main, with its gates
    assert set(fake.changed_files(REPO, fake.repo(REPO).refs[f"heads/{RETRAIN_BRANCH}"])) >= {"dvc.lock"}
    s.begin("7b. merge the retrained-model PR; deploy")
    merged_retrain = s.merge_bot_pull(RETRAIN_BRANCH)
    result = s.push(refreshed, merged_retrain)
    assert result.returncode == 0, result.log[-6000:]
    assert not {"prepare", "train"} & set(result.stages.executed), result.stages
    retrained_hash = s.lock_md5(merged_retrain, "models/model.pkl")
    assert retrained_hash != tuned_hash
    deploy = s.deploy_after_training(merged_retrain)
    assert deploy.returncode == 0, deploy.log[-6000:]
    staging = [p for p in fake.pulls(REPO, "open") if p.head and p.head.startswith("mlops/promote/staging")]
    assert len(staging) == 1
    staged = fake.file(REPO, str(staging[0].head), STAGING)
    found = STORAGE_URI.search(staged or "")
    assert found and found.group(1) == retrained_hash


def test_two_pipelines_one_comment_only_the_changed_one_reproduces(tmp_path: Path) -> None:
    """A repository with two hand-owned pipelines (pipelines/churn, pipelines/fraud), adopted as is: a
    PR touching churn's data reproduces churn only, and its one comment has a section per pipeline."""
    import tests.repos as repos

    fail_without_act()
    repo, remote, origin = "acme/risk", tmp_path / "dvc-remote", tmp_path / "origin.git"
    dev = repos.two_pipelines(tmp_path / "dev").root
    run(["dvc", "remote", "add", "-d", "storage", str(remote)], dev)
    before = {p: p.read_bytes() for p in dev.rglob("dvc.yaml")}
    run([str(VENV_BIN / "mlops-gitops"), "init", "--yes"], dev)
    assert {p: p.read_bytes() for p in dev.rglob("dvc.yaml")} == before, "adoption wrote a dvc.yaml"
    with open(dev / "mlops.yaml", "a", encoding="utf-8") as handle:
        handle.write(
            "metrics:\n  gates:\n"
            "    - {metric: accuracy, min: 0, pipeline: pipelines/churn}\n"
            "    - {metric: accuracy, min: 0, pipeline: pipelines/fraud}\n"
        )
    run([str(VENV_BIN / "mlops-gitops"), "generate"], dev)
    run(["dvc", "push", "-q", "--run-cache"], dev)
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "Adopt mlops-gitops")
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    git(dev, "remote", "add", "origin", str(origin))
    git(dev, "push", "-q", "origin", "main")
    base = git(dev, "rev-parse", "HEAD")

    git(dev, "checkout", "-qb", "more-churn")
    with open(dev / "data/churn/customers.csv", "a", encoding="utf-8") as handle:
        handle.write("40,61\n41,62\n")
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "More churn data")
    git(dev, "push", "-q", "origin", "HEAD:refs/heads/more-churn")
    head = git(dev, "rev-parse", "HEAD")

    with FakeGitHub() as fake:
        fake.add_repo(repo, "main")
        mirror_commit(fake, repo, dev, head, "more-churn")
        number = fake.add_pull(repo, "more-churn", "main", title="More churn data")

        def act_run(
            name: str, event_name: str, workflow: str, sha: str, event: dict[str, Any], artifacts: Path | None
        ) -> ActRun:
            where = tmp_path / "runs" / name
            github = (fake.url, fake.token)
            return act_green(
                where, origin, repo, sha, event_name, workflow, event, github, artifacts, check=False
            )

        pr_run = act_run(
            "pr",
            "pull_request",
            "mlops-pr",
            head,
            pull_request_event(repo, number, base, head, "more-churn"),
            None,
        )
        assert pr_run.returncode == 0, pr_run.log[-6000:]
        # Two pipelines can train side by side, so the check job plans (docs/scaling.md): one changed
        # pipeline is one job, and the plan says why each stage runs and what the final job reproduces.
        assert re.search(r"pipelines/churn/dvc\.yaml:\w+: .*data/churn/customers\.csv", pr_run.log)
        assert re.search(r"final \(.*\): .*; reproduces pipelines/churn/dvc\.yaml\s*$", pr_run.log, re.M)
        touched = pr_run.stages.executed + pr_run.stages.restored + pr_run.stages.unchanged
        assert "pipelines/churn/dvc.yaml:train" in pr_run.stages.executed, pr_run.log[-6000:]
        assert not any("fraud" in stage for stage in touched), f"fraud was reproduced: {touched}"
        print(f"\ntwo pipelines, PR touching churn: executed {pr_run.stages.executed}, fraud untouched")

        event = workflow_run_event(
            repo,
            "mlops-pr",
            7101,
            head,
            "more-churn",
            "pull_request",
            "success",
            [pr_reference(repo, number, "more-churn", head, "main", base)],
        )
        com = act_run("comment", "workflow_run", "mlops-comment", base, event, pr_run.artifacts)
        assert com.returncode == 0, com.log[-6000:]
        comments = [
            c.body for c in fake.comments(repo, number) if c.body.startswith("<!-- mlops-gitops:pr-report")
        ]
        assert len(comments) == 1
        body = comments[0]
        assert "`pipelines/churn/dvc.yaml`: 1 of 1 gates pass" in body
        assert "`pipelines/fraud/dvc.yaml`: 1 of 1 gates pass" in body
        assert body.splitlines()[1].startswith("✅ **Pass**: all 2 gates passed")
