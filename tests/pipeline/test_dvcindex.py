"""read_facts against DVC's own answers on real-shaped repositories (tests/repos.py).

Evidence comes from DVC itself, not from our code: `dvc stage list --all --name-only` for the
addresses, `dvc dag --dot` for how stages connect, `dvc.lock` written by `dvc repro` for the paths each
stage really used, and each builder's hand-written expectations.
"""

from __future__ import annotations

import importlib.util
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_gitops.errors import UsageError
from mlops_gitops.pipeline.dvcindex import read_facts
from mlops_gitops.pipeline.facts import (
    FactsFormatError,
    PipelineFacts,
    PlotDef,
    RepoFacts,
    StageFacts,
    stage_graph,
)
from tests import repos
from tests.repos import BuiltRepo

Builder = Callable[..., BuiltRepo]
NAMES = list(repos.BUILDERS)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BuiltRepo]]:
    """Every shape, committed but not reproduced (no `dvc repro`: fast)."""
    base = tmp_path_factory.mktemp("plain")
    yield {name: builder(base / name, reproduce=False) for name, builder in repos.BUILDERS.items()}
    shutil.rmtree(base.parent / f"{base.name}-remote", ignore_errors=True)


@pytest.fixture(scope="module")
def facts(built: dict[str, BuiltRepo]) -> dict[str, RepoFacts]:
    return {name: read_facts(b.root) for name, b in built.items()}


def dvc_out(root: Path, *args: str) -> str:
    return repos.dvc(root, *args)


def copy_repo(src: BuiltRepo, dst: Path) -> Path:
    shutil.copytree(src.root, dst, symlinks=True)
    return dst


# --------------------------------------------------------------------------------------------------
# What DVC lists and connects.


@pytest.mark.parametrize("name", NAMES)
def test_addresses_are_what_dvc_stage_list_prints(
    name: str, built: dict[str, BuiltRepo], facts: dict[str, RepoFacts]
) -> None:
    listed = dvc_out(built[name].root, "stage", "list", "--all", "--name-only").split()
    pipeline_stages = {a for a in listed if not a.endswith(".dvc")}
    addresses = [s.address for s in facts[name].stages()]
    assert len(addresses) == len(set(addresses))
    assert set(addresses) == pipeline_stages == set(built[name].stages)
    assert {t.dvcfile for t in facts[name].tracked} == {a for a in listed if a.endswith(".dvc")}
    assert facts[name].dvcfiles == tuple(sorted(built[name].dvcfiles))


@pytest.mark.parametrize("name", NAMES)
def test_graph_is_dvc_dag(name: str, built: dict[str, BuiltRepo], facts: dict[str, RepoFacts]) -> None:
    dot = dvc_out(built[name].root, "dag", "--dot")
    edges = set(re.findall(r'^"([^"]+)" -> "([^"]+)";$', dot, re.MULTILINE))  # upstream -> downstream
    ours = {(up, address) for address, ups in facts[name].graph().items() for up in ups}
    assert ours == {(a, b) for a, b in edges if not a.endswith(".dvc")}
    pointed = {(a, b) for a, b in edges if a.endswith(".dvc")}
    for pointer, address in pointed:
        assert pointer in facts[name].pipeline(facts[name].stage(address).dvcfile).dvc_pointers


@pytest.mark.parametrize("name", NAMES)
def test_stage_paths_are_what_the_builder_declared(
    name: str, built: dict[str, BuiltRepo], facts: dict[str, RepoFacts]
) -> None:
    for address, spec in built[name].stages.items():
        stage = facts[name].stage(address)
        assert tuple(sorted(stage.deps)) == spec.deps, address
        assert tuple(sorted(stage.outs)) == spec.outs, address
        assert tuple(sorted(stage.metrics)) == spec.metrics, address
        assert tuple(sorted(stage.plot_paths)) == spec.plots, address
        assert tuple((f, tuple(sorted(k))) for f, k in stage.params) == spec.params, address
        assert stage.wdir == spec.wdir, address


def test_graph_agrees_with_dvcs_own_graph_in_process(built: dict[str, BuiltRepo], tmp_path: Path) -> None:
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    root = copy_repo(built["templated"], tmp_path / "repo")

    def address(stage: PipelineStage) -> str:
        dvcfile = Path(stage.path).relative_to(root).as_posix()
        return stage.name if dvcfile == "dvc.yaml" else f"{dvcfile}:{stage.name}"

    with Repo(str(root)) as repo:
        theirs = {
            (address(stage), address(up))
            for stage, up in repo.index.graph.edges
            if isinstance(stage, PipelineStage) and isinstance(up, PipelineStage)
        }
    ours = {(a, up) for a, ups in read_facts(root).graph().items() for up in ups}
    assert ours == theirs


# --------------------------------------------------------------------------------------------------
# Templating, wdir and top-level sections.


def test_foreach_dict_items_and_matrix_names_resolve(facts: dict[str, RepoFacts]) -> None:
    repo = facts["templated"]
    names = [s.name for s in repo.stages()]
    assert names == [
        "01_featurise",
        "split@0",
        "split@1",
        "train@0.1-1",
        "train@0.1-2",
        "train@0.01-1",
        "train@0.01-2",
        "select",
        "evaluate",
    ]
    split = repo.stage("split@1")
    assert split.group == "split"
    assert split.cmd == "python src/split.py data/features.csv test 0.25 data/test.csv"
    assert split.outs == ("data/test.csv",)
    train = repo.stage("train@0.01-2")
    assert train.group == "train"
    assert train.cmd == (
        "python src/train.py data/train.csv models/model-0.01-2.json 0.01 200 curves/loss-0.01-2.csv"
    )
    assert repo.stage("01_featurise").group is None
    assert repo.stage("01_featurise").address == "01_featurise"


def test_wdir_relative_paths_become_repo_relative(facts: dict[str, RepoFacts]) -> None:
    select = facts["templated"].stage("select")
    assert select.wdir == "src"
    assert "src/select_best.py" in select.deps
    assert "models/model-0.1-1.json" in select.deps
    assert select.outs == ("models/best.json",)
    score = facts["two_pipelines"].stage("pipelines/fraud/dvc.yaml:score")
    assert score.wdir == "pipelines/fraud"
    assert score.deps == ("src/fraud/train.py", "src/common.py", "data/fraud/transactions.csv")
    assert score.params == (("pipelines/fraud/params.yaml", ("model.threshold",)),)
    prepare = facts["subfolder_pipeline"].stage("pipelines/dvc.yaml:prepare")
    assert prepare.wdir == "."
    assert prepare.params == (("params.yaml", ("prepare.split", "prepare.seed")),)
    assert prepare.cmd == "python src/prepare.py data/raw/points.csv data/prepared 0.25 7"


def test_top_level_metrics_plots_and_artifacts(
    facts: dict[str, RepoFacts], built: dict[str, BuiltRepo]
) -> None:
    pipeline = facts["templated"].pipeline("dvc.yaml")
    assert pipeline.metrics == built["templated"].top_metrics
    roc, mixed, prc = pipeline.plots
    assert (roc.id, roc.files, roc.x, roc.y, roc.title, roc.template) == (
        "eval/plots/roc.json",
        ("eval/plots/roc.json",),
        "fpr",
        ("tpr", "threshold"),
        "ROC",
        "linear",
    )
    assert roc.series() == (("eval/plots/roc.json", "tpr"), ("eval/plots/roc.json", "threshold"))
    assert mixed.id == "Residuals and loss"
    assert mixed.files == ("eval/plots/residuals.csv", "curves/loss-0.1-1.csv")
    assert mixed.y == {"eval/plots/residuals.csv": "residual", "curves/loss-0.1-1.csv": ("loss",)}
    assert (mixed.x_label, mixed.y_label, mixed.stage) == ("x", "value", None)
    assert mixed.series() == (("eval/plots/residuals.csv", "residual"), ("curves/loss-0.1-1.csv", "loss"))
    assert (prc.files, prc.x, prc.y) == (("eval/plots/precision_recall.json",), None, None)
    top_files = sorted({f for p in pipeline.plots for f in p.files})
    assert tuple(top_files) == built["templated"].top_plot_files
    (artifact,) = pipeline.artifacts
    assert (artifact.name, artifact.path, artifact.type, artifact.labels, artifact.dvcfile) == (
        "best-model",
        "models/best.json",
        "model",
        ("regression", "grid"),
        "dvc.yaml",
    )
    stage_plot = facts["templated"].stage("train@0.1-1").plots[0]
    assert (stage_plot.files, stage_plot.x, stage_plot.y, stage_plot.stage) == (
        ("curves/loss-0.1-1.csv",),
        "step",
        "loss",
        "train@0.1-1",
    )
    assert facts["templated"].stage("train@0.1-1").uncached == ("curves/loss-0.1-1.csv",)
    # fraud writes its metrics relative to its own folder; the top-level entry is relative to the dvc.yaml.
    assert facts["two_pipelines"].pipeline("pipelines/fraud/dvc.yaml").metrics == (
        "pipelines/fraud/results/metrics.json",
    )


def test_metrics_inside_a_tracked_directory_output(facts: dict[str, RepoFacts]) -> None:
    repo = facts["tracked_metrics_dir"]
    pipeline = repo.pipeline("dvc.yaml")
    assert pipeline.metrics == ("eval/metrics.json",)
    assert repo.stage("evaluate").outs == ("eval",)
    assert repo.stage("evaluate").uncached == ()  # cached: not in git
    assert [p.files for p in pipeline.plots] == [
        ("eval/plots/roc.json",),
        ("eval/plots/precision_recall.json",),
    ]
    assert "eval/metrics.json" not in pipeline.inputs(repo.outs())


def test_dvc_pointers_and_inputs(facts: dict[str, RepoFacts]) -> None:
    repo = facts["tracked_metrics_dir"]
    pipeline = repo.pipeline("dvc.yaml")
    assert pipeline.dvc_pointers == ("data/raw.dvc",)
    assert [t.to_json() for t in repo.tracked] == [{"dvcfile": "data/raw.dvc", "outs": ["data/raw"]}]
    assert set(repo.inputs("dvc.yaml")) == {
        "src/prepare.py",
        "data/raw",
        "src/train.py",
        "src/evaluate.py",
        "params.yaml",
    }
    assert pipeline.vars_files == ("params.yaml",)
    assert facts["subfolder_pipeline"].pipeline("pipelines/dvc.yaml").dvc_pointers == ()


def test_inputs_exclude_what_other_pipelines_produce(built: dict[str, BuiltRepo], tmp_path: Path) -> None:
    root = copy_repo(built["two_pipelines"], tmp_path / "repo")
    (root / "pipelines/report").mkdir()
    (root / "pipelines/report/dvc.yaml").write_text(
        "stages:\n"
        "  compare:\n"
        "    wdir: ../..\n"
        "    cmd: python src/common.py\n"
        "    deps: [src/common.py, metrics/churn.json, pipelines/fraud/results]\n"
        "    outs: [reports/compare.json]\n"
    )
    repo = read_facts(root)
    report = repo.pipeline("pipelines/report/dvc.yaml")
    assert report.inputs() == ("src/common.py", "metrics/churn.json", "pipelines/fraud/results")
    # A directory holding another stage's output stays an input (it may hold more); DVC still links them.
    assert repo.inputs("pipelines/report/dvc.yaml") == ("src/common.py", "pipelines/fraud/results")
    assert repo.upstream("pipelines/report/dvc.yaml") == (
        "pipelines/churn/dvc.yaml",
        "pipelines/fraud/dvc.yaml",
    )
    assert repo.upstream(repo.pipeline("pipelines/churn/dvc.yaml")) == ()
    assert repo.downstream("pipelines/fraud/dvc.yaml") == ("pipelines/report/dvc.yaml",)
    assert repo.graph()["pipelines/report/dvc.yaml:compare"] == (
        "pipelines/churn/dvc.yaml:train",
        "pipelines/fraud/dvc.yaml:score",
    )
    assert len(repo.independent_groups()) == 1
    assert read_facts(built["two_pipelines"].root).independent_groups() == (
        ("pipelines/churn/dvc.yaml",),
        ("pipelines/fraud/dvc.yaml",),
    )


def test_only_the_named_pipelines(built: dict[str, BuiltRepo], tmp_path: Path) -> None:
    root = copy_repo(built["two_pipelines"], tmp_path / "repo")
    only = read_facts(root, ["pipelines/fraud/dvc.yaml"])
    assert only.dvcfiles == ("pipelines/fraud/dvc.yaml",)
    assert only.pipelines == read_facts(root).pipelines[1:]
    (root / "pipelines/churn/dvc.yaml").write_text("stages:\n  train:\n    cmd: python ${nope}\n")
    assert read_facts(root, ["pipelines/fraud/dvc.yaml"]).dvcfiles == ("pipelines/fraud/dvc.yaml",)
    with pytest.raises(UsageError, match=r"^pipelines/churn/dvc.yaml: "):
        read_facts(root, ["pipelines/churn/dvc.yaml"])
    with pytest.raises(UsageError, match=r"^pipelines/churn/dvc.yaml: "):
        read_facts(root)
    with pytest.raises(UsageError, match=r"^pipelines/none/dvc.yaml: .*does not exist"):
        read_facts(root, ["pipelines/none/dvc.yaml"])
    with pytest.raises(UsageError, match=r"^params.yaml: not a dvc.yaml file$"):
        read_facts(root, ["params.yaml"])


# --------------------------------------------------------------------------------------------------
# JSON, errors, and leaving the repository alone.


@pytest.mark.parametrize("name", NAMES)
def test_facts_survive_a_json_round_trip(name: str, facts: dict[str, RepoFacts]) -> None:
    repo = facts[name]
    text = json.dumps(repo.to_json(), sort_keys=True)
    again = RepoFacts.from_json(json.loads(text))
    assert again == repo
    assert json.dumps(again.to_json(), sort_keys=True) == text
    assert again.graph() == repo.graph()
    for pipeline in repo.pipelines:
        assert PipelineFacts.from_json(json.loads(json.dumps(pipeline.to_json()))) == pipeline
        for stage in pipeline.stages:
            assert StageFacts.from_json(stage.to_json()) == stage
    assert stage_graph(repo.stages()) == repo.graph()
    hash(again)


def test_stale_json_is_refused() -> None:
    with pytest.raises(FactsFormatError):
        RepoFacts.from_json({"version": 0, "pipelines": []})
    with pytest.raises(FactsFormatError):
        PipelineFacts.from_json({"dvcfile": "dvc.yaml"})


def test_plot_round_trip_keeps_dvcs_shapes() -> None:
    plot = PlotDef(
        id="p",
        files=("a.csv", "b.csv"),
        source="dvc.yaml",
        x={"a.csv": "t"},
        y={"a.csv": ("u", "v"), "b.csv": "w"},
    )
    assert PlotDef.from_json(json.loads(json.dumps(plot.to_json()))) == plot
    assert plot.series() == (("a.csv", "u"), ("a.csv", "v"), ("b.csv", "w"))


BROKEN = {
    "missing reference": (
        "stages:\n  train:\n    wdir: ..\n    cmd: python src/train.py ${train.missing}\n",
        r"failed to parse 'stages\.train\.cmd' in .*Could not find 'train\.missing'",
    ),
    "YAML syntax": (
        "stages:\n  train:\n    cmd: [python src/train.py\n    deps: x\n",
        r"YAML file structure is corrupted: .*line 4, column 9",
    ),
    "unknown key": (
        "stages:\n  train:\n    cmd: python src/train.py\n    depz: [src/train.py]\n",
        r"validation failed: extra keys not allowed, in stages -> train -> depz, line 4",
    ),
    "missing vars file": (
        "vars:\n  - ../conf/missing.yaml\nstages:\n  train:\n    cmd: python src/train.py\n",
        r"failed to parse 'vars' in .*conf/missing\.yaml' does not exist",
    ),
    "dict item without the key": (
        "stages:\n  s:\n    foreach:\n      - {split: train}\n    do:\n      cmd: echo ${item.nope}\n",
        r"Could not find 'item\.nope'",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_dvc_yaml_is_one_line_naming_the_file(
    case: str, built: dict[str, BuiltRepo], tmp_path: Path
) -> None:
    text, pattern = BROKEN[case]
    root = copy_repo(built["subfolder_pipeline"], tmp_path / "repo")
    (root / "pipelines/dvc.yaml").write_text(text)
    with pytest.raises(UsageError) as caught:
        read_facts(root)
    message = str(caught.value)
    assert caught.value.lines() == [message]
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("pipelines/dvc.yaml: "), message
    assert re.search(pattern, message), message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_url_whose_dvc_plugin_is_missing_is_one_line(built: dict[str, BuiltRepo], tmp_path: Path) -> None:
    if importlib.util.find_spec("dvc_gs") is not None:
        pytest.skip("dvc-gs is installed: nothing is missing")
    root = copy_repo(built["two_pipelines"], tmp_path / "repo")
    (root / "pipelines/cloud").mkdir()
    (root / "pipelines/cloud/dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: echo\n    deps: [gs://bucket/x.csv]\n"
    )
    with pytest.raises(
        UsageError, match=r"^pipelines/cloud/dvc.yaml: gs is supported, but requires 'dvc-gs'"
    ):
        read_facts(root)


def test_stage_flags_commands_and_external_dependencies(built: dict[str, BuiltRepo], tmp_path: Path) -> None:
    root = copy_repo(built["subfolder_pipeline"], tmp_path / "repo")
    (root / "pipelines/dvc.yaml").write_text(
        "stages:\n"
        "  fetch:\n"
        "    desc: Download the raw points\n"
        "    cmd:\n      - python src/prepare.py --help\n      - echo done\n"
        "    wdir: ..\n"
        "    frozen: true\n"
        "    always_changed: true\n"
        "    deps: [https://example.com/points.csv, /etc/hostname, data/raw/]\n"
        "    params:\n      - custom.yaml:\n      - params.yaml:\n"
        "    outs:\n      - data/cache/:\n          persist: true\n          cache: false\n"
    )
    stage = read_facts(root).stage("pipelines/dvc.yaml:fetch")
    assert stage.cmd == ("python src/prepare.py --help", "echo done")
    assert (stage.frozen, stage.always_changed, stage.desc) == (True, True, "Download the raw points")
    assert stage.deps == ("data/raw",)
    assert stage.external_deps == ("https://example.com/points.csv", "/etc/hostname")
    assert stage.params == (("custom.yaml", ()), ("params.yaml", ()))
    assert (stage.outs, stage.persist, stage.uncached) == (("data/cache",), ("data/cache",), ("data/cache",))
    assert StageFacts.from_json(json.loads(json.dumps(stage.to_json()))) == stage


def test_outputs_claimed_twice_name_both_files(built: dict[str, BuiltRepo], tmp_path: Path) -> None:
    root = copy_repo(built["two_pipelines"], tmp_path / "repo")
    (root / "pipelines/copy").mkdir()
    (root / "pipelines/copy/dvc.yaml").write_text(
        "stages:\n  again:\n    wdir: ../..\n    cmd: echo\n    outs: [metrics/churn.json]\n"
    )
    with pytest.raises(UsageError, match=r"^pipelines/churn/dvc.yaml, pipelines/copy/dvc.yaml: output "):
        read_facts(root)


def test_the_projects_parsing_config_is_honoured(built: dict[str, BuiltRepo], tmp_path: Path) -> None:
    root = copy_repo(built["templated"], tmp_path / "repo")
    (root / ".dvc/config").write_text("[parsing]\n    bool = boolean_optional\n    list = append\n")
    (root / "dvc.yaml").write_text(
        "vars:\n  - opts: {fast: false, tags: [a, b]}\nstages:\n  s:\n    cmd: python x.py ${opts}\n"
    )
    assert read_facts(root).stage("s").cmd == "python x.py --no-fast --tags a --tags b"


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            found[os.path.relpath(path, root)] = (st.st_mtime_ns, st.st_size)
    return found


def git_status(root: Path) -> str:
    return repos.git(root, "status", "--porcelain", "--ignored")


@pytest.mark.parametrize("name", ["templated", "tracked_metrics_dir"])
def test_nothing_is_written(
    name: str, built: dict[str, BuiltRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh clone has no .dvc/tmp: the state a CI checkout is in.
    root = tmp_path / "clone"
    repos.git(tmp_path, "clone", "-q", str(built[name].root), str(root))
    site_cache = tmp_path / "site-cache"
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(site_cache))
    status = git_status(root)  # git itself refreshes .git/index after a clone: let it, first
    before = snapshot(root)
    assert read_facts(root).stages()
    assert snapshot(root) == before
    assert git_status(root) == status
    assert not site_cache.exists()
    assert not (root / ".dvc/tmp").exists()


def test_dvc_itself_would_write_where_read_facts_does_not(
    built: dict[str, BuiltRepo], tmp_path: Path
) -> None:
    """Why read_facts does not open a plain `Repo(root)`: that alone creates .dvc/tmp."""
    from dvc.repo import Repo

    root = tmp_path / "clone"
    repos.git(tmp_path, "clone", "-q", str(built["templated"].root), str(root))
    with Repo(str(root)) as repo:
        assert len(repo.index.stages) == len(read_facts(root).stages())
    assert (root / ".dvc/tmp").is_dir()


def test_a_git_repository_without_dvc_init(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    repos.git(root, "init", "-q", "-b", "main")
    repos.write(
        root,
        {
            "dvc.yaml": "stages:\n  make:\n    cmd: python make.py\n    deps: [make.py]\n    outs: [data.csv]\n",
            "report/dvc.yaml": "stages:\n  report:\n    cmd: python r.py\n    deps: [../data.csv]\n",
        },
    )
    before = snapshot(root)
    repo = read_facts(root)
    assert [s.address for s in repo.stages()] == ["make", "report/dvc.yaml:report"]
    assert repo.graph() == {"make": (), "report/dvc.yaml:report": ("make",)}
    assert snapshot(root) == before


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        read_facts(tmp_path / "nowhere")


def test_cml_and_gitlab_files_exist(built: dict[str, BuiltRepo], facts: dict[str, RepoFacts]) -> None:
    b = built["with_cml_workflow"]
    workflow = (b.root / b.extra["github_workflow"]).read_text()
    assert "dvc repro" in workflow and "cml comment create" in workflow
    assert "dvc repro" in (b.root / b.extra["gitlab_ci"]).read_text()
    assert (b.root / "src/requirements.txt").exists() and not (b.root / "requirements.txt").exists()
    assert facts["with_cml_workflow"].pipelines == facts["subfolder_pipeline"].pipelines
    assert repos.git(b.root, "status", "--porcelain") == ""


def test_dvc_is_imported_only_when_reading() -> None:
    code = (
        "import sys, mlops_gitops.pipeline.facts, mlops_gitops.pipeline.dvcindex;"
        "print(any(m == 'dvc' or m.startswith('dvc.') for m in sys.modules))"
    )
    project = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------------------------------
# After `dvc repro`: what DVC recorded in dvc.lock is what read_facts says.


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BuiltRepo]]:
    base = tmp_path_factory.mktemp("repro")
    names = ["subfolder_pipeline", "two_pipelines", "templated", "tracked_metrics_dir"]
    yield {name: repos.BUILDERS[name](base / name) for name in names}


def lock_paths(wdir: str, entries: list[dict[str, object]]) -> list[str]:
    return sorted(posixpath.normpath(posixpath.join(wdir, str(e["path"]))) for e in entries)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["subfolder_pipeline", "two_pipelines", "templated", "tracked_metrics_dir"])
def test_dvc_lock_after_repro_agrees(name: str, reproduced: dict[str, BuiltRepo]) -> None:
    from ruamel.yaml import YAML

    b = reproduced[name]
    repo = read_facts(b.root)
    assert repos.git(b.root, "status", "--porcelain") == ""
    for pipeline in repo.pipelines:
        lock_file = b.root / posixpath.dirname(pipeline.dvcfile) / "dvc.lock"
        lock = YAML(typ="safe").load(lock_file.read_text())["stages"]
        assert set(lock) == {s.name for s in pipeline.stages}
        for stage in pipeline.stages:
            entry = lock[stage.name]
            assert entry["cmd"] == stage.cmd
            assert lock_paths(stage.wdir, entry.get("deps", [])) == sorted(stage.deps), stage.address
            assert lock_paths(stage.wdir, entry.get("outs", [])) == sorted(stage.outs), stage.address
            locked_params = {
                posixpath.normpath(posixpath.join(stage.wdir, f)): set(v)
                for f, v in entry.get("params", {}).items()
            }
            assert set(locked_params) == set(stage.params_files), stage.address
            for path, keys in stage.params:
                if keys:
                    assert locked_params[path] == set(keys), stage.address
        for path in (*pipeline.all_metrics(), *(f for p in pipeline.all_plots() for f in p.files)):
            assert (b.root / path).is_file(), path


@pytest.mark.slow
def test_old_metrics_of_the_tracked_directory_are_unreachable(reproduced: dict[str, BuiltRepo]) -> None:
    from dvc.repo import Repo

    b = reproduced["tracked_metrics_dir"]
    assert len(b.revs) == 2 and not Path(b.extra["remote"]).exists()
    with Repo(str(b.root)) as repo:
        shown = repo.metrics.show(revs=list(b.revs))
    assert "error" in shown[b.revs[0]]["data"]["eval/metrics.json"]
    assert set(shown[b.revs[1]]["data"]["eval/metrics.json"]["data"]) == {"mse", "mae", "n"}
