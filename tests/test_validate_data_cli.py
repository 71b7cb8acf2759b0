"""`mlops-gitops validate-data` end to end: real files, real manifest, exit codes, text and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.cli import main
from tests.parts import data_checks_project

CHECKS = """\
    - path: data/train.csv
      min_rows: 2
      unique: [id]
      segments: [region]
      columns:
        id: {type: int, unique: true}
        age: {type: int, min: 0, max: 120}
        region: {type: string, allowed: [eu, us]}
    - path: data/events
      columns:
        kind: {type: string, not_empty: true}
"""


def project(tmp_path: Path, train: str = "id,age,region\n1,30,eu\n2,40,us\n") -> Path:
    events = {"data/events/a.jsonl": '{"kind": "click"}\n', "data/events/b.jsonl": '{"kind": "view"}\n'}
    data_checks_project(tmp_path, CHECKS, {"data/train.csv": train, **events})
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["validate-data", "--manifest", str(root / "mlops.yaml"), *args]) or 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_clean_data_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, project(tmp_path))
    assert code == 0, out
    assert "ok   data/train.csv: 2 rows" in out
    assert "ok   data/events/a.jsonl: 1 row," in out
    assert "segments by region: eu: 1, us: 1" in out
    assert out.endswith("validate-data: all 3 files passed\n")


def test_failures_exit_1_with_rows_lines_and_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, "id,age,region\n1,30,eu\n1,-5,mars\n3,200,us\n")
    code, out, _ = run(capsys, root)
    assert code == 1
    assert "FAIL data/train.csv: 3 rows, 4 of 12 checks failed" in out
    assert (
        "  - id: unique: 2 bad rows: values occur more than once\n      row 1 (line 2): 1\n      row 2 (line 3): 1\n"
        in out
    )
    assert (
        "  - age: range: 2 bad rows: values outside [0, 120]\n      row 2 (line 3): -5\n      row 3 (line 4): 200\n"
        in out
    )
    assert (
        '  - region: allowed: 1 bad row: values outside the allowed set ["eu", "us"]\n      row 2 (line 3): "mars"\n'
        in out
    )
    assert out.endswith("validate-data: 1 of 3 files failed\n")


def test_json_report_has_the_documented_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, "id,age,region\n1,30,eu\n2,-5,us\n")
    out_file = root / ".mlops" / "data-validation.json"
    code, out, _ = run(capsys, root, "--format", "json", "--output", str(out_file))
    assert code == 1
    assert "FAIL data/train.csv" in out  # the CI log still shows what failed
    report = json.loads(out_file.read_text(encoding="utf-8"))
    assert set(report) == {"passed", "files"} and report["passed"] is False
    train = report["files"][0]
    assert set(train) == {"path", "format", "rows", "passed", "checks", "segments"}
    assert (train["path"], train["format"], train["rows"], train["passed"]) == (
        "data/train.csv",
        "csv",
        2,
        False,
    )
    for check in train["checks"]:
        assert set(check) == {"check", "column", "passed", "bad_rows", "message", "examples"}
    age = next(c for c in train["checks"] if c["check"] == "range")
    assert age == {
        "check": "range",
        "column": "age",
        "passed": False,
        "bad_rows": 1,
        "message": "values outside [0, 120]",
        "examples": [{"row": 2, "value": -5, "line": 3}],
    }
    assert train["segments"] == {"region": {"eu": 1, "us": 1}}
    assert [f["path"] for f in report["files"]] == [
        "data/train.csv",
        "data/events/a.jsonl",
        "data/events/b.jsonl",
    ]
    code, out, _ = run(capsys, root, "--format", "json")
    assert json.loads(out) == report


def test_paths_select_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, "id,age,region\n1,-1,eu\n2,1,us\n")
    code, out, _ = run(capsys, root, str(root / "data" / "events" / "b.jsonl"))
    assert code == 0 and "data/events/b.jsonl" in out and "train.csv" not in out
    code, _, err = run(capsys, root, str(root / "other.csv"))
    assert code == 2
    assert "no data check in" in err and "(checked paths: data/train.csv, data/events)" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "data/train.csv: the file is empty (no header, no rows)"),
        (b"PAR1\x00\x01\x02junk", "data/train.csv: looks like a Parquet file, not CSV"),
        (bytes(range(256)), "data/train.csv: binary content (NUL byte at offset 0)"),
    ],
)
def test_unreadable_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    root = project(tmp_path)
    (root / "data" / "train.csv").write_bytes(content)
    code, out, err = run(capsys, root)
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert "Traceback" not in out + err


def test_header_only_file_fails_min_rows_not_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, project(tmp_path, "id,age,region\n"))
    assert code == 1
    assert "rows: 0 rows, fewer than min_rows 2" in out


def test_installed_command_on_csv_named_parquet(tmp_path: Path) -> None:
    """Through the real entry point: a wrong extension is one line on stderr and exit 2."""
    (tmp_path / "mlops.yaml").write_text(
        "version: 1\nproject: {name: demo}\nstages:\n  train: {cmd: x}\ndata:\n  checks:\n    - path: d.parquet\n",
        encoding="utf-8",
    )
    (tmp_path / "d.parquet").write_text("a,b\n1,2\n", encoding="utf-8")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "mlops-gitops"), "validate-data"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == "d.parquet: not a Parquet file (no PAR1 magic bytes); it holds text\n"


@pytest.mark.slow
def test_data_dvc_tracks_is_pulled_before_it_is_checked(tmp_path: Path) -> None:
    """Hand-owned pipelines validate in a workflow step before `dvc repro`, on a fresh checkout where
    DVC-tracked data is not there yet: it is pulled from the remote first."""
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*dvc, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*dvc, "remote", "add", "-d", "s", str(tmp_path / "remote")], cwd=tmp_path, check=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/train.csv").write_text("id,age,region\n1,30,eu\n2,400,us\n")
    subprocess.run([*dvc, "add", "-q", "data/train.csv"], cwd=tmp_path, check=True)
    subprocess.run([*dvc, "push", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "data/train.csv").unlink()
    (tmp_path / "mlops.yaml").write_text(
        "version: 1\nproject: {name: demo}\npipelines: [dvc.yaml]\n"
        "data:\n  checks:\n    - path: data/train.csv\n      columns: {age: {type: int, max: 120}}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "validate-data"], cwd=tmp_path, capture_output=True, text=True
    )
    assert (tmp_path / "data/train.csv").is_file(), proc.stderr
    assert proc.returncode == 1 and "age: range: 1 bad row" in proc.stdout, proc.stdout + proc.stderr
