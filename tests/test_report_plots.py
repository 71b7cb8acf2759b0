"""`report` shows a project's DVC plots, base beside head, on real Git + DVC repositories.

Two projects: one shaped like DVC's get-started example (written for this test: an ``eval/`` folder
that DVC caches, holding ROC and precision-recall curves as JSON, a confusion matrix as CSV, an
importance image; a stage plot with its own template; YAML and TSV data), and the bundled iris
example as ``init`` copies it. The numbers must equal what ``dvc plots diff --json`` prints, and
every chart must parse with Mermaid's own parser.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_gitops.adapters.resources import examples_dir
from mlops_gitops.metrics.collect import resolve_revision
from mlops_gitops.metrics.plots import BASE, HEAD, IMAGE, Plots, Series, collect
from mlops_gitops.reporters.markup import text
from tests.mermaidcheck import mermaid_blocks, parse_errors

pytestmark = pytest.mark.slow

DVC = str(Path(sys.executable).with_name("dvc"))
ENV = {
    "GIT_AUTHOR_NAME": "Plots",
    "GIT_AUTHOR_EMAIL": "plots@example.invalid",
    "GIT_COMMITTER_NAME": "Plots",
    "GIT_COMMITTER_EMAIL": "plots@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
}

# A get-started-shaped project: `train` writes a loss curve (a stage plot with a template), `evaluate`
# writes everything under eval/, which DVC caches (not in Git), as DVC's example does.
TRAIN = """\
import json, sys
from pathlib import Path
quality = float(Path("params.yaml").read_text().split("quality:")[1].split()[0])
Path("logs").mkdir(exist_ok=True)
rows = ["step\\tloss\\tval_loss"]
for step in range(40):
    rows.append(f"{step}\\t{round(1 / (1 + step * quality), 6)}\\t{round(1.1 / (1 + step * quality * 0.9), 6)}")
Path("logs/loss.tsv").write_text("\\n".join(rows) + "\\n")
Path("model.json").write_text(json.dumps({"quality": quality}) + "\\n")
"""

EVALUATE = """\
import csv, json, struct, zlib
from pathlib import Path
quality = json.loads(Path("model.json").read_text())["quality"]
root = Path("eval")
for sub in ("plots/sklearn/roc", "plots/sklearn/prc", "plots/sklearn/cm", "plots/images"):
    (root / sub).mkdir(parents=True, exist_ok=True)
for split, shift in (("train", 0.0), ("test", 0.05)):
    # Thresholds from high to low: fpr repeats where tpr jumps, as sklearn's roc_curve gives it.
    roc = [{"fpr": 0.0, "tpr": 0.0, "threshold": 1.0}]
    for i in range(1, 30):
        fpr = round(min(1.0, (i // 2) / 14), 4)
        tpr = round(min(1.0, (i / 29) ** (1 / (1 + quality - shift))), 4)
        roc.append({"fpr": fpr, "tpr": tpr, "threshold": round(1 - i / 30, 4)})
    roc.append({"fpr": 1.0, "tpr": 1.0, "threshold": 0.0})
    (root / f"plots/sklearn/roc/{split}.json").write_text(json.dumps({"roc": roc}))
    prc = [{"precision": round(0.5 + 0.5 * (1 - r / 25) ** (1 / (quality + 0.5)), 4), "recall": round(1 - r / 25, 4),
            "threshold": round(r / 25, 4)} for r in range(26)]
    (root / f"plots/sklearn/prc/{split}.json").write_text(json.dumps({"prc": prc}))
with open(root / "plots/sklearn/cm/test.csv", "w", newline="") as fd:
    writer = csv.writer(fd)
    writer.writerow(["actual", "predicted"])
    for i in range(60):
        actual = ["cat", "dog", "bird"][i % 3]
        wrong = i % max(2, int(10 * quality)) == 0
        writer.writerow([actual, ["dog", "bird", "cat"][i % 3] if wrong else actual])
Path("eval/per_class.yaml").write_text("".join(
    f"- class: {c}\\n  f1: {round(0.6 + quality * 0.1 + k * 0.05, 4)}\\n" for k, c in enumerate(["cat", "dog", "bird"])
))
def png(shade):
    raw = b"".join(b"\\x00" + bytes([shade, shade, shade]) * 4 for _ in range(4))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
(root / "plots/images/importance.png").write_bytes(png(int(quality * 100) % 256))
(root / "metrics.json").write_text(json.dumps({"avg_prec": round(0.8 + quality / 10, 4)}) + "\\n")
"""

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [quality]
    outs: [model.json]
    plots:
      - logs/loss.tsv:
          cache: false
          template: smooth
          x: step
          y: loss
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, model.json]
    outs: [eval]
metrics:
  - eval/metrics.json
plots:
  - ROC:
      template: simple
      x: fpr
      y:
        eval/plots/sklearn/roc/train.json: tpr
        eval/plots/sklearn/roc/test.json: tpr
  - Precision-Recall:
      template: simple
      x: recall
      y:
        eval/plots/sklearn/prc/train.json: precision
        eval/plots/sklearn/prc/test.json: precision
  - Confusion-Matrix:
      template: confusion
      x: actual
      y:
        eval/plots/sklearn/cm/test.csv: predicted
  - eval/per_class.yaml:
      template: bar_horizontal
      x: f1
      y: class
  - eval/plots/images/importance.png
  - Losses:
      x: step
      y:
        logs/loss.tsv: [loss, val_loss]
"""


def sh(root: Path, *args: str) -> str:
    proc = subprocess.run(args, cwd=root, env={**os.environ, **ENV}, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def commit(root: Path, message: str) -> str:
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", message)
    return sh(root, "git", "rev-parse", "HEAD").strip()


def report(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from mlops_gitops.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {k: v for k, v in {**os.environ, **ENV}.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-c", code, "report", *args], cwd=root, capture_output=True, text=True, env=env
    )


@pytest.fixture(scope="module")
def get_started(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("get-started")
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, DVC, "init", "-q")
    (root / "train.py").write_text(TRAIN)
    (root / "evaluate.py").write_text(EVALUATE)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "params.yaml").write_text("quality: 0.5\n")
    (root / "mlops.yaml").write_text("version: 1\nproject: {name: get-started}\npipelines: [dvc.yaml]\n")
    sh(root, DVC, "repro", "-q")
    base = commit(root, "base")
    (root / "params.yaml").write_text("quality: 0.9\n")
    sh(root, DVC, "repro", "-q")
    head = commit(root, "head")
    assert sh(root, "git", "ls-files", "eval") == ""  # the plots' data lives in DVC's cache only
    return root, base, head


def dvc_plots_diff(root: Path, base: str, head: str, out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sh(root, DVC, "plots", "diff", base, head, "--json", "-o", str(out)))
    assert not data.get("errors"), data["errors"]
    return data["data"]


def _matches(point: dict[str, Any], rev: str, series: Series) -> bool:
    """A datapoint of DVC's JSON for this revision and series (DVC drops `filename` and `field` when
    they do not vary, and joins them as `filename::field` when both do)."""
    return (
        point["rev"] == rev
        and point.get("filename", series.file) == series.file
        and point.get("field", series.field) == series.field
        and point.get("filename::field", f"{series.file}::{series.field}") == f"{series.file}::{series.field}"
    )


def assert_equal_to_dvc(plots: Plots, dvc: dict[str, Any], revs: dict[str, str]) -> int:
    """Every point of every plot is DVC's, in DVC's order; returns how many were compared."""
    compared = 0
    assert {p.id for p in plots.plots} == set(dvc)
    for plot in plots.plots:
        entries = dvc[plot.id]
        if plot.kind == IMAGE:
            assert sorted(e["revisions"][0] for e in entries) == sorted(
                revs[s] for s in (BASE, HEAD) if plot.side(s) is not None
            )
            for entry in entries:
                side = BASE if entry["revisions"] == [revs[BASE]] else HEAD
                found = plot.side(side)
                assert found is not None and found.data == Path(entry["url"]).read_bytes()
            continue
        (entry,) = entries
        values = entry["content"]["data"]["values"]
        for side in (BASE, HEAD):
            found = plot.side(side)
            assert found is not None, (plot.id, side)
            for series in found.series:
                theirs = [(p[plot.x], p[plot.y]) for p in values if _matches(p, revs[side], series)]
                assert theirs == list(zip(series.x, series.y, strict=True)), (plot.id, side, series.field)
                compared += len(theirs)
        assert compared
    return compared


def test_numbers_equal_dvc_plots_diff_json(get_started: tuple[Path, str, str], tmp_path: Path) -> None:
    root, base, head = get_started
    plots = collect(root, resolve_revision(base, root), resolve_revision(head, root))
    assert not plots.error and not plots.errors
    assert {p.id: p.kind for p in plots.plots} == {
        "ROC": "line",
        "Precision-Recall": "line",
        "Confusion-Matrix": "confusion",
        "eval/per_class.yaml": "bar",
        "eval/plots/images/importance.png": "image",
        "logs/loss.tsv": "line",
        "Losses": "line",
    }
    assert all(p.status == "changed" for p in plots.plots)
    roc = next(p for p in plots.plots if p.id == "ROC")
    assert roc.head is not None and {s.file for s in roc.head.series} == {"train.json", "test.json"}
    losses = next(p for p in plots.plots if p.id == "Losses")
    assert losses.head is not None and [s.field for s in losses.head.series] == ["loss", "val_loss"]
    compared = assert_equal_to_dvc(
        plots, dvc_plots_diff(root, base, head, tmp_path / "out"), {BASE: base, HEAD: head}
    )
    assert compared > 500

    # The JSON report carries the same numbers: what `dvc plots diff --json` has, as DVC has them.
    proc = report(root, "--base", base, "--head", head, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    ours = json.loads(proc.stdout)["plots"]
    assert ours["error"] is None
    assert ours["plots"] == [p.to_json() for p in plots.plots]


def test_comment_shows_every_plot_base_beside_head(
    get_started: tuple[Path, str, str], tmp_path: Path
) -> None:
    root, base, head = get_started
    url = "https://github.com/acme/ml/actions/runs/42/artifacts/7"
    images = tmp_path / "images"
    proc = report(root, "--base", base, "--head", head, "--artifact-url", url, "--images-dir", str(images))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # nothing from DVC: no progress bars, no warnings
    body = proc.stdout
    assert "### Plots (7)" in body
    for title in (
        "ROC",
        "Precision-Recall",
        "Confusion-Matrix",
        "eval/per_class.yaml",
        "logs/loss.tsv",
        "Losses",
    ):
        assert f"#### 🔄 {text(title)} · changed\n" in body  # changed: drawn in the open
    assert f"in [the workflow run's artifact]({url})" in body
    assert "- `eval/plots/images/importance.png`: changed" in body
    assert (images / "base/eval/plots/images/importance.png").read_bytes().startswith(b"\x89PNG")
    assert (images / "head/eval/plots/images/importance.png").is_file()
    # Base and head as two lines of each chart; every series at most ~100 points.
    blocks = mermaid_blocks(body)
    assert len(blocks) == 2 + 2 + 1 + 1 + 2  # ROC and PR: train and test; bars; loss; two loss columns
    for block in blocks:
        series = [line for line in block.splitlines() if line.strip().startswith(("line [", "bar ["))]
        assert len(series) == 2, block  # base and head
        assert all(len(line.split(",")) <= 100 for line in series)
    assert parse_errors(blocks) == [None] * len(blocks)
    roc = blocks[0]
    assert 'x-axis "fpr" 0 --> 1' in roc and 'title "ROC · tpr (train.json)"' in roc
    bars = next(b for b in blocks if "per_class" in b)
    assert 'x-axis ["cat: base", "cat: head", "dog: base", "dog: head", "bird: base", "bird: head"]' in bars
    assert "    bar [" in bars and "    line [" not in bars
    # The confusion matrix: counts at head, the change from base in brackets, actual in rows.
    assert "rows (actual): `actual` · columns (predicted): `predicted`" in body
    assert "| actual ↓ · predicted → | bird | cat | dog |" in body
    assert "*Correct (diagonal): head " in body and " · base " in body


def test_a_plot_added_by_the_pull_request_shows_head_and_says_so(
    get_started: tuple[Path, str, str], tmp_path: Path
) -> None:
    src, base, head = get_started
    root = tmp_path / "copy"
    shutil.copytree(src, root, symlinks=True)
    sh(root, "git", "checkout", "-q", head)
    (root / "extra.csv").write_text("epoch,acc\n" + "".join(f"{i},{0.5 + i / 100}\n" for i in range(5000)))
    with (root / "dvc.yaml").open("a") as fd:
        fd.write("  - extra.csv:\n      x: epoch\n      y: acc\n")
    (root / "logs/loss.tsv").unlink()  # defined at both sides, unreadable at head
    proc = report(root, "--base", base)
    assert proc.returncode == 0, proc.stderr
    body = proc.stdout
    assert "#### 🆕 extra.csv · only at head (new)\n" in body
    block = body.split("only at head (new)\n")[1].split("\n####")[0]
    assert "*only at head; orange: head `workspace`*" in block
    (chart,) = mermaid_blocks(block)
    (line,) = [x for x in chart.splitlines() if "line [" in x]
    assert len(line.split(",")) == 100  # 5,000 points, resampled
    assert line.strip().startswith("line [0.5, ") and line.strip().endswith(", 50.49]")  # both ends kept
    assert "⚪" not in body.split("logs/loss.tsv")[0]  # not "unchanged"
    assert "Not available at head (`workspace`): no such file" in body
    assert parse_errors(mermaid_blocks(body)) == [None] * len(mermaid_blocks(body))


def test_plots_are_dropped_before_tables_are_cut(get_started: tuple[Path, str, str], tmp_path: Path) -> None:
    root, base, head = get_started
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project
    from mlops_gitops.reporters import markdown
    from mlops_gitops.reporting.evaluate import evaluate

    c = evaluate(load_project(root, load_manifest(root / "mlops.yaml")), base, head, plots=True)
    full = markdown.render(c)
    limit = len(full) - 500
    cut = markdown.render(c, limit=limit)
    assert len(cut) <= limit
    assert "plots left out to fit GitHub's comment limit" in cut
    assert "rows left out" not in cut and "more data hashes left out" not in cut
    assert "### Lineage" in cut


def test_bundled_example_shows_its_confusion_matrix_and_per_class_plot(tmp_path: Path) -> None:
    root = tmp_path / "iris"
    shutil.copytree(examples_dir() / "iris", root, ignore=shutil.ignore_patterns("__pycache__"))
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, sys.executable, "-m", "mlops_gitops", "init", "--yes")
    commit(root, "adopt")
    sh(root, sys.executable, "-m", "dvc", "repro", "-q")
    base = commit(root, "train")
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.05"))
    sh(root, sys.executable, "-m", "dvc", "repro", "-q")
    head = commit(root, "weaker regularisation")

    plots = collect(root, resolve_revision(base, root), resolve_revision(head, root))
    assert [(p.id, p.kind, p.status) for p in plots.plots] == [
        ("plots/confusion.csv", "confusion", "changed"),
        ("plots/per_class.csv", "line", "changed"),
    ]
    assert_equal_to_dvc(plots, dvc_plots_diff(root, base, head, tmp_path / "out"), {BASE: base, HEAD: head})

    proc = report(root, "--base", base, "--head", head)
    assert proc.returncode == 1, proc.stderr  # C: 0.05 fails the accuracy gate
    body = proc.stdout
    assert "#### 🔄 plots/confusion.csv · changed\n" in body
    assert "| actual ↓ · predicted → | setosa | versicolor | virginica |" in body
    assert "| **setosa** | **15** | 0 | 0 |" in body  # 15 test flowers per species, setosa always right
    matrix = body.split("| actual ↓ · predicted →")[1].split("*Correct")[0]
    assert "(+" in matrix and "(-" in matrix  # the change from base, per cell
    assert "#### 🔄 plots/per_class.csv · changed\n" in body
    (chart,) = mermaid_blocks(body.split("plots/per_class.csv · changed")[1])
    # Classes have no order: bars, each class's base beside its head, not a line through them.
    assert 'x-axis ["setosa: base", "setosa: head", "versicolor: base", "versicolor: head"' in chart
    assert sum(1 for line in chart.splitlines() if "bar [" in line) == 2  # base and head
    assert "grey: base" in body and "orange: head" in body
    blocks = mermaid_blocks(body)
    assert parse_errors(blocks) == [None] * len(blocks)
    # The params as reviewers read them: flattened, never a Python repr.
    assert "| `train.C` | 1 | 0.05 |" in body and "{'C'" not in body


def test_an_artifact_url_that_is_not_a_plain_link_is_bad_input(get_started: tuple[Path, str, str]) -> None:
    root, base, head = get_started
    proc = report(root, "--base", base, "--head", head, "--artifact-url", "https://e.example/x)[y](z")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "--artifact-url must be an http(s) URL" in proc.stderr
    env_url = "https://github.com/acme/ml/actions/runs/42"
    code = "import sys; from mlops_gitops.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, **ENV, "MLOPS_GITOPS_ARTIFACT_URL": env_url}
    env = {k: v for k, v in env.items() if not k.startswith("GITHUB_")}
    args = [sys.executable, "-c", code, "report", "--base", base, "--head", head]
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and f"in [the workflow run's artifact]({env_url})" in proc.stdout


def test_hostile_plot_text_from_a_real_repository_is_inert(tmp_path: Path) -> None:
    from tests.inert import problems, visible

    words = "@acme/ml-team closes #12 <img src=x onerror=alert(1)> [x](https://evil.example) %% `t` |"
    root = tmp_path / "hostile"
    root.mkdir()
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, DVC, "init", "-q")
    (root / "mlops.yaml").write_text("version: 1\nproject: {name: h}\npipelines: [dvc.yaml]\n")
    title = json.dumps(f"Title {words}")
    column = json.dumps(f"col {words}")
    (root / "dvc.yaml").write_text(
        f"plots:\n  - scores.csv:\n      title: {title}\n      x: label\n      y: {column}\n"
        f"  - cm.csv:\n      template: confusion\n      title: {title}\n      x: predicted\n      y: actual\n"
    )

    def write(shift: float) -> None:
        with (root / "scores.csv").open("w", newline="") as fd:
            writer = csv.writer(fd)
            writer.writerow(["label", f"col {words}"])
            writer.writerows([[f"cat {words}", 0.5 + shift], ["dog", 0.7]])
        with (root / "cm.csv").open("w", newline="") as fd:
            writer = csv.writer(fd)
            writer.writerow(["actual", "predicted"])
            rows = [[f"cat {words}", "dog"], ["dog", "dog"]] + ([["dog", f"cat {words}"]] if shift else [])
            writer.writerows(rows)

    write(0.0)
    base = commit(root, "base")
    write(0.2)
    proc = report(root, "--base", base)
    assert proc.returncode == 0, proc.stderr
    body = proc.stdout
    assert problems(body) == [], problems(body)
    assert "@acme/ml-team" in visible(body) and "closes #12" in visible(body)
    blocks = mermaid_blocks(body)
    assert len(blocks) == 1 and parse_errors(blocks) == [None]
    assert "| actual ↓ · predicted → |" in body and "(+1)" in body  # the matrix, escaped cell by cell
    assert body.count("#### 🔄 Title @\u2060acme/ml-team c\u2060loses #\u206012 &lt;img") == 2
