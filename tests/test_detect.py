"""Detection of an existing project: what init would put into mlops.yaml before asking anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.adoption.detect import (
    NO_VERSION,
    Install,
    detect,
    dvc_pins,
    dvc_pointers,
    dvc_remote,
    existing_ci,
    install_command,
    lowest_python,
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
    assert python_version(tmp_path) == (running, NO_VERSION)
    write(tmp_path, {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10,<4"\n'})
    assert python_version(tmp_path) == (
        "3.10",
        'pyproject.toml:3 `requires-python = ">=3.10,<4"`, the lowest allowed',
    )
    write(tmp_path, {".python-version": "3.12.4\n"})
    assert python_version(tmp_path) == ("3.12", ".python-version:1 `3.12.4`")


def test_install_from_requirements_files(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "numpy\n", "requirements-dev.txt": "pytest\n", "pyproject.toml": ""})
    assert install_command(tmp_path) == Install(
        "python -m pip install -r requirements.txt",
        ("requirements-dev.txt", "requirements.txt"),
        "requirements.txt",
    )


def test_install_from_requirements_in_src_and_dev_files_are_not_installed(tmp_path: Path) -> None:
    write(tmp_path, {"src/requirements.txt": "numpy\n", "src/requirements-dev.txt": "pytest\n"})
    assert install_command(tmp_path) == Install(
        "python -m pip install -r src/requirements.txt",
        ("src/requirements-dev.txt", "src/requirements.txt"),
        "src/requirements.txt",
    )
    write(tmp_path, {"requirements-gpu.txt": "torch\n"})  # the root wins over src/
    assert install_command(tmp_path).command == "python -m pip install -r requirements-gpu.txt"


def test_nothing_says_how_to_install(tmp_path: Path) -> None:
    assert install_command(tmp_path) == Install(None)


def test_install_from_pyproject_with_runtime_extras_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\n[project.optional-dependencies]\n'
            'train = ["torch"]\ndev = ["pytest"]\n'
        },
    )
    # Not editable: CI installs the project once and runs it.
    assert install_command(tmp_path) == Install(
        "python -m pip install '.[train]'", ("pyproject.toml",), "pyproject.toml"
    )
    write(tmp_path, {"pyproject.toml": '[project]\nname = "x"\n'})
    assert install_command(tmp_path) == Install(
        "python -m pip install .", ("pyproject.toml",), "pyproject.toml"
    )


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
    assert found.install == "python -m pip install -r requirements.txt"
    assert found.remotes == {"s": "/x"}


def test_detect_plain_directory(tmp_path: Path) -> None:
    found = detect(tmp_path)
    assert not found.is_git and not found.has_dvc_yaml and found.install is None
    assert found.default_branch == "main"


def test_pointers_skip_dvc_and_git_dirs(tmp_path: Path) -> None:
    write(tmp_path, {"a.dvc": "", ".dvc/cache/x.dvc": "", "sub/b.dvc": "", ".git/c.dvc": ""})
    assert dvc_pointers(tmp_path) == ["a.dvc", "sub/b.dvc"]


# --- Python version: every signal, its source, and the precedence -----------------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"runtime.txt": "python-3.8.10\n"}, ("3.8", "runtime.txt:1 `python-3.8.10`")),
        (
            {"pyproject.toml": '[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\npython = "^3.9"\n'},
            ("3.9", 'pyproject.toml:4 `python = "^3.9"`, the lowest allowed'),
        ),
        (
            {"environment.yml": "name: x\ndependencies:\n  - python=3.9\n  - numpy\n"},
            ("3.9", "environment.yml:3 `- python=3.9`"),
        ),
        (
            {"conda.yml": "dependencies:\n  - conda-forge::python==3.10.*\n"},
            ("3.10", "conda.yml:2 `- conda-forge::python==3.10.*`"),
        ),
        (
            {"Dockerfile": "# build\nFROM python:3.8-slim AS base\n"},
            ("3.8", "Dockerfile:2 `FROM python:3.8-slim AS base`"),
        ),
        (
            {"docker/Dockerfile": "FROM docker.io/library/python:3.7\n"},
            ("3.7", "docker/Dockerfile:1 `FROM docker.io/library/python:3.7`"),
        ),
        (
            {"train.Dockerfile": "FROM python:3.11-bookworm\n"},
            ("3.11", "train.Dockerfile:1 `FROM python:3.11-bookworm`"),
        ),
        ({"requirements.txt": "# Python==3.8\nnumpy\n"}, ("3.8", "requirements.txt:1 `# Python==3.8`")),
        ({"requirements.txt": "numpy\n# python 3.8\n"}, ("3.8", "requirements.txt:2 `# python 3.8`")),
        (
            {"requirements/base.txt": "# Python version: 3.9\n"},
            ("3.9", "requirements/base.txt:1 `# Python version: 3.9`"),
        ),
        (
            {"setup.py": "from setuptools import setup\nsetup(name='x', python_requires=\">=3.8\")\n"},
            ("3.8", "setup.py:2 `setup(name='x', python_requires=\">=3.8\")`, the lowest allowed"),
        ),
        (
            {"setup.cfg": "[options]\npython_requires = >=3.9, <4\n"},
            ("3.9", "setup.cfg:2 `python_requires = >=3.9, <4`, the lowest allowed"),
        ),
    ],
)
def test_python_version_signals_name_their_file_and_line(
    tmp_path: Path, files: dict[str, str], expected: tuple[str, str]
) -> None:
    write(tmp_path, files)
    assert python_version(tmp_path) == expected


WORKFLOW = """\
name: ci
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python-version: ["3.10", 3.9, 3.11]
    steps:
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python-version }}
"""


def test_python_version_from_existing_workflow_scalar_matrix_and_expressions(tmp_path: Path) -> None:
    write(tmp_path, {".github/workflows/ci.yml": WORKFLOW})
    assert python_version(tmp_path) == (
        "3.9",
        '.github/workflows/ci.yml:8 `python-version: ["3.10", 3.9, 3.11]`, the lowest',
    )
    scalar = "jobs:\n  t:\n    steps:\n      - uses: actions/setup-python@v5\n        with:\n          python-version: 3.10\n"
    write(tmp_path, {".github/workflows/ci.yml": scalar})  # 3.10, not the float 3.1
    assert python_version(tmp_path) == ("3.10", ".github/workflows/ci.yml:6 `python-version: 3.10`")
    other = scalar.replace("3.10", "${{ env.PY }}")
    write(tmp_path, {".github/workflows/ci.yml": other})  # an expression init cannot read: ignored
    assert python_version(tmp_path)[1] == NO_VERSION
    write(tmp_path, {".github/workflows/mlops-pr.yml": "# Generated by mlops-gitops\n" + scalar})
    assert python_version(tmp_path)[1] == NO_VERSION  # ours never counts


def test_exact_pins_win_over_ranges_in_documented_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.8"\n',
            "requirements.txt": "# python 3.10\n",
        },
    )
    assert python_version(tmp_path)[0] == "3.10"  # an exact comment beats a range
    write(tmp_path, {"Dockerfile": "FROM python:3.9-slim\n"})
    assert python_version(tmp_path)[0] == "3.9"  # the Dockerfile comes before the comment
    write(tmp_path, {"runtime.txt": "python-3.11.2\n"})
    assert python_version(tmp_path)[0] == "3.11"
    write(tmp_path, {".python-version": "3.12\n"})
    assert python_version(tmp_path)[0] == "3.12"
    found = detect(tmp_path)
    assert [s.version for s in found.python_signals] == ["3.12", "3.11", "3.9", "3.10", "3.8"]


@pytest.mark.parametrize(
    ("spec", "lowest"),
    [
        (">=3.8,<4", "3.8"),
        ("~=3.9", "3.9"),
        ("==3.9.*", "3.9"),
        ("^3.10", "3.10"),
        ("<3.12", None),
        (">=3.7, !=3.8.*", "3.7"),
        (">=3.8 || >=3.10", "3.8"),
        ("3.9", "3.9"),
        (">3.8,>=3.9", "3.9"),
    ],
)
def test_lowest_python_of_a_specifier(spec: str, lowest: str | None) -> None:
    assert lowest_python(spec) == lowest


# --- How the project installs ----------------------------------------------------------------------


def test_install_from_a_requirements_folder_prefers_the_training_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements/ci-requirements.txt": "pytest\n",
            "requirements/pipe-requirements.txt": "-r base.txt\ndvc\n",
            "requirements/base.txt": "numpy\n",
            "requirements/dev.txt": "ruff\n",
            "requirements/docs.txt": "mkdocs\n",
        },
    )
    assert install_command(tmp_path) == Install(
        "python -m pip install -r requirements/pipe-requirements.txt",
        ("requirements/pipe-requirements.txt", "requirements/base.txt"),  # the file and what it includes
        "requirements/pipe-requirements.txt",
        options=(
            "requirements/pipe-requirements.txt",
            "requirements/base.txt",
            "requirements/ci-requirements.txt",
        ),
    )
    write(tmp_path, {"requirements/train-requirements.txt": "torch\n"})
    found = install_command(tmp_path)
    assert found.command == "python -m pip install -r requirements/train-requirements.txt"
    assert found.options[0] == "requirements/train-requirements.txt" and len(found.options) == 4


def test_install_from_setup_py_or_setup_cfg_is_not_editable(tmp_path: Path) -> None:
    write(tmp_path, {"setup.cfg": "[metadata]\nname = x\n"})
    assert install_command(tmp_path) == Install("python -m pip install .", ("setup.cfg",), "setup.cfg")
    write(tmp_path, {"setup.py": "from setuptools import setup\nsetup()\n"})
    assert install_command(tmp_path) == Install(
        "python -m pip install .", ("setup.py", "setup.cfg"), "setup.py"
    )


def test_install_from_conda_environment_creates_it_and_installs_nothing_else(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "environment.yaml": "name: x\ndependencies:\n  - python=3.9\n  - pip\n  - pip:\n      - -r requirements.txt\n",
            "requirements.txt": "numpy\n",
        },
    )
    assert install_command(tmp_path) == Install(
        None, ("environment.yaml", "requirements.txt"), "environment.yaml", conda="environment.yaml"
    )
    # An explicit lock for linux-64 (conda-lock --kind explicit) is installed instead: every package
    # with its hash, nothing solved in the job.
    write(
        tmp_path,
        {"conda-linux-64.lock": "# platform: linux-64\n@EXPLICIT\nhttps://conda.anaconda.org/x.conda#abc\n"},
    )
    assert install_command(tmp_path) == Install(
        None,
        ("conda-linux-64.lock", "environment.yaml", "requirements.txt"),
        "conda-linux-64.lock",
        conda="conda-linux-64.lock",
    )


def test_install_from_pipenv(tmp_path: Path) -> None:
    write(tmp_path, {"Pipfile": '[packages]\nnumpy = "*"\n'})
    assert install_command(tmp_path) == Install(
        "python -m pip install pipenv && pipenv install --system", ("Pipfile",), "Pipfile"
    )
    write(tmp_path, {"Pipfile.lock": '{"_meta": {}, "default": {}}'})
    assert install_command(tmp_path) == Install(
        "python -m pip install pipenv && pipenv install --system --deploy",
        ("Pipfile", "Pipfile.lock"),
        "Pipfile.lock",
    )


def test_install_from_poetry_lock_only_main_with_groups(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"pyproject.toml": '[tool.poetry]\nname = "x"\n', "poetry.lock": "", "requirements.txt": "x\n"},
    )
    command = (
        "python -m pip install poetry && poetry config virtualenvs.create false && "
        "poetry install --no-root --no-interaction"
    )
    assert install_command(tmp_path) == Install(command, ("pyproject.toml", "poetry.lock"), "poetry.lock")
    write(
        tmp_path,
        {"pyproject.toml": '[tool.poetry]\nname = "x"\n[tool.poetry.group.dev.dependencies]\nruff = "*"\n'},
    )
    assert install_command(tmp_path).command == command + " --only main"


def test_install_from_uv_lock_is_one_hash_checked_command(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": '[project]\nname = "x"\n', "uv.lock": "version = 1\n"})
    found = install_command(tmp_path)
    assert found.command == (
        'python -m pip install uv && uv export --frozen --no-dev --no-emit-project -o "$RUNNER_TEMP/requirements.txt"'
        ' && python -m pip install --require-hashes -r "$RUNNER_TEMP/requirements.txt"'
    )
    assert (found.requirements, found.source) == (("pyproject.toml", "uv.lock"), "uv.lock")


def test_install_from_a_dockerfile_requirements(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "docker/Dockerfile": "FROM python:3.8-slim\nWORKDIR /app\nCOPY docker/requirements.txt .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\n",
            "docker/requirements.txt": "numpy\n",
        },
    )
    assert install_command(tmp_path) == Install(
        "python -m pip install -r docker/requirements.txt",
        ("docker/requirements.txt",),
        "docker/Dockerfile:3 `COPY docker/requirements.txt .`",
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"environment.yml": "dependencies: [python=3.9\n"}, r"^environment.yml: cannot parse"),
        ({"environment.yml": "name: x\n"}, r"^environment.yml: not a conda environment file"),
        ({"Pipfile": "[packages\n"}, r"^Pipfile: cannot parse"),
        ({"Pipfile.lock": "{nope"}, r"^Pipfile.lock: cannot parse"),
        ({"pyproject.toml": "[project\n", "uv.lock": ""}, r"^pyproject.toml: cannot parse"),
    ],
)
def test_bad_install_files_are_one_line_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    write(tmp_path, files)
    with pytest.raises(UsageError, match=message) as raised:
        install_command(tmp_path)
    assert "\n" not in str(raised.value)


def test_dvc_pins_in_requirements_and_pyproject(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "numpy\ndvc==2.10.0\ndvc-s3==2.0\n",
            "requirements-extra.txt": "dvc[s3]==3.26.0  # pinned\ndvc>=3.0\n",
            "pyproject.toml": '[tool.poetry.dependencies]\ndvc = "^2.8"\n',
            "requirements/base.txt": "dvc<3\n",
        },
    )
    pins = dvc_pins(tmp_path, ["requirements.txt", "requirements-extra.txt", "requirements/base.txt"])
    assert [(p.where, p.spec, p.major2) for p in pins] == [
        ("requirements.txt:2", "dvc==2.10.0", True),
        ("requirements-extra.txt:1", "dvc[s3]==3.26.0", False),
        ("requirements/base.txt:1", "dvc<3", True),
        ("pyproject.toml:2", "dvc^2.8", True),
    ]


def test_subdir_projects_are_found_and_their_pipelines_left_out(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    write(
        tmp_path,
        {
            "a/.dvc/config": "",
            "a/dvc.yaml": "stages: {}\n",
            "a/data.csv.dvc": "outs: []\n",
            "b/.dvc/.gitignore": "/tmp\n",
            "b/pipe/dvc.yaml": "stages: {}\n",
            "dvc.yaml": "stages: {}\n",
        },
    )
    found = detect(tmp_path)
    assert (found.subprojects, found.dvcfiles, found.pointers) == (["a", "b"], ["dvc.yaml"], [])
