"""`report` on repositories shaped like real ones: metrics inside a DVC-tracked folder whose remote is
gone (DVC's get-started layout), and two pipelines with a section each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tests.repos as repos

pytestmark = pytest.mark.slow


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_gitops", *args], cwd=root, capture_output=True, text=True, check=False
    )


def adopt(root: Path, manifest_extra: str = "") -> None:
    proc = run(root, "init", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if manifest_extra:
        with open(root / "mlops.yaml", "a", encoding="utf-8") as handle:
            handle.write(manifest_extra)
        assert run(root, "generate").returncode == 0
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "adopt"], cwd=root, check=True)


def test_metrics_in_a_tracked_folder_with_the_remote_gone_still_give_a_report(tmp_path: Path) -> None:
    built = repos.tracked_metrics_dir(tmp_path / "repo")
    root = built.root
    adopt(root, "metrics:\n  gates:\n    - {metric: mse, direction: lower, regression: {relative: 0.5}}\n")
    # The first model's metrics are neither in Git, nor in the cache, nor on the (deleted) remote.
    proc = run(
        root, "report", "--base", built.revs[0], "--output", "report.md", "--json-output", "report.json"
    )
    assert "Traceback" not in proc.stderr and proc.stderr == ""
    assert proc.returncode == 1  # the verdict is not a pass
    text = (root / "report.md").read_text()
    assert "**Not available**" in text and "`eval/metrics.json` at base" in text
    assert "regression cannot be evaluated (base)" in text
    # Its plots too: each says the base could not be read, none claims to be new.
    assert "### Plots (2)" in text and "only at head (new)" not in text
    assert text.count("· one side only; not available at base\n") == 2  # drawn in the open: it moved
    data = json.loads((root / "report.json").read_text())
    assert data["verdict"] == "fail" and "eval/metrics.json" in data["unavailable"]["base"]
    # The work tree's metrics are read from disk: head is available.
    assert (
        "head" not in data["unavailable"] and data["metrics"]["eval/metrics.json"]["mse"]["new"] is not None
    )


def test_two_pipelines_get_a_section_each_and_one_verdict(tmp_path: Path) -> None:
    built = repos.two_pipelines(tmp_path / "repo")
    root = built.root
    gates = (
        "metrics:\n  gates:\n"
        "    - {metric: accuracy, min: 0, pipeline: pipelines/churn}\n"
        "    - {metric: accuracy, min: 1.5, pipeline: pipelines/fraud}\n"
    )
    adopt(root, gates)
    proc = run(root, "report", "--base", "HEAD", "--format", "json")
    data = json.loads(proc.stdout)
    sections = {s["dvcfile"]: s["verdict"] for s in data["pipelines"]}
    assert sections == {"pipelines/churn/dvc.yaml": "pass", "pipelines/fraud/dvc.yaml": "fail"}
    assert data["verdict"] == "fail" and proc.returncode == 1
    markdown = run(root, "report", "--base", "HEAD").stdout
    assert "## ✅ `pipelines/churn/dvc.yaml`: 1 of 1 gates pass" in markdown
    assert "## ❌ `pipelines/fraud/dvc.yaml`: 0 of 1 gates pass" in markdown
    assert markdown.index("❌ **Fail**") < markdown.index("## ✅ `pipelines/churn/dvc.yaml`")
