"""Real Git repositories in temp dirs for the report tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlops_gitops.metrics.plots import Plots
    from mlops_gitops.pipeline.project import Project

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}

MANIFEST = """\
version: 1
project: {name: demo}
stages:
  train:
    cmd: python train.py
    params: [lr]
    metrics:
      - metrics.json: {cache: false}
"""


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {**os.environ, **GIT_ENV, "HOME": str(path.parent)}
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.path, env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def write(self, name: str, content: Any) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content)
        target.write_text(text)

    def commit(self, files: dict[str, Any] | None = None, message: str = "change") -> str:
        for name, content in (files or {}).items():
            self.write(name, content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    path = tmp_path / "repo"
    path.mkdir()
    return GitRepo(path)


def write_plot_stage(repo: GitRepo) -> None:
    """A stage ``s`` whose output folder ``eval/`` holds the plot ``eval/p.csv``, made from params.yaml's
    ``v`` (1 here): not reproduced, not committed."""
    repo.write(
        "make.py",
        "import os; v = open('params.yaml').read().split(':')[1].strip(); os.makedirs('eval', exist_ok=True)\n"
        "open('eval/p.csv', 'w').write(f'x,y\\n0,{v}\\n1,2\\n')\n",
    )
    repo.write(
        "dvc.yaml",
        f"stages:\n  s:\n    cmd: {sys.executable} make.py\n    deps: [make.py]\n    params: [v]\n"
        "    outs: [eval]\nplots:\n  - eval/p.csv:\n      x: x\n      y: y\n",
    )
    repo.write("params.yaml", "v: 1\n")


# Plots read from Git (a governed dvc.yaml, files put into the work tree) against DVC's plots API.
DVC_BIN = str(Path(sys.executable).with_name("dvc"))
GOVERNED = "version: 1\nproject: {name: p}\npipelines: [dvc.yaml]\n"


def dvc(repo: GitRepo, *args: str) -> None:
    proc = subprocess.run([DVC_BIN, *args], cwd=repo.path, env=repo.env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def put(repo: GitRepo, data: dict[str, bytes]) -> None:
    for name, body in data.items():
        target = repo.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)


def governed_commits(
    repo: GitRepo, dvc_yaml: str, at_base: dict[str, bytes], at_head: dict[str, bytes]
) -> tuple[str, str]:
    """A DVC repository governed by mlops.yaml (``pipelines: [dvc.yaml]``) with ``dvc_yaml``, its files
    ``at_base`` committed, then ``at_head``: (base, head)."""
    dvc(repo, "init", "-q")
    repo.write("mlops.yaml", GOVERNED)
    repo.write("dvc.yaml", dvc_yaml)
    put(repo, at_base)
    base = repo.commit(message="base")
    put(repo, at_head)
    return base, repo.commit(message="head")


def project_of(repo: GitRepo) -> Project:
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project

    return load_project(repo.path, load_manifest(repo.path / "mlops.yaml"))


def both(repo: GitRepo, base: str, head: str = "workspace") -> tuple[Plots, Plots]:
    """(from Git, through DVC) for the same revisions."""
    from mlops_gitops.metrics.collect import resolve_revision
    from mlops_gitops.metrics.plots import collect

    b, h = resolve_revision(base, repo.path), resolve_revision(head, repo.path)
    return collect(repo.path, b, h, project_of(repo)), collect(repo.path, b, h)


def report_json_importing(
    repo: GitRepo, base: str, head: str, prefixes: tuple[str, ...]
) -> tuple[str, list[str]]:
    """``report --format json`` run as a user runs it, in a process of its own: its stdout, and the
    modules it imported whose names start with one of ``prefixes``."""
    code = (
        "import json, sys; from mlops_gitops.cli import main\n"
        "try:\n    main(sys.argv[2:])\nexcept SystemExit:\n    pass\n"
        "prefixes = tuple(json.loads(sys.argv[1]))\n"
        "sys.stderr.write(json.dumps(sorted(m for m in sys.modules if m.startswith(prefixes))))\n"
    )
    args = [sys.executable, "-c", code, json.dumps(prefixes), "report", "--base", base, "--head", head]
    proc = subprocess.run(
        [*args, "--format", "json"], cwd=repo.path, env=repo.env, capture_output=True, text=True
    )
    return proc.stdout, json.loads(proc.stderr.splitlines()[-1])
