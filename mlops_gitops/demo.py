"""``make demo``: the whole GitOps loop on the bundled example, locally, narrated.

No account, no network and no Docker: a bare Git repository plays GitHub's copy of the project, a
local folder plays the DVC remote, and each workflow's job is run as the generated workflow runs it,
in a fresh clone with an empty DVC cache, as a CI runner would. What would be posted to GitHub (the PR
comment, the deployment PR) is printed instead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from mlops_gitops.adapters.resources import examples_dir
from mlops_gitops.delivery.record import recorded_comment
from mlops_gitops.names import MANIFEST_FILE, WORKFLOWS_DIR

BIN = Path(sys.executable).parent
MLOPS = str(BIN / "mlops-gitops")
TTY = sys.stdout.isatty()
RAN = re.compile(r"^Running stage '([^']+)'", re.M)
# mlops-train's schedule: the manifest's `triggers.schedule` (set in chapter 1, used in chapter 5).
WEEKLY = '"0 3 * * 1"'
# What a workflow run's page looks like; the retrain hand-over must name one (no GitHub here).
RUN_URL = "https://github.com/example/iris/actions/runs/{n}"
# Every dvc.lock of the project, as a git pathspec.
LOCKS = ":(glob)**/dvc.lock"


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if TTY else f"\n==> {text}", flush=True)


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.rstrip("\n").splitlines())


@contextmanager
def progress(label: str) -> Iterator[None]:
    """A spinner for steps that take more than a second, so the demo never looks stuck."""
    done = threading.Event()
    start = time.monotonic()

    def spin() -> None:
        frames = "|/-\\"
        i = 0
        while TTY and not done.wait(0.2):
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
        elapsed = time.monotonic() - start
        if elapsed > 1 or TTY:
            print(f"\r    {label}: done in {elapsed:.1f}s      ", flush=True)


def env() -> dict[str, str]:
    out = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    for key, value in {
        "GIT_AUTHOR_NAME": "mlops-gitops demo",
        "GIT_AUTHOR_EMAIL": "demo@example.invalid",
        "GIT_COMMITTER_NAME": "mlops-gitops demo",
        "GIT_COMMITTER_EMAIL": "demo@example.invalid",
    }.items():
        out.setdefault(key, value)
    for key in ("GITHUB_ACTIONS", "GITHUB_TOKEN", "MLOPS_GITOPS_TOKEN", "GITHUB_REPOSITORY"):
        out.pop(key, None)  # the demo never talks to GitHub, whatever the shell has set
    return out


def run(args: list[str], cwd: Path, label: str | None = None, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
    with progress(label or " ".join(args)):
        proc = subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True)
    if proc.returncode not in ok:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"demo step failed: {' '.join(args)} (exit {proc.returncode})")
    return proc.returncode, proc.stdout + proc.stderr


def out(args: list[str], cwd: Path, label: str | None = None) -> str:
    return run(args, cwd, label)[1]


class PullRun(NamedTuple):
    """A pull request's mlops-pr run: the report's exit code and Markdown, the runner's checkout, and
    the commit the bot recorded the run in (None when there was nothing to record)."""

    code: int
    report: str
    ci: Path
    recorded: str | None


class Story:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.origin = work / "origin.git"  # GitHub's copy of the repository
        self.remote = work / "dvc-remote"  # the DVC remote (an S3 bucket in real life)
        self.laptop = work / "laptop"  # where the ML engineer works
        self.executed: list[tuple[str, list[str]]] = []
        self.runs = 0

    def ci_clone(self, ref: str, name: str) -> Path:
        """A CI runner's checkout: a fresh clone with an empty DVC cache."""
        self.runs += 1
        path = self.work / "runners" / f"{self.runs:02d}-{name}"
        out(["git", "clone", "-q", str(self.origin), str(path)], self.work, f"checkout {ref}")
        out(["git", "checkout", "-q", ref], path, "git checkout")
        return path

    def reproduce(self, repo: Path, step: str, share: bool = True) -> list[str]:
        """What mlops-pr and mlops-train run: fetch run records, reproduce with --pull; the default branch
        shares the result, a pull request never does (its code ran, so it cannot write the store)."""
        out(["dvc", "pull", "--run-cache", "--allow-missing", "--quiet"], repo, "dvc pull --run-cache")
        # The default branch never skips an output dvc.lock names but nobody pushed: it produces it.
        repro = ["dvc", "repro", "--pull"] if share else ["dvc", "repro", "--pull", "--allow-missing"]
        log = out(repro, repo, " ".join(repro))
        if share:
            out([MLOPS, "push-runs"], repo, "mlops-gitops push-runs")
        ran = RAN.findall(log)
        restored = re.findall(r"Stage '([^']+)' is cached - skipping run", log)
        self.executed.append((step, ran))
        print(
            f"    stages executed: {', '.join(ran) or 'none'}"
            + (f"; restored from the run-cache: {', '.join(restored)}" if restored else "")
        )
        return ran

    def bot_records(self, ci: Path, name: str) -> str | None:
        """What mlops-comment does after a pull request's run (``record.pull_requests: commit``): the
        files reproducing changed are handed over, checked like any untrusted artifact (only each
        dvc.lock and the outputs it names that live in Git), and committed on the branch as the bot.
        Returns the bot's commit, or None when the branch already recorded the run."""
        from mlops_gitops.pipeline.lockfiles import read_run_files

        handed = self.work / "artifacts" / name
        keep_changed(ci, ["ls-files", "-z", "--modified", "--others", "--exclude-standard"], handed)
        files = read_run_files(handed).files
        if not files:
            print("    the committed dvc.lock already records this run: nothing to commit")
            return None
        out(["git", "add", "--", *files], ci)
        bot = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
        out(["git", "commit", "-q", "--author", bot, "-m", "Record the reproduced run"], ci)
        out(["git", "push", "-q", "origin", f"HEAD:{name}"], ci, f"the bot pushes to {name}")
        sha = out(["git", "rev-parse", "HEAD"], ci).strip()
        print(
            f"    the bot committed the reproduced {', '.join(files)} to {name!r} ({sha[:12]}):"
            " no manual step"
        )
        out(["git", "fetch", "-q", "origin", name], self.laptop)
        return sha

    def branch(self, name: str, edit: dict[str, tuple[str, str]], message: str) -> None:
        out(["git", "checkout", "-q", "-b", name, "main"], self.laptop)
        for rel, (old, new) in edit.items():
            path = self.laptop / rel
            path.write_text(path.read_text().replace(old, new))
        out(["git", "commit", "-qam", message], self.laptop)
        out(["git", "push", "-q", "origin", name], self.laptop, f"git push origin {name}")

    def pull_request(self, name: str, record: bool = True) -> PullRun:
        say(f"mlops-pr on the pull request from {name!r}: detect changes, reproduce, report against main")
        ci = self.ci_clone(name, f"pr-{name}")
        changed = out([MLOPS, "changed", "--base", "origin/main"], ci, "mlops-gitops changed")
        print(indent(changed))
        if "retrain=true" in changed:
            self.reproduce(ci, f"PR {name}", share=False)
        else:
            self.executed.append((f"PR {name}", []))
            print("    no pipeline input changed: the training job is skipped")
        code, report = run(
            [MLOPS, "report", "--base", "origin/main", "--output", str(ci / "report.md")],
            ci,
            "mlops-gitops report",
            ok=(0, 1),
        )
        recorded = self.bot_records(ci, name) if record and "retrain=true" in changed else None
        markdown = (ci / "report.md").read_text() if (ci / "report.md").exists() else report
        return PullRun(code, markdown, ci, recorded)


def weekly(manifest: str) -> str:
    """``manifest`` with the weekly ``triggers.schedule``: init's commented hint taken up when it is
    there (the line a reader would uncomment), else the key appended."""
    line = f"\ntriggers:\n  schedule: {WEEKLY}  # every Monday, 03:00 UTC"
    hint = re.compile(r"\n# triggers:\n#   schedule: [^\n]*")
    if hint.search(manifest):
        return hint.sub(lambda _: line, manifest, count=1)
    return manifest.rstrip("\n") + line + "\n"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="mlops-gitops-demo-"))
    story = Story(work)
    laptop = story.laptop
    print(
        "mlops-gitops demo: the GitOps loop for ML, locally. No account, no network, no Docker:\n"
        f"a bare Git repository plays GitHub, a folder plays the DVC remote. Everything is in {work}."
    )

    say("1. Adopt: copy the bundled scikit-learn example, `mlops-gitops init --yes`, train the first model")
    shutil.copytree(examples_dir() / "iris", laptop)  # with mlops.example.yaml: init starts from it
    out(["git", "init", "-q", "-b", "main"], laptop, "git init")
    print(indent(out([MLOPS, "init", "--yes"], laptop, "mlops-gitops init")))
    out(["dvc", "remote", "add", "-d", "storage", str(story.remote)], laptop, "dvc remote add")
    manifest = laptop / MANIFEST_FILE
    manifest.write_text(weekly(manifest.read_text().replace("\ndata:\n", "\ndata:\n  remote: storage\n", 1)))
    out([MLOPS, "generate"], laptop, "mlops-gitops generate")
    print(
        f"    mlops.yaml: `data.remote: storage`, `triggers.schedule: {WEEKLY}` (mlops-train also runs weekly)"
    )
    print("    generated:")
    for path in [
        "dvc.yaml",
        *sorted(f"{WORKFLOWS_DIR}/{p.name}" for p in (laptop / WORKFLOWS_DIR).iterdir()),
    ]:
        print(f"      {path}")
    first = RAN.findall(out(["dvc", "repro"], laptop, "dvc repro (on the laptop)"))
    print(f"    stages executed on the laptop: {', '.join(first)}")
    out([MLOPS, "push-runs"], laptop, "mlops-gitops push-runs")
    out(["git", "add", "-A"], laptop)
    out(["git", "commit", "-qm", "Adopt mlops-gitops; first model"], laptop)
    out(["git", "init", "-q", "--bare", "-b", "main", str(story.origin)], work)
    out(["git", "remote", "add", "origin", str(story.origin)], laptop)
    out(["git", "push", "-q", "origin", "main"], laptop, "git push origin main")

    say(
        "2. mlops-train on the push to main, in a fresh runner: the run-cache makes it a restore, not a retrain"
    )
    story.reproduce(story.ci_clone("main", "train-1"), "push main (adoption)")

    params = "params.yaml"
    story.branch("stronger-model", {params: ("C: 1.0", "C: 2.0")}, "Weaker regularisation: C 1.0 -> 2.0")
    stronger = story.pull_request("stronger-model")
    if stronger.recorded is None:
        raise SystemExit("demo: the bot recorded nothing on stronger-model, whose run changed dvc.lock")
    say(
        f"   report exit code {stronger.code}: "
        f"{'every gate passes' if stronger.code == 0 else 'a gate failed'}. The PR comment as mlops-comment"
        f" posts it after the bot's commit {stronger.recorded[:12]} (one comment per PR, edited in place):"
    )
    print(indent(recorded_comment(stronger.report, stronger.recorded), "    | "))
    print(
        "    The PR's run is never shared: its code ran with the remote's read-only credentials, so"
        " nothing it made can reach the store the default branch deploys from."
    )

    story.branch("tiny-C", {params: ("C: 1.0", "C: 0.01")}, "Much stronger regularisation: C 0.01")
    code, _, bad_ci, _ = story.pull_request("tiny-C")
    print(
        indent(
            run(
                [MLOPS, "report", "--base", "origin/main", "--format", "text"],
                bad_ci,
                "report (text)",
                ok=(0, 1),
            )[1]
        )
    )
    say(f"   report exit code {code}: the PR check is red. Promotion refuses this model too:")
    out(["git", "checkout", "-q", "tiny-C"], laptop)
    out(["git", "pull", "-q", "--ff-only", "origin", "tiny-C"], laptop, "git pull (the bot's commit)")
    print(
        indent(
            run(
                [MLOPS, "promote", "--env", "staging", "--dry-run"],
                laptop,
                "mlops-gitops promote --env staging",
                ok=(1,),
            )[1]
        )
    )

    say("   A data change: drop the last 10 flowers of data/iris.csv and `dvc add` it on a branch")
    out(["git", "checkout", "-q", "-b", "less-data", "main"], laptop)
    csv = laptop / "data" / "iris.csv"
    csv.write_text("".join(csv.read_text().splitlines(keepends=True)[:-10]))
    out(["dvc", "add", "--quiet", "data/iris.csv"], laptop, "dvc add data/iris.csv")
    out([MLOPS, "push-runs"], laptop, "mlops-gitops push-runs (the new data)")
    out(["git", "commit", "-qam", "Fewer rows"], laptop)
    out(["git", "push", "-q", "origin", "less-data"], laptop, "git push origin less-data")
    data_report = story.pull_request("less-data").report
    hashes = [line for line in data_report.splitlines() if "data/iris.csv" in line and "🔄" in line]
    print("    the report's lineage shows the new data hash:")
    print(indent("\n".join(hashes[:1]) or "(not found)", "    | "))

    story.branch("docs", {"README.md": ("# ", "# (edited) ")}, "Docs only")
    story.pull_request("docs")

    say("3. Merge the passing PR; mlops-train on main trains the model with the trusted credentials")
    out(["git", "checkout", "-q", "main"], laptop)
    out(["git", "pull", "-q", "--no-rebase", "origin", "stronger-model"], laptop, "git merge stronger-model")
    out(["git", "push", "-q", "origin", "main"], laptop, "git push origin main")
    merged_ci = story.ci_clone("main", "train-2")
    story.reproduce(merged_ci, "push main (merge)")
    print(
        "    the merge brought the bot's dvc.lock, which describes this model: mlops-train trains it once"
        " with\n    the default branch's credentials (a pull request's run is never trusted), finds"
        " dvc.lock matching, shares the run, and mlops-deploy follows"
    )

    say(
        "4. mlops-deploy: the deployment PR for staging (printed by `promote --dry-run`; in CI it is opened on"
        " GitHub, and Argo CD or Flux roll it out once merged)"
    )
    print(
        indent(
            out(
                [MLOPS, "promote", "--env", "staging", "--dry-run"],
                merged_ci,
                "mlops-gitops promote --env staging",
            )
        )
    )
    say("   Production only takes a model that staging already runs:")
    print(
        indent(
            run(
                [MLOPS, "promote", "--env", "production", "--dry-run"],
                merged_ci,
                "mlops-gitops promote --env production",
                ok=(1,),
            )[1]
        )
    )

    scheduled_retrain(story)
    rollout(merged_ci)

    say("Pipeline stages executed by CI per event (a CML-style workflow re-runs all of them every time)")
    per_event = len(first)
    naive = 0
    for step, stages in story.executed:
        naive += per_event
        print(f"    {step:<36} {len(stages)}  {', '.join(stages)}")
    ours = sum(len(s) for _, s in story.executed)
    print(f"    {'total':<36} {ours}  (naive: {naive}, {per_event} per event)")
    say(f"Done. Everything is in {work}: `laptop/` is the project, `runners/` the CI checkouts.")
    return 0


# Fresh rows for the weekly retrain: five more flowers of each species, measured like those already
# there (here: the last five of each species again), so the distribution, and the gates, hold.
FRESH_PER_SPECIES = 5


def scheduled_retrain(story: Story) -> None:
    """Chapter 5: fresh data lands on main without a push run; the weekly schedule retrains it, holds
    deployment (the commit's dvc.lock does not describe the new model) and hands the run to the
    retrained-model pull request, as mlops-train's steps do (docs/retrain.md)."""
    say("5. Fresh data, the weekly schedule: mlops-train retrains and opens the retrained-model PR")
    laptop = story.laptop
    out(["git", "checkout", "-q", "main"], laptop)
    # The working copy may still hold the less-data branch's rows: take main's data first.
    out(["dvc", "checkout", "--quiet", "data/iris.csv.dvc"], laptop, "dvc checkout data/iris.csv")
    csv = laptop / "data" / "iris.csv"
    lines = csv.read_text().splitlines(keepends=True)
    species: dict[str, list[str]] = {}
    for row in lines[1:]:
        species.setdefault(row.rstrip("\n").rsplit(",", 1)[-1], []).append(row)
    fresh = [row for rows in species.values() for row in rows[-FRESH_PER_SPECIES:]]
    csv.write_text("".join(lines) + "".join(fresh))
    out(["dvc", "add", "--quiet", "data/iris.csv"], laptop, "dvc add data/iris.csv")
    out([MLOPS, "push-runs"], laptop, "mlops-gitops push-runs (the new data)")
    message = f"Refresh data/iris.csv: {len(fresh)} new flowers [skip ci]"
    out(["git", "commit", "-qam", message], laptop)
    out(["git", "push", "-q", "origin", "main"], laptop, "git push origin main")
    print(
        f"    {len(fresh)} flowers of the same distribution appended ({FRESH_PER_SPECIES} per species),"
        f" the data pushed,\n    and committed to main as {message!r}: `[skip ci]` starts no push run"
    )

    say("   Monday 03:00 UTC, the `schedule` event: mlops-train in a fresh runner reproduces every pipeline")
    ci = story.ci_clone("main", "schedule")
    print(indent(out([MLOPS, "changed", "--all"], ci, "mlops-gitops changed --all")))
    story.reproduce(ci, "schedule (fresh data)")
    # "Is the model recorded in Git?": promotion reads the model's hash from the committed dvc.lock.
    recorded, _ = run(["git", "diff", "--quiet", "--", LOCKS], ci, "git diff --quiet dvc.lock", ok=(0, 1))
    if recorded == 0:
        raise SystemExit(
            "demo: the scheduled retrain left dvc.lock as committed; fresh data should change it"
        )
    print(indent(out(["git", "diff", "--stat", "--", LOCKS], ci)))
    print(
        "    dvc.lock differs from the commit's, so the commit does not describe the model just trained:"
        "\n    mlops-train holds deployment and hands the run (already pushed) to the retrained-model job"
    )
    folder = story.work / "artifacts" / "mlops-retrain"
    handed = hand_over(ci, folder, "schedule", RUN_URL.format(n=story.runs))
    print(
        f"    handed over in {folder.name}/: run.json, report.md, report.json, files/ ({', '.join(handed)})"
    )
    say("   The retrained-model job: `retrain-pr --from DIR` (printed by `--dry-run`; in CI it opens the PR)")
    dry = [MLOPS, "retrain-pr", "--from", str(folder), "--dry-run"]
    print(indent(out(dry, ci, "mlops-gitops retrain-pr --dry-run")))
    print(
        "    Merging it puts the schedule's dvc.lock on main: the push finds every stage in the run-cache"
        "\n    the schedule pushed, trains nothing again, and mlops-deploy opens staging's deployment PR for"
        "\n    the retrained model: it deploys without training a second time."
    )


def hand_over(ci: Path, folder: Path, reason: str, run_url: str) -> list[str]:
    """mlops-train's step "Hand the run to the retrained-model pull request": which run (run.json), the
    report against the commit that was trained, and the files reproducing changed (returned)."""
    (folder / "files").mkdir(parents=True)
    sha = out(["git", "rev-parse", "HEAD"], ci).strip()
    run_json = {"sha": sha, "reason": reason, "run_url": run_url}
    (folder / "run.json").write_text(json.dumps(run_json) + "\n")
    report = [MLOPS, "report", "--base", "HEAD", "--head", "workspace"]
    report += ["--output", str(folder / "report.md"), "--json-output", str(folder / "report.json")]
    # Exit 1 is a failed gate: the report is still written, and retrain-pr decides on it.
    run(report, ci, "mlops-gitops report --base HEAD --head workspace", ok=(0, 1))
    return keep_changed(ci, ["diff", "--name-only", "-z"], folder / "files")


def keep_changed(ci: Path, listing: list[str], into: Path) -> list[str]:
    """What the workflows' hand-over steps do: each regular file ``git LISTING`` names (no symlink,
    nothing deleted) copied under ``into`` at its path; the paths copied."""
    copied = []
    for rel in filter(None, out(["git", *listing], ci).split("\0")):
        source = ci / rel
        if source.is_file() and not source.is_symlink():
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, into / rel)
            copied.append(rel)
    return copied


ROLLOUT = """\
      rollout:
        steps: [5, 25, 50]
        min_minutes: 30
        min_outcomes: 100
        segments: [region]
        metrics:
          - name: setosa share
            kind: proportion
            column: prediction
            value: setosa
            direction: increase
            guardrail: true
            tolerance: 0.05
        source:
          logs: {path: logs/staging.csv, version: model_version, timestamp: ts}
"""
STAGING = "deploy/staging/inference.yaml"
ANCHOR = "    # Only a model already running in staging"


def rollout(ci: Path) -> None:
    """Chapter 6: staging takes the model in steps of traffic (docs/rollout.md). What mlops-rollout
    would post is printed by ``rollout --dry-run``; merges are commits landed at a chosen time, and
    the prediction logs are drawn with a fixed seed."""
    say("6. A rollout: staging takes the new model in steps of traffic, decided by its outcomes")
    manifest = ci / MANIFEST_FILE
    text = manifest.read_text()
    if ANCHOR not in text:
        raise SystemExit(f"demo: {MANIFEST_FILE} has no {ANCHOR.strip()!r} to add the rollout before")
    manifest.write_text(text.replace(ANCHOR, ROLLOUT + ANCHOR, 1))
    out([MLOPS, "generate"], ci, "mlops-gitops generate (now with mlops-rollout.yml)")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    hour = dt.timedelta(hours=1)
    _land(ci, "Give staging a rollout", now - 3 * hour)
    print("    `promote --env staging` now opens the first step's PR, the candidate at 5%:")
    promote = [MLOPS, "promote", "--env", "staging", "--dry-run"]
    print(indent(out(promote, ci, "mlops-gitops promote --env staging")))

    deploy = ci / STAGING
    old = deploy.read_text()
    model = (ci / "dvc.lock").read_text().split("path: models/model.pkl")[1].split("md5: ")[1].split()[0]
    uri = re.search(r"storageUri: \S+/([0-9a-f]{32})", old)
    assert uri is not None, old
    current, candidate = uri.group(1)[:8], model[:8]
    first = old.replace(uri.group(1), model)
    deploy.write_text(first.replace("    minReplicas:", "    canaryTrafficPercent: 5\n    minReplicas:", 1))
    _land(ci, "Merge the first step (5%)", now - 2 * hour)

    say("   An hour later, few outcomes yet: mlops-rollout holds and updates its status comment (no PR)")
    _logs(ci, (now - 2 * hour, now - hour), 2, (current, candidate), random.Random(1))
    _land(ci, "Prediction logs", now - dt.timedelta(minutes=1))
    print(indent(out([MLOPS, "rollout", "--dry-run"], ci, "mlops-gitops rollout"), "    | "))

    say("   Then the candidate predicts setosa far less often in one region: the rollback's PR")
    _logs(ci, (now - hour, now - dt.timedelta(minutes=1)), 60, (current, candidate), random.Random(2))
    _land(ci, "Prediction logs", now)
    print(indent(out([MLOPS, "rollout", "--dry-run"], ci, "mlops-gitops rollout"), "    | "))
    print(
        "    Merged, that PR puts the previous model back and removes the split: Git says what runs."
        "\n    The next step and the promotion are pull requests like this one."
    )


def _land(ci: Path, message: str, when: dt.datetime) -> None:
    """A commit that landed on main at ``when`` (a step starts when its PR merged)."""
    stamp = f"{when:%Y-%m-%dT%H:%M:%S+0000}"
    out(["git", "add", "-A"], ci)
    dated = {**env(), "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}
    subprocess.run(["git", "commit", "-qm", message], cwd=ci, env=dated, check=True, capture_output=True)


def _logs(
    ci: Path,
    span: tuple[dt.datetime, dt.datetime],
    per_minute: int,
    arms: tuple[str, str],
    rng: random.Random,
) -> None:
    """Prediction logs appended: 5% of rows from the candidate (``arms[1]``), which in the eu region
    predicts setosa a third as often as the current model."""
    path = ci / "logs" / "staging.csv"
    path.parent.mkdir(exist_ok=True)
    rows = [] if path.exists() else ["ts,model_version,region,prediction"]
    since, until = span
    for i in range(int((until - since).total_seconds() // 60) * per_minute):
        at = since + dt.timedelta(seconds=i * 60 / per_minute)
        arm = arms[1] if rng.random() < 0.05 else arms[0]
        region = rng.choice(("eu", "us"))
        share = 0.1 if (arm == arms[1] and region == "eu") else 0.33
        rows.append(f"{at:%Y-%m-%dT%H:%M:%S}Z,{arm},{region},{'setosa' if rng.random() < share else 'other'}")
    with path.open("a", encoding="utf-8") as log:
        log.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
