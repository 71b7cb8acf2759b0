"""`mlops-gitops init`: detection into a valid manifest, prompts, refusals, the example scaffold, and a
lossless import of dvc.yaml (checked with DVC itself: the pipeline DVC reads is the same after
regenerating dvc.yaml from the imported manifest)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from mlops_gitops.adopt import SCHEMA_URL
from mlops_gitops.commands.init import command as init_command
from mlops_gitops.generator import generate
from mlops_gitops.manifest.loader import load_manifest, to_plain
from mlops_gitops.resources import examples_dir


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=False
    )


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def repo(root: Path, files: dict[str, str], *, branch: str = "main", dvc_init: bool = True) -> Path:
    git(root, "init", "-q", "-b", branch)
    if dvc_init:
        assert dvc(root, "init", "-q").returncode == 0
    return write(root, files)


def run_init(root: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(init_command, ["--dir", str(root), *args], input=input, catch_exceptions=False)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_gitops", *args], capture_output=True, text=True, check=False
    )


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def dvc_view(root: Path) -> dict[str, Any]:
    """The pipeline as DVC resolves it: every stage (foreach/matrix expanded, vars interpolated) in its
    canonical dvc.yaml form, plus the top-level metrics, plots, params, artifacts and datasets."""
    from dvc.repo import Repo
    from dvc.stage import PipelineStage
    from dvc.stage.serialize import to_pipeline_file

    with Repo(str(root)) as dvc_repo:
        index = dvc_repo.index
        stages = {
            s.addressing: {
                "file": to_pipeline_file(s),
                "extra": (s.frozen, s.always_changed, s.desc, s.meta, s.wdir),
            }
            for s in index.stages
            if isinstance(s, PipelineStage)
        }
        top = {
            key: json.loads(json.dumps(getattr(index, f"_{key}"), default=str))
            for key in ("metrics", "plots", "params", "artifacts", "datasets")
        }
    return json.loads(json.dumps({"stages": stages, "top": top}, default=str))


BASE = {"requirements.txt": "numpy\n", "params.yaml": "lr: 0.1\nepochs: 3\nmodels: {a: 1, b: 2}\n"}

PIPELINES = {
    "plain": """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, data/raw.csv]
    params: [lr, {custom.yaml: [alpha, beta]}, {other.yaml: }]
    outs:
      - data/prepared
      - data/cache.bin:
          cache: false
          persist: true
          desc: scratch space
          push: false
  train:
    desc: Fit the model
    cmd:
      - python train.py --fast
      - echo done
    wdir: .
    frozen: true
    always_changed: false
    meta: {owner: ml-team}
    deps: [data/prepared]
    outs: [model.pkl]
    metrics:
      - scores.json:
          cache: false
    plots:
      - roc.csv:
          x: fpr
          y: tpr
          template: linear
""",
    "foreach": """\
stages:
  build:
    foreach: [small, large]
    do:
      cmd: python build.py ${item}
      outs:
        - out/${item}.bin
  keyed:
    foreach:
      us: {size: 1}
      eu: {size: 2}
    do:
      cmd: python region.py ${key} ${item.size}
      outs:
        - region/${key}.json
  from_params:
    foreach: ${models}
    do:
      cmd: echo ${key} ${item}
""",
    "matrix": """\
stages:
  sweep:
    matrix:
      model: [lr, svm]
      lr: [0.1, 0.01]
    cmd: python train.py --model ${item.model} --lr ${item.lr}
    outs:
      - models/${item.model}-${item.lr}.pkl
""",
    "vars_and_top_level": """\
vars:
  - params.yaml
  - extra: {depth: 4}
params:
  - custom.yaml
stages:
  train:
    vars:
      - local: 7
    cmd: python train.py --lr ${lr} --depth ${extra.depth} --n ${local}
    deps: [train.py]
    outs: [model.pkl]
    metrics: [metrics.json]
metrics:
  - extra_metrics.json
plots:
  - roc.json:
      x: fpr
      y: tpr
  - confusion:
      template: confusion
      x: actual
      y:
        preds.csv: predicted
  - curves.csv
artifacts:
  classifier:
    path: model.pkl
    type: model
    desc: The classifier
    labels: [sklearn, demo]
    meta: {team: ml}
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(PIPELINES))
def test_import_is_lossless_for_dvc(tmp_path: Path, case: str) -> None:
    """init imports dvc.yaml whole: the manifest's stages/dvc sections equal it, and a dvc.yaml
    generated from scratch out of the manifest is the same pipeline for DVC."""
    root = repo(tmp_path, {**BASE, "custom.yaml": "alpha: 1\nbeta: 2\n", "dvc.yaml": PIPELINES[case]})
    before = dvc_view(root)
    assert before["stages"], "the fixture must give DVC some stages"

    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output

    manifest = load_manifest(root / "mlops.yaml")
    original = to_plain(YAML(typ="rt").load(PIPELINES[case]))
    assert {n: s.definition for n, s in manifest.stages.items()} == original["stages"]
    assert manifest.dvc == {k: v for k, v in original.items() if k != "stages"}

    # Regenerated from nothing: only the manifest can have produced this dvc.yaml.
    (root / "dvc.yaml").unlink()
    assert generate(root).exit_code == 0
    assert dvc_view(root) == before
    assert dvc(root, "stage", "list", "--all").returncode == 0


def test_init_existing_repo_writes_valid_manifest_and_generates(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {
            **BASE,
            "dvc.yaml": PIPELINES["plain"].replace("frozen: true", "frozen: false"),
            ".python-version": "3.10.14\n",
        },
        branch="trunk",
    )
    dvc(root, "remote", "add", "-d", "store", str(tmp_path / "store"))
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output

    text = (root / "mlops.yaml").read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_URL}"
    assert "mlops-gitops schema > mlops.schema.json" in text
    assert "# metrics:" in text and "# deploy:" in text  # hints for what was not detected
    manifest = load_manifest(root / "mlops.yaml")
    assert manifest.name == root.name
    assert (manifest.default_branch, manifest.python_version, manifest.data_remote) == (
        "trunk",
        "3.10",
        "store",
    )
    assert manifest.install == "pip install -r requirements.txt"
    assert (root / ".github" / "workflows").is_dir()
    assert (root / "dvc.yaml").read_text().startswith("# Generated by mlops-gitops")
    assert generate(root, check=True).exit_code == 0


def test_init_without_dvc_yaml_writes_placeholder_stage(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.11"\n', "src/train.py": "", **BASE},
        dvc_init=False,
    )
    (root / "requirements.txt").unlink()
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(root / "mlops.yaml")
    assert {n: s.definition for n, s in manifest.stages.items()} == {
        "train": {"cmd": "python src/train.py", "deps": ["src/train.py"], "params": [{"params.yaml": None}]}
    }
    assert (manifest.install, manifest.requirements, manifest.python_version) == (
        "pip install -e .",
        ("pyproject.toml",),
        "3.11",
    )


def test_prompts_take_answers_and_reask_bad_ones(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    answers = "\n".join(
        ["my-model", "develop", "2.7", "3.12", "pip install -r requirements.txt -c c.txt", "s3r"]
    )
    result = run_init(root, input=answers + "\n")
    assert result.exit_code == 0, result.output
    assert "is not a Python version" in result.output
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.name, manifest.default_branch, manifest.python_version, manifest.data_remote) == (
        "my-model",
        "develop",
        "3.12",
        "s3r",
    )
    assert manifest.install.endswith("-c c.txt")


def test_prompt_defaults_are_the_detected_values(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    root = repo(tmp_path / "proj", {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    result = run_init(root, input="\n" * 5)
    assert result.exit_code == 0, result.output
    assert "Project name [proj]" in result.output and "Default branch [main]" in result.output
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.name, manifest.data_remote) == ("proj", None)


def test_refuses_to_overwrite_manifest_without_force(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"], "mlops.yaml": "mine\n"})
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "mlops.yaml already exists; use --force to overwrite it"
    assert (root / "mlops.yaml").read_text() == "mine\n"
    assert not (root / ".github").exists()

    result = run_init(root, "--yes", "--force")
    assert result.exit_code == 0, result.output
    assert load_manifest(root / "mlops.yaml").stages["sweep"].definition["matrix"]["model"] == ["lr", "svm"]


def test_dvc_yaml_that_does_not_fit_the_manifest_changes_nothing(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": "stages:\n  train:\n    deps: [a]\n"})
    before = tree(root)
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "stages.train: missing required key 'cmd'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree(root) == before


def test_generate_refusing_leaves_everything_as_it_was(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    assert run_init(root, "--yes").exit_code == 0
    workflow = next((root / ".github" / "workflows").glob("*.yml"))
    workflow.write_text(workflow.read_text() + "# my edit\n")
    (root / "mlops.yaml").unlink()
    before = tree(root)

    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 1
    assert "was edited by hand" in proc.stdout and "mlops.yaml was not kept" in proc.stdout
    assert tree(root) == before

    result = run_init(root, "--yes", "--force")  # --force also lets generate overwrite the edit
    assert result.exit_code == 0, result.output
    assert "# my edit" not in workflow.read_text()


def test_unknown_example_lists_available_ones(tmp_path: Path) -> None:
    proc = run_cli("init", "--example", "nope", "--dir", str(tmp_path / "new"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "unknown example 'nope'; available: iris"
    assert not (tmp_path / "new").exists()


def test_example_refuses_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me\n")
    proc = run_cli("init", "--example", "iris", "--yes", "--dir", str(tmp_path))
    assert proc.returncode == 2
    assert "is not empty" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_example_in_empty_directory_is_ready_for_dvc_repro(tmp_path: Path) -> None:
    root = tmp_path / "iris-project"
    proc = run_cli("init", "--example", "iris", "--yes", "--dir", str(root))
    assert proc.returncode == 0, proc.stderr
    manifest = load_manifest(root / "mlops.yaml")
    assert manifest.name == "iris" and manifest.deploy is not None
    assert [e.name for e in manifest.deploy.environments] == ["staging", "production"]
    assert (root / ".git").is_dir() and (root / ".dvc").is_dir()
    assert not (root / "mlops.example.yaml").exists()
    assert git(root, "check-ignore", "data/iris.csv").strip() == "data/iris.csv"  # DVC tracks it
    assert dvc(root, "status", "data/iris.csv.dvc").returncode == 0

    repro = dvc(root, "repro")
    assert repro.returncode == 0, repro.stderr
    metrics = json.loads((root / "metrics.json").read_text())
    assert set(metrics["per_class"]) == {"setosa", "versicolor", "virginica"}
    assert generate(root, check=True).exit_code == 0


def test_dvc_project_outside_git_is_refused_and_untouched(tmp_path: Path) -> None:
    write(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    before = tree(tmp_path)
    proc = run_cli("init", "--yes", "--dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("is not a Git repository, which DVC needs: run `git init` first")
    assert tree(tmp_path) == before and not (tmp_path / ".dvc").exists()


def test_init_runs_dvc_init_and_tracks_pointed_data(tmp_path: Path) -> None:
    root = repo(
        tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"], "data/raw.csv": "a,b\n1,2\n"}, dvc_init=False
    )
    empty_md5 = "d41d8cd98f00b204e9800998ecf8427e"
    stale = f"outs:\n- md5: {empty_md5}\n  size: 0\n  hash: md5\n  path: raw.csv\n"
    write(root, {"data/raw.csv.dvc": stale})
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    assert "tracked with DVC: data/raw.csv" in result.output
    pointer = YAML(typ="safe").load((root / "data/raw.csv.dvc").read_text())
    assert pointer["outs"][0]["md5"] != empty_md5  # the pointer now describes the data present
    assert dvc(root, "status", "data/raw.csv.dvc").returncode == 0


def test_init_force_keeps_what_a_person_wrote(tmp_path: Path) -> None:
    """Re-running init refreshes detection but keeps gates and deployment environments."""
    root = tmp_path / "iris"
    shutil.copytree(examples_dir() / "iris", root)
    (root / "mlops.example.yaml").rename(root / "mlops.yaml")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    result = run_init(root, "--yes", "--force")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(root / "mlops.yaml")
    assert [g.metric for g in manifest.gates][:1] == ["accuracy"]
    assert manifest.deploy is not None and manifest.deploy.environment("production") is not None
    assert (root / ".github/workflows/mlops-deploy.yml").exists()
