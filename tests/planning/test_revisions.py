"""`changed` asks git once whether both revisions are commits (planning.triggers.checked_revisions),
and only on a doubt one question at a time, so that what it says of a bad revision is unchanged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops_gitops.errors import UsageError
from mlops_gitops.planning import triggers
from tests import repos


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    repos.git(root, "init", "-q", "-b", "main")
    for n in (1, 2):
        (root / "a.txt").write_text(f"{n}\n")
        repos.commit(root, f"commit {n}")
    (root / "src").mkdir()
    return root


class Calls:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[list[str]] = []
        run = subprocess.run

        def counted(args: list[str], *rest: object, **kwargs: object) -> object:
            self.seen.append(list(args))
            return run(args, *rest, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(subprocess, "run", counted)


def test_both_commits_known_is_one_git_call(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls(monkeypatch)
    assert triggers._toplevel_of_both(repo / "src", "HEAD~1", "main") == repo.resolve()
    assert len(calls.seen) == 1


@pytest.mark.parametrize("base", ["nope", "HEAD~5", "-n", "a.txt"])
def test_anything_doubtful_is_asked_the_careful_way(repo: Path, base: str) -> None:
    """Unknown, option-like, or a path of the work tree (git echoes a path back unresolved)."""
    (repo / "HEAD~5^{commit}").write_text("")
    assert triggers._toplevel_of_both(repo, base, "HEAD") is None


def test_outside_a_repository(tmp_path: Path) -> None:
    assert triggers._toplevel_of_both(tmp_path, "HEAD", "HEAD") is None


def test_an_unknown_revision_is_still_named(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Project:
        root = repo

    with pytest.raises(UsageError, match="unknown revision 'nope'"):
        triggers.checked_revisions(Project(), "HEAD", "nope")  # type: ignore[arg-type]
