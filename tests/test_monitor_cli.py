"""`mlops-gitops monitor` end to end: real log files, exit codes, reports, the issue lifecycle
against the fake GitHub over real HTTP, and a DVC-tracked log directory pulled from a real remote."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from mlops_gitops.cli import main
from tests.fakegithub import FakeGitHub, env_for

REPO = "acme/models"
MARKER = "<!-- mlops-gitops:monitor project=demo -->"

MANIFEST = """\
version: 1
project: {{name: demo}}
stages:
  train: {{cmd: python train.py}}
monitoring:
  logs: logs
  baseline: baseline.parquet
  prediction: pred
  segments: [region]
  timestamp: ts
  window: {{rows: 1500}}
  on_drift: {{retrain: {retrain}}}
"""


def frame(n: int, *, shift: float = 0.0, yes: float = 0.3, seed: int = 0, start: dt.datetime) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "ts": pa.array([start + dt.timedelta(minutes=i) for i in range(n)]),
            "age": rng.normal(40 + shift, 10, n),
            "plan": rng.choice(["free", "pro"], n, p=[0.7, 0.3]),
            "region": rng.choice(["eu", "us"], n),
            "pred": rng.choice(["yes", "no"], n, p=[yes, 1 - yes]),
        }
    )


def project(tmp_path: Path, retrain: bool = False) -> Path:
    (tmp_path / "mlops.yaml").write_text(MANIFEST.format(retrain=str(retrain).lower()), encoding="utf-8")
    pq.write_table(frame(3000, seed=1, start=dt.datetime(2024, 1, 1)), tmp_path / "baseline.parquet")
    write_logs(tmp_path, shift=0.0)
    return tmp_path


def write_logs(root: Path, *, shift: float, yes: float = 0.3, seed: int = 2) -> None:
    logs = root / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    # an old file that drifted long ago: outside the window, it must not count
    pcsv.write_csv(frame(1000, shift=30, seed=9, start=dt.datetime(2024, 2, 1)), logs / "2024-02.csv")
    pcsv.write_csv(
        frame(1500, shift=shift, yes=yes, seed=seed, start=dt.datetime(2024, 3, 1)), logs / "2024-03.csv"
    )


def run(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["monitor", "--manifest", str(root / "mlops.yaml"), *args]) or 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def outside_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_TOKEN", "GITHUB_STEP_SUMMARY", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)


def test_no_drift_exits_0_with_marked_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path)
    code, out, _ = run(capsys, root, "--json-output", str(root / "drift.json"))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "## ✅ No drift: demo"
    assert (
        "Window: last 1500 rows of `logs` (1500 of 2500 rows, 2024-03-01T00:00:00Z to 2024-03-02T00:59:00Z)"
        in out
    )
    report = json.loads((root / "drift.json").read_text(encoding="utf-8"))
    assert report["drift"] is False
    assert report["features"] == {"numeric": ["age"], "categorical": ["plan", "region"]}
    assert [g["segment"] for g in report["groups"]] == [
        None,
        {"column": "region", "value": "eu"},
        {"column": "region", "value": "us"},
    ]
    assert report["alert"] is None


def test_drift_exits_1_and_names_the_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path)
    write_logs(root, shift=8, yes=0.6)
    code, out, _ = run(capsys, root, "--format", "json", "--output", str(root / "r.json"))
    assert code == 1
    report = json.loads((root / "r.json").read_text(encoding="utf-8"))
    overall = report["groups"][0]
    age = next(f for f in overall["features"] if f["feature"] == "age")
    assert age["drift"] and age["psi"] > 0.2 and age["ks_pvalue"] < 1e-10
    assert overall["predictions"]["drift"]
    assert all(g["drift"] for g in report["groups"])
    code, out, _ = run(capsys, root)
    assert out.splitlines()[1] == "## 🔴 Drift detected: demo"
    assert "| region = eu |" in out and "prediction share: " in out


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path)
    shutil.rmtree(root / "logs")
    code, _, err = run(capsys, root)
    assert (code, err) == (2, "logs: no such file or directory\n")
    write_logs(root, shift=0)
    (root / "baseline.parquet").write_text("age\n1\n", encoding="utf-8")
    code, _, err = run(capsys, root)
    assert code == 2 and "baseline.parquet: not a Parquet file" in err
    (root / "mlops.yaml").write_text(
        "version: 1\nproject: {name: demo}\nstages:\n  t: {cmd: x}\n", encoding="utf-8"
    )
    code, _, err = run(capsys, root)
    assert code == 2 and "no monitoring section" in err


def in_actions(monkeypatch: pytest.MonkeyPatch, fake: FakeGitHub) -> None:
    for name, value in env_for(fake, REPO).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")


def test_issue_lifecycle_with_retrain(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_github: FakeGitHub,
) -> None:
    fake_github.add_repo(REPO)
    for i in range(120):  # our labels on other issues: the marked one is on the second page
        fake_github.add_issue(REPO, f"other {i}", "not ours", labels=["mlops-gitops", "drift"])
    root = project(tmp_path, retrain=True)
    in_actions(monkeypatch, fake_github)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    write_logs(root, shift=8)
    code, _, _ = run(capsys, root, "--json-output", str(root / "r.json"))
    assert code == 1
    ours = [i for i in fake_github.issues(REPO) if i.body.startswith(MARKER)]
    assert len(ours) == 1 and ours[0].state == "open" and ours[0].title == "Drift detected: demo"
    assert set(ours[0].labels) == {"mlops-gitops", "drift"}
    assert fake_github.dispatches == [
        {"repo": REPO, "workflow": "mlops-train.yml", "ref": "main", "inputs": {"reason": "drift"}}
    ]
    alert = json.loads((root / "r.json").read_text(encoding="utf-8"))["alert"]
    assert alert == {
        "issue": "created",
        "number": ours[0].number,
        "url": alert["url"],
        "retrain_dispatched": True,
    }
    assert summary.read_text(encoding="utf-8").startswith(MARKER)

    write_logs(root, shift=12, seed=3)  # still drifting, different numbers
    code, _, _ = run(capsys, root)
    assert code == 1
    ours = [i for i in fake_github.issues(REPO) if i.body.startswith(MARKER)]
    assert len(ours) == 1 and ours[0].state == "open"
    assert len(fake_github.dispatches) == 1  # one retrain per drift episode

    write_logs(root, shift=0)
    code, _, _ = run(capsys, root)
    assert code == 0
    closed = fake_github.issues(REPO, "closed")
    assert [i.number for i in closed] == [ours[0].number]
    comments = fake_github.comments(REPO, ours[0].number)
    assert len(comments) == 1 and comments[0].body.startswith("Drift cleared: no threshold is breached")

    writes = len(fake_github.writes())
    code, _, _ = run(capsys, root)
    assert code == 0 and len(fake_github.writes()) == writes  # nothing open, nothing to do


def test_no_github_flag_and_missing_token(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_github: FakeGitHub,
) -> None:
    fake_github.add_repo(REPO)
    root = project(tmp_path)
    write_logs(root, shift=8)
    in_actions(monkeypatch, fake_github)
    code, _, _ = run(capsys, root, "--no-github")
    assert code == 1 and fake_github.requests == []
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = run(capsys, root)
    assert code == 1 and "::warning title=mlops-gitops monitor::GITHUB_TOKEN is not set" in err


def test_github_refusal_is_one_line_without_the_token(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_github: FakeGitHub,
) -> None:
    fake_github.add_repo(REPO)
    fake_github.fail("POST", r"/issues$", count=1, kind="permission", permissions="issues=write")
    root = project(tmp_path)
    write_logs(root, shift=8)
    in_actions(monkeypatch, fake_github)
    code, _, err = run(capsys, root)
    assert code == 1
    assert (
        err.count("\n") == 1
        and "opening or updating the drift issue" in err
        and "the token lacks `issues: write`" in err
    )
    assert fake_github.token not in err


@pytest.mark.slow
def test_dvc_tracked_logs_are_pulled_when_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path)
    remote = tmp_path.parent / f"{tmp_path.name}-remote"

    def sh(*cmd: str) -> None:
        subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True)

    sh("git", "init", "-q")
    sh("dvc", "init", "-q")
    sh("dvc", "remote", "add", "-d", "store", str(remote))
    sh("dvc", "add", "-q", "logs")
    sh("dvc", "push", "-q")
    shutil.rmtree(root / "logs")
    shutil.rmtree(root / ".dvc" / "cache")
    code, out, err = run(capsys, root)
    assert code == 0, err
    assert (root / "logs" / "2024-03.csv").is_file()
    assert out.startswith(MARKER)


def test_measure_then_alert_from_the_artifact(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_github: FakeGitHub,
) -> None:
    """The generated workflow's split: a read-only job measures (--no-github), a minimal job holding
    issues: write posts from its files (--alert-from) without pyarrow, SciPy or DVC."""
    fake_github.add_repo(REPO)
    root = project(tmp_path, retrain=True)
    write_logs(root, shift=8)
    out = tmp_path / "artifact"
    out.mkdir()
    code, _, _ = run(
        capsys,
        root,
        "--no-github",
        "--output",
        str(out / "monitor.md"),
        "--json-output",
        str(out / "monitor.json"),
    )
    assert code == 1 and fake_github.requests == []
    in_actions(monkeypatch, fake_github)
    code, stdout, _ = run(capsys, root, "--alert-from", str(out))
    assert code == 1 and "drift issue: created, training dispatched" in stdout
    (issue,) = [i for i in fake_github.issues(REPO) if i.body.startswith(MARKER)]
    assert issue.body == (out / "monitor.md").read_text()
    assert len(fake_github.dispatches) == 1


def test_alert_from_refuses_a_report_of_another_project_or_a_bad_verdict(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_github: FakeGitHub,
) -> None:
    fake_github.add_repo(REPO)
    root = project(tmp_path)
    in_actions(monkeypatch, fake_github)
    out = tmp_path / "artifact"
    out.mkdir()
    (out / "monitor.md").write_text("<!-- mlops-gitops:monitor project=other -->\nhi\n")
    (out / "monitor.json").write_text('{"drift": false}')
    code, _, err = run(capsys, root, "--alert-from", str(out))
    assert code == 2 and "not a monitoring report of project demo" in err
    (out / "monitor.md").write_text(f"{MARKER}\nhi\n")
    (out / "monitor.json").write_text('{"drift": "yes"}')
    code, _, err = run(capsys, root, "--alert-from", str(out))
    assert code == 2 and "'drift' must be true or false" in err
    assert fake_github.writes() == []


def test_alert_from_does_not_import_the_data_stack(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = project(tmp_path)
    out = tmp_path / "artifact"
    out.mkdir()
    (out / "monitor.md").write_text(f"{MARKER}\nfine\n")
    (out / "monitor.json").write_text('{"drift": false, "logs": {"rows": 3}}')
    code = (
        "import atexit, sys; from mlops_gitops.cli import main;"
        "atexit.register(lambda: print([m for m in ('pyarrow', 'scipy', 'dvc', 'numpy') if m in sys.modules]));"
        "sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "monitor",
            "--manifest",
            str(root / "mlops.yaml"),
            "--alert-from",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": "", "HOME": str(tmp_path)},
    )
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout + proc.stderr
