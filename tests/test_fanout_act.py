"""The fanned-out workflows run by `act` in host mode on a repository with a ``foreach`` training
stage over six customers (tests/repos.py: ``prepare`` -> ``train@c1..c6`` -> ``aggregate``, and an
independent pipeline in ``pipelines/other``), a local-directory DVC remote, and real git and DVC.

Every stage script notes its execution in $FANOUT_LOG, outside the repository and shared by all of
act's jobs, so the tests count executions across jobs: each changed stage executes exactly once, in
the job the plan gave it, and the final job restores the others' runs from the run-cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import repos
from tests.actrunner import (
    VENV_BIN,
    ActRun,
    act,
    add_data_remote,
    checkout,
    fail_without_act,
    git,
    pull_request_event,
    push_event,
    run,
    stage_counts,
)

pytestmark = pytest.mark.slow

REPO = "Codertocat/Hello-World"
ITEMS = repos.FANOUT_ITEMS


@dataclass
class Origin:
    repo: Path
    remote: Path


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Origin:
    """Six customers and the other pipeline, generated, reproduced, pushed and committed on main."""
    fail_without_act()
    root = tmp_path_factory.mktemp("fan-act")
    repo, remote = root / "origin", root / "dvc-remote"
    repos.init(repo)
    repos.write(repo, repos.FANOUT_FILES)
    add_data_remote(repo, remote)
    run([str(VENV_BIN / "mlops-gitops"), "generate"], repo)
    repos.dvc(repo, "repro", "--quiet", "--all-pipelines")
    repos.dvc(repo, "push", "--quiet", "--run-cache")
    repos.commit(repo, "Six customers, reproduced")
    return Origin(repo, remote)


def matrix_jobs(result: ActRun) -> list[str]:
    """The display names of the matrix jobs act ran: ``reproduce <id>``, numbered by act."""
    fixed = {"reproduce what the parallel jobs need", "reproduce and report", "reproduce and publish"}
    pattern = rf"^\[{re.escape(result.workflow)}/(reproduce [^\]]*?)\s*\] 🏁"
    return sorted(set(re.findall(pattern, result.log, re.M)) - fixed)


def executions(log: Path) -> list[str]:
    return sorted(log.read_text().splitlines()) if log.exists() else []


def branch_with(origin: Origin, tmp_path: Path, change: dict[str, str]) -> tuple[Path, str, str]:
    dev = tmp_path / "dev"
    run(["git", "clone", "-q", str(origin.repo), str(dev)], tmp_path)
    base = git(dev, "rev-parse", "HEAD")
    git(dev, "checkout", "-qb", "changes")
    repos.write(dev, change)
    head = repos.commit(dev, "change")
    return dev, base, head


def run_pr(origin: Origin, tmp_path: Path, change: dict[str, str], fork: bool = False) -> tuple[ActRun, Path]:
    dev, base, head = branch_with(origin, tmp_path, change)
    work = checkout(dev, head, tmp_path / "runner", REPO)
    log = tmp_path / "executions.log"
    event = pull_request_event(REPO, 9, base, head, "changes", fork=fork)
    result = act(
        "pull_request",
        "mlops-pr",
        work,
        event,
        tmp_path / "act",
        tmp_path / "artifacts",
        env={"FANOUT_LOG": str(log)},
    )
    return result, log


def test_a_pull_request_fans_out_one_job_per_item_and_the_final_job_restores_every_run(
    origin: Origin, tmp_path: Path
) -> None:
    """prepare's input changes: prepare runs once upstream, each of the six customers in its own
    matrix job, and the final job restores all seven runs, executes only aggregate, and reports."""
    stored = sorted(p.relative_to(origin.remote) for p in origin.remote.rglob("*"))
    result, log = run_pr(origin, tmp_path, {"data/raw.csv": "x,y\n1,3\n2,5\n3,7\n"})
    assert result.returncode == 0, result.log[-8000:]

    # Each changed stage executed exactly once, across all jobs.
    assert executions(log) == sorted(["prepare", *(f"train {i}" for i in ITEMS), "aggregate"])
    # One matrix job per customer; the upstream job ran prepare.
    assert len(matrix_jobs(result)) == len(ITEMS), matrix_jobs(result)
    upstream = stage_counts(result.job_log("reproduce what the parallel jobs need"))
    assert upstream.executed == ["prepare"]
    for item in ITEMS:
        (name,) = [n for n in matrix_jobs(result) if n.startswith(f"reproduce train-{item}")]
        counts = stage_counts(result.job_log(name))
        assert counts.executed == [f"train@{item}"], (name, counts)
        assert counts.restored == ["prepare"], (name, counts)  # the upstream job's run
    # The final job: every run before it restored from the run-cache, aggregate executed, reported.
    final = stage_counts(result.job_log("reproduce and report"))
    assert final.executed == ["aggregate"]
    assert sorted(final.restored) == sorted(["prepare", *(f"train@{i}" for i in ITEMS)])
    assert result.job_result("reproduce and report") == "succeeded"
    shared = sorted(p.name for p in result.artifacts.iterdir() if p.name.startswith("mlops-run-"))
    assert shared == sorted(["mlops-run-upstream", *(f"mlops-run-train-{i}" for i in ITEMS)])
    report = (result.artifacts / "mlops-report" / "report.md").read_text()
    assert "models" in report
    # The bot records the reproduced dvc.lock: it names every customer's new model.
    lock = (result.artifacts / "mlops-report" / "lock" / "dvc.lock").read_text()
    assert all(f"models/{i}.json" in lock for i in ITEMS)
    # A pull request pushes nothing to the DVC remote, from any job.
    assert sorted(p.relative_to(origin.remote) for p in origin.remote.rglob("*")) == stored


def test_one_customers_input_reproduces_that_customer_in_one_job(origin: Origin, tmp_path: Path) -> None:
    """Only what changed runs: one customer is one parallel unit, fewer than fanout.min_jobs, so no
    matrix; one job executes train@c3 and aggregate and restores nothing else."""
    result, log = run_pr(origin, tmp_path, {"data/items/c3.csv": "x,y\n1,9\n2,9\n3,9\n"})
    assert result.returncode == 0, result.log[-8000:]
    assert executions(log) == ["aggregate", "train c3"]
    assert not matrix_jobs(result)
    assert result.job_result("reproduce what the parallel jobs need") is None  # skipped
    final = stage_counts(result.job_log("reproduce and report"))
    assert sorted(final.executed) == ["aggregate", "train@c3"]


def test_the_default_branch_fans_out_pushes_each_jobs_runs_and_trains_nothing_twice(
    origin: Origin, tmp_path: Path
) -> None:
    """A push to main that changes two customers' data and the other pipeline's, dvc.lock
    updated but nothing pushed to the DVC remote: the two customers and the other pipeline run in
    three matrix jobs (no upstream: prepare did not change), each pushes its runs, and the final job
    restores them, finds the model recorded, and publishes."""
    dev = tmp_path / "dev"
    run(["git", "clone", "-q", str(origin.repo), str(dev)], tmp_path)
    before = git(dev, "rev-parse", "HEAD")
    more_rows = "x,y\n1,1\n2,2\n3,3\n4,4\n"
    repos.write(
        dev,
        {
            "data/items/c2.csv": more_rows,
            "data/items/c4.csv": more_rows,
            "pipelines/other/data.csv": "a\n5\n6\n",
        },
    )
    repos.dvc(dev, "repro", "--quiet", "--all-pipelines")  # dvc.lock updated, but no `dvc push`
    after = repos.commit(dev, "New data for c2, c4 and the other pipeline")
    runs_before = sorted((origin.remote / "runs").rglob("*"))
    work = checkout(dev, after, tmp_path / "runner", REPO)
    log = tmp_path / "executions.log"
    result = act(
        "push",
        "mlops-train",
        work,
        push_event(REPO, "refs/heads/main", before, after),
        tmp_path / "act",
        tmp_path / "artifacts",
        env={"FANOUT_LOG": str(log)},
    )
    assert result.returncode == 0, result.log[-8000:]
    assert executions(log) == ["featurize", "fit", "train c2", "train c4"]
    assert len(matrix_jobs(result)) == 3, matrix_jobs(result)
    assert result.job_result("reproduce what the parallel jobs need") is None  # skipped
    final = stage_counts(result.job_log("reproduce and publish"))
    assert not final.executed
    # dvc.lock already names these runs: DVC checks their outputs out of the cache the matrix jobs filled.
    assert {"train@c2", "train@c4", "pipelines/other/dvc.yaml:fit"} <= set(final.unchanged)
    assert result.job_result("reproduce and publish") == "succeeded"
    assert result.job_result("retrained-model pull request") is None  # recorded: nothing to hand over
    # Each matrix job pushed its runs: a later run anywhere restores them instead of training.
    runs_after = sorted((origin.remote / "runs").rglob("*"))
    assert len([p for p in runs_after if p.is_file()]) == len([p for p in runs_before if p.is_file()]) + 4


def test_a_failed_item_fails_the_check_and_nothing_trains_again(origin: Origin, tmp_path: Path) -> None:
    """c4's new data has no rows: its matrix job fails, the others succeed, and the final job does
    not reproduce (it would train the failed item again): it reports what the tree holds and says so."""
    rows = "x,y\n1,1\n2,2\n3,3\n"
    result, log = run_pr(
        origin, tmp_path, {"data/items/c2.csv": rows, "data/items/c4.csv": "x,y\n", "data/items/c5.csv": rows}
    )
    assert result.returncode != 0
    assert executions(log) == ["train c2", "train c4", "train c5"]  # once each, c4 failing
    assert result.job_result("reproduce and report") is not None
    assert not stage_counts(result.job_log("reproduce and report")).executed
    report = (result.artifacts / "mlops-report" / "report.md").read_text()
    assert "did not reproduce" in report
    assert not (result.artifacts / "mlops-report" / "lock").exists()  # nothing to record


def test_a_fork_pull_request_runs_no_training_job(origin: Origin, tmp_path: Path) -> None:
    """A fork gets no secrets: no upstream or matrix job starts, and the final job reports the
    committed metrics, saying why."""
    result, log = run_pr(origin, tmp_path, {"data/raw.csv": "x,y\n1,3\n"}, fork=True)
    assert result.returncode == 0, result.log[-8000:]
    assert executions(log) == []
    assert not matrix_jobs(result)
    assert result.job_result("reproduce what the parallel jobs need") is None
    report = (result.artifacts / "mlops-report" / "report.md").read_text()
    assert "comes from a fork" in report
