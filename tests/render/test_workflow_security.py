"""Trust boundaries of the generated workflows, read as an attacker would (security findings 3, 4):
jobs holding a write token install nothing unpinned, and pull-request runs never get the identity or
the secrets that can write the store the default branch restores from and deploys."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_gitops import locks
from mlops_gitops.errors import ManifestError
from mlops_gitops.manifest.loader import load_manifest_text
from mlops_gitops.manifest.model import Manifest
from mlops_gitops.render.workflows import render_workflows
from tests.parts import project_of
from tests.render.test_workflows import (
    CLOUDS,
    MINIMAL,
    WF,
    custom_manifest,
    example_manifest,
    full_manifest,
    parse,
    steps,
)

# GITHUB_TOKEN scopes that write. id-token only mints an OIDC token, whose power is the cloud role's
# trust condition: that is the second test's subject.
TOKEN_WRITES = {
    "actions",
    "checks",
    "contents",
    "deployments",
    "issues",
    "packages",
    "pull-requests",
    "statuses",
}
# The tool's own environment: made from the tool's Python, the tool alone, then its hash lock; only its
# commands are linked onto PATH. Comment lines aside, nothing else may run beside a write token.
ALLOWED_INSTALL = re.compile(
    r'^venv="\$RUNNER_TEMP/mlops-gitops"\n'
    r'"\$TOOL_PYTHON" -m venv --without-pip "\$venv"\n'
    r'"\$TOOL_PYTHON" -m pip --python "\$venv/bin/python" install --no-deps "\$MLOPS_GITOPS"\n'
    r'"\$venv/bin/python" -m mlops_gitops\.locks install( [a-z]+)*( --remote [a-z]+)*\n'
    r'mkdir -p "\$RUNNER_TEMP/mlops-gitops-bin"\n'
    r"for command in mlops-gitops( dvc)?; do\n"
    r"  printf '#!/bin/sh\\nexec \"%s\" \"%s\" \"\$@\"\\n' "
    r'"\$venv/bin/python" "\$venv/bin/\$command" > "\$RUNNER_TEMP/mlops-gitops-bin/\$command"\n'
    r'  chmod \+x "\$RUNNER_TEMP/mlops-gitops-bin/\$command"\n'
    r"done\n"
    r'echo "\$RUNNER_TEMP/mlops-gitops-bin" >> "\$GITHUB_PATH"\n?$'
)


def install_commands(run: str) -> str:
    """A step's shell text without its comment lines."""
    return "".join(line + "\n" for line in run.splitlines() if not line.lstrip().startswith("#"))


def locked_extras(run: str) -> list[str]:
    """The extras a tool install step asks its lock for (remote plugins aside)."""
    words = run.split("locks install", 1)[1].splitlines()[0].split()
    return words[: words.index("--remote")] if "--remote" in words else words


WHEEL_TOOL = MINIMAL + "python: {tool: wheels/mlops_gitops-0.1.0-py3-none-any.whl}\n"


def manifests() -> dict[str, Manifest]:
    found = {"example": example_manifest(), "every-option": custom_manifest()}
    found.update({f"full-{p}": full_manifest(p) for p in CLOUDS})
    found["wheel-tool"] = load_manifest_text(WHEEL_TOOL)
    return found


@pytest.fixture(scope="module", params=sorted(manifests()))
def rendered(request: pytest.FixtureRequest) -> tuple[Manifest, dict[str, Any]]:
    manifest = manifests()[request.param]
    return manifest, {p: parse(t) for p, t in render_workflows(project_of(manifest)).items()}


def writes(job: dict[str, Any]) -> set[str]:
    return {k for k, v in (job.get("permissions") or {}).items() if v == "write" and k in TOKEN_WRITES}


def test_jobs_with_a_write_token_install_only_hash_locked_code(
    rendered: tuple[Manifest, dict[str, Any]],
) -> None:
    manifest, files = rendered
    seen = 0
    for path, wf in files.items():
        for job_id, job in wf["jobs"].items():
            if not writes(job):
                continue
            for step in steps(job):
                run = step.get("run", "")
                if "pip" in run or "install" in step.get("name", "").lower():
                    seen += 1
                    commands = install_commands(run)
                    assert ALLOWED_INSTALL.match(commands), (
                        f"{path}:{job_id}: {step.get('name')}: {commands!r}"
                    )
                    extras = locked_extras(run)
                    assert locks.lock_path(extras).is_file(), extras
            if writes(job):
                # The project's own requirements (floating, and its code) never run beside the token.
                assert manifest.install not in [s.get("run") for s in steps(job)], (path, job_id)
                assert not any("dvc repro" in s.get("run", "") for s in steps(job)), (path, job_id)
    assert seen, "no job holding a token installs anything?"


def test_no_job_with_a_write_token_or_after_another_run_restores_or_saves_a_cache(
    rendered: tuple[Manifest, dict[str, Any]],
) -> None:
    """A cache is read back by later runs of the same ref and of every pull request when the default
    branch wrote it. So the jobs that hold a write token never read one (a cache is as trusted as the
    least trusted job that can write it), and workflow_run workflows, which run on the default branch
    after a pull request's run, never write one. The tool's packages are cached only in read-only jobs
    of pull_request, push, schedule and dispatch runs, saved before any repository code runs."""
    _, files = rendered
    cached = 0
    for path, wf in files.items():
        after_a_run = "workflow_run" in wf["on"]
        for job_id, job in wf["jobs"].items():
            caches = [s for s in steps(job) if str(s.get("uses", "")).startswith("actions/cache")]
            if writes(job) or after_a_run:
                assert not caches, f"{path}:{job_id}"
                continue
            tool = [s for s in caches if s["with"]["path"] == "${{ runner.temp }}/mlops-gitops"]
            if any("mlops_gitops.locks install" in s.get("run", "") for s in steps(job)):
                assert len(tool) == 2, f"{path}:{job_id}: the tool's packages are restored and saved"
                cached += 1
                names = [s.get("name") for s in steps(job)]
                save = names.index("Save the packages")
                # Nothing of the repository has run after the checkout but what it installs for itself.
                ran = [s.get("run", "") for s in steps(job)[:save] if "run" in s]
                assert not any("dvc " in r or r.startswith("mlops-gitops ") for r in ran), f"{path}:{job_id}"
    assert cached, "no job caches the tool's packages?"


def test_the_comment_and_alert_jobs_install_no_dvc_pyarrow_or_scipy(
    rendered: tuple[Manifest, dict[str, Any]],
) -> None:
    _, files = rendered
    jobs = [files[WF + "mlops-comment.yml"]["jobs"]["comment"]]
    if WF + "mlops-monitor.yml" in files:
        jobs.append(files[WF + "mlops-monitor.yml"]["jobs"]["alert"])
    for job in jobs:
        (install,) = [s for s in steps(job) if "mlops_gitops.locks" in s.get("run", "")]
        assert locked_extras(install["run"]) == ["github"]
        assert "--remote" not in install["run"]


def test_pull_request_runs_never_get_the_write_identity_or_secrets(
    rendered: tuple[Manifest, dict[str, Any]],
) -> None:
    manifest, files = rendered
    raw = render_workflows(project_of(manifest))
    text = raw[WF + "mlops-pr.yml"]
    write_identity = {
        k: v
        for k, v in manifest.cloud.settings.items()
        if k in ("role_to_assume", "service_account", "client_id")
    }
    for key, value in write_identity.items():
        assert f'"{value}"' not in text, f"mlops-pr references the default branch's {key}"
        assert f'"{value}"' in raw[WF + "mlops-train.yml"], "the default branch keeps its identity"
    for secret in set(manifest.data_secrets.values()) - set(manifest.data_pr_secrets.values()):
        assert f"secrets.{secret}" not in text
    train = files[WF + "mlops-pr.yml"]["jobs"]["train"]
    assert not any("push" in s.get("run", "").replace("pushed", "") for s in steps(train))
    if manifest.cloud.provider != "none" and manifest.cloud.pull_requests:
        (login,) = [s for s in steps(train) if s.get("name", "").startswith("Cloud credentials")]
        read_only = {k: v for k, v in manifest.cloud.pull_requests.items() if k in write_identity}
        assert set(read_only.values()) <= set(login["with"].values())


def test_without_read_only_credentials_a_pull_request_does_not_reproduce() -> None:
    """Azure in the full manifest declares no identity for pull requests: the PR reports the committed
    metrics and says which key to set, rather than borrowing the write identity."""
    files = render_workflows(project_of(full_manifest("azure")))
    jobs = parse(files[WF + "mlops-pr.yml"])["jobs"]
    train = jobs["train"]
    mode = next(s for s in steps(jobs["check"]) if s.get("id") == "mode")
    assert mode["run"].index('echo "reproduce=false"') < mode["run"].index('if [ "$HEAD_REPO"')
    assert "cloud.azure.pull_requests" in mode["run"]
    assert "id-token" not in train["permissions"]
    no_pr_secrets = FULL_NONE_WITHOUT_PR_SECRETS
    files = render_workflows(project_of(load_manifest_text(no_pr_secrets)))
    mode = next(s for s in steps(parse(files[WF + "mlops-pr.yml"])["jobs"]["check"]) if s.get("id") == "mode")
    assert "data.pull_request_secrets" in mode["run"]


FULL_NONE_WITHOUT_PR_SECRETS = MINIMAL + "data: {remote: storage, secrets: {TOKEN: DATA_TOKEN}}\n"


@pytest.mark.parametrize(
    "runner, where",
    [
        ("container: nvidia/cuda:12.4.1-runtime-ubuntu22.04", "runners.train.container"),
        ("container: {image: 'python:3.12'}", "runners.train.container.image"),
        ("services: {db: {image: 'postgres:16'}}", "runners.train.services.db.image"),
    ],
)
def test_images_must_be_pinned_by_digest(runner: str, where: str) -> None:
    with pytest.raises(ManifestError) as info:
        load_manifest_text(MINIMAL + f"runners:\n  train:\n    {runner}\n")
    assert f"{where}: '" in str(info.value) and "is not pinned: add its digest" in str(info.value)
    pinned = runner.replace("12.4.1-runtime-ubuntu22.04", "12.4.1-runtime-ubuntu22.04@sha256:" + "a" * 64)
    pinned = pinned.replace("'python:3.12'", "'python:3.12@sha256:" + "b" * 64 + "'")
    pinned = pinned.replace("'postgres:16'", "'postgres:16@sha256:" + "c" * 64 + "'")
    load_manifest_text(MINIMAL + f"runners:\n  train:\n    {pinned}\n")
