"""Each command takes what it needs from the repository once: one listing of its dvc.yaml and .dvc
files (one ``git ls-files``), handed down as a :class:`~mlops_gitops.pipeline.fingerprint.WorkTree`
to the fingerprint, the project and ``generate``'s memo. Run in-process on a real Git repository
(tests/repos.py's two pipelines, adopted by ``init --yes``), with ``fingerprint.listing`` counted."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlops_gitops.adapters.resources import examples_dir
from mlops_gitops.adoption.detect import detect
from mlops_gitops.cli import cli
from mlops_gitops.generation.generate import generate
from mlops_gitops.pipeline import fingerprint
from mlops_gitops.pipeline.fingerprint import WorkTree
from tests import repos


class Readings:
    """How often the repository was listed during one command."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    @property
    def listings(self) -> int:
        return self.counts["listing"]

    @property
    def ls_files(self) -> int:
        return self.counts["git ls-files"]


@pytest.fixture
def readings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Readings]:
    seen = Readings()
    listing, run = fingerprint.listing, subprocess.run

    def counted_listing(root: Path) -> list[str]:
        seen.counts["listing"] += 1
        return listing(root)

    def counted_run(args: object, *rest: object, **kwargs: object) -> object:
        if isinstance(args, list) and args[:2] == ["git", "ls-files"]:
            seen.counts["git ls-files"] += 1
        return run(args, *rest, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(fingerprint, "listing", counted_listing)
    monkeypatch.setattr(subprocess, "run", counted_run)
    # Outside Actions: the commands print, and write no $GITHUB_OUTPUT of the job running the tests.
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    yield seen


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hand-owned pipelines adopted by `init --yes`, committed, then a params change committed."""
    root = repos.two_pipelines(tmp_path_factory.mktemp("reading") / "two", reproduce=False).root
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "init", "--yes", "--dir", str(root)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repos.commit(root, "adopted")
    (root / "pipelines/churn/params.yaml").write_text("train:\n  threshold: 21\n")
    repos.commit(root, "a params change")
    return root


@pytest.fixture
def repo(adopted: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "two"
    shutil.copytree(adopted, copy, symlinks=True)
    return copy


def forget(root: Path) -> None:
    """A fresh clone: no memo in .git."""
    for memo in (root / ".git").glob("mlops-gitops-*"):
        memo.unlink()


def invoke(root: Path, *args: str) -> int:
    manifest = (
        ["--dir", str(root)] if args[0] in ("generate", "init") else ["--manifest", str(root / "mlops.yaml")]
    )
    result = CliRunner().invoke(cli, [*args, *manifest], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code


COMMANDS = {
    "generate": ("generate",),
    "generate --check": ("generate", "--check"),
    "changed": ("changed", "--base", "HEAD~1"),
    "plan": ("plan", "--base", "HEAD~1"),
    "report": ("report", "--base", "HEAD~1", "--format", "text"),
}


@pytest.mark.parametrize("fresh", [False, True], ids=["memo", "fresh-clone"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_lists_the_repository_once(
    repo: Path, readings: Readings, command: str, fresh: bool
) -> None:
    if fresh:
        forget(repo)
    invoke(repo, *COMMANDS[command])
    assert (readings.listings, readings.ls_files) == (1, 1), readings.counts


def test_a_current_check_answers_from_the_memo_with_one_listing(repo: Path, readings: Readings) -> None:
    assert generate(repo, check=True).stale == []  # the full path: it records the memo
    readings.counts.clear()
    assert generate(repo, check=True).remembered
    assert (readings.listings, readings.ls_files) == (1, 1), readings.counts


def test_init_hands_its_listing_to_generate(repo: Path, readings: Readings) -> None:
    """`init` detects, then generates: the listing detect took is the one generate uses (the files
    init writes in between, `dvc init` and `dvc add`, change what is read, not what is listed)."""
    found = detect(repo)
    assert found.dvcfiles == ["pipelines/churn/dvc.yaml", "pipelines/fraud/dvc.yaml"]
    assert generate(repo, force=True, tree=WorkTree(repo, found.listing)).exit_code == 0
    assert readings.listings == 1, readings.counts
    # One more ls-files: the `dvc init --subdir` projects detect looks for (a question of its own).
    assert readings.ls_files == 2, readings.counts


def test_the_memo_written_after_generate_creates_dvc_yaml_answers_the_next_check(tmp_path: Path) -> None:
    """The listing recorded after a generate that wrote the root dvc.yaml lists it: the next check
    is answered from the memo, not by rendering again."""
    root = tmp_path / "iris"
    shutil.copytree(examples_dir() / "iris", root)
    (root / "mlops.example.yaml").rename(root / "mlops.yaml")
    (root / "dvc.yaml").unlink()  # what generate writes from the manifest's stages
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    assert generate(root).exit_code == 0
    assert (root / "dvc.yaml").is_file()
    assert generate(root, check=True).remembered


def test_one_reading_gives_the_fingerprint_a_fresh_reading_gives(repo: Path) -> None:
    """Handing the tree down changes nothing the record was keyed on."""
    dvcfiles = ["pipelines/churn/dvc.yaml", "pipelines/fraud/dvc.yaml"]
    tree = WorkTree(repo)
    shared = fingerprint.fingerprint(repo, dvcfiles, tree=tree)
    assert (
        shared
        == fingerprint.fingerprint(repo, dvcfiles)
        == fingerprint.fingerprint(repo, dvcfiles, tree=tree)
    )
    assert list(tree.listing) == fingerprint.listing(repo)
