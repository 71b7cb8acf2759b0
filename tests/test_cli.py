"""The command line's contract: exit codes 0/1/2/3, one line per error, a crash log for bugs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops import cli, errors


def test_a_bug_is_one_line_exit_3_and_a_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret123456")

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("the token ghs_secret123456 leaked into a message")

    monkeypatch.setattr("mlops_gitops.generation.generate.generate", broken)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["generate", "--dir", str(tmp_path)])
    assert exit_info.value.code == errors.EXIT_INTERNAL == 3
    err = capsys.readouterr().err
    log = tmp_path / "cache" / "mlops-gitops" / "mlops-gitops.log"
    assert err.splitlines() == [
        "internal error: ZeroDivisionError: the token *** leaked into a message; "
        f"details in {log}, please report it"
    ]
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text
    assert "ghs_secret123456" not in text and "argv: ['generate'" in text


def test_user_errors_keep_their_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate", str(tmp_path / "missing.yaml")])
    assert exit_info.value.code == errors.EXIT_BAD_INPUT
    assert "run `mlops-gitops init`" in capsys.readouterr().err
    assert errors.CheckFailed.exit_code == errors.EXIT_CHECK_FAILED == 1
    assert errors.GitHubError.exit_code == 1


def test_no_command_module_imports_another() -> None:
    """Commands parse, call and print; shared logic lives below them."""
    import ast

    commands = Path(cli.__file__).parent / "commands"
    for module in commands.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("mlops_gitops.commands")
            ):
                assert node.module == "mlops_gitops.commands.options", f"{module.name} imports {node.module}"
