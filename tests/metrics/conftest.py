"""Real Git repositories in temp dirs for the report tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
