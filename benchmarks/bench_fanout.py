"""Issue 15's measure: the same pull request trained fanned out and in one job, under act.

The repository is tests/repos.py's six-customer ``foreach`` (prepare -> train@c1..c6 -> aggregate,
and an independent pipeline). Each ``train`` item takes a fixed time (``--stage-seconds``, a sleep, so
the figure is about scheduling, not about this machine's CPUs). The pull request changes prepare's
input, so every customer trains. Two copies of the repository differ only in ``fanout.enabled``:

* fanned out: check (plan) -> upstream (prepare) -> six matrix jobs -> final (restores, aggregate);
* one job: check -> train (prepare, six items one after the other, aggregate).

The size of the runner pool is ``fanout.max_parallel`` (the matrix's ``max-parallel``, which act
honours) and act's ``--concurrent-jobs``, both ``--runners``. Printed:
wall time of each run, the ratio fanned/one-job, the jobs each ran, and the stage executions of
each (from the scripts' own log, across jobs): they must be equal, or the script fails.

What act on one machine shows: that GitHub-style scheduling of the matrix overlaps the items, and
that nothing trains twice. It does not show GPU speed-ups or network transfer costs; each act job
here installs nothing (the stand-ins reuse this environment) and moves artifacts on local disk.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import repos  # noqa: E402
from tests.actrunner import (  # noqa: E402
    VENV_BIN,
    act,
    add_data_remote,
    checkout,
    git,
    pull_request_event,
    require_act,
    run,
)

REPO = "Codertocat/Hello-World"


def origin(root: Path, fanout: bool, runners: int) -> Path:
    repo = root / "origin"
    repos.init(repo)
    repos.write(repo, repos.FANOUT_FILES)
    add_data_remote(repo, root / "dvc-remote")
    with (repo / "mlops.yaml").open("a") as manifest:
        manifest.write(f"fanout: {{enabled: {'true' if fanout else 'false'}, max_parallel: {runners}}}\n")
    run([str(VENV_BIN / "mlops-gitops"), "generate"], repo)
    repos.dvc(repo, "repro", "--quiet", "--all-pipelines")
    repos.dvc(repo, "push", "--quiet", "--run-cache")
    repos.commit(repo, "Six customers, reproduced")
    return repo


def pull_request(
    root: Path, repo: Path, stage_seconds: float, runners: int
) -> tuple[float, list[str], list[str]]:
    """Run mlops-pr for a PR changing prepare's input; wall time, executions, jobs."""
    dev = root / "dev"
    run(["git", "clone", "-q", str(repo), str(dev)], root)
    base = git(dev, "rev-parse", "HEAD")
    git(dev, "checkout", "-qb", "changes")
    repos.write(dev, {"data/raw.csv": "x,y\n1,3\n2,5\n3,7\n"})
    head = repos.commit(dev, "New raw data")
    work = checkout(dev, head, root / "runner", REPO)
    log = root / "executions.log"
    start = time.perf_counter()
    result = act(
        "pull_request",
        "mlops-pr",
        work,
        pull_request_event(REPO, 3, base, head, "changes"),
        root / "act",
        root / "artifacts",
        env={"FANOUT_LOG": str(log), "FANOUT_SLEEP": str(stage_seconds)},
        extra=["--concurrent-jobs", str(runners)],
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"act failed:\n{result.log[-6000:]}")
    jobs = sorted(set(re.findall(r"^\[mlops-pr/([^\]]+?)\s*\] 🏁  Job succeeded", result.log, re.M)))
    return wall, sorted(log.read_text().splitlines()), jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage-seconds", type=float, default=10.0, help="time each train item takes")
    parser.add_argument(
        "--runners",
        type=int,
        default=6,
        help="the runner pool: fanout.max_parallel and act --concurrent-jobs",
    )
    args = parser.parse_args()
    if args.runners < 2:
        parser.error("--runners: at least 2 (with fanout.max_parallel: 1 the workflows train in one job)")
    require_act()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        for name, fanout in (("fanned out", True), ("one job", False)):
            root = Path(tmp) / name.replace(" ", "-")
            root.mkdir()
            repo = origin(root, fanout, args.runners)
            results[name] = pull_request(root, repo, args.stage_seconds, args.runners)
            shutil.rmtree(root / "act", ignore_errors=True)
    (fan_wall, fan_runs, fan_jobs), (one_wall, one_runs, one_jobs) = results["fanned out"], results["one job"]
    print(f"six items x {args.stage_seconds:g} s each, act in host mode, a pool of {args.runners} runner(s)")
    for name, (wall, runs, jobs) in results.items():
        print(f"  {name:10}  wall {wall:6.1f} s   {len(jobs)} jobs   {len(runs)} stage executions")
    print(f"  jobs fanned out: {', '.join(fan_jobs)}")
    print(f"  jobs one job:    {', '.join(one_jobs)}")
    print(f"  executions: {', '.join(fan_runs)}")
    print(f"ratio fanned out / one job (wall time): {fan_wall / one_wall:.2f}")
    if fan_runs != one_runs:
        raise SystemExit(f"stage executions differ: fanned out {fan_runs}, one job {one_runs}")
    if len(fan_runs) != len(set(fan_runs)):
        raise SystemExit(f"a stage executed twice: {fan_runs}")
    print("stage executions equal, none twice: OK")


if __name__ == "__main__":
    main()
