"""Wall time of `mlops-gitops report`, against DVC's own commands measured in the same run.

Goals (issue 23, after issue 3), each ratio printed against its goal:

* `report --format json` at most 1/3 of `dvc metrics diff --json`, with 5,000 nested metrics at two
  commits and on the bundled example (examples/iris as `init` adopts it, trained at two commits: a
  confusion matrix and a per-class plot that Git holds);
* the same run as a CI job's fresh clone runs it, every memo of ours in ``.git`` removed before each
  run (the committed pipelines record still spares DVC's parser; DVC's own caches stay warm): printed
  for comparison, not a goal;
* on the bundled example, the Markdown report with every plot at most 1/4 of what a CML user runs for
  the same comment: `dvc metrics diff --md`, `dvc params diff --md` and `dvc plots diff` (its HTML),
  together;
* on an example-like repository with 20 commits of history, `report` has a median under 0.5 s.

Each pair is run alternately (ours, then DVC's), so a busy shared machine slows both alike.

    .venv/bin/python benchmarks/bench_report.py [--runs N]

Prints the medians and ratios; exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Measure the tool as an installed package runs: with bytecode caches (pip compiles them at install).
# Without them every run recompiles the package from source and the figures measure its size.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
}
ENV.pop("GITHUB_ACTIONS", None)


def sh(cwd: Path, *args: str) -> None:
    subprocess.run(args, cwd=cwd, env=ENV, check=True, capture_output=True)


def median_time(
    cwd: Path,
    args: list[str],
    runs: int,
    ok: tuple[int, ...] = (0, 1),
    before: Callable[[], None] | None = None,
) -> float:
    times = []
    for _ in range(runs):
        if before is not None:
            before()  # untimed
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True)
        times.append(time.perf_counter() - start)
        if proc.returncode not in ok:
            raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode()[-500:]}")
    return statistics.median(times)


def paired(
    cwd: Path, a: list[str], b: list[str], runs: int, before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Medians of two commands run alternately, so a busy shared machine slows both alike."""
    return grouped(cwd, [a], [b], runs, before)


def grouped(
    cwd: Path,
    first: list[list[str]],
    second: list[list[str]],
    runs: int,
    before: Callable[[], None] | None = None,
) -> tuple[float, float]:
    """Medians of the summed times of two groups of commands, the groups run alternately; ``before``
    runs (untimed) before every command."""
    ta, tb = [], []
    for _ in range(runs):
        ta.append(sum(median_time(cwd, c, 1, before=before) for c in first))
        tb.append(sum(median_time(cwd, c, 1, before=before) for c in second))
    return statistics.median(ta), statistics.median(tb)


def against(what: str, ours: float, theirs: float, baseline: str, goal: float, goal_text: str) -> bool:
    """One line: both medians, the ratio and the goal; True when the goal is met."""
    ratio = ours / theirs
    ok = ratio <= goal
    print(
        f"{what}: {ours:.3f} s; {baseline}: {theirs:.3f} s; ratio {ratio:.2f} "
        f"(goal <= {goal_text} = {goal:.2f}) {'OK' if ok else 'MISSED'}"
    )
    return ok


def nested(n: int, shift: float) -> dict[str, object]:
    # 5,000 leaves: 50 groups x 10 segments x 10 metrics, three levels deep
    return {
        f"group{g}": {
            f"seg{s}": {f"m{m}": round((g * 100 + s * 10 + m) / 5000 + shift, 6) for m in range(10)}
            for s in range(10)
        }
        for g in range(n // 100)
    }


def big_repo(root: Path) -> None:
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, str(BIN / "dvc"), "init", "-q")
    (root / "dvc.yaml").write_text("metrics:\n  - metrics.json\n")
    (root / "mlops.yaml").write_text(
        "version: 1\nproject: {name: big}\nstages:\n  s:\n    cmd: x\nmetrics:\n  files: [metrics.json]\n"
        "  gates:\n    - {metric: group1.*.m1, min: 0}\n"
    )
    for shift in (0.0, 0.01):
        (root / "metrics.json").write_text(json.dumps(nested(5000, shift)))
        sh(root, "git", "add", "-A")
        sh(root, "git", "commit", "-q", "-m", f"shift {shift}")


def example_repo(root: Path) -> None:
    """Like examples/iris: a few metrics with per-class segments, params, dvc.lock, 20 commits."""
    sh(root, "git", "init", "-q", "-b", "main")
    (root / "mlops.yaml").write_text(
        "version: 1\nproject: {name: iris}\nstages:\n  train:\n    cmd: python train.py\n"
        "    deps: [data/iris.csv, train.py]\n    params: [train]\n    outs: [model.pkl]\n"
        "    metrics:\n      - metrics.json: {cache: false}\n"
        "metrics:\n  gates:\n    - {metric: accuracy, min: 0.8, regression: {absolute: 0.02}}\n"
        "    - {metric: per_class.*.f1, min: 0.7}\n"
    )
    (root / "requirements.txt").write_text("scikit-learn>=1.3\nnumpy>=1.24\nPyYAML>=6\n")
    for i in range(21):
        acc = 0.9 + i / 1000
        (root / "metrics.json").write_text(
            json.dumps(
                {
                    "accuracy": acc,
                    "per_class": {
                        c: {"f1": acc - 0.01 * k} for k, c in enumerate(["setosa", "versicolor", "virginica"])
                    },
                }
            )
        )
        (root / "params.yaml").write_text(f"train:\n  n_estimators: {100 + i}\n  max_depth: 4\n")
        (root / "dvc.lock").write_text(
            "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n    - path: data/iris.csv\n"
            f"      hash: md5\n      md5: {i:032x}\n    outs:\n    - path: model.pkl\n      hash: md5\n      md5: {i + 1:032x}\n"
        )
        sh(root, "git", "add", "-A")
        sh(root, "git", "commit", "-q", "-m", f"run {i}")
    sh(root, "git", "branch", "base", "HEAD~1")


def bundled_example(root: Path) -> tuple[str, str]:
    """examples/iris as `init --yes` adopts it, trained, then trained again with weaker
    regularisation: both commits hold the metrics, the confusion matrix and the per-class plot (in
    Git, `cache: false`), as `tests/test_report_plots.py` builds it. Returns (base, head)."""
    from mlops_gitops.adapters.resources import examples_dir

    shutil.copytree(examples_dir() / "iris", root, ignore=shutil.ignore_patterns("__pycache__"))
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, sys.executable, "-m", "mlops_gitops", "init", "--yes")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "adopt")
    revs = []
    for c in ("1.0", "0.05"):
        params = root / "params.yaml"
        params.write_text(params.read_text().replace("C: 1.0", f"C: {c}"))
        # The stages run `python`: this environment's, which has scikit-learn.
        path = os.pathsep.join([str(BIN), ENV.get("PATH", "")])
        subprocess.run(
            [str(BIN / "dvc"), "repro", "-q"],
            cwd=root,
            env={**ENV, "PATH": path},
            check=True,
            capture_output=True,
        )
        sh(root, "git", "add", "-A")
        sh(root, "git", "commit", "-q", "-m", f"train with C {c}")
        revs.append(
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
            ).stdout.strip()
        )
    return revs[0], revs[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    report = str(BIN / "mlops-gitops")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big"
        big.mkdir()
        big_repo(big)
        dvc_t, ours_t = paired(
            big,
            [str(BIN / "dvc"), "metrics", "diff", "HEAD~1", "HEAD", "--json"],
            [report, "report", "--base", "HEAD~1", "--head", "HEAD", "--format", "json"],
            args.runs,
        )
        failed |= not against(
            "5,000 nested metrics: report --format json",
            ours_t,
            dvc_t,
            "dvc metrics diff --json",
            1 / 3,
            "1/3",
        )
        md_t = median_time(big, [report, "report", "--base", "HEAD~1", "--head", "HEAD"], args.runs)
        print(f"5,000 nested metrics: report (markdown) {md_t:.3f} s, ratio to dvc {md_t / dvc_t:.2f}")

        iris = Path(tmp) / "iris"
        base, head = bundled_example(iris)
        dvc = str(BIN / "dvc")
        dvc_t, ours_t = paired(
            iris,
            [dvc, "metrics", "diff", base, head, "--json"],
            [report, "report", "--base", base, "--head", head, "--format", "json"],
            args.runs,
        )
        failed |= not against(
            "bundled example: report --format json", ours_t, dvc_t, "dvc metrics diff --json", 1 / 3, "1/3"
        )

        def fresh_clone() -> None:
            """What a CI job's fresh clone has: no memo of ours in .git (DVC's own caches stay warm)."""
            for kept in (iris / ".git").glob("mlops-gitops-*"):
                if kept.is_dir():
                    shutil.rmtree(kept)
                else:
                    kept.unlink()

        dvc_t, ours_t = paired(
            iris,
            [dvc, "metrics", "diff", base, head, "--json"],
            [report, "report", "--base", base, "--head", head, "--format", "json"],
            args.runs,
            before=fresh_clone,
        )
        ratio = ours_t / dvc_t
        print(
            f"bundled example, as in a fresh clone (no memo in .git): report --format json {ours_t:.3f} s; "
            f"dvc metrics diff --json: {dvc_t:.3f} s; ratio {ratio:.2f} (for comparison)"
        )
        cml = [
            [dvc, "metrics", "diff", base, head, "--md"],
            [dvc, "params", "diff", base, head, "--md"],
            [dvc, "plots", "diff", base, head, "-o", str(Path(tmp) / "dvc_plots")],
        ]
        ours_t, cml_t = grouped(iris, [[report, "report", "--base", base, "--head", head]], cml, args.runs)
        failed |= not against(
            "bundled example: report (Markdown, every plot)",
            ours_t,
            cml_t,
            "dvc metrics diff + params diff + plots diff",
            1 / 4,
            "1/4",
        )

        ex = Path(tmp) / "example"
        ex.mkdir()
        example_repo(ex)
        ex_t = median_time(ex, [report, "report", "--base", "base"], args.runs)
        py_t = median_time(ex, [sys.executable, "-c", "pass"], args.runs)
        ok = ex_t < 0.5
        failed |= not ok
        print(
            f"example-like repo (20 commits of history): report median {ex_t:.3f} s (target < 0.5 s) "
            f"{'OK' if ok else 'MISSED'}; python startup {py_t:.3f} s"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
