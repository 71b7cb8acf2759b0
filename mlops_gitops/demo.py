"""``make demo``: the bundled example, end to end, in a temporary directory. No account, no network,
no Docker: everything runs locally with git and DVC."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlops_gitops.resources import examples_dir

BIN = Path(sys.executable).parent


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"\n==> {text}", flush=True)


@contextmanager
def progress(label: str) -> Iterator[None]:
    """A spinner for steps that take more than a second, so the demo never looks stuck."""
    done = threading.Event()
    start = time.monotonic()

    def spin() -> None:
        frames = "|/-\\"
        i = 0
        while sys.stdout.isatty() and not done.wait(0.2):
            if time.monotonic() - start > 1:
                print(f"\r    {label} {frames[i % 4]} {time.monotonic() - start:4.1f}s", end="", flush=True)
                i += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        print(f"\r    {label}: done in {time.monotonic() - start:.1f}s      ", flush=True)


def run(args: list[str], cwd: Path, label: str | None = None) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    env.setdefault("GIT_AUTHOR_NAME", "mlops-gitops demo")
    env.setdefault("GIT_AUTHOR_EMAIL", "demo@example.invalid")
    env.setdefault("GIT_COMMITTER_NAME", "mlops-gitops demo")
    env.setdefault("GIT_COMMITTER_EMAIL", "demo@example.invalid")
    with progress(label or " ".join(args)):
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"demo step failed: {' '.join(args)} (exit {proc.returncode})")
    return proc.stdout


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="mlops-gitops-demo-"))
    repo = work / "iris"
    say(f"Copying the bundled example into {repo} (nothing downloads: the data ships with scikit-learn)")
    # mlops.example.yaml comes along: init starts from it, so the demo has gates and environments.
    shutil.copytree(examples_dir() / "iris", repo)
    run(["git", "init", "-q", "-b", "main"], repo, "git init")
    run(["dvc", "init", "-q"], repo, "dvc init")

    say("mlops-gitops init --yes: detect the repo, write mlops.yaml, generate")
    print(run([str(BIN / "mlops-gitops"), "init", "--yes"], repo, "mlops-gitops init"))
    say("Generated files")
    for path in [
        "mlops.yaml",
        "dvc.yaml",
        *sorted(str(p.relative_to(repo)) for p in (repo / ".github/workflows").glob("*.yml")),
    ]:
        lines = (repo / path).read_text().count("\n")
        print(f"    {path} ({lines} lines)")
    print(run([str(BIN / "mlops-gitops"), "generate", "--check"], repo, "mlops-gitops generate --check"))

    say("dvc repro: prepare -> train -> evaluate")
    print(run(["dvc", "repro"], repo, "dvc repro"))
    say("Metrics (metrics.json)")
    metrics = json.loads((repo / "metrics.json").read_text())
    print(json.dumps(metrics, indent=2))
    run(["git", "add", "-A"], repo, "git add")
    run(["git", "commit", "-q", "-m", "Adopt mlops-gitops; first model"], repo, "git commit")

    say("A change a reviewer should catch: train.C 1.0 -> 0.01 on a branch, retrain, report against main")
    run(["git", "checkout", "-q", "-b", "weaker-regularisation"], repo, "git checkout -b")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.01"))
    print(run(["dvc", "repro"], repo, "dvc repro").rstrip().splitlines()[-1])
    report = subprocess.run(
        [str(BIN / "mlops-gitops"), "report", "--base", "main", "--format", "text"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    print(report.stdout)
    verdict = {0: "every gate passed", 1: "a gate failed: the PR check would be red"}.get(
        report.returncode, "error"
    )
    say(
        f"report exited {report.returncode} ({verdict}); in a pull request the same report, as Markdown, "
        "becomes the one sticky comment"
    )
    say(
        f"Done. The project is in {repo}; try `cd {repo} && mlops-gitops report --base main` for the Markdown."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
