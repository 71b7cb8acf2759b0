"""`mlops-gitops report` as a user and a workflow run it: exit codes, files, GitHub Actions outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MANIFEST = """\
version: 1
project: {name: demo}
stages:
  train:
    cmd: python train.py
    metrics:
      - metrics.json: {cache: false}
metrics:
  gates:
    - {metric: acc, min: 0.8}
    - {metric: per_class.*.recall, min: 0.5}
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # git identity comes from tests/conftest.py
    monkeypatch.setenv("HOME", str(tmp_path))
    for k in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(k, raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "mlops.yaml").write_text(MANIFEST)
    (root / "metrics.json").write_text(json.dumps({"acc": 0.9, "per_class": {"a": {"recall": 0.9}}}))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from mlops_gitops.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "report", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_pass_prints_markdown_and_exits_0(project: Path) -> None:
    proc = run(project, "--base", "main")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("<!-- mlops-gitops:pr-report project=demo -->\n✅ **Pass**")


def test_failing_gate_exits_1_and_writes_files(project: Path) -> None:
    (project / "metrics.json").write_text(json.dumps({"acc": 0.7, "per_class": {"a": {"recall": 0.2}}}))
    proc = run(
        project,
        "--base",
        "main",
        "--output",
        "out/report.md",
        "--json-output",
        "out/report.json",
        "--note",
        "could not reproduce",
    )
    assert proc.returncode == 1 and proc.stdout == ""
    md = (project / "out/report.md").read_text()
    assert "> could not reproduce" in md
    data = json.loads((project / "out/report.json").read_text())
    assert data["failed"] == [
        "metrics.json: acc: 0.7 < min 0.8",
        "metrics.json: per_class.a.recall: 0.2 < min 0.5",
    ]


def test_text_and_json_formats(project: Path) -> None:
    proc = run(project, "--base", "main", "--format", "text")
    assert (
        proc.returncode == 0 and proc.stdout.startswith("PASS  demo: main (") and "\x1b[" not in proc.stdout
    )
    proc = run(project, "--base", "main", "--head", "HEAD", "--format", "json")
    assert json.loads(proc.stdout)["verdict"] == "pass"


def test_bad_input_is_one_line_exit_2(project: Path) -> None:
    proc = run(project, "--base", "nope")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "unknown revision 'nope'" in proc.stderr
    # A metrics file that does not parse is the report's news, not bad input: the report is still
    # written, names the file and line, and the verdict is not a pass.
    (project / "metrics.json").write_text('{"acc": 0.9,,}')
    proc = run(project, "--base", "main")
    assert proc.returncode == 1 and proc.stderr == ""
    assert (
        "metrics.json:1:13: invalid JSON at workspace" in proc.stdout and "**Not available**" in proc.stdout
    )
    proc = run(project, "--base", "main", "--manifest", "missing.yaml")
    assert proc.returncode == 2 and "missing.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_github_actions_summary_outputs_and_annotations(project: Path, tmp_path: Path) -> None:
    (project / "metrics.json").write_text(json.dumps({"acc": 0.7, "per_class": {"a": {"recall": 0.9}}}))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }
    proc = run(project, "--base", "main", "--output", "report.md", env=env)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "::error file=metrics.json,title=Gate failed%3A acc::metrics.json: acc: 0.7 < min 0.8"
    ]
    assert (tmp_path / "summary.md").read_text() == (project / "report.md").read_text()
    output = (tmp_path / "output").read_text()
    assert "verdict=fail\n" in output
    assert "failed=metrics.json: acc: 0.7 < min 0.8\n" in output  # one failure: a single line
    assert f"report-path={project / 'report.md'}\n" in output


def test_git_metrics_never_import_dvc(project: Path) -> None:
    """Once generate has recorded what the pipelines resolve to (.mlops/pipelines.yaml), a report on
    metrics committed to Git needs neither DVC nor the workflow templates."""
    subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "generate"], cwd=project, check=True, capture_output=True
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "generated")
    (project / ".git" / "mlops-gitops-facts.json").unlink(missing_ok=True)  # from the committed record
    code = (
        "import sys; from mlops_gitops.cli import main\n"
        "try:\n    main(['report', '--base', 'main', '--format', 'json'])\nexcept SystemExit:\n    pass\n"
        "print('DVC' if any(m == 'dvc' or m.startswith('dvc.') for m in sys.modules) else 'NO-DVC',"
        " 'JINJA' if 'jinja2' in sys.modules else 'NO-JINJA')"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True)
    assert proc.stdout.strip().splitlines()[-1] == "NO-DVC NO-JINJA", proc.stderr


def test_reproduced_dvc_lock_that_differs_from_the_commit_is_flagged(project: Path) -> None:
    lock = "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n"
    (project / "dvc.lock").write_text(lock)
    git(project, "add", "dvc.lock")
    git(project, "commit", "-q", "-m", "lock")
    clean = run(project, "--base", "main")
    assert clean.returncode == 0 and "does not match the pipeline reproduced here" not in clean.stdout
    (project / "dvc.lock").write_text(lock + "    outs:\n    - path: model.pkl\n      md5: 1234\n")
    stale = run(project, "--base", "main")
    assert stale.returncode == 0, "a stale lock warns; it is not a gate"
    assert (
        "> [!WARNING]\n> `dvc.lock` in this commit does not match the pipeline reproduced here"
        in stale.stdout
    )
    assert json.loads(run(project, "--base", "main", "--format", "json").stdout)["stale_lock"] is True
    # Comparing two commits says nothing about the work tree.
    assert (
        json.loads(run(project, "--base", "main", "--head", "HEAD", "--format", "json").stdout)["stale_lock"]
        is False
    )


def test_output_that_cannot_be_written_is_bad_input_in_one_line(project: Path) -> None:
    """Exit 1 means a gate failed; an unwritable --output is the user's input: one line, exit 2."""
    (project / "blocker").write_text("a file where a directory is needed\n")
    proc = run(project, "--base", "main", "--output", "blocker/report.md")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "blocker/report.md: cannot write the report: blocker is not a directory"
    ]
    assert "Traceback" not in proc.stderr
