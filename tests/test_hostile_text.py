"""Hostile text from the repository and its data, end to end against the fake GitHub over real HTTP.

A commit subject, metric and param names, a string metric, dvc.lock paths and params, the deployment
file's current value, data-validation results and production data values all carry a team mention,
closing keywords, raw HTML and Markdown links. Whatever ``report`` + ``comment``, ``promote`` and
``monitor`` send to GitHub (comment, PR title and body, commit message, issue title and body, closing
comment) must mention, reference, close, render and link nothing, and still read as written.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from mlops_gitops.cli import main
from mlops_gitops.delivery import promotion
from mlops_gitops.errors import UsageError
from tests.fakegithub import FakeGitHub, env_for
from tests.inert import live, problems, visible

REPO = "acme/models"
SUBJECT = "Tune @acme/ml-team closes #12 <img src=x onerror=alert(1)> [x](https://evil.example)"
METRIC = "fixes acme/models#3 @acme/ml-team <details>"
STRING_METRIC = '<a href="https://evil.example">Approve</a> ![t](https://tracker.example/p.gif)'
PARAM = "@acme/ml-team Resolves: #4"
PARAM_VALUE = "<script>alert(1)</script> closes https://github.com/acme/models/issues/5"
NOTE = "ping @acme/oncall <b>now</b>"
DATA_PATH = "data/@acme/ml-team <img src=x onerror=alert(1)>.csv"
DATA_COLUMN = "species [x](https://evil.example)"
DATA_VALUE = "fixed #6 <img src=x onerror=alert(2)>"
# Every attacker word that must still be readable somewhere in the body it went to.
WORDS = ["@acme/ml-team", "closes #12", "<img src=x onerror=alert(1)>", "[x](https://evil.example)"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def run(root: Path, *args: str) -> int:
    try:
        return main([*args, "--manifest", str(root / "mlops.yaml")]) or 0
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # cli.main logs a bug's traceback under ~/.cache
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)


def github_env(monkeypatch: pytest.MonkeyPatch, fake: FakeGitHub, actions: bool = False) -> None:
    for name, value in env_for(fake, REPO).items():
        monkeypatch.setenv(name, value)
    if actions:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")


def assert_inert(body: str | None, *words: str) -> None:
    """No live mention, reference or closing keyword; no foreign HTML, link or image; still readable."""
    assert body, "nothing was sent"
    assert problems(body) == [], body
    seen = visible(body)
    for word in words:
        assert word in seen, f"{word!r} is no longer readable in:\n{body}"


def assert_everything_sent_is_inert(fake: FakeGitHub) -> None:
    """Every title, body and commit message of every write the fake received."""
    sent = 0
    for request in fake.writes():
        payload = request.body if isinstance(request.body, dict) else {}
        for key in ("title", "body", "message"):
            if isinstance(payload.get(key), str):
                sent += 1
                assert live(payload[key]) == [], (request.method, request.path, key, payload[key])
    assert sent, "no text was sent"


# --- report, then comment ---------------------------------------------------------------------------

REPORT_MANIFEST = f"""\
version: 1
project: {{name: demo}}
stages:
  train:
    cmd: python train.py
    metrics:
      - metrics.json: {{cache: false}}
metrics:
  gates:
    - {{metric: acc, min: 0.8}}
    - {{metric: {json.dumps(METRIC)}, min: 0.5}}
data:
  checks:
    - path: data.csv
      columns: {{species: {{allowed: [a, b]}}}}
"""


def write_metrics(root: Path, acc: float, hostile: float, model: str, param: str) -> None:
    (root / "metrics.json").write_text(json.dumps({"acc": acc, METRIC: hostile, "model": model}))
    (root / "params.yaml").write_text(json.dumps({"train": {PARAM: param, "lr": 0.1}}))


@pytest.fixture
def hostile_pr(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "mlops.yaml").write_text(REPORT_MANIFEST)
    write_metrics(root, 0.9, 0.9, "rf", "old")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    write_metrics(root, 0.91, 0.8, "rf", "old")
    git(root, "commit", "-qam", "second")
    git(root, "checkout", "-qb", "feature")
    write_metrics(root, 0.92, 0.4, STRING_METRIC, PARAM_VALUE)
    (root / ".mlops").mkdir()
    check = {
        "check": "allowed",
        "column": DATA_COLUMN,
        "passed": False,
        "bad_rows": 1,
        "message": f"not one of a, b: {DATA_VALUE}",
        "examples": [{"row": 2, "line": 3, "value": DATA_VALUE}],
    }
    validation = {
        "passed": False,
        "files": [
            {"path": DATA_PATH, "format": "csv", "rows": 3, "passed": False, "checks": [check]},
        ],
    }
    (root / ".mlops/data-validation.json").write_text(json.dumps(validation))
    git(root, "add", "-A")
    git(root, "commit", "-qm", SUBJECT)
    return root


def test_report_comment_is_inert_and_readable(
    hostile_pr: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "report.md"
    code = run(hostile_pr, "report", "--base", "main", "--head", "HEAD", "--output", str(out), "--note", NOTE)
    assert code == 1  # the hostile gate and the data check fail
    report = out.read_text(encoding="utf-8")
    assert report.startswith("<!-- mlops-gitops:pr-report project=demo -->\n")
    assert "```mermaid" in report and "### Changed params" in report and "### Data validation" in report

    fake_github.add_repo(REPO)
    pr = fake_github.add_pull(REPO, "feature")
    github_env(monkeypatch, fake_github)
    assert main(["comment", "--report", str(out), "--pr", str(pr)]) == 0
    (comment,) = fake_github.comments(REPO, pr)
    assert comment.body.startswith("<!-- mlops-gitops:pr-report project=demo -->\n❌ **Fail**")
    assert_inert(
        comment.body,
        *WORDS,
        METRIC,
        STRING_METRIC[:57],  # string values are cut at 60 characters
        PARAM,
        PARAM_VALUE[:57],
        NOTE,
        DATA_PATH,
        DATA_COLUMN,
        DATA_VALUE,
    )
    assert_everything_sent_is_inert(fake_github)


def test_a_forged_report_artifact_mentions_nothing(
    fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In CI the report is an artifact a fork's run may have written: the comment defangs it whole."""
    forged = tmp_path / "report.md"
    forged.write_text(f"<!-- mlops-gitops:pr-report project=demo -->\n{SUBJECT}\nfixes acme/models#3\n")
    fake_github.add_repo(REPO)
    pr = fake_github.add_pull(REPO, "feature")
    github_env(monkeypatch, fake_github)
    assert main(["comment", "--report", str(forged), "--pr", str(pr)]) == 0
    (comment,) = fake_github.comments(REPO, pr)
    assert live(comment.body) == [] and comment.body.startswith(
        "<!-- mlops-gitops:pr-report project=demo -->\n"
    )
    assert "@acme/ml-team" in visible(comment.body)


# --- promote ----------------------------------------------------------------------------------------

PROMOTE_MANIFEST = f"""\
version: 1
project:
  name: iris
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
    - metric: accuracy
      min: 0.8
    - metric: {json.dumps(METRIC)}
      min: 0.5
deploy:
  model:
    name: iris-clf
    path: models/model.pkl
  environments:
    - name: staging
      file: deploy/staging/isvc.yaml
      field: spec.storageUri
      value: s3://models/iris/{{model_hash}}
"""

LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: {dep}
      md5: 0123456789abcdef0123456789abcdef
      size: 10
    params:
      params.yaml:
        {param}: {value}
    outs:
    - path: models
      md5: {md5}.dir
      size: 20
      nfiles: 1
"""
OLD_VALUE = "fixes #12 @acme/ml-team <img src=x onerror=alert(1)> [x](https://evil.example)"
DEPLOYED = f"spec:\n  storageUri: {json.dumps(OLD_VALUE)}\n"
REASON = "hotfix for @acme/ml-team, closes #12 <img src=x onerror=alert(1)>"


def commit_model(root: Path, md5: str, hostile: float, subject: str) -> None:
    lock = LOCK.format(
        dep=json.dumps(DATA_PATH), param=json.dumps(PARAM), value=json.dumps(PARAM_VALUE), md5=md5
    )
    (root / "dvc.lock").write_text(lock)
    (root / "metrics.json").write_text(json.dumps({"accuracy": 0.9, METRIC: hostile}))
    git(root, "add", "-A")
    git(root, "commit", "-qm", subject)


def test_promotion_pr_and_commit_are_inert_and_readable(
    tmp_path: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "mlops.yaml").write_text(PROMOTE_MANIFEST)
    commit_model(root, "0" * 32, 0.9, "first model")
    commit_model(root, "a" * 32, 0.4, SUBJECT)
    fake_github.add_repo(REPO, files={"deploy/staging/isvc.yaml": DEPLOYED})
    github_env(monkeypatch, fake_github)
    monkeypatch.chdir(root)

    assert run(root, "promote", "--env", "staging") == 1, "the hostile gate fails"
    assert fake_github.writes() == []
    assert run(root, "promote", "--env", "staging", "--force", "--reason", REASON) == 0

    (pr,) = fake_github.pulls(REPO)
    assert pr.title == "Promote iris-clf aaaaaaaa to staging"
    assert pr.body is not None
    assert pr.body.startswith("<!-- mlops-gitops:promotion project=iris env=staging model=iris-clf hash=")
    assert_inert(pr.body, *WORDS, OLD_VALUE, REASON, DATA_PATH, PARAM, PARAM_VALUE, METRIC)
    head = fake_github.head_commit(REPO, "mlops/promote/staging/iris-clf")
    assert live(head.message) == [] and head.message.startswith(pr.title)
    assert_everything_sent_is_inert(fake_github)


def test_title_and_commit_message_break_what_a_model_hash_could_say() -> None:
    """A hash is checked when read from dvc.lock; the title and commit message are defanged anyway."""
    identity = promotion.ModelIdentity("m", "m.pkl", "fixes #1", "closes #2 @acme/ml-team")
    assert live(promotion.title("prod", identity)) == []
    assert live(promotion.commit_message("prod", identity)) == []


@pytest.mark.parametrize("digest", ["fixes #1", "abc @acme/ml-team", "x`<img src=x>", "a -->b"])
def test_a_hash_that_is_not_a_hash_is_refused(digest: str) -> None:
    lock = {"stages": {"train": {"outs": [{"path": "m.pkl", "md5": digest}]}}}
    with pytest.raises(UsageError, match="is not a hash"):
        promotion.model_identity(lock, "m.pkl", "f" * 40, "m")


def test_cloud_hashes_are_hashes() -> None:
    for digest in ['"0x8DB1C2D3E4F5A6B"', "d41d8cd98f00b204e9800998ecf8427e-2", "CJiwmeW0ovwCEAE="]:
        lock = {"stages": {"train": {"outs": [{"path": "m.pkl", "etag": digest}]}}}
        assert promotion.model_identity(lock, "m.pkl", "f" * 40, "m").hash == digest


# --- monitor: the drift issue -----------------------------------------------------------------------

MONITOR_MANIFEST = """\
version: 1
project: {name: demo}
stages:
  train: {cmd: python train.py}
monitoring:
  logs: logs
  baseline: baseline.parquet
  prediction: pred
  segments: [region]
  timestamp: ts
  window: {rows: 1500}
"""
COLUMN = "plan <b>@acme/ml-team</b>"
REGIONS = ["@acme/ml-team", "closes #12 <img src=x onerror=alert(1)>"]
LABELS = ["[x](https://evil.example)", "fixes acme/models#3"]


def frame(n: int, *, shift: float, seed: int, start: dt.datetime) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "ts": pa.array([start + dt.timedelta(minutes=i) for i in range(n)]),
            "age": rng.normal(40 + shift, 10, n),
            COLUMN: rng.choice(["free", "<img src=x onerror=alert(1)>"], n, p=[0.7, 0.3]),
            "region": rng.choice(REGIONS, n),
            "pred": rng.choice(LABELS, n, p=[0.3 + shift / 100, 0.7 - shift / 100]),
        }
    )


def write_logs(root: Path, shift: float) -> None:
    shutil.rmtree(root / "logs", ignore_errors=True)
    (root / "logs").mkdir()
    pcsv.write_csv(frame(1500, shift=shift, seed=2, start=dt.datetime(2024, 3, 1)), root / "logs/a.csv")


def issue_texts(fake: FakeGitHub) -> list[Any]:
    return [i for i in fake.issues(REPO) if i.body.startswith("<!-- mlops-gitops:monitor project=demo -->")]


def test_drift_issue_and_closing_comment_are_inert_and_readable(
    tmp_path: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "monitored"
    root.mkdir()
    (root / "mlops.yaml").write_text(MONITOR_MANIFEST)
    pq.write_table(frame(3000, shift=0, seed=1, start=dt.datetime(2024, 1, 1)), root / "baseline.parquet")
    fake_github.add_repo(REPO)
    github_env(monkeypatch, fake_github, actions=True)

    write_logs(root, shift=25)
    assert run(root, "monitor", "--output", str(tmp_path / "drift.md")) == 1
    (issue,) = issue_texts(fake_github)
    assert issue.title == "Drift detected: demo" and issue.state == "open"
    assert_inert(issue.body, COLUMN, *REGIONS, *LABELS, "<img src=x onerror=alert(1)>")

    write_logs(root, shift=0)
    assert run(root, "monitor", "--output", str(tmp_path / "clear.md")) == 0
    (comment,) = fake_github.comments(REPO, issue.number)
    assert comment.body.startswith("Drift cleared")
    assert_inert(comment.body, COLUMN, *REGIONS)
    assert_everything_sent_is_inert(fake_github)


def test_a_forged_measurement_mentions_nothing(
    tmp_path: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--alert-from posts a file another job wrote: the issue body and closing comment are defanged."""
    root = tmp_path / "monitored"
    root.mkdir()
    (root / "mlops.yaml").write_text(MONITOR_MANIFEST)
    fake_github.add_repo(REPO)
    github_env(monkeypatch, fake_github, actions=True)
    handed = tmp_path / "handed"
    handed.mkdir()
    marker = "<!-- mlops-gitops:monitor project=demo -->"
    for drift in (True, False):
        (handed / "monitor.md").write_text(f"{marker}\n## {SUBJECT}\n", encoding="utf-8")
        logs = {"rows": 5, "start": "closes #12 @acme/ml-team", "end": "<img src=x onerror=alert(1)>"}
        (handed / "monitor.json").write_text(json.dumps({"drift": drift, "logs": logs}))
        assert run(root, "monitor", "--alert-from", str(handed)) == int(drift)
    (issue,) = issue_texts(fake_github)
    (comment,) = fake_github.comments(REPO, issue.number)
    assert live(issue.body) == [] and "@acme/ml-team" in visible(issue.body)
    assert_inert(comment.body.split("\n\n", 1)[0], "closes #12 @acme/ml-team", "<img src=x onerror=alert(1)>")
    assert_everything_sent_is_inert(fake_github)
