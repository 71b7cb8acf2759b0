"""The PR comment's notes about recording the run follow what happens: with ``record.pull_requests:
commit`` the comment says the bot records the run instead of warning that ``dvc.lock`` is stale, and
the section the bot appends once it committed names the commit (or says why none was made). Against
the fake GitHub over real HTTP, through the same :func:`post_report` the ``comment`` command uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.adapters.github.client import GitHubContext
from mlops_gitops.delivery.record import Recording, committed_note, record_hook, recorded_comment
from mlops_gitops.reporters import markdown
from mlops_gitops.reporting.comment import post_report
from tests.fakegithub import FakeGitHub, env_for

REPO = "acme/models"
MARKER = markdown.marker("iris")
OLD_LOCK = "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n"
NEW_LOCK = (
    OLD_LOCK
    + "    outs:\n    - path: model.pkl\n      md5: 0123456789abcdef0123456789abcdef\n      size: 4\n"
)
REPORT = f"{MARKER}\n❌ **Fail**: 1 of 1 gate failed\n\n{markdown.STALE_LOCK_BLOCK}\n### Gates\n\nrows\n"


@pytest.fixture
def setup(
    fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[FakeGitHub, int, Path]:
    fake_github.add_repo(REPO, files={"dvc.yaml": "stages: {}\n", "dvc.lock": OLD_LOCK})
    fake_github.add_file(REPO, "tune", "params.yaml", "C: 2\n")
    number = fake_github.add_pull(REPO, "tune")
    for key, value in env_for(fake_github, REPO).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "dvc.lock").write_text(NEW_LOCK)
    return fake_github, number, locks


def post(fake: FakeGitHub, number: int, locks: Path, mode: str) -> tuple[str, list[str]]:
    """What the ``comment`` job does: announce, then post with the recording section."""
    hook, said = record_hook(mode, str(locks), "https://github.com/acme/models/actions/runs/7", "success")
    assert isinstance(hook, Recording)
    body = hook.announce(REPORT)
    posted = post_report(GitHubContext.from_env(), body, MARKER, number, None, hook)
    assert posted.outcome is not None, posted.reason
    (comment,) = [c.body for c in fake.comments(REPO, number)]
    return comment, said


def test_the_bot_that_records_says_so_and_then_names_its_commit(setup: tuple[FakeGitHub, int, Path]) -> None:
    fake, number, locks = setup
    comment, said = post(fake, number, locks, "commit")
    assert markdown.STALE_LOCK not in comment and "[!WARNING]" not in comment
    top = comment.split("### Gates")[0]
    assert f"> [!NOTE]\n> {markdown.RECORDING}\n" in top  # where the warning stood, right under the verdict
    bot = fake.head_commit(REPO, "tune").sha
    assert fake.file(REPO, "tune", "dvc.lock") == NEW_LOCK
    end = comment.split("### Gates")[1]
    assert f"Recorded by commit {bot}" in end and "committed the reproduced dvc.lock" in end
    assert said == [f"committed: recorded dvc.lock in {bot[:12]}"]
    assert comment == recorded_comment(REPORT, bot)  # what `make demo` prints is what was posted


def test_the_comment_after_recording_has_the_note_and_names_the_commit() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    comment = recorded_comment(REPORT, sha)
    assert markdown.STALE_LOCK not in comment and "[!WARNING]" not in comment
    top = f"{MARKER}\n❌ **Fail**: 1 of 1 gate failed\n\n> [!NOTE]\n> {markdown.RECORDING}\n"
    assert comment.startswith(top)  # the note stands where the warning stood
    assert comment.endswith("### Gates\n\nrows\n" + committed_note(sha))
    assert f"> Recorded by commit {sha}: mlops-gitops committed the reproduced dvc.lock" in comment


def test_nothing_to_record_says_so_where_the_note_promised(setup: tuple[FakeGitHub, int, Path]) -> None:
    fake, number, locks = setup
    (locks / "dvc.lock").write_text(OLD_LOCK)  # the branch already holds this run's dvc.lock
    comment, _ = post(fake, number, locks, "commit")
    assert markdown.RECORDING in comment
    assert "Nothing to record: this branch's `dvc.lock` already records this run." in comment


def test_a_fork_keeps_its_record_to_itself_and_the_comment_says_why(
    fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_github.add_repo(REPO, files={"dvc.yaml": "stages: {}\n", "dvc.lock": OLD_LOCK})
    fake_github.add_repo("mallory/models", files={"dvc.yaml": "stages: {}\n", "dvc.lock": OLD_LOCK})
    fake_github.add_file("mallory/models", "tune", "params.yaml", "C: 2\n")
    fake_github.repo(REPO).commits.update(fake_github.repo("mallory/models").commits)
    fake_github.repo(REPO).trees.update(fake_github.repo("mallory/models").trees)
    fake_github.repo(REPO).blobs.update(fake_github.repo("mallory/models").blobs)
    fake_github.repo(REPO).refs["heads/tune"] = fake_github.repo("mallory/models").refs["heads/tune"]
    number = fake_github.add_pull(REPO, "tune", head_repo="mallory/models")
    for key, value in env_for(fake_github, REPO).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "dvc.lock").write_text(NEW_LOCK)
    comment, said = post(fake_github, number, locks, "commit")
    assert markdown.RECORDING in comment
    assert "This pull request comes from a fork, so mlops-gitops does not commit to it." in comment
    assert "### Record this run" in comment and said == [f"suggested the reproduced dvc.lock on PR #{number}"]


def test_without_recording_the_warning_stays(setup: tuple[FakeGitHub, int, Path]) -> None:
    fake, number, locks = setup
    comment, _ = post(fake, number, locks, "suggest")
    assert markdown.STALE_LOCK_BLOCK in comment and markdown.RECORDING not in comment
    assert "### Record this run" in comment
    assert fake.file(REPO, "tune", "dvc.lock") == OLD_LOCK


def test_announce_touches_nothing_but_the_warning() -> None:
    hook, _ = record_hook("commit", None, "", "success")
    assert hook is None  # no lock folder: nothing is recorded, nothing announced
    body = f"{MARKER}\n✅ **Pass**\n\n### Gates\n"
    recording = Recording("commit", {"dvc.lock": NEW_LOCK}, "", "success", [])
    assert recording.announce(body) == body and not recording.announced
    assert Recording("commit", {}, "", "success", []).announce(REPORT) == REPORT
    assert Recording("suggest", {"dvc.lock": NEW_LOCK}, "", "success", []).announce(REPORT) == REPORT
    announced = recording.announce(REPORT)
    assert recording.announced and announced.count("[!NOTE]") == 1
    assert (
        announced.replace(markdown.RECORDING, markdown.STALE_LOCK).replace("[!NOTE]", "[!WARNING]") == REPORT
    )
