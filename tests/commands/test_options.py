"""commands.options.show: how every command prints the result its flow returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlops_gitops.commands.options import show


@dataclass(frozen=True)
class Result:
    stdout: str = ""
    stderr: tuple[str, ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0


def test_stdout_as_written_stderr_by_line_and_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert show(Result("no final newline", ("one", "two"), exit_code=1)) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("no final newline", "one\ntwo\n")
    assert show(Result()) == 0
    assert capsys.readouterr() == ("", "")


def test_step_outputs_go_to_github_output_only_when_there_are_some(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    show(Result())
    assert not target.exists()
    show(Result(outputs={"retrain": "true", "failed": "a\nb"}))
    text = target.read_text()
    assert text.startswith("retrain=true\nfailed<<ghadelimiter_") and "\na\nb\n" in text
