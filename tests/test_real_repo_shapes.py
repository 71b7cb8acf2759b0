"""What whole real repositories bring beyond dvc.yaml, on real git + real DVC repositories built here
(no DVC mocked): ``dvc import`` / ``import-url`` pointers, a remote whose plugin is not installed or
that cannot be reached, and a DVC that is installed but fails to import."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops import cli
from tests import repos

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

IMPORT_POINTER = """\
md5: 1b7e3a2a4c0e7d9f3c3e5e8c1a2b3c4d
frozen: true
deps:
- path: get-started/data.xml
  repo:
    url: https://github.com/iterative/dataset-registry
    rev_lock: f31f5c4cdae787b4bdeb97a717687d44667d9e62
outs:
- md5: 22a1a2931c8370d3aeedd7183606fd7f
  size: 14445097
  hash: md5
  path: data.xml
"""

IMPORT_URL_POINTER = """\
md5: 0b0e4c3a7d1d2f5e6a7b8c9d0e1f2a3b
frozen: true
deps:
- etag: '"5f1b-6a2c"'
  size: 10
  path: https://example.com/extra.csv
outs:
- md5: 4a8a08f09d37b73795649038408b5f33
  size: 10
  hash: md5
  path: extra.csv
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml data/extra.csv data/prepared
    deps:
    - data/data.xml
    - data/extra.csv
    - src/prepare.py
    outs:
    - data/prepared
"""


def _import_repo(root: Path) -> Path:
    """get-started's shape: ``data/data.xml.dvc`` from ``dvc import`` (written by hand: no network),
    ``data/extra.csv.dvc`` from ``dvc import-url``, and a dvc.yaml reading both."""
    repos.init(root)
    repos.write(
        root,
        {
            "data/data.xml.dvc": IMPORT_POINTER,
            "data/extra.csv.dvc": IMPORT_URL_POINTER,
            "data/.gitignore": "/data.xml\n/extra.csv\n",
            "dvc.yaml": PIPELINE,
            "src/prepare.py": "print('prepare')\n",
            "requirements.txt": "lxml\n",
        },
    )
    repos.commit(root, "get-started shaped: imported data")
    return root


def _run(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "mlops-gitops"
    full = {**os.environ, **repos.GIT_ENV, **(env or {})}
    return subprocess.run([str(exe), *args], cwd=root, capture_output=True, text=True, env=full)


# --------------------------------------------------------------------------------------------------
# 1. `dvc import` / `dvc import-url` pointers.


def test_init_and_changed_read_dvc_import_pointers_offline(tmp_path: Path) -> None:
    root = _import_repo(tmp_path / "repo")

    init = _run(root, "init", "--yes")
    assert init.returncode == 0, init.stderr
    assert "AttributeError" not in init.stderr
    # init says what no trigger path watches.
    assert (
        "external input get-started/data.xml from https://github.com/iterative/dataset-registry: "
        "not watched by CI; `dvc update` of its pointer is the commit that retrains"
    ) in init.stdout
    assert "external input https://example.com/extra.csv: not watched by CI" in init.stdout

    # The external inputs are in the committed record init wrote, on the pointers that bring them.
    record = (root / ".mlops/pipelines.yaml").read_text(encoding="utf-8")
    facts = json.loads(record[record.index("\n{") :])["facts"]  # the body, after the header
    tracked = {t["dvcfile"]: t for t in facts["tracked"]}
    assert tracked["data/data.xml.dvc"]["outs"] == ["data/data.xml"]
    assert tracked["data/data.xml.dvc"]["external"] == [
        "get-started/data.xml from https://github.com/iterative/dataset-registry"
    ]
    assert tracked["data/extra.csv.dvc"]["external"] == ["https://example.com/extra.csv"]

    # A Git repository or a URL is no trigger path: the pointers (and the pipeline) are.
    train = (root / ".github/workflows/mlops-train.yml").read_text(encoding="utf-8")
    assert '"data/data.xml.dvc"' in train and '"data/extra.csv.dvc"' in train
    assert "dataset-registry" not in train and "example.com" not in train

    repos.commit(root, "adopt mlops-gitops")
    changed = _run(root, "changed", "--base", "HEAD~1", "--head", "HEAD")
    assert changed.returncode == 0, changed.stderr
    assert "retrain=" in changed.stdout

    # `dvc update` moves the pointer to the new data: that retrains.
    pointer = root / "data/data.xml.dvc"
    pointer.write_text(IMPORT_POINTER.replace("f31f5c4cdae787b4bdeb97a717687d44667d9e62", "a" * 40))
    repos.commit(root, "dvc update data/data.xml.dvc")
    changed = _run(root, "changed", "--base", "HEAD~1", "--head", "HEAD")
    assert changed.returncode == 0, changed.stderr
    assert "retrain=true" in changed.stdout and "data/data.xml.dvc" in changed.stdout


def test_project_lists_external_inputs_per_pipeline(tmp_path: Path) -> None:
    from mlops_gitops.manifest.loader import load_manifest_text
    from mlops_gitops.pipeline.facts import FACTS_VERSION, RepoFacts
    from mlops_gitops.pipeline.project import load_project

    root = _import_repo(tmp_path / "repo")
    manifest = load_manifest_text("version: 1\nproject: {name: imports}\npipelines: [dvc.yaml]\n")
    project = load_project(root, manifest)
    assert project.source == "dvc"
    assert project.external_inputs() == (
        "get-started/data.xml from https://github.com/iterative/dataset-registry",
        "https://example.com/extra.csv",
    )
    paths = project.trigger_paths()
    assert "data/data.xml.dvc" in paths and "data/data.xml" not in paths
    assert not any("://" in p for p in paths)
    assert FACTS_VERSION >= 2 and RepoFacts.from_json(project.facts.to_json()) == project.facts

    # A pointer's source is part of what the facts were read from: a new one reads them again.
    again = load_project(root, manifest)
    assert again.fingerprint == project.fingerprint
    (root / "data/extra.csv.dvc").write_text(IMPORT_URL_POINTER.replace("extra.csv\n", "more.csv\n"))
    assert load_project(root, manifest).fingerprint != project.fingerprint


# --------------------------------------------------------------------------------------------------
# 2. A remote the report cannot use, and a DVC that fails to import.


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tracked_metrics_with_remote(tmp_path: Path, url: str) -> repos.BuiltRepo:
    """DVC's get-started shape (``eval/metrics.json`` inside the cached ``eval/`` output), whose
    default remote becomes ``url``, committed; and no local cache left, so reading the metrics at
    either revision needs that remote."""
    built = repos.tracked_metrics_dir(tmp_path / "repo")
    root = built.root
    repos.dvc(root, "remote", "add", "-f", "-d", "storage", url)
    repos.write(
        root,
        {
            "mlops.yaml": "version: 1\nproject: {name: remote}\npipelines: [dvc.yaml]\n"
            "python: {install: pip install -r src/requirements.txt}\n",
        },
    )
    repos.commit(root, "the team's remote")
    shutil.rmtree(root / ".dvc" / "cache")
    return built


def _report(root: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> tuple[int, str]:
    code = cli.main(
        [
            "report",
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--format",
            fmt,
            "--manifest",
            str(root / "mlops.yaml"),
        ]
    )
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "plugin"),
    [
        # Neither plugin is in this environment (the dev install has dvc-s3 and dvc-gdrive, as CI's
        # tool environment does for those remotes): the report names what to install.
        ("oss://models-bucket/models", "dvc-oss"),
        ("webhdfs://namenode:9870/models", "dvc-webhdfs"),
    ],
)
def test_report_says_which_plugin_a_remote_needs(
    url: str, plugin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    assert importlib.util.find_spec(plugin.replace("-", "_")) is None, f"{plugin} is installed here"
    built = _tracked_metrics_with_remote(tmp_path, url)
    monkeypatch.chdir(built.root)

    code, text = _report(built.root, capsys, "text")
    assert "internal error" not in text
    assert text.startswith("FAIL")
    assert code == 1  # the verdict's exit code: unreadable metrics are no pass
    line = next(x for x in text.splitlines() if x.startswith("not available at head: eval/metrics.json"))
    assert f"the DVC remote storage ({url})" in line
    assert f"`pip install {plugin}`" in line
    assert "`mlops-gitops generate` adds it when .dvc/config names the remote" in line

    code, markdown = _report(built.root, capsys, "markdown")
    assert code == 1
    assert "❌ **Fail**" in markdown.splitlines()[1]
    assert f"pip install {plugin}" in markdown


def test_report_says_the_remote_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/store"
    built = _tracked_metrics_with_remote(tmp_path, url)
    monkeypatch.chdir(built.root)

    code, text = _report(built.root, capsys, "text")
    assert code == 1 and text.startswith("FAIL")
    line = next(x for x in text.splitlines() if x.startswith("not available at head: eval/metrics.json"))
    assert f"could not reach the DVC remote storage ({url})" in line
    assert "dvc remote modify" in line


def test_a_dvc_that_fails_to_import_is_one_line_exit_2(tmp_path: Path) -> None:
    """pip leaves DVC broken when a project's pin lands over it (`cannot import name '_DIR_MARK'`):
    a shim of the real pathspec without ``_DIR_MARK`` stands first on PYTHONPATH."""
    import pathspec

    shim = tmp_path / "shim"
    shutil.copytree(Path(pathspec.__file__).parent, shim / "pathspec")
    for path in (shim / "pathspec").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "_DIR_MARK" in text:
            path.write_text(text.replace("_DIR_MARK", "_DIR_MARKER"), encoding="utf-8")
    root = _import_repo(tmp_path / "repo")
    repos.write(root, {"mlops.yaml": "version: 1\nproject: {name: broken}\npipelines: [dvc.yaml]\n"})

    proc = _run(
        root, "changed", "--base", "HEAD", env={"PYTHONPATH": str(shim), "XDG_CACHE_HOME": str(tmp_path)}
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "not installed" not in lines[0]
    assert lines[0].startswith(
        "DVC is installed but failed to import (ImportError: cannot import name '_DIR_MARK'"
    )
    assert "do not install a project's DVC into it" in lines[0]
