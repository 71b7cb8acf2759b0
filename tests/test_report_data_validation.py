"""The pipeline validates data first; the PR report shows what it found and fails on bad data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.adapters.resources import examples_dir

pytestmark = pytest.mark.slow


def sh(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if ok:
        assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def mlops(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return sh(cwd, sys.executable, "-m", "mlops_gitops", *args, ok=False)


def test_bad_rows_stop_training_and_fail_the_report(tmp_path: Path) -> None:
    repo = tmp_path / "iris"
    shutil.copytree(examples_dir() / "iris", repo)
    sh(repo, "git", "init", "-q", "-b", "main")
    assert mlops(repo, "init", "--yes").returncode == 0
    sh(repo, sys.executable, "-m", "dvc", "repro", "--quiet")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", "first model")

    good = mlops(repo, "report", "--base", "main", "--format", "markdown")
    assert good.returncode == 0, good.stderr
    assert "### Data validation" in good.stdout
    assert "✅ `data/iris.csv`: 150 rows, all" in good.stdout

    sh(repo, "git", "checkout", "-q", "-b", "bad-data")
    with (repo / "data/iris.csv").open("a") as handle:
        handle.write("99.0,3.0,1.4,0.2,setosa\n5.0,3.1,1.5,0.2,daisy\n")
    before = (repo / "metrics.json").read_text()
    repro = sh(repo, sys.executable, "-m", "dvc", "repro", ok=False)
    assert repro.returncode != 0, "a data-validation failure must stop the pipeline"
    assert (repo / "metrics.json").read_text() == before, "nothing trained on bad data"

    bad = mlops(repo, "report", "--base", "main", "--format", "markdown")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert bad.stdout.splitlines()[1].startswith("❌ **Fail**: 2 data checks failed")
    assert "❌ `data/iris.csv`: 152 rows" in bad.stdout
    assert "| `data/iris.csv` | range | `sepal_length` | 1 |" in bad.stdout
    assert "| `data/iris.csv` | allowed | `species` | 1 |" in bad.stdout
    assert "row 151: `99.0`" in bad.stdout
    as_json = mlops(repo, "report", "--base", "main", "--format", "json")
    assert '"data/iris.csv: range on sepal_length: 1 bad row' in as_json.stdout


def test_data_failures_are_annotated_in_github_actions(tmp_path: Path) -> None:
    repo = tmp_path / "p"
    repo.mkdir()
    (repo / "mlops.yaml").write_text(
        "version: 1\nproject: {name: p}\nstages:\n  train:\n    cmd: python t.py\n    deps: [d.csv]\n"
        "    metrics:\n      - m.json: {cache: false}\n"
        "data:\n  checks:\n    - path: d.csv\n      columns: {x: {min: 0}}\n"
    )
    (repo / "m.json").write_text('{"acc": 1}')
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", "base")
    (repo / ".mlops").mkdir()
    (repo / ".mlops/data-validation.json").write_text(
        '{"passed": false, "files": [{"path": "d.csv", "rows": 3, "passed": false, "checks": [{"check": "range",'
        ' "column": "x", "passed": false, "bad_rows": 2, "message": "values below 0",'
        ' "examples": [{"row": 2, "line": 3, "value": -1}]}]}]}'
    )
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "sum"),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_gitops",
            "report",
            "--base",
            "main",
            "--output",
            str(tmp_path / "r.md"),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert proc.returncode == 1, proc.stderr
    assert (
        "::error file=d.csv,line=3,title=Data check failed%3A range x::2 bad row(s): values below 0"
        in proc.stdout
    )
    assert "verdict=fail" in (tmp_path / "out").read_text()
