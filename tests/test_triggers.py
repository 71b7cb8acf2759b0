"""Which commits retrain which pipelines, on repositories shaped like real ones (tests/repos.py).

The property: for every dependency DVC resolves for a stage (templated, foreach/matrix items, params
files, wdir-relative paths, data tracked by a .dvc pointer), a commit touching only that path makes
`changed` retrain the pipeline holding the stage; a commit touching only a README retrains nothing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.repos as repos
from mlops_gitops.manifest.loader import load_manifest
from mlops_gitops.pipeline.facts import within
from mlops_gitops.pipeline.project import Project, load_project
from mlops_gitops.planning.triggers import changed

pytestmark = pytest.mark.slow
SHAPES = ["subfolder_pipeline", "two_pipelines", "templated", "tracked_metrics_dir"]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def adopted(root: Path) -> Project:
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "init", "--yes", "--dir", str(root)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    git(root, "add", "-A")
    git(root, "commit", "-qm", "adopt mlops-gitops")
    return load_project(root, load_manifest(root / "mlops.yaml"))


@pytest.fixture(scope="module", params=SHAPES)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    built = getattr(repos, request.param)(tmp_path_factory.mktemp(request.param) / "repo", reproduce=False)
    yield adopted(built.root)


def touched(project: Project, path: str) -> str:
    """The file a commit changes so that ``path`` changes in Git: the path itself (a new file inside
    it for a directory), or the .dvc pointer of data DVC tracks."""
    for tracked in project.facts.tracked:
        if any(within(path, out) or within(out, path) for out in tracked.outs):
            return tracked.dvcfile
    full = project.root / path
    return f"{path}/added-by-test.txt" if full.is_dir() else path


def commit_touching(project: Project, rel: str) -> tuple[str, str]:
    root = project.root
    base = git(root, "rev-parse", "HEAD")
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write("\n# touched\n")
    git(root, "add", "-f", rel)
    git(root, "commit", "-qm", f"touch {rel}")
    return base, git(root, "rev-parse", "HEAD")


def undo(project: Project, base: str) -> None:
    git(project.root, "reset", "-q", "--hard", base)
    git(project.root, "clean", "-qfd")


def dependencies(project: Project) -> list[tuple[str, str]]:
    """(pipeline dvc.yaml, dependency) for every input DVC resolves: paths and params files."""
    outs = project.facts.outs()
    found = []
    for pipeline in project.pipelines:
        for stage in pipeline.stages:
            for dep in (*stage.deps, *stage.params_files):
                if not any(within(dep, out) for out in outs):
                    found.append((pipeline.dvcfile, dep))
    return sorted(set(found))


def test_every_resolved_dependency_retrains_its_pipeline(project: Project) -> None:
    deps = dependencies(project)
    assert deps, "the fixture has inputs"

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.sampled_from(deps))
    def check(dep: tuple[str, str]) -> None:
        dvcfile, path = dep
        base, head = commit_touching(project, touched(project, path))
        try:
            result = changed(project, base, head)
            assert result.retrain, (dvcfile, path)
            assert dvcfile in result.pipelines, (dvcfile, path, result.because)
        finally:
            undo(project, base)

    check()


def test_a_readme_retrains_nothing(project: Project) -> None:
    base, head = commit_touching(project, "README.md")
    try:
        result = changed(project, base, head)
        assert not result.retrain and result.pipelines == []
    finally:
        undo(project, base)


def test_only_the_pipeline_whose_input_changed_reproduces(tmp_path: Path) -> None:
    root = repos.two_pipelines(tmp_path / "repo", reproduce=False).root
    project = adopted(root)
    base, head = commit_touching(project, "data/churn/customers.csv")
    assert changed(project, base, head).pipelines == ["pipelines/churn/dvc.yaml"]
    undo(project, base)
    base, head = commit_touching(project, "src/common.py")  # read by both
    assert changed(project, base, head).pipelines == ["pipelines/churn/dvc.yaml", "pipelines/fraud/dvc.yaml"]
    undo(project, base)
    # The command line says the same, and writes the targets for `xargs -0 dvc repro`.
    base, head = commit_touching(project, "data/fraud/transactions.csv")
    targets = tmp_path / "targets"
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "changed", "--base", base, "--targets-file", str(targets)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "reproduce pipelines/fraud/dvc.yaml: data/fraud/transactions.csv" in proc.stdout
    assert targets.read_bytes() == b"pipelines/fraud/dvc.yaml\0"
