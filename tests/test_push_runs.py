"""push-runs: a run shared from one machine is restored on another, metrics and plots included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    outs: [model.bin]
    metrics:
      - metrics.json: {cache: false}
"""
TRAIN = "import json, pathlib\npathlib.Path('model.bin').write_bytes(b'weights')\njson.dump({'acc': 0.9}, open('metrics.json', 'w'))\n"


def sh(cwd: Path, *args: str) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def dvc(cwd: Path, *args: str) -> str:
    return sh(cwd, sys.executable, "-m", "dvc", *args)


def shared_run(tmp_path: Path, push: list[str]) -> str:
    """Train on one machine, share with ``push``, then reproduce the same commit on a fresh clone."""
    origin = tmp_path / "origin"
    origin.mkdir()
    sh(origin, "git", "init", "-q", "-b", "main")
    dvc(origin, "init", "-q")
    dvc(origin, "remote", "add", "-d", "storage", str(tmp_path / "remote"))
    (origin / "dvc.yaml").write_text(DVC_YAML)
    (origin / "train.py").write_text(TRAIN)
    sh(origin, "git", "add", "-A")
    sh(origin, "git", "commit", "-qm", "pipeline, no dvc.lock yet")
    dvc(origin, "repro", "--quiet")
    sh(origin, *push)
    runner = tmp_path / "runner"
    sh(tmp_path, "git", "clone", "-q", str(origin), str(runner))
    dvc(runner, "pull", "--run-cache", "--allow-missing", "--quiet")
    return dvc(runner, "repro", "--pull", "--allow-missing")


def test_push_runs_lets_another_machine_restore_instead_of_rerun(tmp_path: Path) -> None:
    log = shared_run(tmp_path, [sys.executable, "-m", "mlops_gitops", "push-runs"])
    assert "Stage 'train' is cached - skipping run" in log
    assert "Running stage" not in log


def test_plain_dvc_push_run_cache_leaves_uncached_outputs_behind(tmp_path: Path) -> None:
    """Why push-runs exists: with DVC's own push the same restore runs the stage again."""
    log = shared_run(tmp_path, [sys.executable, "-m", "dvc", "push", "--run-cache", "--quiet"])
    assert "Running stage 'train'" in log
