"""`mlops-gitops init` on repositories shaped like real ones: pipelines in subfolders, several
pipelines, templated stages, metrics in a DVC-tracked folder, requirements in src/, an existing CML
workflow. Adoption never writes a byte of any dvc.yaml; what it derives comes from DVC's parser."""

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

from mlops_gitops.adapters.resources import examples_dir
from mlops_gitops.adoption.adopt import SCHEMA_URL
from mlops_gitops.commands.init import command as init_command
from mlops_gitops.errors import UsageError
from mlops_gitops.generation.generate import SUBPROJECTS_HOW, generate
from mlops_gitops.manifest.loader import load_manifest


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


REAL_SHAPES = ["subfolder_pipeline", "two_pipelines", "templated", "tracked_metrics_dir"]


def stage_list(root: Path) -> str:
    proc = dvc(root, "stage", "list", "--all")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def dvc_yaml_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("dvc.yaml")}


@pytest.mark.slow
@pytest.mark.parametrize("shape", REAL_SHAPES)
def test_adoption_writes_no_byte_of_any_dvc_yaml(tmp_path: Path, shape: str) -> None:
    import tests.repos as repos

    built = getattr(repos, shape)(tmp_path / shape, reproduce=False)
    root = built.root
    before, stages_before = dvc_yaml_bytes(root), stage_list(root)
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    assert dvc_yaml_bytes(root) == before
    assert stage_list(root) == stages_before
    manifest = load_manifest(root / "mlops.yaml")
    assert manifest.pipelines == built.dvcfiles and not manifest.owns_dvc_yaml and manifest.stages == {}
    assert "never written by mlops-gitops" in result.output
    record = (root / ".mlops/pipelines.yaml").read_text()
    for address in built.stages:  # every stage DVC lists, leading digits and foreach items included
        assert f'"address": "{address}"' in record, address
    assert generate(root, check=True).exit_code == 0
    workflows = sorted(str(p) for p in (root / ".github/workflows").glob("mlops-*.yml"))
    check = subprocess.run(
        [
            str(Path(sys.executable).with_name("check-jsonschema")),
            "--builtin-schema",
            "vendor.github-workflows",
            *workflows,
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_subfolder_pipeline_requirements_in_src(tmp_path: Path) -> None:
    from tests.repos import subfolder_pipeline

    root = subfolder_pipeline(tmp_path / "p", reproduce=False).root
    assert not (root / "requirements.txt").exists() and (root / "src/requirements.txt").is_file()
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.install, manifest.requirements) == (
        "python -m pip install -r src/requirements.txt",
        ("src/requirements.txt",),
    )
    assert manifest.pipelines == ("pipelines/dvc.yaml",)
    train = (root / ".github/workflows/mlops-train.yml").read_text()
    for path in (
        "src/prepare.py",
        "data/raw/points.csv",
        "params.yaml",
        "pipelines/dvc.lock",
        "src/requirements.txt",
    ):
        assert f'- "{path}"' in train, path


@pytest.mark.slow
def test_artifact_of_type_model_is_offered_and_existing_ci_is_named(tmp_path: Path) -> None:
    from tests.repos import with_cml_workflow

    built = with_cml_workflow(tmp_path / "p", reproduce=False)
    result = CliRunner().invoke(init_command, ["--dir", str(built.root), "--yes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ".github/workflows/cml.yaml runs `dvc repro` and posts CML reports" in result.output
    assert ".gitlab-ci.yml runs `dvc repro`" in result.output
    assert "every pull request would train twice and get two reports" in result.output
    text = (built.root / "mlops.yaml").read_text()
    if built.artifacts:
        name, path = next(iter(built.artifacts.items()))
        assert f"#   model: {{name: {name}, path: {path}}}   # found in your pipelines" in text


def test_no_requirements_writes_a_placeholder_that_validate_refuses(tmp_path: Path) -> None:
    root = repo(tmp_path, {"dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n", "train.py": ""})
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "was written with a placeholder: set python.install" in proc.stderr
    assert not (root / ".github").exists()
    check = run_cli("validate", str(root / "mlops.yaml"))
    assert check.returncode == 2
    (line,) = check.stderr.strip().splitlines()
    assert "mlops.yaml:" in line and "python.install: init could not tell how this project installs" in line


def test_interactive_init_asks_for_the_install_command(tmp_path: Path) -> None:
    root = repo(tmp_path, {"dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n", "train.py": ""})
    answers = ["", "", "", "", "pip install numpy", ""]
    result = run_init(root, input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert load_manifest(root / "mlops.yaml").install == "pip install numpy"


def test_branch_and_remote_that_do_not_exist_are_refused(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    before = tree(root)
    proc = run_cli("init", "--yes", "--branch", "develop", "--dir", str(root))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "default branch 'develop' does not exist in this repository (locally or on origin); name the "
        "branch your pull requests merge into"
    ]
    proc = run_cli("init", "--yes", "--remote", "nope", "--dir", str(root))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "DVC remote 'nope' is not in .dvc/config (remotes: none; add one with `dvc remote add -d NAME URL`)"
    )
    assert tree(root) == before
    # Interactively, each is asked again until it exists.
    dvc(root, "remote", "add", "store", str(tmp_path / "store"))
    answers = ["", "develop", "main", "", "", "nope", "store"]
    result = run_init(root, input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "'develop' does not exist" in result.output and "'nope' is not in .dvc/config" in result.output
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.default_branch, manifest.data_remote) == ("main", "store")


def test_http_remote_is_named_as_read_only(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    dvc(root, "remote", "add", "-d", "web", "https://example.com/dvc")
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    assert "DVC remote 'web' is https://example.com/dvc: plain HTTP(S) remotes are read-only" in result.output


def test_outside_git_is_one_line_exit_2_or_git_init_with_consent(tmp_path: Path) -> None:
    write(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    before = tree(tmp_path)
    proc = run_cli("init", "--yes", "--dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{tmp_path} is not a Git repository: run `git init` there first (mlops-gitops adopts a Git "
        "repository, and DVC needs one)"
    ]
    assert tree(tmp_path) == before and not (tmp_path / ".git").exists()
    with pytest.raises(UsageError, match="is not a Git repository"):
        run_init(tmp_path, input="n\n")
    assert not (tmp_path / ".git").exists()
    result = run_init(tmp_path, input="y\n" + "\n" * 6)
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".git").is_dir() and "initialised a Git repository" in result.output


def test_init_without_dvc_yaml_writes_a_first_stage_to_generate(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.11"\n', "src/train.py": "", **BASE},
        dvc_init=False,
    )
    (root / "requirements.txt").unlink()
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(root / "mlops.yaml")
    assert manifest.owns_dvc_yaml
    assert {n: s.definition for n, s in manifest.stages.items()} == {
        "train": {"cmd": "python src/train.py", "deps": ["src/train.py"], "params": [{"params.yaml": None}]}
    }
    assert (manifest.install, manifest.requirements, manifest.python_version) == (
        "python -m pip install .",
        ("pyproject.toml",),
        "3.11",
    )
    assert (root / "dvc.yaml").read_text().startswith("# Generated by mlops-gitops")


def test_existing_repo_manifest_names_its_pipelines(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {**BASE, "dvc.yaml": PIPELINES["plain"], ".python-version": "3.10.14\n"},
        branch="trunk",
    )
    dvc(root, "remote", "add", "-d", "store", str(tmp_path / "store"))
    original = (root / "dvc.yaml").read_bytes()
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    text = (root / "mlops.yaml").read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_URL}"
    assert "# metrics:" in text and "# deploy:" in text  # hints for what was not detected
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.default_branch, manifest.python_version, manifest.data_remote) == (
        "trunk",
        "3.10",
        "store",
    )
    assert manifest.install == "python -m pip install -r requirements.txt"
    assert manifest.pipelines == ("dvc.yaml",)
    assert (root / "dvc.yaml").read_bytes() == original
    assert generate(root, check=True).exit_code == 0


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
    assert load_manifest(root / "mlops.yaml").pipelines == ("dvc.yaml",)


def test_dvc_yaml_that_dvc_refuses_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": "stages:\n  train:\n    deps: [a]\n"})
    before = tree(root)
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("dvc.yaml: ")
    assert "cmd" in proc.stderr and "Traceback" not in proc.stderr
    assert tree(root) == before


def test_generate_refusing_writes_nothing_and_exits_2(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    assert run_init(root, "--yes").exit_code == 0
    workflow = next((root / ".github" / "workflows").glob("*.yml"))
    workflow.write_text(workflow.read_text() + "# my edit\n")
    (root / "mlops.yaml").unlink()
    before = tree(root)

    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 2
    assert "was edited by hand" in proc.stdout and "nothing was written" in proc.stdout
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
    assert manifest.name == "iris" and manifest.deploy is not None and manifest.owns_dvc_yaml
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
    assert manifest.owns_dvc_yaml  # it had stages: the template keeps owning dvc.yaml
    assert [g.metric for g in manifest.gates][:1] == ["accuracy"]
    assert manifest.deploy is not None and manifest.deploy.environment("production") is not None
    assert (root / ".github/workflows/mlops-deploy.yml").exists()


# --- CODEOWNERS: who approves a change to the gates (security finding 5) ----------------------------

CODEOWNERS_AT = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def plain_repo(tmp_path: Path) -> Path:
    return repo(tmp_path, {"requirements.txt": "numpy\n"}, dvc_init=False)


def test_init_prints_a_codeowners_entry_to_complete_and_writes_none(tmp_path: Path) -> None:
    root = plain_repo(tmp_path)
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    assert "Create .github/CODEOWNERS with these lines, @OWNER replaced by who approves" in result.output
    assert "    /mlops.yaml  @OWNER\n    /.mlops/     @OWNER\n    /.github/    @OWNER\n" in result.output
    assert 'turn on "Require review from Code Owners" in the protection of main' in result.output
    assert not any((root / where).exists() for where in CODEOWNERS_AT)


def test_init_codeowners_writes_github_codeowners_covering_the_gates(tmp_path: Path) -> None:
    from mlops_gitops.adoption import codeowners

    root = plain_repo(tmp_path)
    result = run_init(root, "--yes", "--codeowners", "@acme/ml-leads", "--codeowners", "@bob")
    assert result.exit_code == 0, result.output
    assert "wrote .github/CODEOWNERS: a change to mlops.yaml, .mlops/ or .github/ needs a review by" in (
        result.output
    )
    text = (root / ".github/CODEOWNERS").read_text()
    assert text.endswith(
        "/mlops.yaml  @acme/ml-leads @bob\n/.mlops/     @acme/ml-leads @bob\n/.github/    @acme/ml-leads @bob\n"
    )
    assert codeowners.uncovered(text, codeowners.protected()) == []


@pytest.mark.parametrize("where", CODEOWNERS_AT)
def test_an_existing_codeowners_is_never_changed_and_a_gap_is_one_line(tmp_path: Path, where: str) -> None:
    root = plain_repo(tmp_path)
    original = "# the team's own\n*.py @acme/dev\n/.github/workflows/ @acme/ops\n"
    write(root, {where: original})
    proc = run_cli("init", "--yes", "--codeowners", "@acme/ml-leads", "--dir", str(root))
    assert proc.returncode == 0, proc.stderr
    assert (root / where).read_text() == original
    assert [w for w in CODEOWNERS_AT if (root / w).exists()] == [where]
    assert f"{where} exists and was not changed (--codeowners)" in proc.stdout
    gaps = [line for line in proc.stderr.splitlines() if "CODEOWNERS" in line]
    assert gaps == [
        f"warning: {where} gives no owner to mlops.yaml and .mlops/, so any reviewer can approve a change "
        "to the gates or the workflows; add `/mlops.yaml @acme/ml-leads`, `/.mlops/ @acme/ml-leads`"
    ]


def test_a_codeowners_that_covers_the_gates_is_left_alone_quietly(tmp_path: Path) -> None:
    root = plain_repo(tmp_path)
    write(root, {"CODEOWNERS": "* @acme/everyone\n"})
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "CODEOWNERS" not in proc.stdout + proc.stderr
    assert (root / "CODEOWNERS").read_text() == "* @acme/everyone\n"


def test_an_owner_github_would_refuse_is_bad_input_before_anything_is_written(tmp_path: Path) -> None:
    root = plain_repo(tmp_path)
    before = tree(root)
    proc = run_cli("init", "--yes", "--codeowners", "bob", "--dir", str(root))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "--codeowners 'bob': not an owner GitHub accepts (@user, @org/team or an e-mail address)"
    )
    assert tree(root) == before


def test_codeowners_patterns_as_github_reads_them() -> None:
    from mlops_gitops.adoption.codeowners import owners_of, parse

    rules = parse(
        "# comment\n"
        "*                 @all   # a trailing comment\n"
        "/.github/         @ops\n"
        "docs/*            @docs\n"
        "**/mlops.yaml     @ml\n"
        "/apps/            @apps\n"
        "/apps/github\n"
    )
    assert owners_of(rules, "README.md") == ("@all",)
    assert owners_of(rules, ".github/workflows/mlops-pr.yml") == ("@ops",)
    assert owners_of(rules, "docs/a.md") == ("@docs",)
    assert owners_of(rules, "docs/deep/a.md") == ("@all",)  # docs/* is not recursive
    assert owners_of(rules, "mlops.yaml") == owners_of(rules, "sub/mlops.yaml") == ("@ml",)
    assert owners_of(rules, "apps/x/y.py") == ("@apps",)
    assert owners_of(rules, "apps/github/y.py") == ()  # a later rule without owners: nobody's
    assert owners_of(parse(".github/ @ops\n"), "x/.github/a") == ("@ops",)  # unanchored: any depth


# --- What init detects and prints about the project's Python, install, remotes, DVC pins ------------

MATRIX = {"params.yaml": BASE["params.yaml"], "dvc.yaml": PIPELINES["matrix"]}


def test_init_prints_python_install_remote_plugin_and_dvc_pin(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {
            **MATRIX,
            "runtime.txt": "python-3.8.10\n",
            "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.9"\n',
            "requirements.txt": "numpy\ndvc[s3]==2.10.0\n",
        },
    )
    dvc(root, "remote", "add", "-d", "storage", "s3://bucket/path")
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        "Python 3.8 from runtime.txt:1 `python-3.8.10`; also named: 3.9 by pyproject.toml:3 "
        '`requires-python = ">=3.9"`, the lowest allowed'
    ) in lines
    assert "install: `python -m pip install -r requirements.txt` from requirements.txt" in lines
    assert "remote 'storage' is s3://bucket/path: CI installs dvc-s3 with mlops-gitops" in lines
    assert (
        "requirements.txt:2 pins dvc[s3]==2.10.0: CI reproduces with mlops-gitops's own locked DVC in its "
        "own environment; the pin stays in the project's Python for code that imports dvc.api; DVC 3 reads "
        "2.x pipelines and rewrites dvc.lock hashes the first time it reproduces"
    ) in lines
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.python_version, manifest.install) == ("3.8", "python -m pip install -r requirements.txt")


def test_init_without_any_python_signal_says_it_used_the_running_interpreter(tmp_path: Path) -> None:
    root = repo(tmp_path, {**MATRIX, "requirements.txt": "numpy\ndvc==3.30.0\n"})
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    lines = result.output.splitlines()
    assert (
        f"Python {running} from the running interpreter: nothing in the project names a Python version"
        in lines
    )
    pin = next(line for line in lines if "pins dvc==3.30.0" in line)
    assert pin.endswith("for code that imports dvc.api")  # a DVC 3 pin: nothing about 2.x


REQUIREMENTS_FOLDER = {
    **MATRIX,
    "requirements/train-requirements.txt": "-r base.txt\n",
    "requirements/base.txt": "numpy\n",
    "requirements/ci-requirements.txt": "pytest-xdist\n",
    "requirements/dev.txt": "ruff\n",
}


def test_requirements_folder_yes_picks_the_training_file_and_names_the_others(tmp_path: Path) -> None:
    root = repo(tmp_path, REQUIREMENTS_FOLDER)
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    assert (
        "install: `python -m pip install -r requirements/train-requirements.txt` from "
        "requirements/train-requirements.txt (chosen of 3 requirement files; also found: "
        "requirements/base.txt, requirements/ci-requirements.txt)"
    ) in result.output.splitlines()
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.install, manifest.requirements) == (
        "python -m pip install -r requirements/train-requirements.txt",
        ("requirements/train-requirements.txt", "requirements/base.txt"),
    )


def test_requirements_folder_interactive_asks_which_file(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    root = repo(tmp_path / "proj", REQUIREMENTS_FOLDER)
    # name, branch, version, which file (3: ci-requirements), install (the chosen file's), remote
    result = run_init(root, input="\n\n\n3\n\n\n")
    assert result.exit_code == 0, result.output
    assert (
        "Requirement files found:\n  1. requirements/train-requirements.txt\n  2. requirements/base.txt\n"
        "  3. requirements/ci-requirements.txt\nWhich one installs what the pipeline needs [1]:"
    ) in result.output
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.install, manifest.requirements) == (
        "python -m pip install -r requirements/ci-requirements.txt",
        ("requirements/ci-requirements.txt",),
    )


def test_conda_project_writes_python_conda_and_no_install(tmp_path: Path) -> None:
    env = "name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.9\n  - pip\n  - pip:\n    - -r requirements.txt\n"
    root = repo(tmp_path, {**MATRIX, "environment.yml": env, "requirements.txt": "numpy\n"})
    result = run_init(root, "--yes")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Python 3.9 from environment.yml:4 `- python=3.9`" in lines
    assert (
        "conda environment environment.yml: CI creates it with the runner's conda as the project's Python (its pip: "
        "section included); no separate install step"
    ) in lines
    python = YAML(typ="safe").load((root / "mlops.yaml").read_text())["python"]
    assert python == {
        "version": "3.9",
        "conda": "environment.yml",
        "requirements": ["environment.yml", "requirements.txt"],
    }
    manifest = load_manifest(root / "mlops.yaml")
    assert (manifest.conda, manifest.install) == ("environment.yml", "")


def test_bad_environment_file_is_one_line_exit_2(tmp_path: Path) -> None:
    root = repo(tmp_path, {**MATRIX, "environment.yml": "dependencies: [python=3.9\n"})
    before = tree(root)
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("environment.yml: cannot parse") and "Traceback" not in proc.stderr
    assert tree(root) == before


# --- dvc init --subdir monorepos -------------------------------------------------------------------


def subdir_project(root: Path, folder: str) -> None:
    (root / folder).mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", "init", "--subdir", "-q"],
        cwd=root / folder,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    write(
        root / folder,
        {"params.yaml": "lr: 1\n", "dvc.yaml": "stages:\n  t:\n    cmd: echo\n    params: [lr]\n"},
    )


def test_subdir_projects_without_a_root_pipeline_are_refused_in_one_line(tmp_path: Path) -> None:
    root = repo(tmp_path, {"requirements.txt": "numpy\n"}, dvc_init=False)
    subdir_project(root, "multi-params-files")
    subdir_project(root, "projects/other")
    before = tree(root)
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "no dvc.yaml at the root of this repository, but 2 DVC project(s) made with `dvc init --subdir`: "
        f"multi-params-files/, projects/other/; {SUBPROJECTS_HOW}"
    ]
    assert tree(root) == before


@pytest.mark.parametrize("command", [("init", "--yes"), ("generate",)])
def test_inside_a_subdir_project_is_refused_in_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    """Workflows written in a sub-project's own .github/ would never run: GitHub reads the root's."""
    root = repo(tmp_path, {"requirements.txt": "numpy\n"}, dvc_init=False)
    subdir_project(root, "projects/vision")
    if command == ("generate",):
        write(root / "projects/vision", {"mlops.yaml": "version: 1\nproject: {name: vision}\n"})
    before = tree(root)
    proc = run_cli(*command, "--dir", str(root / "projects/vision"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"projects/vision/ is a DVC project inside the Git repository {root.resolve()} "
        f"(`dvc init --subdir`), and GitHub runs only the workflows at the repository's root; {SUBPROJECTS_HOW}"
    ]
    assert tree(root) == before


def test_a_plain_subfolder_is_refused_with_where_to_run(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "ml/dvc.yaml": PIPELINES["matrix"]})
    before = tree(root)
    proc = run_cli("init", "--yes", "--dir", str(root / "ml"))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("ml/ is not the root of its Git repository") and "run mlops-gitops there" in line
    assert tree(root) == before


def test_the_monorepo_advice_adopts_each_subproject_as_its_own_pipeline(tmp_path: Path) -> None:
    """What the refusal says to do, done: one DVC project at the root, each sub-project's dvc.yaml in
    its folder. init adopts both, and a change in one folder retrains that pipeline only."""
    root = repo(tmp_path, {"requirements.txt": "numpy\n"}, dvc_init=False)
    for folder in ("vision", "nlp"):
        subdir_project(root, folder)
        shutil.rmtree(root / folder / ".dvc")
        (root / folder / ".dvcignore").unlink()
    assert dvc(root, "init", "-q").returncode == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "one DVC project")
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 0, proc.stderr
    assert load_manifest(root / "mlops.yaml").pipelines == ("nlp/dvc.yaml", "vision/dvc.yaml")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "adopt")
    write(root, {"vision/params.yaml": "lr: 2\n"})
    git(root, "commit", "-qam", "tune vision")
    changed = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "changed", "--base", "HEAD~1"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert changed.returncode == 0, changed.stderr
    assert "vision/dvc.yaml" in changed.stdout and "nlp/dvc.yaml" not in changed.stdout, changed.stdout


def test_root_pipeline_is_adopted_and_subdir_projects_warned_about(tmp_path: Path) -> None:
    root = repo(tmp_path, {**BASE, "dvc.yaml": PIPELINES["matrix"]})
    subdir_project(root, "experiments")
    proc = run_cli("init", "--yes", "--dir", str(root))
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stderr.splitlines() if "--subdir" in line] == [
        "warning: experiments/: DVC project(s) of their own (`dvc init --subdir`), left out: CI reproduces "
        f"the root's pipelines only; {SUBPROJECTS_HOW}"
    ]
    assert load_manifest(root / "mlops.yaml").pipelines == ("dvc.yaml",)
