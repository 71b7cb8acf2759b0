"""The bundled iris example: a real pipeline that DVC runs end to end after `mlops-gitops init --yes`."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from mlops_gitops.adapters.resources import examples_dir
from mlops_gitops.manifest.loader import load_manifest, to_plain

EXAMPLE = examples_dir() / "iris"


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), cwd=root, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(root, sys.executable, "-m", "dvc", *args)


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


def test_example_manifest_is_valid_and_matches_dvc_yaml() -> None:
    manifest = load_manifest(EXAMPLE / "mlops.example.yaml")
    dvc_yaml = to_plain(YAML(typ="rt").load((EXAMPLE / "dvc.yaml").read_text()))
    assert {n: s.definition for n, s in manifest.stages.items()} == dvc_yaml["stages"]
    assert {g.metric for g in manifest.gates} >= {"accuracy", "per_class.*.f1"}
    assert manifest.deploy is not None
    staging, production = manifest.deploy.environments
    assert (staging.name, production.name, production.after) == ("staging", "production", ("staging",))
    for env in manifest.deploy.environments:
        service = YAML(typ="safe").load((EXAMPLE / env.file).read_text())
        assert service["kind"] == "InferenceService"
        assert env.field == "spec.predictor.model.storageUri"
        assert service["spec"]["predictor"]["model"]["storageUri"].startswith("s3://")
    assert [c.path for c in manifest.data_checks] == ["data/iris.csv"]


def test_shipped_data_is_sklearn_iris_and_its_pointer_matches() -> None:
    from sklearn.datasets import load_iris

    raw = (EXAMPLE / "data" / "iris.csv").read_bytes()
    pointer = YAML(typ="safe").load((EXAMPLE / "data" / "iris.csv.dvc").read_text())
    assert pointer["outs"][0]["md5"] == hashlib.md5(raw).hexdigest()
    assert pointer["outs"][0]["size"] == len(raw)
    rows = list(csv.DictReader(raw.decode().splitlines()))
    iris = load_iris()
    assert len(rows) == len(iris.target) == 150
    assert {r["species"] for r in rows} == set(iris.target_names)


@pytest.mark.slow
def test_copied_example_runs_end_to_end_after_init(tmp_path: Path) -> None:
    root = tmp_path / "iris"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    run(root, "git", "init", "-q", "-b", "main")
    init = run(root, sys.executable, "-m", "mlops_gitops", "init", "--yes")
    assert "wrote mlops.yaml" in init.stdout
    manifest = load_manifest(root / "mlops.yaml")
    assert manifest.deploy is not None and manifest.gates, "the curated manifest was used"

    listed = dvc(root, "stage", "list", "--name-only").stdout.split()
    assert {"prepare", "train", "evaluate"} <= set(listed)

    first = dvc(root, "repro")
    assert {"prepare", "train", "evaluate"} <= set(stages_run(first.stdout))
    metrics = json.loads((root / "metrics.json").read_text())
    assert {"accuracy", "f1_macro", "log_loss"} <= set(metrics)
    assert set(metrics["per_class"]) == {"setosa", "versicolor", "virginica"}
    assert set(metrics["per_class"]["setosa"]) == {"precision", "recall", "f1", "support"}
    # The shipped defaults pass the example's absolute gates.
    assert metrics["accuracy"] >= 0.9 and all(s["f1"] >= 0.8 for s in metrics["per_class"].values())
    assert (root / "models" / "model.pkl").is_file()
    assert (root / "plots" / "confusion.csv").is_file() and (root / "plots" / "per_class.csv").is_file()

    second = dvc(root, "repro")
    assert stages_run(second.stdout) == []

    # The README's gate-breaking change really breaks the accuracy gate.
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.01"))
    third = dvc(root, "repro")
    assert stages_run(third.stdout) == ["train", "evaluate"]
    assert json.loads((root / "metrics.json").read_text())["accuracy"] < 0.9
