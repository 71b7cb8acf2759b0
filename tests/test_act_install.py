"""Generated CI installs the tool the way the generated step says, and runs green on a real shape.

A repository whose pipeline lives in ``pipelines/`` and whose requirements live only in ``src/``
adopts mlops-gitops, with the training job customised in the manifest: an environment variable, a
secret, extra steps after installing and after reproducing, a container image. The tool comes
(1) from a local Git URL at one commit, the way ``pip install git+...@<sha>`` records it, and
(2) from a wheel committed to the repository (``python.tool``). Each time ``mlops-pr`` runs under act
in host mode with a runner environment that does not have mlops-gitops: the workflow's own install
step must install it, and the job must pass with the tool it installed.

The DVC-cache figures (bytes a re-run pulls from the remote, with and without the cache restored)
are printed for docs/workflows.md.

The tool's environment is cached between runs (``$RUNNER_TEMP/mlops-gitops``): a cold run installs
it from a local copy of the package index (``tests/lockwheels.py``), every archive checked against
the lock, and saves it; a warm run restores it and runs no installer at all once ``locks ready``
finds it whole; a restored environment with a damaged file is installed again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

import tests.repos as repos
from tests.actrunner import (
    ActRun,
    act,
    checkout,
    copy_project,
    fail_without_act,
    git,
    isolated_env,
    open_pull_request,
    publish_adoption,
    pull_request_event,
    run,
)
from tests.lockwheels import lock_wheelhouse

pytestmark = pytest.mark.slow

REPO = "acme/points"
SECRET = "tr-4c1d-s3cr3t-value"
# An offline pip that builds a Git checkout with the build backend already installed.
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
CONTAINER = "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04@sha256:3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b"
CUSTOM = """
runners:
  train:
    container: {container}
    env:
      TRACKER_URL: https://tracker.example.invalid
    secrets:
      TRACKER_TOKEN: TRACKER_TOKEN
    steps:
      after_install:
        - name: Which mlops-gitops runs here
          run: >-
            "$RUNNER_TEMP/mlops-gitops/bin/python" -c "import importlib.metadata as m;
            print('mlops-gitops from', m.distribution('mlops-gitops').read_text('direct_url.json'))"
        - name: The project's Python is not the tool's
          run: >-
            grep -q "$RUNNER_TEMP/mlops-gitops/bin/python" "$(command -v mlops-gitops)" &&
            test "$(command -v python)" != "$RUNNER_TEMP/mlops-gitops/bin/python"
        - name: The tracker is configured
          run: test "${#TRACKER_TOKEN}" -gt 0 && echo "tracker $TRACKER_URL, token of ${#TRACKER_TOKEN} characters"
      after_repro:
        - name: Keep the DVC cache for the test to measure
          run: cp -a .dvc/cache "$MLOPS_TEST_OUT/dvc-cache"
""".replace("{container}", CONTAINER)


def offline_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"} | OFFLINE_PIP


@pytest.fixture(scope="module")
def tool_repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This project's files committed in a local Git repository: (path, commit)."""
    fail_without_act()
    path = copy_project(tmp_path_factory.mktemp("tool") / "mlops-gitops")
    repos.git(path, "init", "-q", "-b", "main")
    return path, repos.commit(path, "mlops-gitops under test")


def adopt(root: Path, tool_bin: Path, tool_key: str | None = None) -> tuple[Path, Path]:
    """The subfolder-pipeline repository with a bigger dataset and a local DVC remote, adopted by the
    mlops-gitops in ``tool_bin``, customised, pushed to a bare origin. Returns (dev clone, origin)."""
    dev = repos.subfolder_pipeline(root / "dev", reproduce=False).root
    (dev / "data/raw/points.csv").write_text(repos._points(6000))
    run(["dvc", "remote", "add", "-d", "storage", str(root / "dvc-remote")], dev)
    adopted = run([str(tool_bin / "mlops-gitops"), "init", "--yes"], dev, env=offline_env(), check=False)
    manifest = dev / "mlops.yaml"
    text = (
        manifest.read_text()
        + CUSTOM
        + "metrics:\n  gates:\n    - {metric: mae, direction: lower, max: 1000}\n"
    )
    if tool_key:
        text = text.replace("python:\n", f"python:\n  tool: {tool_key}\n", 1)
    manifest.write_text(text)
    run([str(tool_bin / "mlops-gitops"), "generate"], dev)
    assert_customised(dev)
    # act's host mode would start the container with Docker, which this machine does not have: the
    # container is checked above, and the repository the runs see declares everything else.
    manifest.write_text(text.replace(f"    container: {CONTAINER}\n", ""))
    run([str(tool_bin / "mlops-gitops"), "generate"], dev)
    origin = publish_adoption(dev, root)
    (root / "init.log").write_text(adopted)
    return dev, origin


def run_pr(
    origin: Path, base: str, head: str, where: Path, runner_bin: Path, cache_dir: Path | None = None
) -> tuple[ActRun, Path]:
    where.mkdir(parents=True)
    out = where / "out"
    out.mkdir()
    work = checkout(origin, head, where / "checkout", REPO)
    # Offline, but with build isolation: pip builds a Git checkout of mlops-gitops with the hatchling
    # the wheelhouse holds (tests/actrunner.py), in the tool's own fresh environment.
    env = {"MLOPS_ACT_PYTHON_BIN": str(runner_bin), "MLOPS_TEST_OUT": str(out), "PIP_NO_INDEX": "1"}
    if cache_dir is not None:
        env["MLOPS_ACT_CACHE_DIR"] = str(cache_dir)
    result = act(
        "pull_request",
        "mlops-pr",
        work,
        pull_request_event(REPO, 3, base, head, "tune"),
        where / "act",
        where / "artifacts",
        env=env,
        secrets={"TRACKER_TOKEN": SECRET},
    )
    return result, out


def workflow(dev: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((dev / ".github/workflows" / name).read_text())
    return data


def install_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if str(s.get("name", "")).startswith("Install mlops-gitops")]
    return dict(step)


def install_requirement(job: dict[str, Any]) -> str:
    return str(install_step(job)["env"]["MLOPS_GITOPS"])


def assert_customised(dev: Path) -> None:
    """What act's host mode cannot show: the container, and secrets only where they belong."""
    jobs = workflow(dev, "mlops-pr.yml")["jobs"]
    assert jobs["train"]["container"] == CONTAINER
    assert "container" not in jobs["check"]
    assert jobs["train"]["env"]["TRACKER_URL"] == "https://tracker.example.invalid"
    guard = jobs["train"]["env"]["TRACKER_TOKEN"]
    assert guard.startswith("${{ github.event.pull_request.head.repo.full_name == github.repository")
    assert "TRACKER_TOKEN" not in str(jobs["check"])
    # The pip cache is keyed on the requirement file that exists, not on a root requirements.txt.
    setup = next(s for s in jobs["train"]["steps"] if str(s.get("name", "")).endswith("for the project"))
    assert setup["with"]["cache-dependency-path"] == "src/requirements.txt"


def tool_record(result: ActRun) -> dict[str, Any]:
    """The PEP 610 record of the mlops-gitops the job ran, as its extra step printed it."""
    found = re.search(r"mlops-gitops from (\{.*\})", result.log)
    assert found, "the extra step did not print which mlops-gitops runs"
    return dict(json.loads(found.group(1)))


def install_from_git(tool: Path, sha: str, tmp_path: Path) -> tuple[str, Path]:
    """A developer's environment with mlops-gitops installed by pip from the Git repository ``tool``
    at ``sha``, offline: the repository's location as pip records it, and the environment's bin."""
    # With a host, as pip of any age parses it (a fresh venv's own pip may predate empty-host
    # git+file:/// URLs); git clones file://localhost/ like file:///.
    location = f"file://localhost{tool.as_posix()}"
    dev_bin = isolated_env(tmp_path / "dev-env")
    run(
        [str(dev_bin / "python"), "-m", "pip", "install", "-q", f"mlops-gitops @ git+{location}@{sha}"],
        tmp_path,
        env=offline_env(),
    )
    return location, dev_bin


def assert_ran_green(result: ActRun, runner_bin: Path, expected_url: str) -> None:
    """The run passed with the tool its own install step installed into its own environment
    (``expected_url``: what pip recorded, or its end for a path inside act's copy of the checkout),
    while the project's Python (``runner_bin``) got no mlops-gitops."""
    assert result.returncode == 0, result.log[-8000:]
    assert result.job_result("validate and detect changes") == "succeeded"
    assert result.job_result("reproduce and report") == "succeeded"
    assert "Successfully installed mlops-gitops-" in result.log, "the workflow did not install the tool"
    assert "pipelines/dvc.yaml:train" in result.stages.executed
    assert f"tracker https://tracker.example.invalid, token of {len(SECRET)} characters" in result.log
    assert SECRET not in result.log
    assert tool_record(result)["url"].endswith(expected_url)
    assert not (runner_bin / "mlops-gitops").exists(), "the tool was installed into the project's Python"


def cache_objects(cache: Path) -> dict[str, int]:
    return {str(p.relative_to(cache)): p.stat().st_size for p in cache.rglob("*") if p.is_file() and p.parts}


def test_adopted_from_a_git_url_installs_that_commit_and_runs_green(
    tool_repository: tuple[Path, str], tmp_path: Path
) -> None:
    tool, sha = tool_repository
    location, dev_bin = install_from_git(tool, sha, tmp_path)
    url = f"git+{location}"
    dev, origin = adopt(tmp_path, dev_bin)
    # A file:// URL is on this machine only: init says so, and what to set.
    init_log = (tmp_path / "init.log").read_text()
    assert "GitHub's runners cannot reach" in init_log and "set python.tool" in init_log

    jobs = workflow(dev, "mlops-pr.yml")["jobs"]
    comment = workflow(dev, "mlops-comment.yml")["jobs"]["comment"]
    for job in (jobs["check"], jobs["train"], comment):
        assert install_requirement(job) == f"mlops-gitops @ {url}@{sha}"
    # No data checks in this manifest: DVC without pyarrow, NumPy or SciPy.
    assert "locks install dvc\n" in install_step(jobs["train"])["run"]
    assert "locks install github\n" in install_step(comment)["run"]

    base, head = open_pull_request(dev)
    runner_bin = isolated_env(tmp_path / "runner-env")
    result, _ = run_pr(origin, base, head, tmp_path / "pr", runner_bin)
    assert_ran_green(result, runner_bin, location)
    assert tool_record(result)["vcs_info"]["commit_id"] == sha
    assert f'"commit_id": "{sha}"' in result.log  # the extra step saw the installed commit


def test_tool_from_a_committed_wheel_and_the_dvc_cache_between_runs(
    tool_repository: tuple[Path, str], tmp_path: Path
) -> None:
    tool, _ = tool_repository
    run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(tool),
        ],
        tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("mlops_gitops-*.whl")
    dev_bin = isolated_env(tmp_path / "dev-env")
    run([str(dev_bin / "python"), "-m", "pip", "install", "-q", str(wheel)], tmp_path, env=offline_env())
    root = tmp_path / "project"
    root.mkdir()
    (root / "dev" / "wheels").mkdir(parents=True)
    shutil.copy(wheel, root / "dev" / "wheels" / wheel.name)
    dev, origin = adopt(root, dev_bin, tool_key=f"wheels/{wheel.name}")
    jobs = workflow(dev, "mlops-pr.yml")["jobs"]
    assert install_requirement(jobs["train"]) == f"./wheels/{wheel.name}"

    base, head = open_pull_request(dev)
    remote = root / "dvc-remote"
    runs = tmp_path / "runs"

    # First run: an empty runner, nothing cached.
    runner_bin = isolated_env(tmp_path / "runner-1")
    first, first_out = run_pr(origin, base, head, runs / "first", runner_bin)
    assert_ran_green(first, runner_bin, f"/wheels/{wheel.name}")
    assert "cache miss: dvc-" in first.log

    # A re-run of the same commit, once without and once with the first run's DVC cache restored
    # (saved under an older key, found through restore-keys, as actions/cache would).
    remote_objects = cache_objects(remote)
    pulled = {}
    for label, cached in (("without cache", False), ("with cache", True)):
        slug = label.replace(" ", "-")
        store = tmp_path / f"cache-store-{slug}"
        restored: dict[str, int] = {}
        if cached:
            shutil.copytree(first_out / "dvc-cache", store / "dvc-Linux-from-the-first-run")
            restored = cache_objects(store / "dvc-Linux-from-the-first-run")
        again, out = run_pr(origin, base, head, runs / slug, isolated_env(tmp_path / f"runner-{slug}"), store)
        assert again.returncode == 0, again.log[-6000:]
        assert ("cache hit: dvc-Linux-from-the-first-run" in again.log) is cached
        final = cache_objects(out / "dvc-cache")
        pulled[label] = sum(
            size for name, size in final.items() if name in remote_objects and name not in restored
        )
    print(
        f"\nDVC remote objects: {sum(remote_objects.values())} bytes; a re-run pulled "
        f"{pulled['without cache']} bytes without the cache, {pulled['with cache']} bytes with it"
    )
    assert pulled["without cache"] > 50_000  # the prepared data and the model, from the run-cache
    assert pulled["with cache"] == 0


def run_check_only(
    origin: Path, base: str, head: str, where: Path, runner_bin: Path, env: dict[str, str]
) -> ActRun:
    """mlops-pr for a change that retrains nothing: the check job alone."""
    where.mkdir(parents=True)
    work = checkout(origin, head, where / "checkout", REPO)
    return act(
        "pull_request",
        "mlops-pr",
        work,
        pull_request_event(REPO, 4, base, head, "docs"),
        where / "act",
        where / "artifacts",
        env={"MLOPS_ACT_PYTHON_BIN": str(runner_bin), "PIP_NO_INDEX": "1", **env},
    )


def test_the_tools_environment_is_cached_between_runs_and_used_only_whole(
    tool_repository: tuple[Path, str], tmp_path: Path
) -> None:
    """Cold: pip installs the tool (from a Git URL, built), uv (from its wheel, sha256-checked against
    the lock) the lock from the "index", every hash checked; the environment is saved under the key
    of the tool's pin. Warm: restored under that key at another runner temp folder, `locks ready`
    finds every file in place, no installer runs and no index is reachable, and `generate --check`
    passes: pip's record of where the tool came from (a Git commit) is the one the cold run wrote.
    A restored environment with one file damaged is not used: the job installs afresh."""
    tool, sha = tool_repository
    _, dev_bin = install_from_git(tool, sha, tmp_path)
    dev, origin = adopt(tmp_path, dev_bin)
    jobs = workflow(dev, "mlops-pr.yml")["jobs"]
    names = [s.get("name", "") for s in jobs["check"]["steps"]]
    assert names.index("Restore the packages") < names.index(install_step(jobs["check"])["name"])
    base = git(dev, "rev-parse", "HEAD")
    git(dev, "checkout", "-qb", "docs")
    (dev / "NOTES.md").write_text("How the points are fitted.\n")
    git(dev, "add", "-A")
    head = repos.commit(dev, "Notes")
    git(dev, "push", "-q", "origin", "HEAD:refs/heads/docs")

    store = tmp_path / "actions-cache"
    store.mkdir()
    cache = {"MLOPS_ACT_CACHE_DIR": str(store), "MLOPS_ACT_CACHE_SAVE": "1", "UV_CACHE_DIR": ""}
    index = {"UV_OFFLINE": "false", "UV_NO_INDEX": "1", "UV_FIND_LINKS": str(lock_wheelhouse(()))}
    # Warm: no package index at all, for pip (an empty find-links folder) or for uv (offline).
    nothing = tmp_path / "no-index"
    nothing.mkdir()
    no_index = {"UV_OFFLINE": "1", "PIP_FIND_LINKS": str(nothing)}
    runs = tmp_path / "runs"

    cold = run_check_only(
        origin, base, head, runs / "cold", isolated_env(tmp_path / "r1"), {**cache, **index}
    )
    assert cold.returncode == 0, cold.log[-8000:]
    assert cold.job_result("reproduce and report") is None, "nothing retrains: the check job alone"
    assert re.search(r"cache miss: mlops-gitops-Linux-\w+-[0-9a-f]{64}", cold.log)
    (saved,) = [p for p in store.iterdir() if p.name.startswith("mlops-gitops-")]
    assert f"cache save: {saved.name}" in cold.log
    assert "Successfully installed mlops-gitops-" in cold.log, "cold: pip installs the tool"
    assert "sha256 checked against the lock" in cold.log
    assert re.search(
        r"\+ uv pip install --python \S+ --no-deps --require-hashes --no-build-isolation -r ", cold.log
    )
    assert {"bin", "lib", "pyvenv.cfg", "mlops-gitops-lock.sha256"} <= {p.name for p in saved.iterdir()}
    assert not list(saved.glob("lib/python*/site-packages/uv")), "no installer in the environment"

    warm = run_check_only(
        origin, base, head, runs / "warm", isolated_env(tmp_path / "r2"), {**cache, **no_index}
    )
    assert warm.returncode == 0, warm.log[-8000:]
    assert f"cache hit: {saved.name} (for {saved.name})" in warm.log
    assert "cache save" not in warm.log and "cache entry exists" not in warm.log, "a hit is not saved"
    log = warm.job_log("validate and detect changes")
    assert re.search(
        r"installed: \d+ packages, every file in place, as the lock [0-9a-f]{12} installed them", log
    )
    assert "Successfully installed" not in log and " -m pip " not in log, "warm: no pip"
    assert "uv pip install" not in log and "sha256 checked" not in log, "warm: no uv"
    assert "Generated files are current" in log, "generate --check ran with the tool from the cache"

    # One file of a restored package damaged: the environment is installed again, never used as is.
    (core,) = saved.glob("lib/python*/site-packages/click/core.py")
    core.write_text(core.read_text() + "\nraise SystemExit('tampered')\n")
    again = run_check_only(
        origin, base, head, runs / "damaged", isolated_env(tmp_path / "r3"), {**cache, **index}
    )
    assert again.returncode == 0, again.log[-8000:]
    log = again.job_log("validate and detect changes")
    assert re.search(r"not installed: click/core\.py of click-\S+\.dist-info is not the file installed", log)
    assert "Successfully installed mlops-gitops-" in log and "sha256 checked against the lock" in log
    assert "tampered" not in log
