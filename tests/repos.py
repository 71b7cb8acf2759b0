"""Builders of real-shaped DVC repositories for tests, written for this project.

Each builder makes, in the directory it is given, a git repository (branch ``main``) with ``dvc init``
and a small ML project whose stages really run: tiny standard-library scripts that read CSV and write
JSON/CSV, so a ``dvc repro`` takes a second or two. The shapes are the ones adoption meets in public
DVC repositories (see the "Real DVC repositories" notes in the reference): a pipeline in a subfolder,
several ``dvc.yaml`` per repository, ``vars``/``foreach``/``matrix``/``wdir``, stage names starting
with digits, top-level ``metrics``/``plots``/``artifacts``, metrics inside a cached directory output,
data tracked by a ``.dvc`` pointer, CI files that already run ``dvc repro``.

Every builder returns a :class:`BuiltRepo` describing what it made, so tests can assert against it:
the dvc.yaml files, each stage's address as ``dvc stage list --all`` prints it, and the dependencies,
params and outputs DVC resolves for it (repo-relative POSIX paths).

Deterministic: fixed commit identity and dates, seeded data, no network. DVC and git run as
subprocesses (``python -m dvc``), exactly as a user would run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Repo Builder",
    "GIT_AUTHOR_EMAIL": "builder@example.invalid",
    "GIT_COMMITTER_NAME": "Repo Builder",
    "GIT_COMMITTER_EMAIL": "builder@example.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-01-01T12:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
}


@dataclass(frozen=True)
class StageSpec:
    """What DVC resolves for one stage (repo-relative POSIX paths, sorted)."""

    deps: tuple[str, ...]
    outs: tuple[str, ...]  # every output, metrics and plots included
    params: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (params file, keys); () keys = whole file
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    wdir: str = "."


@dataclass(frozen=True)
class BuiltRepo:
    """What a builder made."""

    root: Path
    dvcfiles: tuple[str, ...]  # repo-relative dvc.yaml files
    stages: Mapping[str, StageSpec]  # by address, as `dvc stage list --all` prints it
    top_metrics: tuple[str, ...] = ()  # top-level `metrics:` files, repo-relative
    top_plot_files: tuple[str, ...] = ()  # data files of top-level `plots:`, repo-relative
    artifacts: Mapping[str, str] = field(default_factory=dict)  # name -> repo-relative path
    pointers: Mapping[str, str] = field(default_factory=dict)  # tracked path -> its `.dvc` file
    params_files: tuple[str, ...] = ()
    reproduced: bool = False
    revs: tuple[str, ...] = ()  # commit SHAs, oldest first
    extra: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Tiny scripts: standard library only, deterministic.

PREPARE = '''\
"""Split a CSV of (x, y) rows into train and test, deterministically."""
import csv
import random
import sys
from pathlib import Path

src, out_dir, split, seed = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rows = list(csv.DictReader(open(src, newline="")))
random.Random(seed).shuffle(rows)
n_test = max(1, int(len(rows) * split))
out_dir.mkdir(parents=True, exist_ok=True)
for name, part in (("test.csv", rows[:n_test]), ("train.csv", rows[n_test:])):
    with open(out_dir / name, "w", newline="") as fd:
        writer = csv.DictWriter(fd, fieldnames=["x", "y"], lineterminator="\\n")
        writer.writeheader()
        writer.writerows(part)
'''

TRAIN = '''\
"""Fit y = w*x + b by gradient descent; write the weights and a loss curve."""
import csv
import json
import sys
from pathlib import Path

train, model, lr, epochs = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
raw = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(open(train, newline=""))]
sx = max(abs(x) for x, _ in raw) or 1.0
sy = max(abs(y) for _, y in raw) or 1.0
rows = [(x / sx, y / sy) for x, y in raw]
w = b = 0.0
losses = []
for epoch in range(epochs):
    gw = sum(2 * (w * x + b - y) * x for x, y in rows) / len(rows)
    gb = sum(2 * (w * x + b - y) for x, y in rows) / len(rows)
    w, b = w - lr * gw, b - lr * gb
    losses.append({"step": epoch, "loss": round(sum((w * x + b - y) ** 2 for x, y in rows) / len(rows), 6)})
model.parent.mkdir(parents=True, exist_ok=True)
model.write_text(json.dumps({"w": round(w * sy / sx, 6), "b": round(b * sy, 6), "lr": lr, "epochs": epochs}, indent=2) + "\\n")
if len(sys.argv) > 5:
    curve = Path(sys.argv[5])
    curve.parent.mkdir(parents=True, exist_ok=True)
    with open(curve, "w", newline="") as fd:
        writer = csv.DictWriter(fd, fieldnames=["step", "loss"], lineterminator="\\n")
        writer.writeheader()
        writer.writerows(losses)
'''

EVALUATE = '''\
"""Score a model on a CSV; write metrics JSON and residuals for plots."""
import csv
import json
import sys
from pathlib import Path

model, test, metrics, plots = json.load(open(sys.argv[1])), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(open(test, newline=""))]
pred = [(x, y, model["w"] * x + model["b"]) for x, y in rows]
mse = sum((p - y) ** 2 for _, y, p in pred) / len(pred)
mae = sum(abs(p - y) for _, y, p in pred) / len(pred)
metrics.parent.mkdir(parents=True, exist_ok=True)
metrics.write_text(json.dumps({"mse": round(mse, 6), "mae": round(mae, 6), "n": len(pred)}, indent=2) + "\\n")
plots.mkdir(parents=True, exist_ok=True)
with open(plots / "residuals.csv", "w", newline="") as fd:
    writer = csv.writer(fd, lineterminator="\\n")
    writer.writerow(["x", "residual"])
    writer.writerows((x, round(y - p, 6)) for x, y, p in sorted(pred))
points = [{"threshold": t / 10, "fpr": round(t / 10, 3), "tpr": round(min(1.0, (t / 10) ** 0.5), 3)} for t in range(11)]
(plots / "roc.json").write_text(json.dumps({"roc": points}, indent=2) + "\\n")
pr = [{"recall": round(1 - t / 10, 3), "precision": round(0.5 + t / 20, 3)} for t in range(11)]
(plots / "precision_recall.json").write_text(json.dumps({"prc": pr}, indent=2) + "\\n")
'''

FEATURISE = '''\
"""Add a binned feature to every row."""
import csv
import sys

src, dst, bins = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = list(csv.DictReader(open(src, newline="")))
top = max(float(r["x"]) for r in rows) + 1
with open(dst, "w", newline="") as fd:
    writer = csv.DictWriter(fd, fieldnames=["x", "y", "bin"], lineterminator="\\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({"x": r["x"], "y": r["y"], "bin": int(float(r["x"]) * bins / top)})
'''

SPLIT = '''\
"""Write one split: the first (train) or last (test) fraction of the rows."""
import csv
import sys

src, name, frac, dst = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
rows = list(csv.DictReader(open(src, newline="")))
cut = int(len(rows) * frac)
part = rows[:cut] if name == "train" else rows[len(rows) - cut:]
with open(dst, "w", newline="") as fd:
    writer = csv.DictWriter(fd, fieldnames=["x", "y", "bin"], lineterminator="\\n")
    writer.writeheader()
    writer.writerows(part)
'''

SELECT_BEST = '''\
"""Pick the model with the smallest |w - 2| (run from src/: wdir)."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
models = {p: json.load(open(p)) for p in sys.argv[2:]}
best = min(sorted(models), key=lambda p: abs(models[p]["w"] - 2))
out.write_text(json.dumps({"from": Path(best).name, **models[best]}, indent=2) + "\\n")
'''

COMMON = '''\
"""Shared helpers of the churn and fraud pipelines."""
import csv
import json


def read_rows(path):
    return [(float(r["x"]), float(r["y"])) for r in csv.DictReader(open(path, newline=""))]


def write_json(path, data):
    with open(path, "w") as fd:
        json.dump(data, fd, indent=2, sort_keys=True)
        fd.write("\\n")
'''

MODEL_WITH_COMMON = '''\
"""Threshold model on one dataset, using the shared helpers in src/common.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[{depth}]))
from src.common import read_rows, write_json  # noqa: E402

data, threshold, metrics = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rows = read_rows(data)
hits = sum((y > threshold) == (x > threshold / 2) for x, y in rows)
Path(metrics).parent.mkdir(parents=True, exist_ok=True)
write_json(metrics, {{"accuracy": round(hits / len(rows), 6), "rows": len(rows)}})
'''


def _points(n: int = 40, slope: float = 2.0, shift: int = 0) -> str:
    lines = ["x,y"]
    for i in range(n):
        noise = ((i * 7 + shift) % 5 - 2) / 10
        lines.append(f"{i},{round(slope * i + 1 + noise, 3)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Plumbing.


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_ENV)
    # `python` in a stage's cmd must be this interpreter (it has nothing the scripts need beyond stdlib,
    # but it is the one whose DVC runs the stage).
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run(cwd: Path, *args: str) -> str:
    """Run a command in ``cwd``; fail with its output if it fails."""
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=_env())
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def git(cwd: Path, *args: str) -> str:
    return run(cwd, "git", *args)


def dvc(cwd: Path, *args: str) -> str:
    return run(cwd, sys.executable, "-m", "dvc", *args)


def write(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n") if text.startswith("\n") else text)


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def init(root: Path) -> None:
    """``git init -b main`` and ``dvc init`` in ``root`` (created if missing)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "commit.gpgsign", "false")
    dvc(root, "init", "-q")


def repro(root: Path, *targets: str) -> None:
    dvc(root, "repro", "--quiet", *targets)


# --------------------------------------------------------------------------------------------------
# Builders.


def subfolder_pipeline(root: Path, *, reproduce: bool = True) -> BuiltRepo:
    """The only dvc.yaml in ``pipelines/``; stages run from the root (``wdir: ..``).

    ``params.yaml`` at the root is read both through ``vars`` (``../params.yaml``, relative to the
    dvc.yaml) for the commands and as ``params:`` dependencies (``params.yaml`` relative to the
    stage's wdir, the root). Requirements only in ``src/requirements.txt``.
    """
    init(root)
    write(
        root,
        {
            "README.md": "# points\n\nFits a line to points; the pipeline lives in `pipelines/`.\n",
            "src/requirements.txt": "dvc>=3.0\n",
            "src/prepare.py": PREPARE,
            "src/train.py": TRAIN,
            "src/evaluate.py": EVALUATE,
            "data/raw/points.csv": _points(),
            "params.yaml": "prepare:\n  split: 0.25\n  seed: 7\ntrain:\n  lr: 0.5\n  epochs: 300\n",
            ".gitignore": "__pycache__/\n",
            "pipelines/dvc.yaml": """
                vars:
                  - ../params.yaml
                stages:
                  prepare:
                    wdir: ..
                    cmd: python src/prepare.py data/raw/points.csv data/prepared ${prepare.split} ${prepare.seed}
                    deps:
                      - src/prepare.py
                      - data/raw/points.csv
                    params:
                      - prepare.split
                      - prepare.seed
                    outs:
                      - data/prepared
                  train:
                    wdir: ..
                    cmd: python src/train.py data/prepared/train.csv models/model.json ${train.lr} ${train.epochs}
                    deps:
                      - src/train.py
                      - data/prepared
                    params:
                      - train
                    outs:
                      - models/model.json
                  evaluate:
                    wdir: ..
                    cmd: python src/evaluate.py models/model.json data/prepared/test.csv metrics/scores.json plots
                    deps:
                      - src/evaluate.py
                      - models/model.json
                      - data/prepared
                    metrics:
                      - metrics/scores.json:
                          cache: false
                    plots:
                      - plots/residuals.csv:
                          cache: false
                          x: x
                          y: residual
                """,
        },
    )
    revs = [commit(root, "points pipeline in pipelines/")]
    if reproduce:
        repro(root, "pipelines/dvc.yaml")
        revs.append(commit(root, "dvc repro"))
    stages = {
        "pipelines/dvc.yaml:prepare": StageSpec(
            deps=("data/raw/points.csv", "src/prepare.py"),
            outs=("data/prepared",),
            params=(("params.yaml", ("prepare.seed", "prepare.split")),),
            wdir=".",
        ),
        "pipelines/dvc.yaml:train": StageSpec(
            deps=("data/prepared", "src/train.py"),
            outs=("models/model.json",),
            params=(("params.yaml", ("train",)),),
        ),
        "pipelines/dvc.yaml:evaluate": StageSpec(
            deps=("data/prepared", "models/model.json", "src/evaluate.py"),
            outs=("metrics/scores.json", "plots/residuals.csv"),
            metrics=("metrics/scores.json",),
            plots=("plots/residuals.csv",),
        ),
    }
    return BuiltRepo(
        root=root,
        dvcfiles=("pipelines/dvc.yaml",),
        stages=stages,
        params_files=("params.yaml",),
        reproduced=reproduce,
        revs=tuple(revs),
        extra={"requirements": "src/requirements.txt"},
    )


def two_pipelines(root: Path, *, reproduce: bool = True) -> BuiltRepo:
    """``pipelines/churn/dvc.yaml`` and ``pipelines/fraud/dvc.yaml``: independent, sharing ``src/common.py``.

    churn runs from the root (``wdir: ../..``) with its params file named explicitly; fraud runs from
    its own folder with ``../../`` paths and the default ``params.yaml`` next to its dvc.yaml, plus a
    top-level ``metrics:`` entry.
    """
    init(root)
    write(
        root,
        {
            "requirements.txt": "dvc>=3.0\n",
            "src/__init__.py": "",
            "src/common.py": COMMON,
            "src/churn/__init__.py": "",
            "src/churn/train.py": MODEL_WITH_COMMON.format(depth=2),
            "src/fraud/__init__.py": "",
            "src/fraud/train.py": MODEL_WITH_COMMON.format(depth=2),
            "data/churn/customers.csv": _points(30, slope=1.5),
            "data/fraud/transactions.csv": _points(50, slope=3.0, shift=2),
            ".gitignore": "__pycache__/\n",
            "pipelines/churn/params.yaml": "train:\n  threshold: 20\n",
            "pipelines/churn/dvc.yaml": """
                stages:
                  train:
                    wdir: ../..
                    cmd: python src/churn/train.py data/churn/customers.csv ${train.threshold} metrics/churn.json
                    deps:
                      - src/churn/train.py
                      - src/common.py
                      - data/churn/customers.csv
                    params:
                      - pipelines/churn/params.yaml:
                          - train.threshold
                    metrics:
                      - metrics/churn.json:
                          cache: false
                """,
            "pipelines/fraud/params.yaml": "model:\n  threshold: 60\n  name: fraud-threshold\n",
            "pipelines/fraud/dvc.yaml": """
                stages:
                  score:
                    cmd: python ../../src/fraud/train.py ../../data/fraud/transactions.csv ${model.threshold} results/metrics.json
                    deps:
                      - ../../src/fraud/train.py
                      - ../../src/common.py
                      - ../../data/fraud/transactions.csv
                    params:
                      - model.threshold
                    outs:
                      - results/metrics.json:
                          cache: false
                metrics:
                  - results/metrics.json
                """,
        },
    )
    revs = [commit(root, "churn and fraud pipelines")]
    if reproduce:
        repro(root, "pipelines/churn/dvc.yaml")
        repro(root, "pipelines/fraud/dvc.yaml")
        revs.append(commit(root, "dvc repro both"))
    stages = {
        "pipelines/churn/dvc.yaml:train": StageSpec(
            deps=("data/churn/customers.csv", "src/churn/train.py", "src/common.py"),
            outs=("metrics/churn.json",),
            params=(("pipelines/churn/params.yaml", ("train.threshold",)),),
            metrics=("metrics/churn.json",),
            wdir=".",
        ),
        "pipelines/fraud/dvc.yaml:score": StageSpec(
            deps=("data/fraud/transactions.csv", "src/common.py", "src/fraud/train.py"),
            outs=("pipelines/fraud/results/metrics.json",),
            params=(("pipelines/fraud/params.yaml", ("model.threshold",)),),
            wdir="pipelines/fraud",
        ),
    }
    return BuiltRepo(
        root=root,
        dvcfiles=("pipelines/churn/dvc.yaml", "pipelines/fraud/dvc.yaml"),
        stages=stages,
        top_metrics=("pipelines/fraud/results/metrics.json",),
        params_files=("pipelines/churn/params.yaml", "pipelines/fraud/params.yaml"),
        reproduced=reproduce,
        revs=tuple(revs),
        extra={"shared": "src/common.py"},
    )


TEMPLATED_DVC_YAML = """
vars:
  - params.yaml
  - model_dir: models
    splits:
      - split: train
        frac: 0.75
      - split: test
        frac: 0.25
stages:
  01_featurise:
    cmd: python src/featurise.py data/raw.csv data/features.csv ${featurise.bins}
    deps:
      - src/featurise.py
      - data/raw.csv
    params:
      - featurise.bins
    outs:
      - data/features.csv
  split:
    foreach: ${splits}
    do:
      cmd: python src/split.py data/features.csv ${item.split} ${item.frac} data/${item.split}.csv
      deps:
        - src/split.py
        - data/features.csv
      outs:
        - data/${item.split}.csv
  train:
    matrix:
      lr: [0.1, 0.01]
      seed: [1, 2]
    cmd: python src/train.py data/train.csv ${model_dir}/model-${item.lr}-${item.seed}.json ${item.lr} ${train.epochs} curves/loss-${item.lr}-${item.seed}.csv
    deps:
      - src/train.py
      - data/train.csv
    params:
      - train.epochs
    outs:
      - ${model_dir}/model-${item.lr}-${item.seed}.json
    plots:
      - curves/loss-${item.lr}-${item.seed}.csv:
          cache: false
          x: step
          y: loss
  select:
    wdir: src
    cmd: python select_best.py ../${model_dir}/best.json ../${model_dir}/model-0.1-1.json ../${model_dir}/model-0.1-2.json ../${model_dir}/model-0.01-1.json ../${model_dir}/model-0.01-2.json
    deps:
      - select_best.py
      - ../${model_dir}/model-0.1-1.json
      - ../${model_dir}/model-0.1-2.json
      - ../${model_dir}/model-0.01-1.json
      - ../${model_dir}/model-0.01-2.json
    outs:
      - ../${model_dir}/best.json
  evaluate:
    cmd: python src/evaluate.py ${model_dir}/best.json data/test.csv eval/metrics.json eval/plots
    deps:
      - src/evaluate.py
      - ${model_dir}/best.json
      - data/test.csv
    outs:
      - eval/metrics.json:
          cache: false
      - eval/plots:
          cache: false
metrics:
  - eval/metrics.json
plots:
  - eval/plots/roc.json:
      x: fpr
      y:
        - tpr
        - threshold
      title: ROC
      template: linear
  - Residuals and loss:
      x: x
      y:
        eval/plots/residuals.csv: residual
        curves/loss-0.1-1.csv: [loss]
      title: Residuals
      x_label: x
      y_label: value
  - eval/plots/precision_recall.json
artifacts:
  best-model:
    path: ${model_dir}/best.json
    type: model
    desc: Best line of the lr x seed grid
    labels:
      - regression
      - grid
"""


def templated(root: Path, *, reproduce: bool = True) -> BuiltRepo:
    """Root dvc.yaml with ``vars`` (file and inline), ``foreach`` over dicts, ``matrix``, ``wdir: src``,
    a stage named ``01_featurise``, and top-level ``metrics``, ``plots`` (several y columns, a per-file
    ``y`` mapping) and ``artifacts`` (``type: model``)."""
    init(root)
    write(
        root,
        {
            "src/featurise.py": FEATURISE,
            "src/split.py": SPLIT,
            "src/train.py": TRAIN,
            "src/select_best.py": SELECT_BEST,
            "src/evaluate.py": EVALUATE,
            "data/raw.csv": _points(32),
            "params.yaml": "featurise:\n  bins: 4\ntrain:\n  epochs: 200\n",
            ".gitignore": "__pycache__/\n",
            "requirements.txt": "dvc>=3.0\n",
            "dvc.yaml": TEMPLATED_DVC_YAML,
        },
    )
    revs = [commit(root, "templated pipeline")]
    if reproduce:
        repro(root)
        revs.append(commit(root, "dvc repro"))
    grid = [("0.1", "1"), ("0.1", "2"), ("0.01", "1"), ("0.01", "2")]
    models = tuple(sorted(f"models/model-{lr}-{seed}.json" for lr, seed in grid))
    stages: dict[str, StageSpec] = {
        "01_featurise": StageSpec(
            deps=("data/raw.csv", "src/featurise.py"),
            outs=("data/features.csv",),
            params=(("params.yaml", ("featurise.bins",)),),
        ),
        "split@0": StageSpec(deps=("data/features.csv", "src/split.py"), outs=("data/train.csv",)),
        "split@1": StageSpec(deps=("data/features.csv", "src/split.py"), outs=("data/test.csv",)),
    }
    for lr, seed in grid:
        stages[f"train@{lr}-{seed}"] = StageSpec(
            deps=("data/train.csv", "src/train.py"),
            outs=tuple(sorted((f"models/model-{lr}-{seed}.json", f"curves/loss-{lr}-{seed}.csv"))),
            params=(("params.yaml", ("train.epochs",)),),
            plots=(f"curves/loss-{lr}-{seed}.csv",),
        )
    stages["select"] = StageSpec(
        deps=tuple(sorted((*models, "src/select_best.py"))), outs=("models/best.json",), wdir="src"
    )
    stages["evaluate"] = StageSpec(
        deps=("data/test.csv", "models/best.json", "src/evaluate.py"),
        outs=("eval/metrics.json", "eval/plots"),
    )
    return BuiltRepo(
        root=root,
        dvcfiles=("dvc.yaml",),
        stages=stages,
        top_metrics=("eval/metrics.json",),
        top_plot_files=(
            "curves/loss-0.1-1.csv",
            "eval/plots/precision_recall.json",
            "eval/plots/residuals.csv",
            "eval/plots/roc.json",
        ),
        artifacts={"best-model": "models/best.json"},
        params_files=("params.yaml",),
        reproduced=reproduce,
        revs=tuple(revs),
    )


def tracked_metrics_dir(root: Path, *, reproduce: bool = True) -> BuiltRepo:
    """Like DVC's get-started project: ``evaluate`` outputs the cached directory ``eval/`` holding
    ``eval/metrics.json`` and ``eval/plots/*.json``, declared as top-level ``metrics:``/``plots:``.

    The raw data is tracked by ``data/raw.dvc``. Two commits are reproduced and pushed to a local
    remote (``<root>-remote`` next to ``root``), which is then deleted, and the local cache is
    garbage-collected down to the workspace: the first commit's ``eval/metrics.json`` is then
    unreachable (``revs[0]``), the head's is in the cache and the workspace. ``reproduce=False``
    builds only the first commit, without ``dvc repro``, remote or pointer data in the cache.
    """
    init(root)
    write(
        root,
        {
            "src/prepare.py": PREPARE,
            "src/train.py": TRAIN,
            "src/evaluate.py": EVALUATE,
            "src/requirements.txt": "dvc>=3.0\n",
            "data/raw/points.csv": _points(48),
            "params.yaml": "prepare:\n  split: 0.25\n  seed: 3\ntrain:\n  lr: 0.5\n  epochs: 200\n",
            ".gitignore": "__pycache__/\n",
            "dvc.yaml": """
                stages:
                  prepare:
                    cmd: python src/prepare.py data/raw/points.csv data/prepared ${prepare.split} ${prepare.seed}
                    deps:
                      - src/prepare.py
                      - data/raw
                    params:
                      - prepare
                    outs:
                      - data/prepared
                  train:
                    cmd: python src/train.py data/prepared/train.csv model.json ${train.lr} ${train.epochs}
                    deps:
                      - src/train.py
                      - data/prepared
                    params:
                      - train
                    outs:
                      - model.json
                  evaluate:
                    cmd: python src/evaluate.py model.json data/prepared/test.csv eval/metrics.json eval/plots
                    deps:
                      - src/evaluate.py
                      - model.json
                      - data/prepared
                    outs:
                      - eval
                metrics:
                  - eval/metrics.json
                plots:
                  - eval/plots/roc.json:
                      x: fpr
                      y: tpr
                  - eval/plots/precision_recall.json:
                      x: recall
                      y: precision
                """,
        },
    )
    dvc(root, "add", "-q", "data/raw")
    remote = root.parent / f"{root.name}-remote"
    revs = [commit(root, "get-started shaped project, data tracked by data/raw.dvc")]
    if reproduce:
        dvc(root, "remote", "add", "-q", "-d", "storage", str(remote))
        repro(root)
        revs[0] = commit(root, "first model")
        dvc(root, "push", "-q")
        (root / "params.yaml").write_text(
            "prepare:\n  split: 0.25\n  seed: 3\ntrain:\n  lr: 0.2\n  epochs: 200\n"
        )
        repro(root)
        revs.append(commit(root, "lower learning rate"))
        dvc(root, "push", "-q")
        shutil.rmtree(remote)
        dvc(root, "gc", "-q", "--workspace", "--force")
    stages = {
        "prepare": StageSpec(
            deps=("data/raw", "src/prepare.py"),
            outs=("data/prepared",),
            params=(("params.yaml", ("prepare",)),),
        ),
        "train": StageSpec(
            deps=("data/prepared", "src/train.py"),
            outs=("model.json",),
            params=(("params.yaml", ("train",)),),
        ),
        "evaluate": StageSpec(deps=("data/prepared", "model.json", "src/evaluate.py"), outs=("eval",)),
    }
    return BuiltRepo(
        root=root,
        dvcfiles=("dvc.yaml",),
        stages=stages,
        top_metrics=("eval/metrics.json",),
        top_plot_files=("eval/plots/precision_recall.json", "eval/plots/roc.json"),
        pointers={"data/raw": "data/raw.dvc"},
        params_files=("params.yaml",),
        reproduced=reproduce,
        revs=tuple(revs),
        extra={"remote": str(remote)},
    )


CML_WORKFLOW = """\
name: CML
on: [push]
jobs:
  train-and-report:
    runs-on: ubuntu-latest
    container: docker://ghcr.io/iterative/cml:0-dvc2-base1
    steps:
      - uses: actions/checkout@v4
      - name: Train model
        env:
          REPO_TOKEN: ${{ secrets.GITHUB_TOKEN }}
        run: |
          pip install -r src/requirements.txt
          dvc repro pipelines/dvc.yaml
          echo "## Metrics" >> report.md
          dvc metrics show --md >> report.md
          cml comment create report.md
"""

GITLAB_CI = """\
stages:
  - train

train:
  stage: train
  image: python:3.11
  script:
    - pip install -r src/requirements.txt
    - dvc pull || true
    - dvc repro pipelines/dvc.yaml
    - dvc metrics show
"""


def with_cml_workflow(root: Path, *, reproduce: bool = True) -> BuiltRepo:
    """:func:`subfolder_pipeline` plus an existing ``.github/workflows/cml.yaml`` (``dvc repro`` and
    ``cml comment create``) and a ``.gitlab-ci.yml`` that runs ``dvc repro``."""
    built = subfolder_pipeline(root, reproduce=reproduce)
    write(root, {".github/workflows/cml.yaml": CML_WORKFLOW, ".gitlab-ci.yml": GITLAB_CI})
    rev = commit(root, "CI: CML on GitHub, GitLab CI")
    return BuiltRepo(
        root=built.root,
        dvcfiles=built.dvcfiles,
        stages=built.stages,
        top_metrics=built.top_metrics,
        top_plot_files=built.top_plot_files,
        artifacts=built.artifacts,
        pointers=built.pointers,
        params_files=built.params_files,
        reproduced=built.reproduced,
        revs=(*built.revs, rev),
        extra={**built.extra, "github_workflow": ".github/workflows/cml.yaml", "gitlab_ci": ".gitlab-ci.yml"},
    )


# --------------------------------------------------------------------------------------------------
# Fan-out (tests/test_plan.py, tests/test_fanout_act.py, benchmarks/bench_fanout.py): a ``foreach``
# training stage over six customers (``vars`` from params.yaml) between a prepare stage and an
# aggregate, and an independent pipeline in a subfolder. ``train`` sleeps $FANOUT_SLEEP seconds (the
# benchmark's fixed stage time).

FANOUT_ITEMS = [f"c{i}" for i in range(1, 7)]

# Each script notes its run ("train c3") in $FANOUT_LOG, outside the repository, so a test can count
# executions.
_FANOUT_LOG = (
    "import os, sys\nif os.environ.get('FANOUT_LOG'):\n"
    "    open(os.environ['FANOUT_LOG'], 'a').write(' '.join([{name!r}, *sys.argv[1:]]) + '\\n')\n"
)

FANOUT_FILES = {
    "README.md": "# fan-out\n",
    "mlops.yaml": "version: 1\nproject: {name: fan}\npipelines: [dvc.yaml, pipelines/*/dvc.yaml]\n"
    "python: {requirements: [requirements.txt]}\n",
    "requirements.txt": "# the stages need only the standard library\n",
    "params.yaml": f"customers: [{', '.join(FANOUT_ITEMS)}]\ntrain:\n"
    + "".join(f"  {i}: {{lr: 0.1}}\n" for i in FANOUT_ITEMS),
    "data/raw.csv": "x,y\n1,2\n2,4\n",
    **{f"data/items/{i}.csv": f"x,y\n1,{n}\n" for n, i in enumerate(FANOUT_ITEMS)},
    "src/prepare.py": _FANOUT_LOG.format(name="prepare")
    + "import shutil\nos.makedirs('data/prepared', exist_ok=True)\nshutil.copy('data/raw.csv', 'data/prepared/all.csv')\n",
    "src/train.py": _FANOUT_LOG.format(name="train")
    + "import json, sys, time\ntime.sleep(float(os.environ.get('FANOUT_SLEEP') or 0))\nitem = sys.argv[1]\nos.makedirs('models', exist_ok=True)\n"
    "rows = open(f'data/items/{item}.csv').read().splitlines()\n"
    "if len(rows) < 2:\n    raise SystemExit(f'{item}: no data rows')\n"
    "base = open('data/prepared/all.csv').read().splitlines()\n"
    "json.dump({'item': item, 'rows': len(rows) + len(base)}, open(f'models/{item}.json', 'w'))\n",
    "src/aggregate.py": _FANOUT_LOG.format(name="aggregate")
    + "import glob, json\nmodels = [json.load(open(path)) for path in sorted(glob.glob('models/*.json'))]\n"
    "json.dump({'models': len(models), 'rows': sum(m['rows'] for m in models)}, open('metrics.json', 'w'))\n",
    "dvc.yaml": """\
stages:
  prepare:
    cmd: python src/prepare.py
    deps: [src/prepare.py, data/raw.csv]
    outs: [data/prepared]
  train:
    foreach: ${customers}
    do:
      cmd: python src/train.py ${item}
      deps: [src/train.py, data/prepared, "data/items/${item}.csv"]
      params: ["train.${item}.lr"]
      outs: ["models/${item}.json"]
  aggregate:
    cmd: python src/aggregate.py
    deps: [src/aggregate.py, models]
    metrics:
      - metrics.json: {cache: false}
""",
    "pipelines/other/data.csv": "a\n1\n",
    "pipelines/other/featurize.py": _FANOUT_LOG.format(name="featurize")
    + "open('features.csv', 'w').write(open('data.csv').read())\n",
    "pipelines/other/fit.py": _FANOUT_LOG.format(name="fit")
    + "open('fit.json', 'w').write('{\"rows\": %d}' % len(open('features.csv').read().splitlines()))\n",
    "pipelines/other/dvc.yaml": """\
stages:
  featurize:
    cmd: python featurize.py
    deps: [featurize.py, data.csv]
    outs: [features.csv]
  fit:
    cmd: python fit.py
    deps: [fit.py, features.csv]
    outs: [fit.json]
""",
}


BUILDERS = {
    "subfolder_pipeline": subfolder_pipeline,
    "two_pipelines": two_pipelines,
    "templated": templated,
    "tracked_metrics_dir": tracked_metrics_dir,
    "with_cml_workflow": with_cml_workflow,
}
