"""Replay a generated training job's install steps, in order, in fresh environments.

The project shape that broke the shared environment: a requirements file whose first line is
``# Python==3.8``, pinning ``dvc==3.26.0`` (older than the tool's lock) and ``numpy<2`` (which makes
pyarrow >= 16 fail to import). The test takes the steps ``mlops-gitops init`` generated for
``mlops-train`` / ``train`` and runs them as GitHub would: the project's Python (3.8, from its own
signal) set up and its requirements installed from the package index; then the tool's own
environment made from the tool's Python, the tool offline from this checkout's wheel and its hash lock
from uv's warm cache; then every ``GITHUB_PATH`` entry put first on PATH. After that, what the later
steps run must work: ``dvc version`` is the tool's DVC, ``dvc repro`` runs the stage with the
project's Python and numpy, ``validate-data`` reads the data with pyarrow, ``report`` compares the
metrics; and the project still has exactly the DVC and numpy it pinned.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests import repos
from tests.actrunner import VENV_BIN, tool_wheelhouse, uv_cache_dir

pytestmark = pytest.mark.slow

REQUIREMENTS = "# Python==3.8\ndvc==3.26.0\nnumpy<2\n"
TRAIN = """\
import json, sys
import numpy as np

rows = [line.split(",") for line in open("data/train.csv").read().splitlines()[1:]]
ages = np.array([float(r[1]) for r in rows])
json.dump(
    {"rows": len(rows), "mean_age": float(ages.mean()), "numpy": np.__version__,
     "python": "%d.%d" % sys.version_info[:2]},
    open("metrics.json", "w"),
)
"""
PIPELINE = """\
stages:
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/train.csv]
    metrics:
      - metrics.json: {cache: false}
"""
CHECKS = """\
data:
  checks:
    - path: data/train.csv
      min_rows: 2
      columns:
        id: {type: int, unique: true}
        age: {type: int, min: 0, max: 120}
"""


def interpreter(version: str) -> Path:
    """A CPython of that version on this machine (pyenv's, or on PATH): the stand-in for what
    actions/setup-python downloads on GitHub."""
    found = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python{version}"))
    found += [
        p for p in [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"] if Path(p).is_file()
    ]
    if not found:
        pytest.fail(f"no Python {version} on this machine (pyenv or /usr/bin): the replay needs one")
    return Path(found[-1])


def shell(script: str, cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"{script}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
    )
    return proc.stdout + proc.stderr


def replay_tool_install(step: dict[str, Any], root: Path, env: dict[str, str]) -> dict[str, str]:
    """Run the generated tool install step as GitHub would, then return the environment of the steps
    after it. The tool's Python is this test's base interpreter (whose wheels uv's cache holds); the
    tool's wheel comes offline from the wheelhouse, its lock from the warm cache."""
    tool_env = {
        **env,
        **{k: str(v) for k, v in step["env"].items() if k != "TOOL_PYTHON"},
        "TOOL_PYTHON": getattr(sys, "_base_executable", sys.executable),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(tool_wheelhouse()),
        "UV_OFFLINE": "1",
        "UV_CACHE_DIR": uv_cache_dir(),
    }
    shell(step["run"], root, tool_env)
    # What the runner does between steps: every GITHUB_PATH line goes first, the latest first.
    added = [line for line in Path(env["GITHUB_PATH"]).read_text().splitlines() if line]
    return {**env, "PATH": ":".join([*reversed(added), env["PATH"]])}


def runner_env(tmp_path: Path, project_bin: Path) -> dict[str, str]:
    """A step's environment on a fresh runner: the project's Python first on PATH."""
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    github_path = tmp_path / "github-path"
    github_path.write_text("")
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "PYTHON"))
    }
    return {
        **base_env,
        **repos.GIT_ENV,
        "PATH": f"{project_bin}:/usr/bin:/bin",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_PATH": str(github_path),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def train_job(root: Path) -> list[dict[str, Any]]:
    workflow = YAML(typ="safe").load((root / ".github/workflows/mlops-train.yml").read_text())
    return list(workflow["jobs"]["train"]["steps"])


def adopt(root: Path) -> str:
    repos.init(root)
    repos.write(
        root,
        {
            "requirements.txt": REQUIREMENTS,
            "src/train.py": TRAIN,
            "dvc.yaml": PIPELINE,
            "data/train.csv": "id,age\n1,30\n2,40\n3,50\n",
        },
    )
    repos.commit(root, "A project that pins an old DVC and numpy")
    out = repos.run(root, str(VENV_BIN / "mlops-gitops"), "init", "--yes")
    (root / "mlops.yaml").write_text((root / "mlops.yaml").read_text() + CHECKS)
    repos.run(root, str(VENV_BIN / "mlops-gitops"), "generate")
    return out


def test_old_dvc_and_numpy_pins_stay_the_projects_and_the_tool_still_works(tmp_path: Path) -> None:
    root = tmp_path / "project"
    printed = adopt(root)
    assert "Python 3.8" in printed, printed
    steps = train_job(root)
    names = [s.get("name", "") for s in steps]
    project_setup = next(s for s in steps if s.get("name", "").endswith("for the project"))
    assert project_setup["with"]["python-version"] == "3.8"
    install_project = next(s for s in steps if s.get("name") == "Install the project's requirements")
    install_tool = next(s for s in steps if s.get("name", "").startswith("Install mlops-gitops"))
    assert names.index(install_project["name"]) < names.index(install_tool["name"])

    # actions/setup-python for the project: Python 3.8 on PATH, pip installing into it.
    project_python = tmp_path / "project-python"
    subprocess.run([str(interpreter("3.8")), "-m", "venv", str(project_python)], check=True)
    env = runner_env(tmp_path, project_python / "bin")
    # The project's requirements from the package index, into the project's Python only.
    shell(install_project["run"], root, env)
    after = replay_tool_install(install_tool, root, env)

    version = shell("dvc version", root, after)
    assert "DVC version: 3.67" in version, version
    # The project keeps exactly what it pinned: its DVC and its numpy, in its own Python 3.8.
    pinned = shell(
        "python -c 'import importlib.metadata as m, sys; "
        'print(sys.version_info[:2], m.version("dvc"), m.version("numpy"))\'',
        root,
        after,
    )
    assert pinned.startswith("(3, 8) 3.26.0 1."), pinned

    base = repos.git(root, "rev-parse", "HEAD").strip()
    shell("dvc repro", root, after)
    metrics = (root / "metrics.json").read_text()
    assert '"python": "3.8"' in metrics and '"numpy": "1.' in metrics, metrics
    shell("mlops-gitops validate-data", root, after)
    repos.commit(root, "Train")
    report = shell(f"mlops-gitops report --base {base} --head HEAD --format text", root, after)
    assert "mean_age" in report, report


def test_a_gdrive_remote_gets_its_plugin_in_the_tools_environment_only(tmp_path: Path) -> None:
    """`report` used to exit 3 with a gdrive:// remote (`requires 'dvc-gdrive'`): the plugin is now
    installed, hash-locked, into the tool's environment, and nothing of it into the project's."""
    root = tmp_path / "project"
    repos.init(root)
    repos.write(
        root, {"requirements.txt": "# Python==3.11\n", "src/train.py": "open('m.json','w').write('{}')\n"}
    )
    repos.write(
        root,
        {
            "dvc.yaml": "stages:\n  train:\n    cmd: python src/train.py\n    deps: [src/train.py]\n    metrics: [m.json]\n"
        },
    )
    repos.dvc(root, "remote", "add", "-d", "drive", "gdrive://0AIac4JZqHhKmUk9PDA/dvcstore")
    repos.commit(root, "A project whose data lives on Google Drive")
    printed = repos.run(root, str(VENV_BIN / "mlops-gitops"), "init", "--yes")
    assert "remote 'drive' is gdrive://0AIac4JZqHhKmUk9PDA/dvcstore: CI installs dvc-gdrive" in printed
    install_tool = next(s for s in train_job(root) if s.get("name", "").startswith("Install mlops-gitops"))
    assert "locks install dvc --remote gdrive" in install_tool["run"]

    project_python = tmp_path / "project-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project_python)], check=True)
    after = replay_tool_install(install_tool, root, runner_env(tmp_path, project_python / "bin"))
    assert "gdrive" in shell("dvc version", root, after).split("Supports:", 1)[1]
    tool_python = Path(after["RUNNER_TEMP"]) / "mlops-gitops/bin/python"
    shell(f"{tool_python} -c 'import dvc_gdrive, pydrive2'", root, after)
    project = subprocess.run(
        ["python", "-c", "import dvc_gdrive"], cwd=root, env=after, capture_output=True, text=True
    )
    assert project.returncode != 0, "the plugin leaked into the project's Python"
