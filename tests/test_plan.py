"""`mlops-gitops plan` on a real git + DVC repository: a ``foreach`` training stage over six items
(``vars`` from params.yaml) between a prepare stage and an aggregate, and an independent pipeline in a
subfolder. The plan for: everything changed, one item's input (and one item's param) changed, two
items and the other pipeline changed, nothing changed. Then the plan is carried out with DVC in
separate copies of the repository, the way separate jobs would, to show that the final job restores
every run and executes only its own stages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import repos

ITEMS = repos.FANOUT_ITEMS
FILES = repos.FANOUT_FILES
OTHER = ["pipelines/other/dvc.yaml:featurize", "pipelines/other/dvc.yaml:fit"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reproduced and committed, with the record of the pipeline facts (so `plan` needs no DVC)."""
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project, record_of
    from mlops_gitops.pipeline.record import RECORD_FILE, render

    root = tmp_path_factory.mktemp("fanout") / "repo"
    repos.init(root)
    repos.write(root, FILES)
    repos.dvc(root, "repro", "--quiet", "--all-pipelines")
    repos.commit(root, "pipelines, reproduced")
    project = load_project(root, load_manifest(root / "mlops.yaml"))
    (root / RECORD_FILE).parent.mkdir(exist_ok=True)
    (root / RECORD_FILE).write_text(render(record_of(project)), encoding="utf-8")
    repos.commit(root, "record")
    (root / ".git" / "mlops-gitops-facts.json").unlink(missing_ok=True)
    return root


@pytest.fixture
def repo(built: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "repo"
    shutil.copytree(built, root, symlinks=True)
    repos.git(root, "checkout", "-q", "-b", "feature")
    yield root


def change(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).write_text(text)
    repos.commit(root, "change")


def plan(root: Path, *args: str, output: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("GITHUB_OUTPUT", None)
    if output:
        env["GITHUB_OUTPUT"] = str(output)
    code = (
        "import sys; from mlops_gitops.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        "print('DVC' if any(m == 'dvc' or m.startswith('dvc.') for m in sys.modules) else 'NO-DVC', file=sys.stderr)\n"
        "sys.exit(code)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "plan", *args], cwd=root, capture_output=True, text=True, env=env
    )


def planned(root: Path, *args: str) -> dict[str, object]:
    out = root.parent / "plan.json"
    proc = plan(root, *args, "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "NO-DVC", "the committed record is fresh: no DVC"
    result: dict[str, object] = json.loads(out.read_text())
    return result


def tiers(result: dict[str, object]) -> tuple[list[str], list[list[str]], list[str]]:
    up, final, matrix = result["upstream"], result["final"], result["matrix"]
    assert isinstance(matrix, dict)
    return (
        up["stages"] if isinstance(up, dict) else [],
        [entry["stages"] for entry in matrix["include"]],
        final["stages"] if isinstance(final, dict) else [],
    )


def test_everything_changed(repo: Path) -> None:
    every = planned(repo, "--all")
    assert tiers(every) == (["prepare"], [*([f"train@{i}"] for i in ITEMS), OTHER], ["aggregate"])
    assert every["pipelines"] == ["dvc.yaml", "pipelines/other/dvc.yaml"]

    change(repo, {"data/raw.csv": "x,y\n1,2\n2,4\n3,6\n"})  # what prepare reads: every item below it
    result = planned(repo, "--base", "main")
    assert tiers(result) == (["prepare"], [[f"train@{i}"] for i in ITEMS], ["aggregate"])
    assert result["changed"] == {
        "prepare": "data/raw.csv",
        **{f"train@{i}": "downstream of prepare" for i in ITEMS},
        "aggregate": "downstream of train@c1",
    }
    assert result["pipelines"] == ["dvc.yaml"]  # the other pipeline is not reproduced at all
    matrix = result["matrix"]
    assert isinstance(matrix, dict)
    assert [e["id"] for e in matrix["include"]] == [f"train-{i}" for i in ITEMS]
    assert [e["targets"] for e in matrix["include"]] == [[f"train@{i}"] for i in ITEMS]


def test_one_items_input_reproduces_that_item(repo: Path) -> None:
    change(repo, {"data/items/c3.csv": "x,y\n1,2\n5,5\n"})
    result = planned(repo, "--base", "main")
    assert result["changed"] == {"train@c3": "data/items/c3.csv", "aggregate": "downstream of train@c3"}
    assert tiers(result) == ([], [], ["train@c3", "aggregate"])  # one parallel job is no fan-out

    (repo / "mlops.yaml").write_text(FILES["mlops.yaml"] + "fanout: {min_jobs: 1}\n")
    repos.commit(repo, "always use the matrix")
    assert tiers(planned(repo, "--base", "main")) == ([], [["train@c3"]], ["aggregate"])


def test_one_items_param_reproduces_that_item(repo: Path) -> None:
    change(repo, {"params.yaml": FILES["params.yaml"].replace("c4: {lr: 0.1}", "c4: {lr: 0.3}")})
    result = planned(repo, "--base", "main")
    assert result["changed"] == {
        "train@c4": "params.yaml: train.c4.lr",
        "aggregate": "downstream of train@c4",
    }


def test_two_items_and_the_other_pipeline_fan_out(repo: Path, tmp_path: Path) -> None:
    change(
        repo,
        {
            "data/items/c2.csv": "x,y\n7,7\n",
            "data/items/c5.csv": "x,y\n8,8\n",
            "pipelines/other/data.csv": "a\n2\n",
        },
    )
    output = tmp_path / "github-output"
    proc = plan(repo, "--base", "main", output=output)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "train@c2: data/items/c2.csv",
        "train@c5: data/items/c5.csv",
        "aggregate: downstream of train@c2",
        "pipelines/other/dvc.yaml:featurize: pipelines/other/data.csv",
        "pipelines/other/dvc.yaml:fit: downstream of pipelines/other/dvc.yaml:featurize",
        "fan-out: 3 job(s)",
        "  train-c2 (ubuntu-latest, 120 min): train@c2",
        "  train-c5 (ubuntu-latest, 120 min): train@c5",
        "  pipelines-other (ubuntu-latest, 120 min): " + ", ".join(OTHER),
        "final (ubuntu-latest, 120 min): aggregate; reproduces dvc.yaml, pipelines/other/dvc.yaml",
        "retrain=true",
    ]
    job = '"runs_on":"ubuntu-latest","timeout_minutes":120,"container":null,"runner":null}'
    assert output.read_text().splitlines() == [
        "retrain=true",
        'pipelines=["dvc.yaml","pipelines/other/dvc.yaml"]',
        "has_upstream=false",
        "has_fan=true",
        "upstream=null",
        'matrix={"include":[{"id":"train-c2","targets":["train@c2"],'
        + job
        + ',{"id":"train-c5","targets":["train@c5"],'
        + job
        + ',{"id":"pipelines-other","targets":["pipelines/other/dvc.yaml:fit"],'
        + job
        + "]}",
        'final={"id":"final","targets":["dvc.yaml","pipelines/other/dvc.yaml"],' + job,
    ]


def test_nothing_changed(repo: Path, tmp_path: Path) -> None:
    change(repo, {"README.md": "# fan-out\n\nmore words\n"})
    output = tmp_path / "github-output"
    proc = plan(repo, "--base", "main", output=output)
    assert proc.returncode == 0 and proc.stdout.splitlines() == ["nothing to reproduce", "retrain=false"]
    assert output.read_text().splitlines() == [
        "retrain=false",
        "pipelines=[]",
        "has_upstream=false",
        "has_fan=false",
        "upstream=null",
        'matrix={"include":[]}',
        "final=null",
    ]


def test_runners_per_stage_and_a_key_that_matches_nothing(repo: Path) -> None:
    digest = "a" * 64
    gpu = (
        "runners:\n  stages:\n"
        f'    "train@*": {{runs_on: [self-hosted, gpu], timeout_minutes: 240, '
        f'container: {{image: "nvidia/cuda:12.4.1-runtime-ubuntu22.04@sha256:{digest}", options: "--gpus all"}}}}\n'
    )
    (repo / "mlops.yaml").write_text(FILES["mlops.yaml"] + gpu)
    change(repo, {"data/items/c1.csv": "x,y\n0,0\n", "data/items/c6.csv": "x,y\n0,1\n"})
    result = planned(repo, "--base", "main")
    matrix = result["matrix"]
    assert isinstance(matrix, dict) and result["final"] is not None
    assert [(e["runs_on"], e["timeout_minutes"], e["runner"]) for e in matrix["include"]] == [
        (["self-hosted", "gpu"], 240, "train@*")
    ] * 2
    assert matrix["include"][0]["container"]["options"] == "--gpus all"
    assert result["final"]["runs_on"] == "ubuntu-latest"  # type: ignore[index]

    (repo / "mlops.yaml").write_text(
        FILES["mlops.yaml"] + gpu + "    trian: {timeout_minutes: 5}\n    train@c1: {timeout_minutes: 5}\n"
    )
    proc = plan(repo, "--base", "main")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[1] == (
        "mlops.yaml:9:15: runners.stages.train@c1: every stage 'train@c1' matches is placed by 'train@*' "
        "before it: move it up, or remove it"
    )
    assert proc.stderr.splitlines()[0] == (
        "mlops.yaml:8:12: runners.stages.trian: 'trian' matches no stage of the pipelines; did you mean "
        "'train'? (stages: aggregate, featurize, fit, prepare, train, train@c1, train@c2, train@c3, "
        "train@c4, train@c5, train@c6)"
    )


def test_entry_targets_file_and_usage(repo: Path, tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    entry = json.dumps({"id": "x", "targets": ["train@c1", "pipelines/other/dvc.yaml:fit"]})
    proc = plan(repo, "--entry", entry, "--targets-file", str(targets))
    assert proc.returncode == 0, proc.stderr
    assert targets.read_bytes() == b"train@c1\0pipelines/other/dvc.yaml:fit\0"
    assert plan(repo).returncode == 2
    bad = plan(repo, "--entry", "{", "--targets-file", str(targets))
    assert bad.returncode == 2 and bad.stderr.splitlines()[0].startswith("--entry: not JSON")


def test_the_final_job_restores_every_run_and_executes_only_its_own(repo: Path, tmp_path: Path) -> None:
    """The plan carried out by DVC in separate copies, as separate jobs would: the upstream job's
    cache reaches the matrix jobs, every job's cache reaches the final job. Each stage executes once."""
    change(repo, {"data/raw.csv": "x,y\n1,3\n", "pipelines/other/data.csv": "a\n3\n"})
    result = planned(repo, "--base", "main")
    up, fan, final = tiers(result)
    assert (up, final) == (["prepare"], ["aggregate"]) and len(fan) == 7
    log = tmp_path / "executions.log"

    def job(name: str, entry: dict[str, object], caches: list[Path]) -> Path:
        workdir = tmp_path / name
        shutil.copytree(repo, workdir, symlinks=True)
        for cache in caches:  # what the workflow downloads as artifacts
            shutil.copytree(cache, workdir / ".dvc" / "cache", dirs_exist_ok=True)
        targets = workdir.parent / f"{name}.targets"
        proc = plan(workdir, "--entry", json.dumps(entry), "--targets-file", str(targets))
        assert proc.returncode == 0, proc.stderr
        env = {**repos._env(), "FANOUT_LOG": str(log)}
        subprocess.run(
            ["xargs", "-0", "-r", "-a", str(targets), sys.executable, "-m", "dvc", "repro", "--quiet"],
            cwd=workdir,
            env=env,
            check=True,
        )
        return workdir / ".dvc" / "cache"

    upstream_cache = job("upstream", result["upstream"], [])  # type: ignore[arg-type]
    matrix = result["matrix"]
    assert isinstance(matrix, dict)
    caches = [job(e["id"], e, [upstream_cache]) for e in matrix["include"]]
    executed_before = log.read_text().splitlines()
    assert sorted(executed_before) == sorted(["prepare", *[f"train {i}" for i in ITEMS], "featurize", "fit"])
    job("final", result["final"], [upstream_cache, *caches])  # type: ignore[arg-type]
    assert log.read_text().splitlines()[len(executed_before) :] == ["aggregate"]  # restored the rest
    assert json.loads((tmp_path / "final" / "metrics.json").read_text())["models"] == 6
    status = repos.dvc(tmp_path / "final", "status", "--quiet", "dvc.yaml", "pipelines/other/dvc.yaml")
    assert status.strip() == ""


def test_a_split_then_a_matrix_fans_out_the_matrix(tmp_path: Path) -> None:
    """The templated project (tests/repos.py: ``vars``, a ``foreach`` split in two, a ``matrix`` of
    four trainings reading one split, ``wdir``), adopted as is: new raw data runs the featurisation
    and the training split upstream, the four trainings and the test split side by side, and
    select and evaluate after them; the generated PR workflow has the matrix."""
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project, record_of
    from mlops_gitops.pipeline.record import RECORD_FILE, render

    root = repos.templated(tmp_path / "grid").root
    repos.write(root, {"mlops.yaml": "version: 1\nproject: {name: grid}\npipelines: [dvc.yaml]\n"})
    project = load_project(root, load_manifest(root / "mlops.yaml"))
    (root / RECORD_FILE).parent.mkdir(exist_ok=True)
    (root / RECORD_FILE).write_text(render(record_of(project)), encoding="utf-8")
    repos.commit(root, "adopt")
    repos.git(root, "checkout", "-q", "-b", "feature")
    change(root, {"data/raw.csv": (root / "data/raw.csv").read_text() + "99,1.0\n"})
    up, fan, final = tiers(planned(root, "--base", "main"))
    trainings = [f"train@{lr}-{seed}" for lr in ("0.1", "0.01") for seed in (1, 2)]
    assert up == ["01_featurise", "split@0"]
    assert sorted(fan) == sorted([["split@1"], *([t] for t in trainings)])
    assert final == ["select", "evaluate"]
    assert project.fans_out()
