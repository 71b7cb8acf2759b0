"""The comments of the bundled example's pull requests, as a reviewer sees them: rendered as GitHub
renders a comment (a GFM renderer, then Mermaid's own library) in a real headless Chromium at 1,000 px
wide (``tests/mermaid/browser.mjs``), and measured. The verdict is within the first 200 px, the first
plot that changed is drawn within the first 1,500 px, no chart in the open has a series of fewer than
3 points, and the whole comment, every ``<details>`` closed, is under 3,000 px tall.

The pull requests are those ``make demo`` opens (``mlops_gitops/demo.py``) on the example adopted with
``init --yes`` and trained on main: weaker regularisation (passes), much stronger regularisation (fails
the gates), fewer rows of data, and a documentation change (nothing retrained). Each is reproduced
and reported as ``mlops-pr`` does (head: the work tree after ``dvc repro``), and posted as
``mlops-comment`` posts it with ``record.pull_requests: commit``, to the fake GitHub, which records
the run in a commit. The screenshots stay in ``tests/artifacts/comments/`` (ignored by Git).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_gitops.adapters.resources import examples_dir
from tests.mermaidcheck import HARNESS_DIR

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("MLOPS_GITOPS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "comments"
REPO = "acme/iris"
ENV = {
    "GIT_AUTHOR_NAME": "Laptop",
    "GIT_AUTHOR_EMAIL": "laptop@example.invalid",
    "GIT_COMMITTER_NAME": "Laptop",
    "GIT_COMMITTER_EMAIL": "laptop@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
}


def fail_without_chromium() -> None:
    """Fail (never skip) with the one line that says how to get the browser this test needs."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: install Debian's Chromium (`apt-get install -y chromium`)")
    if not (HARNESS_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail("tests/mermaid/node_modules has no playwright-core: run `npm ci --prefix tests/mermaid`")
    if shutil.which("node") is None:
        pytest.fail("`node` is not on PATH: the browser test needs Node.js 20 or later")


def sh(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    env = {k: v for k, v in {**os.environ, **ENV}.items() if not k.startswith("GITHUB_")}
    proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode in ok, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def fewer_rows(root: Path) -> None:
    csv = root / "data" / "iris.csv"
    csv.write_text("".join(csv.read_text().splitlines(keepends=True)[:-10]))
    sh(root, sys.executable, "-m", "dvc", "add", "--quiet", "data/iris.csv")


# The demo's pull requests: branch, change, commit message (the data change last: the data file is
# DVC's, so going back to main does not restore it).
PULLS: list[tuple[str, Callable[[Path], None], str]] = [
    ("stronger-model", lambda r: edit(r / "params.yaml", "C: 1.0", "C: 2.0"), "Weaker regularisation: C 2.0"),
    (
        "tiny-C",
        lambda r: edit(r / "params.yaml", "C: 1.0", "C: 0.01"),
        "Much stronger regularisation: C 0.01",
    ),
    ("docs", lambda r: edit(r / "README.md", "# ", "# (edited) "), "Docs only"),
    ("less-data", fewer_rows, "Fewer rows"),
]


def tree(root: Path) -> dict[str, bytes]:
    files = sh(root, "git", "ls-files", "-z").split("\0")
    return {f: (root / f).read_bytes() for f in files if f and (root / f).is_file()}


def reproduce_and_report(root: Path, name: str, work: Path) -> tuple[str, Path]:
    """What mlops-pr runs on the branch: reproduce, report against main; and the files it hands over."""
    sh(root, sys.executable, "-m", "dvc", "repro", "-q")
    report = work / f"{name}.report.md"
    sh(
        root,
        sys.executable,
        "-m",
        "mlops_gitops",
        "report",
        "--base",
        "main",
        "--output",
        str(report),
        ok=(0, 1),
    )
    handed = work / "handed" / name
    handed.mkdir(parents=True)
    for rel in filter(
        None, sh(root, "git", "ls-files", "-z", "--modified", "--others", "--exclude-standard").split("\0")
    ):
        (handed / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, handed / rel)
    return report.read_text(encoding="utf-8"), handed


@pytest.fixture(scope="module")
def comments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Each pull request's comment as the bot posts it, written to tests/artifacts/comments/NAME.md."""
    from mlops_gitops.adapters.github.client import GitHubContext
    from mlops_gitops.delivery.record import record_hook
    from mlops_gitops.reporters.markup import defang
    from mlops_gitops.reporting.comment import post_report, read_report
    from tests.fakegithub import FakeGitHub, env_for

    work = tmp_path_factory.mktemp("example-prs")
    root = work / "iris"
    shutil.copytree(examples_dir() / "iris", root, ignore=shutil.ignore_patterns("__pycache__"))
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, sys.executable, "-m", "mlops_gitops", "init", "--yes")
    sh(root, sys.executable, "-m", "dvc", "repro", "-q")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "Adopt mlops-gitops; first model")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS.parent / ".gitignore").write_text("*\n")
    out: dict[str, Path] = {}
    with FakeGitHub() as fake, pytest.MonkeyPatch.context() as mp:
        for key, value in {**env_for(fake, REPO), "MLOPS_GITOPS_RETRY_BACKOFF": "0"}.items():
            mp.setenv(key, value)
        mp.delenv("GITHUB_EVENT_PATH", raising=False)
        fake.add_repo(REPO, files={k: v.decode() for k, v in tree(root).items() if _text(v)})
        for name, change, message in PULLS:
            sh(root, "git", "checkout", "-q", "-b", name, "main")
            change(root)
            sh(root, "git", "commit", "-q", "-am", message)
            for rel, data in tree(root).items():
                if _text(data) and fake.file(REPO, name, rel) != data.decode():
                    fake.add_file(REPO, name, rel, data.decode(), message=message)
            number = fake.add_pull(REPO, name, title=message)
            _, handed = reproduce_and_report(root, name, work)
            # What mlops-comment does with record.pull_requests: commit (reporting.comment.comment).
            body, marker = read_report(str(work / f"{name}.report.md"))
            hook, _ = record_hook(
                "commit", str(handed), f"https://github.com/{REPO}/actions/runs/1", "success"
            )
            assert hook is not None
            body = hook.announce(body)
            posted = post_report(GitHubContext.from_env(), defang(body), marker, number, None, hook)
            assert posted.outcome is not None, posted.reason
            (comment,) = [c.body for c in fake.comments(REPO, number) if c.body.startswith(marker)]
            out[name] = ARTIFACTS / f"{name}.md"
            out[name].write_text(comment, encoding="utf-8")
            sh(root, "git", "checkout", "-q", "-f", "main")
            sh(root, "git", "clean", "-qfd")
    yield out


def _text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\0" not in data


@pytest.fixture(scope="module")
def measured(comments: dict[str, Path]) -> dict[str, dict[str, object]]:
    fail_without_chromium()
    proc = subprocess.run(
        ["node", str(HARNESS_DIR / "browser.mjs"), str(ARTIFACTS), *map(str, comments.values())],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=HARNESS_DIR,
        env={**os.environ, "MLOPS_GITOPS_CHROMIUM": CHROMIUM},
    )
    assert proc.returncode == 0, proc.stderr
    results = {Path(r["file"]).stem: r for r in json.loads(proc.stdout)}
    print(
        "\nscreenshots of the example's comments:", *(r["screenshot"] for r in results.values()), sep="\n  "
    )
    return results


def test_the_example_comments_say_what_happened(comments: dict[str, Path]) -> None:
    """The text a browser is given: before measuring it, that it is the comment of each story."""
    body = {name: path.read_text(encoding="utf-8") for name, path in comments.items()}
    assert body["stronger-model"].splitlines()[1].startswith("✅ **Pass**")
    assert body["tiny-C"].splitlines()[1].startswith("❌ **Fail**")
    for name in ("stronger-model", "tiny-C", "less-data"):
        # The bot records the run: the comment says so, instead of warning that dvc.lock is stale,
        # and names the commit that recorded it.
        assert "[!WARNING]" not in body[name] and "mlops-gitops records this run" in body[name]
        assert "Recorded by commit " in body[name]
        assert body[name].index("### Gates") < body[name].index("### Plots") < body[name].index("### Lineage")
    # C 0.01 moves predictions: both plots changed, drawn in the open (C 2.0 moves none of the 45).
    assert "#### 🔄 plots/confusion.csv · changed" in body["tiny-C"]
    assert "#### 🔄 plots/per_class.csv · changed" in body["tiny-C"]
    assert "🔄 plots/" not in body["docs"] and "records this run" not in body["docs"]


@pytest.mark.parametrize("name", [name for name, _, _ in PULLS])
def test_a_reviewer_reads_the_decision_and_what_changed_first(
    measured: dict[str, dict[str, object]], name: str
) -> None:
    m = measured[name]
    shot = m["screenshot"]
    assert m["errors"] == [], (m["errors"], shot)
    assert m["drawn"] == m["diagrams"], shot
    assert isinstance(m["verdictBottom"], int) and m["verdictBottom"] <= 200, (m["verdict"], shot)
    if "\n#### " in Path(str(m["file"])).read_text(encoding="utf-8"):  # a plot changed
        assert isinstance(m["firstPlotTop"], int) and m["firstPlotTop"] <= 1500, (m["firstPlotTop"], shot)
    assert m["sparseCharts"] == [], shot
    assert m["openDetails"] == 0 and isinstance(m["height"], int) and m["height"] < 3000, (m["height"], shot)
