"""The project: what DVC resolves the pipelines to, recorded in .mlops/pipelines.yaml, trusted while
its fingerprint holds, and the manifest checked against it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.loader import load_manifest
from mlops_gitops.pipeline.project import load_project
from mlops_gitops.pipeline.record import RECORD_FILE

DVC_YAML = """\
vars:
  - params.yaml
stages:
  prepare:
    foreach: ${splits}
    do:
      cmd: python prepare.py ${item} ${train.lr}
      deps:
        - data/${item}.csv
        - prepare.py
      outs:
        - prepared/${item}.csv
  train:
    cmd: python train.py --lr ${train.lr}
    deps: [prepared, train.py]
    params: [train.lr]
    outs: [model.pkl]
    metrics:
      - metrics.json: {cache: false}
"""
PARAMS = "splits: [train, test]\ntrain:\n  lr: 0.1\n"
MANIFEST = "version: 1\nproject: {name: p}\npipelines: [dvc.yaml]\npython: {requirements: []}\n"


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_gitops", *args], cwd=root, capture_output=True, text=True, check=False
    )


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    for name, text in {"dvc.yaml": DVC_YAML, "params.yaml": PARAMS, "mlops.yaml": MANIFEST}.items():
        (tmp_path / name).write_text(text)
    proc = run(tmp_path, "generate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp_path


def fresh(root: Path) -> None:
    """Forget the local memos, as a fresh clone would."""
    for memo in (root / ".git").glob("mlops-gitops-*.json"):
        memo.unlink()


def test_record_holds_what_dvc_resolved_and_is_trusted_without_dvc(root: Path) -> None:
    fresh(root)
    project = load_project(root, load_manifest(root / "mlops.yaml"), allow_dvc=False)
    assert project.source == "record"
    assert [s.address for s in project.facts.stages()] == ["prepare@train", "prepare@test", "train"]
    paths = project.trigger_paths()
    for expected in ("data/train.csv", "data/test.csv", "prepare.py", "train.py", "params.yaml", "dvc.lock"):
        assert expected in paths, expected


def test_a_command_edit_needs_no_regeneration(root: Path) -> None:
    (root / "dvc.yaml").write_text(DVC_YAML.replace("python train.py --lr", "python -X dev train.py --lr"))
    (root / "params.yaml").write_text(PARAMS.replace("lr: 0.1", "lr: 0.2"))  # read by cmd only
    fresh(root)
    assert load_project(root, load_manifest(root / "mlops.yaml"), allow_dvc=False).source == "record"
    assert run(root, "generate", "--check").returncode == 0


def test_a_value_that_changes_what_resolves_makes_the_record_stale(root: Path) -> None:
    (root / "params.yaml").write_text(PARAMS.replace("[train, test]", "[train, test, holdout]"))
    fresh(root)
    with pytest.raises(
        UsageError, match=r"\.mlops/pipelines\.yaml does not describe the pipelines as they are now"
    ):
        load_project(root, load_manifest(root / "mlops.yaml"), allow_dvc=False)
    project = load_project(root, load_manifest(root / "mlops.yaml"))
    assert project.source == "dvc" and "prepare@holdout" in [s.address for s in project.facts.stages()]
    check = run(root, "generate", "--check")
    assert check.returncode == 1
    assert (
        f"{RECORD_FILE}: stale: the pipelines changed since the last `mlops-gitops generate` "
        "(stages added: prepare@holdout; inputs added: data/holdout.csv)"
    ) in check.stdout


def test_dvc_stage_add_makes_the_workflows_stale_with_a_reason_and_never_touches_dvc_yaml(root: Path) -> None:
    before = (root / "dvc.yaml").read_bytes()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dvc",
            "stage",
            "add",
            "-n",
            "report",
            "-d",
            "metrics.json",
            "-d",
            "report.py",
            "-o",
            "report.html",
            "python report.py",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    check = run(root, "generate", "--check")
    assert check.returncode == 1
    lines = check.stdout.splitlines()
    assert (
        f"{RECORD_FILE}: stale: the pipelines changed since the last `mlops-gitops generate` (stages added: report; inputs added: report.py)"
        in lines
    )
    assert (
        ".github/workflows/mlops-train.yml: stale: it follows the pipelines (see .mlops/pipelines.yaml)"
        in lines
    )
    assert '+      - "report.py"' in lines
    assert not any(line.startswith(("--- a/dvc.yaml", "+++ b/dvc.yaml")) for line in lines)
    assert run(root, "generate").returncode == 0
    assert (root / "dvc.yaml").read_bytes() != before  # dvc stage add wrote it, not us
    assert run(root, "generate", "--check").stdout == "generated files are current\n"


def test_the_manifest_is_checked_against_the_pipelines_with_its_position(root: Path) -> None:
    (root / "mlops.yaml").write_text(
        MANIFEST
        + "metrics:\n  gates:\n    - {metric: acc, min: 0.5, pipeline: nowhere}\n"
        + "deploy:\n  model: {name: m, path: models/model.pkl}\n  environments:\n"
        + "    - {name: prod, file: d.yaml, field: a, value: x}\n"
    )
    proc = run(root, "generate")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "mlops.yaml:7:41: metrics.gates[0].pipeline: 'nowhere/dvc.yaml' is not a pipeline of this project (dvc.yaml)",
        "mlops.yaml:9:26: deploy.model.path: 'models/model.pkl' is not an output of any stage "
        "(outs: metrics.json, model.pkl, prepared/test.csv, prepared/train.csv)",
    ]


def test_a_dvc_yaml_dvc_refuses_is_one_line(root: Path) -> None:
    (root / "dvc.yaml").write_text(DVC_YAML.replace("${splits}", "${nope}"))
    proc = run(root, "generate", "--check")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("dvc.yaml: ") and "nope" in line
