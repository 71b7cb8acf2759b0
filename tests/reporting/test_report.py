"""reporting.report: what ``report`` prints (the report unless it went to a file, then the
annotations GitHub Actions reads), its exit code, and the checks made before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Gate
from mlops_gitops.metrics.collect import Revision
from mlops_gitops.metrics.compare import Comparison, Failure, GateOutcome
from mlops_gitops.reporting.report import Reported, render, report


def comparison(failing: bool = False) -> Comparison:
    gates = []
    if failing:
        gate = Gate("acc", None, None, "higher", 0.8, None, None, None, True)
        gates = [GateOutcome(gate, failures=[Failure("metrics.json", "acc", "0.7 < min 0.8")])]
    return Comparison(
        "demo", Revision("main", "a" * 40), Revision("workspace", None), ["metrics.json"], [], gates
    )


def test_the_report_is_printed_once_with_exactly_one_final_newline() -> None:
    assert Reported(comparison(), "# report\n").stdout == "# report\n"
    assert Reported(comparison(), "# report").stdout == "# report\n"
    assert Reported(comparison(), "# report\n\n").stdout == "# report\n\n"


def test_a_report_written_to_a_file_prints_only_the_annotations() -> None:
    notes = ("::error file=metrics.json,title=Gate failed: acc::acc: 0.7 < min 0.8",)
    result = Reported(comparison(failing=True), None, notes, {"verdict": "fail"})
    assert result.stdout == notes[0] + "\n"
    assert (result.outputs, result.exit_code) == ({"verdict": "fail"}, 1)
    assert Reported(comparison(), "x\n", notes).stdout == "x\n" + notes[0] + "\n"
    assert Reported(comparison(), None).stdout == "" and Reported(comparison(), None).exit_code == 0


def test_render_picks_the_format() -> None:
    c = comparison()
    assert render(c, "markdown").startswith("<!-- mlops-gitops:pr-report project=demo -->")
    assert render(c, "json").lstrip().startswith("{")
    assert "\x1b[" not in render(c, "text") and "\x1b[" in render(c, "text", color=True)


def test_bad_input_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no such manifest \(pass --manifest PATH\)"):
        report(str(tmp_path / "mlops.yaml"), "HEAD")
    with pytest.raises(UsageError):
        report(str(tmp_path / "mlops.yaml"), "HEAD", artifact_url="javascript:alert(1)")
