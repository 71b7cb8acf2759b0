"""metrics.collect.CatFile: the one ``git cat-file --batch`` a command keeps open answers as a new
process would, whatever happened to the repository since it started; revisions resolve through it
to the commit and subject ``git log`` gives."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import GitRepo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_gitops.errors import UsageError
from mlops_gitops.metrics.collect import (
    BLOB,
    MISSING,
    TREE,
    CatFile,
    Revision,
    cat_files,
    cat_objects,
    first_parents,
    list_trees,
    resolve_revision,
)


def test_answers_blobs_folders_missing_paths_and_later_commits(repo: GitRepo) -> None:
    first = repo.commit({"a.txt": "one", "dir/b.txt": "two", "with space.txt": "three"}, "first")
    specs = [
        f"{first}:a.txt",
        f"{first}:dir",
        f"{first}:nope.txt",
        f"{first}:with space.txt",
        f"{first}:no such.txt",
    ]
    assert cat_objects(repo.path, specs) == [
        (BLOB, b"one"),
        (TREE, None),
        (MISSING, None),  # a missing path with a space in it is still one answer
        (BLOB, b"three"),
        (MISSING, None),
    ]
    kept = CatFile.of(repo.path)
    second = repo.commit({"a.txt": "changed"}, "second")  # made after the process started
    assert cat_files(repo.path, [f"{second}:a.txt", f"{first}:a.txt"]) == [b"changed", b"one"]
    assert CatFile.of(repo.path) is kept


def test_many_requests_and_large_answers_do_not_block(repo: GitRepo) -> None:
    big = "x" * 300_000
    sha = repo.commit({"big.txt": big, **{f"f{i}.txt": str(i) for i in range(50)}}, "many")
    # More request bytes than one chunk, answers far larger than a pipe holds.
    specs = [f"{sha}:big.txt", *(f"{sha}:f{i % 50}.txt" for i in range(3000))]
    found = cat_files(repo.path, specs)
    assert found[0] == big.encode() and found[1:4] == [b"0", b"1", b"2"] and len(found) == 3001


def test_a_repository_made_again_at_the_same_path_is_read_afresh(repo: GitRepo) -> None:
    old = repo.commit({"a.txt": "old"}, "old")
    assert cat_files(repo.path, [f"{old}:a.txt"]) == [b"old"]
    shutil.rmtree(repo.path / ".git")
    again = GitRepo(repo.path)
    new = again.commit({"a.txt": "new"}, "new")
    assert cat_files(repo.path, [f"{new}:a.txt", f"{old}:a.txt"]) == [b"new", None]


def test_a_stopped_process_is_replaced(repo: GitRepo) -> None:
    sha = repo.commit({"a.txt": "a"}, "a")
    stopped = CatFile.of(repo.path)
    stopped.proc.kill()
    stopped.proc.wait()
    assert cat_files(repo.path, [f"{sha}:a.txt"]) == [b"a"]
    assert CatFile.of(repo.path) is not stopped
    CatFile.close_all()
    assert cat_files(repo.path, [f"{sha}:a.txt"]) == [b"a"]


def _git_says(repo: GitRepo, name: str) -> tuple[str, str]:
    sha, _, subject = repo.git("log", "-1", "--format=%H%x00%s", f"{name}^{{commit}}", "--").partition("\0")
    return sha, subject


def test_revisions_resolve_through_the_batch_as_git_log_names_them(repo: GitRepo) -> None:
    first = repo.commit(
        {"dir/a.txt": "1"}, "Train with C 1.0\nwrapped title line\n\nThe body, not the subject."
    )
    repo.commit({"dir/a.txt": "2"}, "  Ünïcode subject: 🚀  ")
    repo.git("tag", "-a", "v1", "-m", "an annotated tag peels to its commit", first)
    for name in ("HEAD", "main", "HEAD~1", first[:10], "v1"):
        sha, subject = _git_says(repo, name)
        assert resolve_revision(name, repo.path) == Revision(name, sha, subject.strip())
    with pytest.raises(UsageError, match="unknown revision 'nope'"):
        resolve_revision("nope", repo.path)
    with pytest.raises(UsageError, match="unknown revision"):
        resolve_revision("HEAD:dir", repo.path)  # a tree names no commit


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\r"), min_size=1))
def test_any_message_gives_git_logs_subject(repo: GitRepo, message: str) -> None:
    if not message.strip():
        return  # git refuses an empty message
    repo.git("commit", "-q", "--allow-empty", "--cleanup=strip", "-m", message)
    # What report showed before (`git log --format=%s`, stripped).
    assert resolve_revision("HEAD", repo.path).subject == _git_says(repo, "HEAD")[1].strip()


def test_trees_list_as_git_ls_tree_does(repo: GitRepo) -> None:
    files = {
        "a.txt": "1",
        "dvc.yaml": "stages: {}\n",
        "sub/dvc.yaml": "stages: {}\n",
        "sub/deep/er/x.dvc": "outs: []\n",
        "sub/with space/ü.txt": "2",
        "other/a.txt": "3",
    }
    first = repo.commit(files, "first")
    second = repo.commit({"sub/new.txt": "4", "other/a.txt": "changed"}, "second")
    (repo.path / "link").symlink_to("a.txt")
    third = repo.commit({}, "a symlink is listed, as ls-tree lists it")

    def ls_tree(spec: str) -> list[str]:
        return sorted(filter(None, repo.git("ls-tree", "-r", "-z", "--name-only", spec).split("\0")))

    specs = [f"{rev}^{{tree}}" for rev in (first, second, third)] + [f"{second}:sub", f"{first}:a.txt"]
    listed = list_trees(repo.path, [*specs, f"{first}:nope"])
    assert [sorted(x) if x is not None else None for x in listed] == [
        *(ls_tree(spec) for spec in specs[:4]),
        None,  # a file is no folder
        None,  # nor is a missing path
    ]
    assert list_trees(repo.path, []) == []


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.lists(st.sampled_from(["a", "b", "dvc.yaml", "x.dvc", "é", "c d"]), min_size=1, max_size=4),
        min_size=1,
        max_size=12,
    )
)
def test_any_tree_lists_as_git_ls_tree_does(repo: GitRepo, paths: list[list[str]]) -> None:
    repo = GitRepo(Path(tempfile.mkdtemp(dir=repo.path.parent)))  # a repository of its own per example
    # A name may be both a file and a folder across paths: the first written wins, as on disk.
    wrote: set[str] = set()
    for parts in paths:
        rel = "/".join(parts)
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if rel in wrote or prefixes & wrote or any(w.startswith(rel + "/") for w in wrote):
            continue
        repo.write(rel, rel)
        wrote.add(rel)
    sha = repo.commit({}, "tree")
    expected = sorted(filter(None, repo.git("ls-tree", "-r", "-z", "--name-only", sha).split("\0")))
    (listed,) = list_trees(repo.path, [f"{sha}^{{tree}}"])
    assert sorted(listed or []) == expected


def test_first_parents_are_git_logs(repo: GitRepo) -> None:
    for i in range(4):
        repo.commit({"a.txt": str(i)}, f"main {i}")
    repo.git("checkout", "-q", "-b", "side", "HEAD~2")
    repo.commit({"b.txt": "side"}, "side")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    head = repo.git("rev-parse", "HEAD")
    for count in (1, 3, 20):
        expected = repo.git("log", "--first-parent", f"-n{count}", "--format=%H", head).split()
        assert first_parents(repo.path, head, count) == expected
    assert first_parents(repo.path, "0" * 40, 5) == []
    # A shallow clone's line ends at its boundary, as git log's does.
    shallow = repo.path.parent / "shallow"
    repo.git("clone", "-q", "--depth", "2", f"file://{repo.path}", str(shallow))
    expected = repo.git("-C", str(shallow), "log", "--first-parent", "-n20", "--format=%H").split()
    assert first_parents(shallow, head, 20) == expected and len(expected) == 2
