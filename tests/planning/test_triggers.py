"""planning.triggers: what ``changed`` and ``plan`` print and hand to $GITHUB_OUTPUT, and the
refusals made before any manifest, Git or DVC is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.errors import UsageError
from mlops_gitops.planning.triggers import (
    Changed,
    Planned,
    Retrain,
    changed_pipelines,
    job_targets,
    planned_jobs,
)


def test_retrain_prints_files_then_pipelines_with_five_reasons_then_the_verdict() -> None:
    hit = [f"src/{n}.py" for n in range(7)]
    result = Retrain(
        Changed(
            hit, ["dvc.yaml", "b/dvc.yaml"], {"dvc.yaml": hit, "b/dvc.yaml": ["(downstream of dvc.yaml)"]}
        )
    )
    lines = result.stdout.splitlines()
    assert lines[:7] == hit
    assert lines[7] == "reproduce dvc.yaml: " + ", ".join(hit[:5])
    assert lines[8:] == ["reproduce b/dvc.yaml: (downstream of dvc.yaml)", "retrain=true"]
    assert result.outputs == {"retrain": "true", "pipelines": '["dvc.yaml", "b/dvc.yaml"]'}
    assert (result.stderr, result.exit_code) == ((), 0)


def test_nothing_to_retrain_says_so_and_outputs_an_empty_list() -> None:
    result = Retrain(Changed([], []))
    assert result.stdout == "retrain=false\n"
    assert result.outputs == {"retrain": "false", "pipelines": "[]"}


@pytest.mark.parametrize("flow", [changed_pipelines, planned_jobs])
def test_base_or_all_is_refused_before_the_manifest_is_read(flow: object, tmp_path: Path) -> None:
    missing = str(tmp_path / "mlops.yaml")
    for base, every in ((None, False), ("HEAD~1", True)):
        with pytest.raises(UsageError, match=r"^give --base REV, or --all$"):
            flow(missing, base, "HEAD", every)  # type: ignore[operator]


def test_an_entry_needs_its_targets_file_and_no_plan_options(tmp_path: Path) -> None:
    missing = str(tmp_path / "mlops.yaml")
    message = r"give --entry JSON and --targets-file FILE together, without --base or --all"
    with pytest.raises(UsageError, match=message):
        planned_jobs(missing, None, entry='{"targets": ["a"]}')
    with pytest.raises(UsageError, match=message):
        planned_jobs(missing, None, targets_file=str(tmp_path / "t"))
    with pytest.raises(UsageError, match=message):
        planned_jobs(missing, "HEAD~1", entry='{"targets": ["a"]}', targets_file=str(tmp_path / "t"))


def test_a_job_writes_its_targets_nul_terminated_and_says_them(tmp_path: Path) -> None:
    out = tmp_path / "targets"
    result = planned_jobs(
        "unused.yaml", None, entry='{"targets": ["dvc.yaml:prepare", "b/dvc.yaml"]}', targets_file=str(out)
    )
    assert out.read_bytes() == b"dvc.yaml:prepare\0b/dvc.yaml\0"
    assert result.stdout == "dvc repro targets: dvc.yaml:prepare b/dvc.yaml\n"
    assert (result.outputs, result.exit_code) == ({}, 0)
    assert Planned(None, ("x",)).outputs == {}


def test_an_entry_that_is_not_a_job_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--entry: not JSON"):
        job_targets("{nope", str(tmp_path / "t"))
    with pytest.raises(UsageError, match="a list of targets"):
        job_targets('{"targets": [""]}', str(tmp_path / "t"))
    assert not (tmp_path / "t").exists()
