"""monitoring.validate.validate_data: the report as asked for on stdout, or in a file with the
short text summary on stdout; a failing check is exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops.errors import UsageError
from mlops_gitops.monitoring.validate import validate_data
from tests.parts import data_checks_project

CHECKS = """\
    - path: data/train.csv
      columns:
        age: {type: int, min: 0, max: 120}
"""


def project(tmp_path: Path, rows: str) -> str:
    return str(data_checks_project(tmp_path, CHECKS, {"data/train.csv": "age\n" + rows}))


def test_text_on_stdout_and_the_exit_code(tmp_path: Path) -> None:
    result = validate_data(project(tmp_path, "30\n40\n"))
    assert result.stdout.endswith("validate-data: all 1 files passed\n")
    assert (result.exit_code, result.outputs, result.stderr) == (0, {}, ())


def test_json_to_a_file_keeps_the_text_summary_on_stdout(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = validate_data(project(tmp_path, "30\n400\n"), "json", str(out))
    assert result.exit_code == 1
    assert json.loads(out.read_text())["passed"] is False
    assert result.stdout.startswith("FAIL data/train.csv") and not result.stdout.startswith("{")
    assert json.loads(validate_data(str(tmp_path / "mlops.yaml"), "json").stdout)["passed"] is False


def test_a_path_no_check_covers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no data check in .* covers this path"):
        validate_data(project(tmp_path, "1\n"), paths=(str(tmp_path / "elsewhere.csv"),))
