"""The project's own release: the workflow's build and check steps, run here on a copy of the
repository, produce an sdist and a wheel of the one defined version that carry the templates and the
example; the check refuses a tag that names another version; the workflow passes the audits."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import mlops_gitops
from tests.actrunner import copy_project

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / ".github" / "workflows" / "release.yml"

pytestmark = pytest.mark.slow


def release_steps() -> dict[str, dict[str, object]]:
    jobs = YAML(typ="safe").load(RELEASE.read_text())["jobs"]
    return {f"{job}/{step['name']}": step for job, spec in jobs.items() for step in spec["steps"]}


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files, as actions/checkout would lay them out (no venv, no caches, no dist)."""
    return copy_project(tmp_path_factory.mktemp("release") / "checkout")


def run_step(step: dict[str, object], cwd: Path, ref: str) -> subprocess.CompletedProcess[str]:
    # `python` on PATH is this test's interpreter, which has the build tools the lock names.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["GITHUB_REF"] = ref
    return subprocess.run(
        ["bash", "-e", "-c", str(step["run"])], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def built(checkout: Path) -> Path:
    proc = run_step(release_steps()["build/Build the sdist and wheel"], checkout, "refs/tags/v0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return checkout / "dist"


def test_release_builds_what_the_check_accepts(built: Path, checkout: Path) -> None:
    version = mlops_gitops.__version__
    assert sorted(p.name for p in built.iterdir()) == [
        f"mlops_gitops-{version}-py3-none-any.whl",
        f"mlops_gitops-{version}.tar.gz",
    ]
    with zipfile.ZipFile(built / f"mlops_gitops-{version}-py3-none-any.whl") as wheel:
        metadata = wheel.read(f"mlops_gitops-{version}.dist-info/METADATA").decode()
    assert f"Version: {version}\n" in metadata
    # `pip install mlops-gitops[all]` gives every command; the core alone pulls no DVC or PyGithub.
    core = [
        line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert core and not any(re.search(r"\b(dvc|PyGithub|pyarrow|scipy)\b", line) for line in core)
    assert "Provides-Extra: all" in metadata
    check = run_step(
        release_steps()["build/Check the distributions against the tag"], checkout, f"refs/tags/v{version}"
    )
    assert check.returncode == 0, check.stderr


def test_release_refuses_a_tag_that_names_another_version(built: Path, checkout: Path) -> None:
    check = run_step(
        release_steps()["build/Check the distributions against the tag"], checkout, "refs/tags/v9.9.9"
    )
    assert check.returncode == 1
    assert f"tag refs/tags/v9.9.9 does not name version {mlops_gitops.__version__}" in check.stderr


def test_check_refuses_a_wheel_without_the_templates(built: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    shutil.copytree(built, dist)
    (wheel,) = dist.glob("*.whl")
    stripped = tmp_path / "stripped.whl"
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            if "/templates/" not in item.filename:
                target.writestr(item, source.read(item))
    stripped.replace(wheel)
    proc = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "check_dist.py"), str(dist)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "lacks mlops_gitops/templates/github/workflows/mlops-pr.yml.j2" in proc.stderr


def test_release_workflow_publishes_without_a_stored_token() -> None:
    jobs = YAML(typ="safe").load(RELEASE.read_text())["jobs"]
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert jobs["publish"]["permissions"] == {"id-token": "write", "attestations": "write"}
    assert jobs["publish"]["environment"]["name"] == "pypi"
    assert "secrets." not in RELEASE.read_text()
    uses = [step["uses"] for spec in jobs.values() for step in spec["steps"] if "uses" in step]
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert any(u.startswith("actions/attest-build-provenance@") for u in uses)
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses)


def test_build_tools_are_hash_locked() -> None:
    lock = (ROOT / ".ci" / "release-requirements.txt").read_text()
    pins = re.findall(
        r"^([A-Za-z0-9_.-]+)==\S+ \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", lock, re.M
    )
    assert {name.lower() for name, _ in pins} >= {"build", "hatchling", "packaging", "pyproject-hooks"}
    assert len(pins) == lock.count("=="), "every pinned requirement carries hashes"


def test_release_workflow_passes_the_audits() -> None:
    for args in (
        [tool("zizmor"), "--offline", "--no-progress", "--persona", "pedantic", str(RELEASE)],
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(RELEASE)],
    ):
        proc = subprocess.run(args, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
