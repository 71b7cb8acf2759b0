"""adapters.memo: a memo in .git only ever saves time, and DVC is told apart without importing it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.adapters.memo import GitMemo, dvc_signature


def test_a_memo_keeps_the_most_recent_entries(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    memo = GitMemo.beside(tmp_path, "m.json", keep=3)
    assert memo is not None
    for i in range(5):
        memo.remember(f"k{i}", {"i": i})
    memo.remember("k3", {"i": "again"})  # remembered anew: now the most recent
    assert [memo.recall(f"k{i}") for i in range(5)] == [None, None, {"i": 2}, {"i": "again"}, {"i": 4}]
    assert list(json.loads((tmp_path / ".git" / "m.json").read_text())) == ["k2", "k4", "k3"]


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", "null", "\udcff"])
def test_an_unreadable_memo_is_an_empty_one(tmp_path: Path, text: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "m.json").write_text(text, errors="surrogateescape")
    memo = GitMemo.beside(tmp_path, "m.json", keep=2)
    assert memo is not None and memo.recall("k") is None
    memo.remember("k", [1])
    assert memo.recall("k") == [1]


def test_no_memo_without_a_git_folder_and_none_written_where_it_cannot_be(tmp_path: Path) -> None:
    (tmp_path / ".git").write_text("gitdir: elsewhere\n")  # a worktree: its .git is a file
    assert GitMemo.beside(tmp_path, "m.json", keep=2) is None
    unwritable = GitMemo(tmp_path / "missing" / "m.json", keep=2)
    unwritable.remember("k", 1)  # the folder does not exist: nothing written, nothing raised
    assert unwritable.recall("k") is None


def test_dvc_is_told_apart_by_its_place_and_version_without_importing_it() -> None:
    code = (
        "import sys; from mlops_gitops.adapters.memo import dvc_signature\n"
        "s = dvc_signature(); print('dvc' in sys.modules, repr(s))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    imported, signature = out.split(" ", 1)
    assert imported == "False"
    import dvc

    assert dvc.__version__ in signature and str(Path(dvc.__file__).parent) in signature
    assert dvc_signature() == eval(signature)  # the same in every process


def test_no_signature_without_dvc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert dvc_signature() is None
