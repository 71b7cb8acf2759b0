"""Detection of an existing project: what init would put into mlops.yaml before asking anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.detect import (
    detect,
    dvc_pointers,
    dvc_remote,
    existing_ci,
    install_command,
    project_name,
    python_version,
    remote_warning,
)
from mlops_gitops.errors import UsageError


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize(
    ("dirname", "expected"),
    [("my project", "my-project"), ("..weird__", "weird"), ("ok.name-1", "ok.name-1"), ("ééé", "project")],
)
def test_project_name_is_sanitised_directory_name(tmp_path: Path, dirname: str, expected: str) -> None:
    root = tmp_path / dirname
    root.mkdir()
    assert project_name(root) == expected


def test_python_version_prefers_pin_then_requires_python_then_interpreter(tmp_path: Path) -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert python_version(tmp_path) == (running, "the running interpreter")
    write(tmp_path, {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10,<4"\n'})
    assert python_version(tmp_path) == ("3.10", "pyproject.toml requires-python")
    write(tmp_path, {".python-version": "3.12.4\n"})
    assert python_version(tmp_path) == ("3.12", ".python-version")


def test_install_from_requirements_files(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "numpy\n", "requirements-dev.txt": "pytest\n", "pyproject.toml": ""})
    assert install_command(tmp_path) == (
        "pip install -r requirements.txt",
        ["requirements-dev.txt", "requirements.txt"],
        "requirements.txt",
    )


def test_install_from_requirements_in_src_and_dev_files_are_not_installed(tmp_path: Path) -> None:
    write(tmp_path, {"src/requirements.txt": "numpy\n", "src/requirements-dev.txt": "pytest\n"})
    assert install_command(tmp_path) == (
        "pip install -r src/requirements.txt",
        ["src/requirements-dev.txt", "src/requirements.txt"],
        "src/requirements.txt",
    )
    write(tmp_path, {"requirements-gpu.txt": "torch\n"})  # the root wins over src/
    assert install_command(tmp_path)[0] == "pip install -r requirements-gpu.txt"


def test_nothing_says_how_to_install(tmp_path: Path) -> None:
    assert install_command(tmp_path) == (None, [], "")


def test_install_from_pyproject_with_runtime_extras_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\n[project.optional-dependencies]\n'
            'train = ["torch"]\ndev = ["pytest"]\n'
        },
    )
    assert install_command(tmp_path) == ("pip install -e '.[train]'", ["pyproject.toml"], "pyproject.toml")
    write(tmp_path, {"pyproject.toml": '[project]\nname = "x"\n'})
    assert install_command(tmp_path) == ("pip install -e .", ["pyproject.toml"], "pyproject.toml")


def test_bad_pyproject_is_one_line_error(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[project\n"})
    with pytest.raises(UsageError, match=r"^pyproject.toml: cannot parse"):
        install_command(tmp_path)


def test_dvc_remote_from_core_remote_or_only_remote(tmp_path: Path) -> None:
    assert dvc_remote(tmp_path) == (None, None)
    write(
        tmp_path,
        {
            ".dvc/config": "[core]\n    remote = storage\n"
            "['remote \"storage\"']\n    url = s3://bucket/path\n"
            "['remote \"backup\"']\n    url = /mnt/backup\n"
        },
    )
    assert dvc_remote(tmp_path) == ("storage", "core.remote in .dvc/config")
    write(tmp_path, {".dvc/config": "['remote \"only\"']\n    url = /tmp/x\n"})
    assert dvc_remote(tmp_path) == ("only", "the only remote in .dvc/config")
    write(tmp_path, {".dvc/config": "['remote \"a\"']\nurl = /a\n['remote \"b\"']\nurl = /b\n"})
    assert dvc_remote(tmp_path) == (None, None)


def test_dvc_remote_written_by_dvc_itself(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(
        [*dvc, "remote", "add", "-d", "my-store", str(tmp_path / "store")], cwd=tmp_path, check=True
    )
    assert dvc_remote(tmp_path)[0] == "my-store"


def test_http_remote_is_read_only_for_ci(tmp_path: Path) -> None:
    remotes = {"web": "https://example.com/store", "s3": "s3://bucket/x"}
    assert "read-only for CI" in (remote_warning("web", remotes) or "")
    assert remote_warning("s3", remotes) is None


def test_existing_ci_that_trains_or_comments_is_found(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".github/workflows/cml.yaml": "jobs:\n  t:\n    steps:\n      - uses: iterative/setup-cml@v2\n"
            "      - run: dvc repro\n      - run: cml comment create report.md\n",
            ".github/workflows/lint.yml": "jobs:\n  l:\n    steps:\n      - run: ruff check\n",
            ".github/workflows/mlops-pr.yml": "# Generated by mlops-gitops 0.1.0\nrun: dvc repro\n",
            ".gitlab-ci.yml": "train:\n  script:\n    - dvc exp run\n",
        },
    )
    found = {ci.path: ci.does for ci in existing_ci(tmp_path)}
    assert found == {
        ".github/workflows/cml.yaml": ("runs `dvc repro`", "posts CML reports"),
        ".gitlab-ci.yml": ("runs `dvc repro`",),
    }


def test_detect_repo_with_pipelines_branch_and_pointers(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "trunk")
    write(
        tmp_path,
        {
            "pipelines/a/dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n",
            "dvc.yaml": "stages:\n  01_featurise:\n    cmd: echo\n",
            "params.yaml": "lr: 1\n",
            "requirements.txt": "numpy\n",
            "data/raw.csv.dvc": "outs:\n- md5: 0\n  path: raw.csv\n",
            ".dvc/config": "[core]\nremote = s\n['remote \"s\"']\nurl = /x\n",
            "node_modules/x/dvc.yaml": "stages: {}\n",
        },
    )
    found = detect(tmp_path)
    assert (found.default_branch, found.remote, found.is_git, found.is_dvc) == ("trunk", "s", True, True)
    assert found.dvcfiles == ["dvc.yaml", "pipelines/a/dvc.yaml"]
    assert found.pointers == ["data/raw.csv.dvc"]
    assert found.install == "pip install -r requirements.txt"
    assert found.remotes == {"s": "/x"}


def test_detect_plain_directory(tmp_path: Path) -> None:
    found = detect(tmp_path)
    assert not found.is_git and not found.has_dvc_yaml and found.install is None
    assert found.default_branch == "main"


def test_pointers_skip_dvc_and_git_dirs(tmp_path: Path) -> None:
    write(tmp_path, {"a.dvc": "", ".dvc/cache/x.dvc": "", "sub/b.dvc": "", ".git/c.dvc": ""})
    assert dvc_pointers(tmp_path) == ["a.dvc", "sub/b.dvc"]
