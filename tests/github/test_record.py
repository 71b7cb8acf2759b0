"""Recording a pull request's reproduced dvc.lock: `comment --record` against the fake GitHub over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.delivery.record import STATUS_CONTEXT
from tests.fakegithub import BOT_EMAIL, FakeGitHub
from tests.test_comment import FORK, MARKER, REPO, bot_comments, report, run, workflow_run_payload

OLD_LOCK = "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    params:\n      params.yaml:\n        C: 1.0\n"
NEW_LOCK = OLD_LOCK.replace("C: 1.0", "C: 0.5")
RUN_URL = "https://github.com/acme/models/actions/runs/42"


def locks(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "lock"
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture
def params_pr(fake_github: FakeGitHub) -> tuple[int, str]:
    """A same-repository PR that changed params.yaml but still carries the base's dvc.lock."""
    fake_github.add_repo(
        REPO, files={"dvc.yaml": "stages: {}\n", "dvc.lock": OLD_LOCK, "params.yaml": "C: 1.0\n"}
    )
    sha = fake_github.add_file(REPO, "tune-c", "params.yaml", "C: 0.5\n")
    return fake_github.add_pull(REPO, "tune-c"), sha


def record(
    fake: FakeGitHub, tmp_path: Path, lock_dir: Path, head: tuple[str, str, str], mode: str = "commit"
) -> tuple[int, str]:
    env = {"GITHUB_EVENT_PATH": workflow_run_payload(tmp_path, *head)}
    args = ["comment", "--report", str(report(tmp_path)), "--record", mode, "--lock-dir", str(lock_dir)]
    return run(fake, *args, "--run-url", RUN_URL, "--run-conclusion", "success", env=env)


def test_the_bot_commits_the_reproduced_lock_on_top_of_the_run_head(
    fake_github: FakeGitHub, params_pr: tuple[int, str], tmp_path: Path
) -> None:
    number, sha = params_pr
    code, out = record(fake_github, tmp_path, locks(tmp_path, {"dvc.lock": NEW_LOCK}), (REPO, "tune-c", sha))
    assert code == 0, out
    assert "committed: recorded dvc.lock in" in out
    head = fake_github.head_commit(REPO, "tune-c")
    assert head.parents == [sha] and head.author["email"] == BOT_EMAIL
    assert RUN_URL in head.message
    assert fake_github.file(REPO, "tune-c", "dvc.lock") == NEW_LOCK
    assert fake_github.file(REPO, "tune-c", "params.yaml") == "C: 0.5\n"  # nothing else changed
    (status,) = fake_github.repo(REPO).statuses[head.sha]
    assert (status["context"], status["state"], status["target_url"]) == (STATUS_CONTEXT, "success", RUN_URL)
    (body,) = bot_comments(fake_github, number)
    # The comment names the commit that recorded the run (issue 24: the note follows what happened).
    assert f"Recorded by commit {head.sha[:10]}" in body and "stale" not in body

    # The same run again (a re-run of the comment job): the branch moved, by our own commit.
    code, out = record(fake_github, tmp_path, locks(tmp_path, {"dvc.lock": NEW_LOCK}), (REPO, "tune-c", sha))
    assert code == 0 and "not posted" in out  # the PR's head is no longer the run's: nothing happens
    assert fake_github.head_commit(REPO, "tune-c").sha == head.sha


def test_a_lock_that_already_records_the_run_is_not_committed_again(
    fake_github: FakeGitHub, params_pr: tuple[int, str], tmp_path: Path
) -> None:
    number, sha = params_pr
    code, out = record(fake_github, tmp_path, locks(tmp_path, {"dvc.lock": OLD_LOCK}), (REPO, "tune-c", sha))
    assert code == 0 and "unchanged" in out, out
    assert fake_github.head_commit(REPO, "tune-c").sha == sha
    assert "Record this run" not in bot_comments(fake_github, number)[0]


def test_a_branch_that_moved_is_never_overwritten_and_gets_the_patch(
    fake_github: FakeGitHub, params_pr: tuple[int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hostile to a race: the author pushes while the run runs. The ref moved, so GitHub would refuse a
    fast-forward anyway; the PR gets the patch instead, on the run's own comment."""
    number, sha = params_pr
    lock_dir = locks(tmp_path, {"dvc.lock": NEW_LOCK})
    hook_ran: list[str] = []

    from mlops_gitops.delivery import record as record_module

    real = record_module.changed_files

    def push_meanwhile(repo: object, head_sha: str, files: dict[str, str]) -> tuple[dict[str, str], str]:
        if not hook_ran:
            hook_ran.append(fake_github.add_commit_by(REPO, "tune-c"))
        return real(repo, head_sha, files)

    # The author's push lands between finding the PR and moving its branch (a test seam, not GitHub).
    monkeypatch.setattr(record_module, "changed_files", push_meanwhile)
    code, out = record(fake_github, tmp_path, lock_dir, (REPO, "tune-c", sha))
    assert code == 0, out
    assert "moved: branch tune-c moved" in out
    assert fake_github.head_commit(REPO, "tune-c").sha == hook_ran[0]  # the human commit stays
    (body,) = bot_comments(fake_github, number)
    assert "### Record this run" in body and "+        C: 0.5" in body and "git apply" in body


def test_suggest_shows_the_patch_and_commits_nothing(
    fake_github: FakeGitHub, params_pr: tuple[int, str], tmp_path: Path
) -> None:
    number, sha = params_pr
    code, out = record(
        fake_github, tmp_path, locks(tmp_path, {"dvc.lock": NEW_LOCK}), (REPO, "tune-c", sha), mode="suggest"
    )
    assert code == 0 and "suggested the reproduced dvc.lock" in out, out
    assert fake_github.head_commit(REPO, "tune-c").sha == sha
    (body,) = bot_comments(fake_github, number)
    assert "```diff\n--- a/dvc.lock\n+++ b/dvc.lock\n" in body
    assert "-        C: 1.0\n+        C: 0.5\n" in body


def test_a_fork_never_gets_a_commit_only_the_patch(fake_github: FakeGitHub, tmp_path: Path) -> None:
    """Hostile: a fork's run uploads lock files (it cannot reproduce, but its code can write anything).
    The bot writes nothing to a fork's branch, even where maintainers may edit it."""
    fake_github.add_repo(REPO, files={"dvc.yaml": "stages: {}\n", "dvc.lock": OLD_LOCK})
    fake_github.add_repo(FORK, files={"dvc.yaml": "stages: {}\n", "dvc.lock": OLD_LOCK})
    sha = fake_github.add_file(FORK, "feature", "params.yaml", "C: 0.5\n")
    number = fake_github.add_pull(REPO, "feature", head_repo=FORK, user="mallory")
    fake_github.repo(REPO).commits.update(fake_github.repo(FORK).commits)  # GitHub shares fork objects
    fake_github.repo(REPO).trees.update(fake_github.repo(FORK).trees)
    fake_github.repo(REPO).blobs.update(fake_github.repo(FORK).blobs)
    code, out = record(fake_github, tmp_path, locks(tmp_path, {"dvc.lock": NEW_LOCK}), (FORK, "feature", sha))
    assert code == 0, out
    assert fake_github.head_commit(FORK, "feature").sha == sha
    assert fake_github.count("POST", r"/git/commits") == 0
    (body,) = bot_comments(fake_github, number)
    assert "comes from a fork" in body and "+        C: 0.5" in body


@pytest.mark.parametrize(
    ("files", "refusal"),
    [
        ({".github/workflows/dvc.lock": NEW_LOCK}, "has no .github/workflows/dvc.yaml beside it"),
        ({"dvc.lock": "a: &a [*a]\n"}, "recursive"),
        ({"dvc.lock": "schema: '2.0'\nstages: [1]\n"}, "not a dvc.lock of DVC 3"),
        ({"dvc.lock": "\x00\x01 not yaml: [\n"}, "not a dvc.lock"),
    ],
)
def test_hostile_lock_folders_are_refused_before_anything_is_written(
    fake_github: FakeGitHub,
    params_pr: tuple[int, str],
    tmp_path: Path,
    files: dict[str, str],
    refusal: str,
) -> None:
    _, sha = params_pr
    code, out = record(fake_github, tmp_path, locks(tmp_path, files), (REPO, "tune-c", sha))
    assert code == 2 and refusal in out, out
    assert "Traceback" not in out
    assert fake_github.head_commit(REPO, "tune-c").sha == sha
    assert fake_github.count("POST", r"/git/(blobs|trees|commits)") == 0


def test_a_symlink_out_of_the_folder_is_refused(
    fake_github: FakeGitHub, params_pr: tuple[int, str], tmp_path: Path
) -> None:
    """Hostile: the artifact links dvc.lock to a file of the comment job's runner."""
    _, sha = params_pr
    secret = tmp_path / "secret.txt"
    secret.write_text("schema: '2.0'\nstages: {}\n")
    lock_dir = locks(tmp_path, {})
    (lock_dir / "dvc.lock").symlink_to(secret)
    code, out = record(fake_github, tmp_path, lock_dir, (REPO, "tune-c", sha))
    assert code == 2 and "not a regular file" in out, out
    assert fake_github.count("POST", r"/git/commits") == 0
    assert fake_github.count("POST", r"/issues/\d+/comments") == 0


def test_off_and_no_lock_folder_record_nothing(
    fake_github: FakeGitHub, params_pr: tuple[int, str], tmp_path: Path
) -> None:
    number, sha = params_pr
    code, _out = record(
        fake_github, tmp_path, locks(tmp_path, {"dvc.lock": NEW_LOCK}), (REPO, "tune-c", sha), "off"
    )
    assert code == 0 and fake_github.head_commit(REPO, "tune-c").sha == sha
    assert bot_comments(fake_github, number)[0].startswith(MARKER)
    code, _ = record(fake_github, tmp_path, tmp_path / "absent", (REPO, "tune-c", sha))
    assert code == 0 and fake_github.head_commit(REPO, "tune-c").sha == sha


def test_outputs_the_lock_names_are_recorded_and_other_files_skipped(
    fake_github: FakeGitHub, params_pr: tuple[int, str], tmp_path: Path
) -> None:
    """The run's metrics (a cache: false output, kept in Git) go with its dvc.lock, so the recorded
    commit reports what was evaluated. Hostile: the run also slips in a workflow and the manifest."""
    _number, sha = params_pr
    lock = NEW_LOCK + "    outs:\n    - path: metrics.json\n      md5: 0123\n"
    files = {
        "dvc.lock": lock,
        "metrics.json": '{"accuracy": 0.97}\n',
        ".github/workflows/evil.yml": "on: push\n",
        "mlops.yaml": "gates: []\n",
    }
    code, out = record(fake_github, tmp_path, locks(tmp_path, files), (REPO, "tune-c", sha))
    assert code == 0, out
    assert "not recorded: .github/workflows/evil.yml" in out and "not recorded: mlops.yaml" in out
    assert fake_github.file(REPO, "tune-c", "metrics.json") == '{"accuracy": 0.97}\n'
    assert fake_github.file(REPO, "tune-c", "dvc.lock") == lock
    assert fake_github.file(REPO, "tune-c", ".github/workflows/evil.yml") is None
    assert fake_github.file(REPO, "tune-c", "mlops.yaml") is None


def test_a_refused_recording_still_posts_the_report_and_says_why(
    fake_github: FakeGitHub, params_pr: tuple[int, str], tmp_path: Path
) -> None:
    """The comment job without contents: write: reviewers still get the report, with one line on why
    the run was not recorded, and the job fails so the missing grant is noticed."""
    number, sha = params_pr
    fake_github.fail("POST", r"/git/blobs", count=5, kind="permission", permissions="contents=write")
    code, out = record(fake_github, tmp_path, locks(tmp_path, {"dvc.lock": NEW_LOCK}), (REPO, "tune-c", sha))
    assert code == 1, out
    assert "recording the run on PR #1" in out and "403" in out and "contents" in out
    assert fake_github.token not in out
    (body,) = bot_comments(fake_github, number)
    assert "could not record this run" in body
    assert fake_github.head_commit(REPO, "tune-c").sha == sha
