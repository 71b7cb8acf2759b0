"""Run the generated PR workflow with `act` in host mode on the bundled example.

The harness (example set-up, event payloads, stand-in actions, log parsing) is tests/actrunner.py.
The DVC remote is a local directory, so pull, run-cache and push are real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.actrunner import (
    ActRun,
    act,
    checkout,
    fail_without_act,
    git,
    make_example,
    pull_request_event,
    run,
)

pytestmark = pytest.mark.slow

REPO = "Codertocat/Hello-World"


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example after `init --example iris`, trained, with a local DVC remote, committed."""
    fail_without_act()
    root = tmp_path_factory.mktemp("act")
    repo = make_example(root / "origin", root / "dvc-remote")
    run(["dvc", "repro", "--quiet"], repo)
    run(["dvc", "push", "--quiet"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Train the example")
    return repo


def pull_request(base_repo: Path, tmp_path: Path, change: dict[str, str], fork: bool = False) -> ActRun:
    """Commit ``change`` on a branch of the base repo, and run mlops-pr.yml for that PR."""
    dev = tmp_path / "dev"
    run(["git", "clone", "-q", str(base_repo), str(dev)], tmp_path)
    base_sha = git(dev, "rev-parse", "HEAD")
    git(dev, "checkout", "-qb", "changes")
    for rel, content in change.items():
        (dev / rel).parent.mkdir(parents=True, exist_ok=True)
        (dev / rel).write_text(content)
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "change")
    head_sha = git(dev, "rev-parse", "HEAD")
    work = checkout(dev, head_sha, tmp_path / "runner", REPO)
    event = pull_request_event(REPO, 2, base_sha, head_sha, "changes", fork=fork)
    return act("pull_request", "mlops-pr", work, event, tmp_path / "act", tmp_path / "artifacts")


def test_param_change_reproduces_and_reports_green(base_repo: Path, tmp_path: Path) -> None:
    params = (base_repo / "params.yaml").read_text().replace("C: 1.0", "C: 2.0")
    remote = base_repo.parent / "dvc-remote"
    stored = sorted(p.relative_to(remote) for p in remote.rglob("*"))
    result = pull_request(base_repo, tmp_path, {"params.yaml": params})
    assert result.returncode == 0, result.log[-6000:]
    assert result.job_result("validate and detect changes") == "succeeded"
    assert result.job_result("reproduce and report") == "succeeded"
    assert "retrain=true" in result.log
    assert "train" in result.stages.executed
    report_dir = result.artifacts / "mlops-report"
    assert (report_dir / "pr-number.txt").read_text().strip() == "2"
    report = (report_dir / "report.md").read_text()
    assert "could not reproduce" not in report
    assert json.loads((report_dir / "report.json").read_text())
    # A pull request's code ran here: nothing it produced reaches the store the default branch
    # restores from and deploys.
    assert sorted(p.relative_to(remote) for p in remote.rglob("*")) == stored


def test_failing_gate_fails_the_check_but_still_uploads_the_report(base_repo: Path, tmp_path: Path) -> None:
    params = (base_repo / "params.yaml").read_text().replace("C: 1.0", "C: 0.01")
    result = pull_request(base_repo, tmp_path, {"params.yaml": params})
    assert result.returncode != 0
    assert result.job_result("reproduce and report") == "failed"
    report_dir = result.artifacts / "mlops-report"
    assert (report_dir / "report.md").is_file(), result.log[-4000:]
    assert (report_dir / "pr-number.txt").read_text().strip() == "2"


def test_docs_only_change_trains_nothing(base_repo: Path, tmp_path: Path) -> None:
    result = pull_request(base_repo, tmp_path, {"docs/notes.md": "# Notes\n"})
    assert result.returncode == 0, result.log[-4000:]
    assert result.job_result("validate and detect changes") == "succeeded"
    assert "retrain=false" in result.log
    assert result.job_result("reproduce and report") is None
    assert not (result.artifacts / "mlops-report").exists()


def test_fork_pr_reports_committed_metrics_and_says_so(base_repo: Path, tmp_path: Path) -> None:
    params = (base_repo / "params.yaml").read_text().replace("C: 1.0", "C: 2.0")
    result = pull_request(base_repo, tmp_path, {"params.yaml": params}, fork=True)
    assert result.returncode == 0, result.log[-6000:]
    # No secrets on a fork: nothing is pulled, trained or pushed.
    stages = result.stages
    assert not stages.executed and not stages.restored
    report = (result.artifacts / "mlops-report" / "report.md").read_text()
    assert "could not reproduce the pipeline" in report
