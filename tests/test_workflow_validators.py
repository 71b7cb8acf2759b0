"""Every generated workflow (and this project's own CI) passes GitHub's workflow schema and zizmor."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.render.workflows import render_workflows
from tests.parts import project_of
from tests.render.test_fanout_workflows import FANOUT
from tests.render.test_workflows import (
    CLOUDS,
    CONDA,
    MINIMAL,
    custom_manifest,
    example_manifest,
    full_manifest,
)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = str(Path(sys.executable).parent)


def tool(name: str) -> str:
    found = shutil.which(name, path=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    if not found:
        pytest.fail(f"{name} is not installed in {VENV_BIN}; run `make test` to install the dev tools")
    return found


def write_all(tmp_path: Path) -> list[Path]:
    """Each manifest's workflows in its own repo-like directory; returns the workflow files."""
    from mlops_gitops.manifest.loader import load_manifest_text

    manifests = {
        "example": example_manifest(),
        "minimal": load_manifest_text(MINIMAL),
        "every-option": custom_manifest(),  # env, secrets, extra steps, container, services
        "fan-out": load_manifest_text(FANOUT),  # plan, upstream, a job matrix, final; runners per stage
        "conda": load_manifest_text(CONDA),  # the project's Python is a conda environment
    }
    manifests.update({f"full-{p}": full_manifest(p) for p in CLOUDS})
    files: list[Path] = []
    for name, manifest in manifests.items():
        for rel, text in render_workflows(project_of(manifest)).items():
            path = tmp_path / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            files.append(path)
    for own in ("ci.yml", "release.yml"):
        copy = tmp_path / "own" / ".github" / "workflows" / own
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / ".github" / "workflows" / own, copy)
        files.append(copy)
    return files


@pytest.fixture(scope="module")
def workflow_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_all(tmp_path_factory.mktemp("workflows"))


def test_workflows_match_githubs_schema(workflow_files: list[Path]) -> None:
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, workflow_files)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing(workflow_files: list[Path]) -> None:
    """Zero findings on the pedantic setting (code smells included), not only the default one."""
    proc = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--no-progress",
            "--persona",
            "pedantic",
            "--format",
            "plain",
            *map(str, workflow_files),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout, proc.stdout


def test_zizmor_would_catch_what_we_guard_against(tmp_path: Path) -> None:
    """The audit is live: drop one of our guards and zizmor fails the same files."""
    (path,) = [p for p in write_all(tmp_path) if p.match("example/.github/workflows/mlops-pr.yml")]
    text = path.read_text()
    weakened = text.replace(
        "run: mlops-gitops validate", 'run: echo "${{ github.event.pull_request.head.ref }}"'
    ).replace("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "actions/checkout@v4")
    assert weakened != text
    path.write_text(weakened)
    proc = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(path)], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "template-injection" in proc.stdout and "unpinned-uses" in proc.stdout
