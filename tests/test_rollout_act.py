"""Rollouts under act, against the fake GitHub and a real Prometheus: the generated mlops-deploy opens
the first step's PR, and the generated mlops-rollout (a read-only job that looks, a minimal one that
acts) turns each environment's outcomes into its one PR or its status comment.

The iris example, trained once, rolls out to four environments at a time, each with its own KServe
file and outcomes: ``better`` (steps 5 then 50: the next step's PR, then the promotion's), ``worse``
(the candidate's setosa share drops in one region: the rollback's PR), ``small`` (too few outcomes:
a comment, no PR) and ``prom``, whose outcomes are the ``worse`` logs' counts served by Prometheus
(the same rollback). A fifth, ``gitops``, has the ``worse`` logs but its file in another repository,
which each job checks out with its history: its rollback's PR is opened there. Three act runs in all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pytest

from mlops_gitops.delivery.rollout.plan import marker
from tests.actrunner import (
    VENV_BIN,
    act_green,
    fail_without_act,
    make_example,
    run,
    schedule_event,
    workflow_dispatch_event,
)
from tests.delivery.rollout_world import (
    BETTER,
    INFERENCE,
    NEW_VERSION,
    OLD_HASH,
    SAME,
    WORSE_IN_EU,
    Traffic,
    commit,
    git,
    inference,
    logs,
)
from tests.fakegithub import BOT_LOGIN, FakeGitHub
from tests.inert import problems
from tests.prometheusserver import Series, serve

pytestmark = pytest.mark.slow

REPO = "acme/iris"
ENVS = ("better", "worse", "small", "prom")
GITOPS, OTHER_REPO = "gitops", "acme/gitops"  # an environment whose file is in another repository
NOW = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
START = NOW - dt.timedelta(hours=3)  # when the first steps landed
WORSE_LOGS = logs(START, NOW - dt.timedelta(minutes=1), Traffic(60, 0.05, SAME, WORSE_IN_EU), seed=11)


def deploy_file(env: str) -> str:
    return f"deploy/{env}/inference.yaml"


def branch(env: str) -> str:
    return f"mlops/rollout/{env}"


def _counts(csv: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(version, region) -> (predictions, setosa predictions) of the logs."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for line in csv.splitlines()[1:]:
        _, version, region, prediction = line.split(",")
        n, hits = out.get((version, region), (0, 0))
        out[version, region] = (n + 1, hits + (prediction == "setosa"))
    return out


def _series(version: str) -> list[Series]:
    """The worse logs' totals as two counters per version and region, rising from the step's start
    (the candidate under its real version, known once the example is trained)."""
    out = []
    at = (START.timestamp(), (NOW - dt.timedelta(minutes=1)).timestamp())
    for (logged, region), (n, hits) in _counts(WORSE_LOGS).items():
        labels = {"version": version if logged == NEW_VERSION else logged, "region": region}
        out.append(Series("iris_predictions", labels, ((at[0], 0.0), (at[1], float(n)))))
        out.append(Series("iris_setosa", labels, ((at[0], 0.0), (at[1], float(hits)))))
    return out


def _query(name: str, region: str | None = None) -> str:
    match = 'version="{{version}}"' + (f', region="{region}"' if region else "")
    return f"'sum(last_over_time({name}{{{match}}}[{{{{window}}}}]))'"


def _prometheus_metric(name: str, region: str | None) -> str:
    segment = f"\n            segment: region={region}" if region else ""
    return f"""\
          - name: {name}
            kind: proportion
            direction: increase
            guardrail: true
            tolerance: 0.05{segment}
            query:
              positives: {_query("iris_setosa", region)}
              count: {_query("iris_predictions", region)}
"""


def environment(env: str, prometheus: str) -> str:
    steps = "[5, 50]" if env == "better" else "[5, 25, 50]"
    if env == "prom":
        metrics = "".join(
            _prometheus_metric(f"setosa share{f' {r}' if r else ''}", r) for r in (None, "eu", "us")
        )
        source = f"prometheus: {{url: '{prometheus}', units: {_query('iris_predictions')}}}"
        segments = "[]"
    else:
        metrics = """\
          - name: setosa share
            kind: proportion
            column: prediction
            value: setosa
            direction: increase
            guardrail: true
            tolerance: 0.05
"""
        source = f"logs: {{path: logs/{env}.csv, version: model_version, timestamp: ts}}"
        segments = "[region]"
    other = f"\n      repo: {OTHER_REPO}" if env == GITOPS else ""
    return f"""\
    - name: {env}
      file: {deploy_file(env)}{other}
      field: spec.predictor.model.storageUri
      value: s3://mlops-demo-models/iris/{{model_hash}}
      rollout:
        steps: {steps}
        min_minutes: 30
        min_outcomes: 200
        segments: {segments}
        metrics:
{metrics}        source:
          {source}
"""


def train(root: Path) -> tuple[Path, str]:
    """The iris example trained and committed; the trained model's hash."""
    repo = make_example(root / "repo", root / "dvc-remote")
    run(["dvc", "repro", "--quiet"], repo)
    run(["dvc", "push", "--quiet"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Train the example", when=NOW - dt.timedelta(days=3, hours=1))
    lock = (repo / "dvc.lock").read_text()
    return repo, lock.split("path: models/model.pkl")[1].split("md5: ")[1].split()[0]


def adopt_rollouts(repo: Path, prometheus: str) -> None:
    """The example's deploy environments replaced by the four rollouts, the workflows generated."""
    manifest = (repo / "mlops.yaml").read_text()
    head, _, _ = manifest.partition("  environments:\n")
    environments = "".join(environment(env, prometheus) for env in (*ENVS, GITOPS))
    files = {deploy_file(env): inference(OLD_HASH) for env in ENVS}
    when = NOW - dt.timedelta(days=3)
    commit(repo, {"mlops.yaml": head + "  environments:\n" + environments, **files}, "Roll out", when)
    run([str(VENV_BIN / "mlops-gitops"), "generate"], repo)
    assert (repo / ".github/workflows/mlops-rollout.yml").is_file()
    commit(repo, {}, "Generate the rollout workflow", when)


def other_repository(root: Path, candidate: str) -> Path:
    """acme/gitops as the checkout stand-in clones it: the old model for three days, then the
    candidate's first step since START. Returns the folder of bare repositories by owner/name."""
    work = root / "gitops-work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.email", "dev@example.com")
    git(work, "config", "user.name", "Dev")
    commit(work, {deploy_file(GITOPS): inference(OLD_HASH)}, "Serve the model", NOW - dt.timedelta(days=3))
    commit(work, {deploy_file(GITOPS): candidate}, "Merge the first step", START)
    bare = root / "git-repos"
    (bare / "acme").mkdir(parents=True)
    git(root, "clone", "-q", "--bare", str(work), str(bare / "acme" / "gitops.git"))
    return bare


def _row(body: str) -> str:
    """The all-traffic row of a PR body's metrics table."""
    (row,) = [
        line for line in body.splitlines() if line.startswith("| `setosa share` (guardrail) | all traffic")
    ]
    return row


def land(fake: FakeGitHub, repo: Path, files: Mapping[str, str], message: str, when: dt.datetime) -> str:
    """Commits that land on main at ``when``: in the repository and in the fake GitHub's main."""
    sha = commit(repo, files, message, when)
    for path, text in files.items():
        if path.startswith("deploy/"):
            fake.add_file(REPO, "main", path, text)
    return sha


def merge(fake: FakeGitHub, repo: Path, env: str, when: dt.datetime) -> str:
    (pull,) = [p for p in fake.pulls(REPO, "open") if p.head == branch(env)]
    text = fake.file(REPO, branch(env), deploy_file(env))
    assert text is not None
    pull.state, pull.merged = "closed", True
    return land(fake, repo, {deploy_file(env): text}, f"Merge pull request #{pull.number}", when)


def look(where: Path, repo: Path, sha: str, github: tuple[str, str], env: dict[str, str]) -> str:
    """mlops-rollout on its schedule, green; its log."""
    event = schedule_event(REPO, "17 * * * *")
    result = act_green(where, repo, REPO, sha, "schedule", "mlops-rollout", event, github, env=env)
    assert result.job_result("look and decide") == "succeeded"
    assert result.job_result("open the rollout pull requests") == "succeeded"
    # The job with the write token installs PyGithub, never what reads the logs.
    installed = result.job_log("open the rollout pull requests")
    assert "+ pygithub==" in installed and "+ pyarrow==" not in installed and "+ dvc==" not in installed
    return result.log


def test_rollouts_move_by_pull_requests(tmp_path: Path) -> None:
    fail_without_act()
    repo, model_hash = train(tmp_path)
    with FakeGitHub() as fake, serve(_series(model_hash[:8])) as prometheus:
        adopt_rollouts(repo, prometheus.url)
        fake.add_repo(REPO, files={deploy_file(env): inference(OLD_HASH) for env in ENVS})
        github = (fake.url, fake.token)
        candidate = inference(model_hash, 5)

        # 1. promote of an environment with a rollout: the first step's PR, the candidate at 5%.
        event = workflow_dispatch_event(
            REPO, "mlops-deploy", "refs/heads/main", {"environment": "better", "model_ref": ""}
        )
        promoted = act_green(
            tmp_path / "01-deploy",
            repo,
            REPO,
            git(repo, "rev-parse", "HEAD"),
            "workflow_dispatch",
            "mlops-deploy",
            event,
            github,
        )
        assert promoted.job_result("promote to better") == "succeeded"
        (first,) = fake.pulls(REPO, "open")
        assert (first.head, first.title) == (
            branch("better"),
            f"Roll out iris-classifier {model_hash[:8]} to better: 5% of traffic",
        )
        assert fake.file(REPO, branch("better"), deploy_file("better")) == candidate

        # The first steps land three hours ago (``small``'s through a bot PR, for its status comment);
        # then the logs of the step arrive.
        merge(fake, repo, "better", START)
        seeded = fake.add_pull(
            REPO,
            branch("small"),
            body=marker("iris", "small") + " hash=x -->",
            user=BOT_LOGIN,
            state="closed",
        )
        fake.repo(REPO).issues[seeded].merged = True
        land(
            fake,
            repo,
            {deploy_file(e): candidate for e in ("worse", "small", "prom")},
            "Merge the first steps",
            START,
        )
        version = model_hash[:8]
        step_logs = {
            "better": logs(START, NOW - dt.timedelta(minutes=100), Traffic(120, 0.05, SAME, BETTER), seed=10),
            "worse": WORSE_LOGS,
            "small": logs(START, NOW - dt.timedelta(minutes=1), Traffic(2, 0.05, SAME, SAME), seed=12),
        }
        step_logs[GITOPS] = WORSE_LOGS
        files = {f"logs/{e}.csv": text.replace("ab12cd34", version) for e, text in step_logs.items()}
        sha = land(fake, repo, files, "Prediction logs", NOW - dt.timedelta(minutes=1))
        fake.add_repo(OTHER_REPO, files={deploy_file(GITOPS): candidate})
        clones = {"MLOPS_ACT_GIT_REPOS": str(other_repository(tmp_path, candidate))}

        # 2. One look at the four: the next step, a rollback from the logs and the same from
        # Prometheus, a hold.
        log = look(tmp_path / "02-rollout", repo, sha, github, clones)
        prs = {p.head: p for p in fake.pulls(REPO, "open")}
        assert set(prs) == {branch("better"), branch("worse"), branch("prom")}, log[-6000:]
        assert fake.file(REPO, branch("better"), deploy_file("better")) == inference(model_hash, 50)
        assert prs[branch("better")].title == f"Roll out iris-classifier {version} in better: 5% to 50%"
        for env in ("worse", "prom"):
            # Git says what production runs after a rollback: the model before, and no split.
            assert fake.file(REPO, branch(env), deploy_file(env)) == inference(OLD_HASH)
            body = prs[branch(env)].body or ""
            assert "**Decision: rollback** (rule `worse`)" in body and problems(body) == []
        # The same outcomes from the logs and from Prometheus: the same numbers, the same decision.
        rows = {env: _row(prs[branch(env)].body or "") for env in ("worse", "prom")}
        assert rows["worse"] == rows["prom"] and "| all traffic |" in rows["worse"]
        assert "`region=eu`" in (prs[branch("worse")].body or "")
        assert "`region=eu`" in (prs[branch("prom")].body or "")  # the eu metric's segment
        # The file in another repository: read with its history from its clone, rolled back there.
        (other,) = fake.pulls(OTHER_REPO, "open")
        assert other.head == branch(GITOPS) and "**Decision: rollback** (rule `worse`)" in (other.body or "")
        assert fake.file(OTHER_REPO, branch(GITOPS), deploy_file(GITOPS)) == inference(OLD_HASH)
        assert _row(other.body or "") == rows["worse"]
        (status,) = fake.comments(REPO, seeded)
        assert status.body.startswith("<!-- mlops-gitops:rollout-status project=iris env=small -->")
        assert "(rule `too few outcomes`)" in status.body

        # 3. The 50% step lands; its own outcomes are better too: the promotion's PR.
        merge(fake, repo, "better", NOW - dt.timedelta(minutes=70))
        more = logs(
            NOW - dt.timedelta(minutes=70),
            NOW - dt.timedelta(minutes=1),
            Traffic(30, 0.5, SAME, BETTER),
            seed=13,
        )
        old = (repo / "logs/better.csv").read_text()
        sha = land(
            fake,
            repo,
            {"logs/better.csv": old + more.split("\n", 1)[1].replace("ab12cd34", version)},
            "Logs",
            NOW,
        )
        log = look(tmp_path / "03-rollout", repo, sha, github, clones)
        promotion = [p for p in fake.pulls(REPO, "open") if p.head == branch("better")]
        assert [p.title for p in promotion] == [
            f"Promote iris-classifier {version} in better: all traffic"
        ], log[-6000:]
        assert fake.file(REPO, branch("better"), deploy_file("better")) == INFERENCE.format(hash=model_hash)
        # The rollbacks nobody merged yet are decided again: the same PRs, brought up to date.
        assert {p.head for p in fake.pulls(REPO, "open")} == {
            branch("better"),
            branch("worse"),
            branch("prom"),
        }

        # 4. Someone rolls back at once (the dispatch input): the same PR becomes the rollback.
        inputs = {"rollback_now": "better"}
        event = workflow_dispatch_event(REPO, "mlops-rollout", "refs/heads/main", inputs)
        now = act_green(
            tmp_path / "04-rollback",
            repo,
            REPO,
            sha,
            "workflow_dispatch",
            "mlops-rollout",
            event,
            github,
            env=clones,
        )
        assert now.job_result("roll back now") == "succeeded" and now.job_result("look and decide") is None
        (pull,) = [p for p in fake.pulls(REPO, "open") if p.head == branch("better")]
        assert pull.title == f"Roll back iris-classifier {version} in better"
        assert fake.file(REPO, branch("better"), deploy_file("better")) == inference(OLD_HASH)
