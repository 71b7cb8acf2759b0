"""`mlops-gitops changed` and the GitHub paths-filter semantics it shares with on.push.paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.pipeline.pathfilter import matches, matching

# The examples of GitHub's "Patterns to match file paths" cheat sheet, plus negation order.
CASES = [
    ("**", "all/the/files.md", True),
    ("*.js", "app.js", True),
    ("*.js", "src/app.js", False),
    ("**.js", "src/js/app.js", True),
    ("**.js", "index.js", True),
    ("docs/*", "docs/README.md", True),
    ("docs/*", "docs/mona/octocat.txt", False),
    ("docs/**", "docs/mona/octocat.txt", True),
    ("docs/**", "docs", False),
    ("docs/**/*.md", "docs/README.md", True),
    ("docs/**/*.md", "docs/a/markdown/file.md", True),
    ("**/docs/**", "dir/docs/my-file.txt", True),
    ("**/docs/**", "docs-backup/file.txt", False),
    ("**/README.md", "README.md", True),
    ("**/README.md", "js/README.md", True),
    ("**/*src/**", "a/src/app.js", True),
    ("**/*src/**", "my-src/code/js/app.js", True),
    ("**/*src/**", "src-old/app.js", False),
    ("**/*-post.md", "my-post.md", True),
    ("**/migrate-*.sql", "db/sept/migrate-v1.sql", True),
    ("**/migrate-*.sql", "migrate.sql", False),
    # ? and + quantify the preceding character.
    ("*.jsx?", "page.js", True),
    ("*.jsx?", "page.jsx", True),
    ("*.jsx?", "page.jsxx", False),
    ("file+.txt", "fileee.txt", True),
    ("file+.txt", "fil.txt", False),
    ("[CB]at", "Cat", True),
    ("[CB]at", "Dat", False),
    ("[1-2]00", "200", True),
    (r"weird\*name", "weird*name", True),
    (r"weird\*name", "weirdXname", False),
    ("data/iris.csv", "data/iris.csv", True),
    ("data/iris.csv", "data/iris-csv", False),
    ("README.md", "readme.md", False),
]


@pytest.mark.parametrize("pattern,path,expected", CASES)
def test_single_pattern_matches_like_github(pattern: str, path: str, expected: bool) -> None:
    assert matches(path, [pattern]) is expected


def test_negation_is_order_dependent() -> None:
    patterns = ["*.md", "!README.md", "README*"]
    assert matching(["hello.md", "README.md", "README.doc", "x.txt"], patterns) == [
        "hello.md",
        "README.md",
        "README.doc",
    ]
    assert matching(["hello.md", "README.md"], ["*.md", "!README.md"]) == ["hello.md"]
    # A negation first excludes nothing that was never included.
    assert matching(["a.py"], ["!a.py", "*.py"]) == ["a.py"]


GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}

MANIFEST = """\
version: 1
project: {name: demo}
stages:
  train: {cmd: python src/train.py, deps: [src, data/raw.csv], outs: [model.pkl]}
triggers:
  paths: ["src/**", "!src/**/*.md", "params.yaml", "**.dvc", "dvc.lock"]
"""


def git(repo: Path, *args: str) -> str:
    import os

    proc = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=True
    )
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "mlops.yaml").write_text(MANIFEST)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print(1)\n")
    (tmp_path / "README.md").write_text("hi\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    return tmp_path


def changed(repo: Path, *args: str, output: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ}
    env.pop("GITHUB_OUTPUT", None)
    if output:
        env["GITHUB_OUTPUT"] = str(output)
    return subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "changed", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )


def commit(repo: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")


def test_code_change_retrains_and_writes_github_output(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, {"src/train.py": "print(2)\n", "README.md": "more\n", "src/NOTES.md": "x\n"})
    out = tmp_path / "gh-output"
    out.write_text("earlier=1\n")
    proc = changed(repo, "--base", base, output=out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["src/train.py", "reproduce dvc.yaml: src/train.py", "retrain=true"]
    assert out.read_text() == 'earlier=1\nretrain=true\npipelines=["dvc.yaml"]\n'


def test_docs_only_change_does_not_retrain(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, {"README.md": "docs\n", "src/guide.md": "negated\n"})
    out = tmp_path / "gh-output"
    proc = changed(repo, "--base", base, output=out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["retrain=false"]
    assert out.read_text() == "retrain=false\npipelines=[]\n"


def test_changes_since_the_merge_base_only(repo: Path) -> None:
    """Commits that landed on the base branch after the PR forked are not the PR's changes."""
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-qb", "feature")
    commit(repo, {"README.md": "docs\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, {"src/train.py": "print(3)\n"})
    main_tip = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "feature")
    assert base != main_tip
    proc = changed(repo, "--base", main_tip)
    assert proc.stdout.splitlines() == ["retrain=false"], proc.stderr


def test_unknown_base_is_one_line_exit_2(repo: Path) -> None:
    proc = changed(repo, "--base", "0" * 40)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"unknown revision '{'0' * 40}'"]
    assert "Traceback" not in proc.stderr


def test_shallow_clone_says_how_to_fix(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, {"src/train.py": "print(4)\n"})
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    proc = changed(shallow, "--base", base)
    assert proc.returncode == 2
    assert "fetch-depth: 0" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_train_paths_written_into_the_workflow_are_the_ones_applied() -> None:
    from ruamel.yaml import YAML

    from mlops_gitops.manifest.loader import load_manifest_text
    from mlops_gitops.render.workflows import render_workflows
    from tests.parts import project_of

    manifest = load_manifest_text(MANIFEST)
    files = render_workflows(project_of(manifest))
    wf = YAML(typ="safe", pure=True).load(files[".github/workflows/mlops-train.yml"])
    patterns = wf["on"]["push"]["paths"]
    assert matching(["src/a.py", "src/doc/x.md", "data/raw.csv.dvc", "README.md"], patterns) == [
        "src/a.py",
        "data/raw.csv.dvc",
    ]
