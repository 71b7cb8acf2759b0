"""Issue 5's speed report: DVC stage executions of the end-to-end story, ours against a naive workflow.

1. Runs `pytest tests/test_e2e.py -s` (the whole loop under act) and measures its wall time; the test
   writes the stages DVC executed per step to $MLOPS_E2E_COUNTS.
2. Replays the naive pattern of CML's examples for real, on the same commits: for every push and
   pull-request event of the story, a fresh clone with an empty DVC cache and no run-cache, the raw data
   pulled, then `dvc repro`; no path filters, so a docs-only change trains too. DVC's own log lines are
   counted the same way as in the test.
3. Prints per-step counts, totals, the ratio ours/naive, and the wall time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.actrunner import stage_counts  # noqa: E402
from tests.s3server import SHARED, serve, to_json  # noqa: E402

BIN = Path(sys.executable).parent


# The story's DVC remote is S3 (moto on loopback): its credentials, for the naive replay's pulls.
CREDENTIALS: dict[str, str] = {}


def sh(args: list[str], cwd: Path) -> str:
    # The pipeline's validation stage runs `mlops-gitops`: this environment's tools come first.
    env = {**os.environ, **CREDENTIALS, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def naive_run(origin: str, sha: str, work: Path) -> list[str]:
    """One naive CI run: fresh clone at ``sha``, `dvc pull` of the raw data only, `dvc repro`."""
    sh(["git", "clone", "-q", origin, str(work)], work.parent)
    sh(["git", "checkout", "-q", "--detach", sha], work)
    sh([str(BIN / "dvc"), "pull", "-q", "data/iris.csv.dvc"], work)
    return stage_counts(sh([str(BIN / "dvc"), "repro"], work)).executed


def main() -> None:
    # One S3 server for the test and the replay after it: the story's remote outlives the test.
    with serve() as s3:
        CREDENTIALS.update(s3.writer.env())
        measure({**os.environ, SHARED: to_json(s3), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"})


def measure(env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        tmpdir = Path(tmp)
        counts_path = tmpdir / "counts.json"
        env["MLOPS_E2E_COUNTS"] = str(counts_path)
        start = time.perf_counter()
        proc = subprocess.run(
            [
                str(BIN / "pytest"),
                "-q",
                "-s",
                "-p",
                "no:cacheprovider",
                "--basetemp",
                str(tmpdir / "pytest"),
                "tests/test_e2e.py",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        e2e_wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"the end-to-end test failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}")
        story = json.loads(counts_path.read_text())

        naive_start = time.perf_counter()
        rows = []
        n = 0
        for step in story["steps"]:
            naive = 0
            for event in step["events"]:
                n += 1
                work = tmpdir / "naive" / f"{n:02d}"
                work.parent.mkdir(parents=True, exist_ok=True)
                naive += len(naive_run(story["origin"], event["sha"], work))
            rows.append((step["name"], len(step["events"]), len(step["executed"]), naive))
        naive_wall = time.perf_counter() - naive_start

    ours = sum(r[2] for r in rows)
    naive_total = sum(r[3] for r in rows)
    print("DVC stage executions per step of the end-to-end story (4 stages: validate-data, prepare, train,")
    print("evaluate). naive = fresh clone, no run-cache, no path filters, `dvc repro` on every event.")
    print(f"{'step':<40} {'events':>6} {'ours':>5} {'naive':>6}")
    for name, events, o, nv in rows:
        print(f"{name:<40} {events:>6} {o:>5} {nv:>6}")
    print(f"{'total':<40} {sum(r[1] for r in rows):>6} {ours:>5} {naive_total:>6}")
    ratio = ours / naive_total if naive_total else float("nan")
    print(f"ratio ours/naive: {ratio:.2f} ({ours}/{naive_total})")
    # A fresh clone still finds committed metrics and validation output, so real `dvc repro` skips those
    # stages; a naive CI that also forces them (`dvc repro --force`) runs 4 per event.
    full = 4 * sum(r[1] for r in rows)
    print(f"ratio ours/naive with every stage forced: {ours / full:.2f} ({ours}/{full})")
    print(f"end-to-end test wall time: {e2e_wall:.1f} s (pytest tests/test_e2e.py, act runs included)")
    print(f"naive replay wall time: {naive_wall:.1f} s (dvc only, no act)")


if __name__ == "__main__":
    main()
