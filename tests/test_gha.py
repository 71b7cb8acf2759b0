"""GitHub Actions helpers: the file protocols and workflow-command escaping."""

from __future__ import annotations

import io
from pathlib import Path

from mlops_gitops.adapters import actions_runtime as gha


def test_outputs_single_and_multiline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"GITHUB_OUTPUT": str(out)}
    assert gha.set_outputs({"verdict": "pass"}, env)
    assert gha.set_outputs({"failed": "a: x\nb: y", "empty": ""}, env)
    text = out.read_text()
    assert text.startswith("verdict=pass\nfailed<<ghadelimiter_")
    delim = text.splitlines()[1].split("<<")[1]
    assert f"failed<<{delim}\na: x\nb: y\n{delim}\nempty=\n" in text
    assert not gha.set_outputs({"x": "y"}, {})  # outside a step: nothing written


def test_delimiter_never_occurs_in_value() -> None:
    value = "line\nghadelimiter_"
    entry = gha.format_output("v", value)
    delim = entry.split("\n")[0].split("<<")[1]
    assert delim not in value and entry.endswith(f"\n{delim}\n")


def test_annotation_escaping() -> None:
    stream = io.StringIO()
    line = gha.annotate("error", "50% worse\nsee: log", file="m,1.json", title="Gate: acc", stream=stream)
    assert line == "::error file=m%2C1.json,title=Gate%3A acc::50%25 worse%0Asee: log"
    assert stream.getvalue() == line + "\n"


def test_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    gha.append_summary("# one", env)
    gha.append_summary("# two\n", env)
    assert summary.read_text() == "# one\n# two\n"
    assert gha.in_actions({"GITHUB_ACTIONS": "true"}) and not gha.in_actions({})
