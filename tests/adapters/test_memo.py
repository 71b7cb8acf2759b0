"""adapters.memo: a memo in .git only ever saves time, and DVC is told apart without importing it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.adapters.memo import GitMemo, GitMemoFolder, dvc_signature


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


def test_a_memo_folder_keeps_one_file_per_key_and_the_most_recent_ones(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    memo = GitMemoFolder.beside(tmp_path, "plots", keep=3)
    assert memo is not None and memo.recall("a" * 64) is None  # nothing yet, not even the folder
    keys = [f"{i:064x}" for i in range(5)]
    for i, key in enumerate(keys):
        memo.remember(key, json.dumps([i]))
        os.utime(memo.path / f"{key}.json", ns=(i * 10**9, i * 10**9))  # written in this order
    memo.remember(keys[4], json.dumps(["again"]))
    assert [memo.recall(k) for k in keys] == [None, None, [2], [3], ["again"]]
    assert sorted(p.name for p in memo.path.iterdir()) == [f"{k}.json" for k in keys[2:]]


def test_a_memo_folder_entry_is_written_whole_and_a_bad_one_is_none(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    memo = GitMemoFolder.beside(tmp_path, "plots", keep=2)
    assert memo is not None
    memo.remember("b" * 64, json.dumps({"big": "x" * 100_000}))
    assert not [p for p in memo.path.iterdir() if not p.name.endswith(".json")], "no partial file left"
    (memo.path / f"{'c' * 64}.json").write_text('{"cut": "sho')
    assert memo.recall("c" * 64) is None
    assert GitMemoFolder.beside(tmp_path / "elsewhere", "plots", keep=2) is None
