"""Whole repositories as people ship them, adopted by `init --yes`, then the generated mlops-pr ->
mlops-comment -> mlops-train run under act against the fake GitHub, each ending green with a posted
report.

Families (fixtures written here, small and real: git, DVC, a stage that runs):

* ``pyproject``: no requirements file, only ``pyproject.toml`` (``python -m pip install .``);
* ``requirements-folder``: ``requirements/train-requirements.txt`` beside dev and CI files;
* ``old-pins``: ``# Python==3.8`` on the first line of requirements.txt, ``dvc==3.26.0`` and
  ``numpy<2``: the project's Python is a real 3.8 (``MLOPS_ACT_PYTHONS``) with those pins installed,
  while the tool reproduces in its own environment with its locked DVC;
* ``monorepo``: two ``dvc init --subdir`` projects (``vision/``, ``nlp/``) made one DVC project at
  the root as ``init``'s refusal advises (docs/adopting.md#monorepos): each dvc.yaml stays in its
  folder and is its own pipeline, and a PR that tunes ``vision/`` reproduces that pipeline only;
* ``dvc-import``: the training data is a ``dvc import`` of another DVC repository (a Git repository
  on this machine, so the job can reach it as it would reach GitHub): ``init`` lists it as an
  external input with no trigger path, and the jobs reproduce with the imported file restored by DVC.

Each job installs mlops-gitops into its own virtual environment, offline (tests/actrunner.py).
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import repos
from tests.actrunner import (
    VENV_BIN,
    ActRun,
    act_green,
    fail_without_act,
    git,
    pr_reference,
    pull_request_event,
    push_event,
    run,
    workflow_run_event,
)
from tests.fakegithub import FakeGitHub
from tests.test_e2e import mirror_commit

pytestmark = pytest.mark.slow

TRAIN = """\
import json

rows = [line.split(",") for line in open("data/train.csv").read().splitlines()[1:]]
scale = float(open("params.yaml").read().split(":")[1])
json.dump({"rows": len(rows), "score": scale * len(rows)}, open("metrics.json", "w"))
"""
TRAIN_NUMPY = """\
import json, sys
import numpy as np

rows = [line.split(",") for line in open("data/train.csv").read().splitlines()[1:]]
scale = float(open("params.yaml").read().split(":")[1])
json.dump({"rows": len(rows), "score": float(np.float64(scale) * len(rows))}, open("metrics.json", "w"))
print("trained with Python %d.%d and numpy %s" % (sys.version_info[0], sys.version_info[1], np.__version__))
"""
PIPELINE = """\
stages:
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/train.csv]
    params: [scale]
    metrics:
      - metrics.json: {cache: false}
"""
GATES = "metrics:\n  gates:\n    - {metric: rows, min: 1}\n"
OLD_PINS = "# Python==3.8\ndvc==3.26.0\nnumpy<2\n"


def pyproject(root: Path) -> dict[str, str]:
    return {
        "pyproject.toml": (
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
            '[project]\nname = "scorer"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
            'dependencies = []\n\n[tool.hatch.build.targets.wheel]\npackages = ["src"]\n'
        ),
        "src/__init__.py": "",
        "src/train.py": TRAIN,
    }


def requirements_folder(root: Path) -> dict[str, str]:
    return {
        "requirements/train-requirements.txt": "numpy\n",
        "requirements/dev-requirements.txt": "pytest\n",
        "requirements/ci-requirements.txt": "ruff\n",
        "src/train.py": TRAIN,
    }


def old_pins(root: Path) -> dict[str, str]:
    return {"requirements.txt": OLD_PINS, "src/train.py": TRAIN_NUMPY}


def dvc_import(root: Path) -> dict[str, str]:
    """The data registry the project imports from: its own Git + DVC repository with a local remote,
    next to the project. The import itself is made by ``build`` (``IMPORTED``)."""
    source = root.parent / "registry"
    repos.init(source)
    repos.write(source, {"data/train.csv": "id,age\n1,30\n2,40\n3,50\n4,60\n"})
    repos.dvc(source, "add", "-q", "data/train.csv")
    repos.dvc(source, "remote", "add", "-d", "store", str(root.parent / "registry-remote"))
    repos.dvc(source, "push", "-q")
    repos.commit(source, "The training data")
    return {"requirements.txt": "numpy\n", "src/train.py": TRAIN}


SUBPROJECTS = ("nlp", "vision")


def monorepo(root: Path) -> dict[str, str]:
    """Two sub-projects made with `dvc init --subdir`, then turned into one DVC project at the root
    as the refusal says: their .dvc/ folders removed, `dvc init` at the root (in ``build``)."""
    for folder in SUBPROJECTS:
        repos.write(
            root / folder,
            {
                "dvc.yaml": PIPELINE,
                "params.yaml": "scale: 2\n",
                "src/train.py": TRAIN,
                "data/train.csv": "id,age\n1,30\n2,40\n3,50\n",
            },
        )
        repos.dvc(root / folder, "init", "--subdir", "-q")
        subprocess.run(
            ["rm", "-rf", str(root / folder / ".dvc"), str(root / folder / ".dvcignore")], check=True
        )
    return {"requirements.txt": "numpy\n"}


# The families whose pipelines live in their sub-projects' folders, not at the root; and the params
# file each family's pull request tunes.
IN_FOLDERS = {"monorepo"}
TUNED = {"monorepo": "vision/params.yaml"}
# With no dvc.yaml at the root, a developer reproduces every pipeline below it with `-R .`.
REPRO_ALL = {"monorepo": ("-R", ".")}

# Families whose data is a `dvc import` pointer (made with DVC after the files are written) rather
# than a file of the project: family -> (source repository beside the project, path in it).
IMPORTED = {"dvc-import": ("registry", "data/train.csv")}

FAMILIES: dict[str, tuple[Callable[[Path], dict[str, str]], str, str]] = {
    # name: (files, what init must print, the install step's command)
    "pyproject": (pyproject, "from pyproject.toml", "python -m pip install ."),
    "requirements-folder": (
        requirements_folder,
        "requirements/train-requirements.txt",
        "python -m pip install -r requirements/train-requirements.txt",
    ),
    "old-pins": (old_pins, "Python 3.8 from requirements.txt:1", "python -m pip install -r requirements.txt"),
    "dvc-import": (dvc_import, "external input data/train.csv", "python -m pip install -r requirements.txt"),
    "monorepo": (
        monorepo,
        "2 pipeline(s): nlp/dvc.yaml, vision/dvc.yaml",
        "python -m pip install -r requirements.txt",
    ),
}


def older_python_with(requirements: str, version: str = "3.8") -> Path:
    """A Python ``version`` environment with ``requirements`` installed from the package index, made
    once per content and shared by test workers: what setup-python plus the pip cache give a job.
    Returns its bin directory."""
    found = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python{version}"))
    if not found:
        pytest.fail(f"no Python {version} on this machine (pyenv): the old-pins family needs one")
    base = VENV_BIN.parent / "project-pythons"
    base.mkdir(exist_ok=True)
    where = base / hashlib.sha256(f"{version}\n{requirements}".encode()).hexdigest()[:16]
    with open(base / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not (where / ".complete").is_file():
            subprocess.run(["rm", "-rf", str(where)], check=True)
            subprocess.run([found[-1], "-m", "venv", str(where)], check=True)
            (where / "requirements.txt").write_text(requirements)
            proc = subprocess.run(
                [
                    str(where / "bin/python"),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "-r",
                    str(where / "requirements.txt"),
                ],
                capture_output=True,
                text=True,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            (where / ".complete").write_text("")
    return where / "bin"


def build(root: Path, family: str, remote: Path) -> tuple[Path, str]:
    """The family's repository, adopted by `init --yes` with a local DVC remote, trained once and
    pushed to a bare origin. Returns (dev clone, what init printed)."""
    files, _, _ = FAMILIES[family]
    dev = root / "dev"
    repos.init(dev)
    if family in IN_FOLDERS:
        repos.write(dev, files(dev))
    else:
        data = {} if family in IMPORTED else {"data/train.csv": "id,age\n1,30\n2,40\n3,50\n"}
        repos.write(dev, {**files(dev), "dvc.yaml": PIPELINE, "params.yaml": "scale: 2\n", **data})
    if family in IMPORTED:
        source, path = IMPORTED[family]
        (dev / path).parent.mkdir(parents=True, exist_ok=True)
        repos.dvc(dev, "import", "-q", str(root / source), path, "-o", path)
    repos.dvc(dev, "remote", "add", "-d", "storage", str(remote))
    repos.commit(dev, "The project as it ships")
    printed = run([str(VENV_BIN / "mlops-gitops"), "init", "--yes"], dev)
    manifest = dev / "mlops.yaml"
    assert "remote: storage" in manifest.read_text(), "init did not take the DVC remote"
    manifest.write_text(manifest.read_text() + GATES)
    run([str(VENV_BIN / "mlops-gitops"), "generate"], dev)
    return dev, printed


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_whole_repository_goes_green_pr_comment_train(family: str, tmp_path: Path) -> None:
    fail_without_act()
    repo = f"acme/{family}"
    remote, origin = tmp_path / "dvc-remote", tmp_path / "origin.git"
    dev, printed = build(tmp_path, family, remote)
    _, shows, install = FAMILIES[family]
    assert shows in printed, printed
    assert f'run: "{install}"' in (dev / ".github/workflows/mlops-pr.yml").read_text()

    env: dict[str, str] = {}
    if family in IMPORTED:
        # Its dependency is a Git repository, not a file here: an external input, and the pointer
        # (what `dvc update` rewrites) is the trigger, not the file DVC restores from it.
        workflow = (dev / ".github/workflows/mlops-train.yml").read_text()
        assert '- "data/train.csv.dvc"\n' in workflow and '- "data/train.csv"\n' not in workflow
        assert "external" in (dev / ".mlops/pipelines.yaml").read_text()
    if family == "old-pins":
        assert 'python-version: "3.8"' in (dev / ".github/workflows/mlops-train.yml").read_text()
        env["MLOPS_ACT_PYTHONS"] = f"3.8={older_python_with(OLD_PINS)}"
    # What a first `dvc repro` on a developer's machine leaves: the lock committed, the run pushed.
    run(["dvc", "repro", "-q", *REPRO_ALL.get(family, ())], dev)
    run(["dvc", "push", "-q", "--run-cache"], dev)
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "Adopt mlops-gitops")
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    git(dev, "remote", "add", "origin", str(origin))
    git(dev, "push", "-q", "origin", "main")
    base = git(dev, "rev-parse", "HEAD")

    git(dev, "checkout", "-qb", "tune")
    (dev / TUNED.get(family, "params.yaml")).write_text("scale: 3\n")
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "Tune the scale")
    git(dev, "push", "-q", "origin", "HEAD:refs/heads/tune")
    head = git(dev, "rev-parse", "HEAD")

    with FakeGitHub() as fake:
        fake.add_repo(repo, "main")
        mirror_commit(fake, repo, dev, head, "tune")
        number = fake.add_pull(repo, "tune", "main", title="Tune the scale")

        def act_run(
            name: str,
            event_name: str,
            workflow: str,
            sha: str,
            event: dict[str, Any],
            artifacts: Path | None = None,
        ) -> ActRun:
            return act_green(
                tmp_path / "runs" / name,
                origin,
                repo,
                sha,
                event_name,
                workflow,
                event,
                (fake.url, fake.token),
                artifacts,
                env=env,
            )

        pr_run = act_run(
            "pr", "pull_request", "mlops-pr", head, pull_request_event(repo, number, base, head, "tune")
        )
        if family in IN_FOLDERS:  # the tuned sub-project's pipeline reproduced, the other not
            assert pr_run.stages.executed == ["vision/dvc.yaml:train"], pr_run.log[-6000:]
        else:
            assert "train" in pr_run.stages.executed, pr_run.log[-6000:]
        # The tool's own DVC reproduced; the project's pins were not touched by the tool's install.
        assert re.search(
            r"uv pip install --python \S*/mlops-gitops/bin/python\b[^\n]*--require-hashes", pr_run.log
        )
        if family == "old-pins":
            # The stage ran with the project's Python and numpy, not the tool's.
            assert "trained with Python 3.8 and numpy 1." in pr_run.log, pr_run.log[-6000:]
        event = workflow_run_event(
            repo,
            "mlops-pr",
            7201,
            head,
            "tune",
            "pull_request",
            "success",
            [pr_reference(repo, number, "tune", head, "main", base)],
        )
        act_run("comment", "workflow_run", "mlops-comment", base, event, pr_run.artifacts)
        comments = [
            c.body for c in fake.comments(repo, number) if c.body.startswith("<!-- mlops-gitops:pr-report")
        ]
        assert len(comments) == 1, comments
        assert "score" in comments[0] and "Pass" in comments[0], comments[0]
        if family in IMPORTED:  # trained on the registry's four rows, restored by DVC in the job
            assert re.search(r"\| `?rows`? \| 4 \| 4 \|", comments[0]), comments[0]

        # The author records the run's dvc.lock on the branch (as `record.pull_requests: commit` would),
        # the PR merges, and the default branch's workflow finds the commit recorded: green, nothing held.
        run(["dvc", "repro", "-q", *REPRO_ALL.get(family, ())], dev)
        git(dev, "add", "-A")
        git(dev, "commit", "-qm", "Record the run")
        merged = git(dev, "rev-parse", "HEAD")
        git(dev, "checkout", "-q", "main")
        git(dev, "merge", "-q", "--ff-only", "tune")
        git(dev, "push", "-q", "origin", "main")
        mirror_commit(fake, repo, dev, merged, "main")
        train = act_run(
            "train", "push", "mlops-train", merged, push_event(repo, "refs/heads/main", base, merged)
        )
        assert train.job_result("reproduce and publish") == "succeeded", train.log[-6000:]
        assert [p for p in fake.pulls(repo) if p.number != number] == [], "no retrained-model PR was needed"
