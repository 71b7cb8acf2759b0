"""adapters.git.toplevel: read from the disk in the common case, git's answer in every other, and the
same folder git names wherever it is asked from."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlops_gitops.adapters import git

ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def sh(cwd: Path, *args: str) -> str:
    done = subprocess.run(args, cwd=cwd, env={**os.environ, **ENV}, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else f"<exit {done.returncode}>"


def gits(cwd: Path) -> Path | None:
    out = sh(cwd, "git", "rev-parse", "--show-toplevel")
    return None if out.startswith("<exit") else Path(out)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in git._DISCOVERY_ENV:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "repo"
    (root / "sub" / "deeper").mkdir(parents=True)
    sh(root, "git", "init", "-q", "-b", "main")
    (root / "a.txt").write_text("a")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "first")
    return root


def test_the_disk_answers_as_git_does_in_a_work_tree(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheres = (repo, repo / "sub", repo / "sub" / "deeper")
    expected = [gits(where) for where in wheres]
    started: list[object] = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: started.append(a))
    assert [git.toplevel(where) for where in wheres] == expected == [repo.resolve()] * 3
    assert started == [], "no git process"
    monkeypatch.undo()
    # Through a symbolic link, git names the folder itself: so does the disk.
    link = repo.parent / "link"
    link.symlink_to(repo / "sub", target_is_directory=True)
    assert git.toplevel(link) == gits(link) == repo.resolve()


def test_every_other_case_is_gits_answer(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Inside .git, a linked worktree, a submodule-like .git file, a bare repository, nothing at all.
    sh(repo, "git", "worktree", "add", "-q", str(tmp_path / "wt"))
    bare = tmp_path / "bare.git"
    sh(tmp_path, "git", "clone", "-q", "--bare", str(repo), str(bare))
    outside = tmp_path / "outside"
    outside.mkdir()
    for where in (repo / ".git", repo / ".git" / "refs", tmp_path / "wt", bare, outside):
        assert git.toplevel(where) == gits(where), where
    # core.worktree moves the work tree elsewhere: git's answer.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sh(repo, "git", "config", "core.worktree", str(elsewhere))
    assert git.toplevel(repo / "sub") == gits(repo / "sub")
    sh(repo, "git", "config", "--unset", "core.worktree")
    # GIT_DIR and its kin change discovery: git's answer.
    monkeypatch.setenv("GIT_DIR", str(bare))
    assert git.toplevel(repo / "sub") == gits(repo / "sub")
