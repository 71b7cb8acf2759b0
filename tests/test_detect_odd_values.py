"""What init reads from a project's own files is the project's to write: a value of an unexpected
type (a string where a table belongs, a scalar where a mapping belongs) is no signal, never a crash."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlops_gitops.adoption.detect import NO_VERSION, Install, detect, install_command, python_version

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


PACKAGE = Install("python -m pip install .", ("pyproject.toml",), "pyproject.toml")


@pytest.mark.parametrize(
    ("pyproject", "install"),
    [
        ('project = "x"\n', Install(None)),
        ("tool = 1\n", Install(None)),
        ("[tool]\npoetry = [1, 2]\n", Install(None)),
        ("[tool.poetry]\ndependencies = 3\n", PACKAGE),  # a Poetry table: the package installs
        ('[project]\nname = "x"\noptional-dependencies = "all"\n', PACKAGE),  # without extras
    ],
)
def test_a_pyproject_value_of_another_type_is_no_signal(
    tmp_path: Path, pyproject: str, install: Install
) -> None:
    write(tmp_path, {"pyproject.toml": pyproject})
    assert python_version(tmp_path) == (RUNNING, NO_VERSION)
    assert install_command(tmp_path) == install


def test_poetry_lock_with_a_tool_that_is_no_table_installs_without_groups(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": 'tool = "poetry"\n', "poetry.lock": ""})
    assert install_command(tmp_path).command == (
        "python -m pip install poetry && poetry config virtualenvs.create false && "
        "poetry install --no-root --no-interaction"
    )


def test_a_workflow_strategy_that_is_no_mapping_is_no_signal(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    strategy: fast
    steps:
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python }}
"""
        },
    )
    assert detect(tmp_path).python_source == NO_VERSION
