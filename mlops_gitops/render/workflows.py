"""Render the GitHub Actions workflows from a manifest (pure: no I/O besides reading templates).

Templates live in ``templates/github/workflows/*.yml.j2``. They use ``[[ ]]`` and ``[% %]`` as Jinja
delimiters so that GitHub's own ``${{ }}`` expressions are plain text to Jinja. Every value taken from
the manifest goes through the ``q`` filter, which writes a JSON scalar: YAML reads it as a
double-quoted string, so no manifest value can end a line, open a mapping or start a comment.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from mlops_gitops import __version__
from mlops_gitops.manifest.model import Manifest
from mlops_gitops.names import WORKFLOWS_DIR
from mlops_gitops.pipeline.project import Project
from mlops_gitops.render.actions import ACTIONS

if TYPE_CHECKING:  # pragma: no cover
    from jinja2 import BytecodeCache

# Every grant is written with the reason it is needed (zizmor's undocumented-permissions audit).
PERMISSION_REASONS = {
    "contents:read": "check out the repository",
    "contents:write": "push a bot commit or tag: promotion and retrained-model branches, a PR's dvc.lock",
    "pull-requests:write": "open, update or comment on pull requests",
    "id-token:write": "OIDC login to the cloud behind the DVC remote",
    "issues:write": "open, update or close the drift issue",
    "statuses:write": "put the recorded run's result on the bot's dvc.lock commit",
    "actions:read": "download the report artifact of the mlops-pr run",
    "pull-requests:read": "find the merged promotion pull requests",
    "actions:write": "dispatch mlops-train when the model drifts",
}


def render_workflows(project: Project) -> dict[str, str]:
    """``{".github/workflows/<name>.yml": text}`` for every workflow the project asks for."""
    import jinja2

    from mlops_gitops.adapters.resources import templates_dir

    # The loader refuses `${{` in every manifest value that reaches a workflow (GitHub would evaluate
    # it), and every value is written through `q` below: no manifest text can become YAML structure.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "github" / "workflows")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
        bytecode_cache=_bytecode_cache(),
    )
    manifest = project.manifest
    job_ids = _job_ids(manifest)
    env.filters["q"] = quote
    env.filters["sq"] = expression_string
    env.filters["job_id"] = lambda name: job_ids[name]
    # mlops-rollout: where a job checked out another repository holding deployment files (owner/name
    # is [A-Za-z0-9_.-] by the schema: nothing in it the shell reads).
    env.filters["checkout_arg"] = lambda repo: f" --checkout {repo}=.mlops-checkouts/{repo}"
    context = _context(project, job_ids)
    names = ["mlops-pr", "mlops-comment", "mlops-train"]
    if manifest.deploy:
        names.append("mlops-deploy")
    if manifest.monitoring:
        names.append("mlops-monitor")
    if manifest.record.registry:
        names.append("mlops-registry")
    if manifest.deploy and any(e.rollout for e in manifest.deploy.environments):
        names.append("mlops-rollout")
    out: dict[str, str] = {}
    for name in names:
        text = env.get_template(f"{name}.yml.j2").render(context)
        out[f"{WORKFLOWS_DIR}/{name}.yml"] = _tidy(text)
    return out


def _bytecode_cache() -> BytecodeCache | None:
    """Compiled templates kept per user: compiling them is most of a render, and `generate --check`
    runs on every commit as a pre-commit hook. Jinja checks each template's source before reusing it;
    without a writable cache directory templates are simply compiled each time."""
    import os
    from pathlib import Path

    from jinja2 import FileSystemBytecodeCache

    from mlops_gitops import __version__

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "mlops-gitops" / f"jinja-{__version__}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None


def quote(value: object) -> str:
    """A YAML flow scalar (or flow sequence) that reads back as exactly ``value``."""
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=True)


def expression_string(value: str) -> str:
    """A string literal inside a GitHub expression (``'...'`` with ``'`` doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def _tidy(text: str) -> str:
    # An optional step or key that rendered nothing leaves an empty line inside a job; blank lines
    # before top-level keys and jobs (indent < 4) are kept for reading.
    text = re.sub(r"\n(?:[ \t]*\n)+(?=    )", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.lstrip("\n").rstrip("\n") + "\n"


def _job_ids(manifest: Manifest) -> dict[str, str]:
    if not manifest.deploy:
        return {}
    ids: dict[str, str] = {}
    for env in manifest.deploy.environments:
        base = "promote-" + re.sub(r"[^A-Za-z0-9_-]", "-", env.name).lower()
        job_id, n = base, 2
        while job_id in ids.values():
            job_id, n = f"{base}-{n}", n + 1
        ids[env.name] = job_id
    return ids


def comment_permissions(m: Manifest) -> dict[str, str]:
    """mlops-comment: post the report; with ``record.pull_requests: commit``, also record the run."""
    grants = {"actions": "read", "pull-requests": "write"}
    if m.record.pull_requests == "commit":
        grants |= {"contents": "write", "statuses": "write"}
    return grants


def retrain_pr_permissions(m: Manifest) -> dict[str, str]:
    """mlops-train's retrained-model PR job: push its branch, open the PR, set the recorded-run status;
    comment on the drift issue when monitoring dispatches retrains."""
    grants = {"contents": "write", "pull-requests": "write", "statuses": "write"}
    if m.monitoring is not None and m.monitoring.on_drift.retrain:
        grants["issues"] = "write"
    return grants


def _context(project: Project, job_ids: dict[str, str]) -> dict[str, object]:
    manifest = project.manifest
    cloud = manifest.cloud.provider != "none"
    retrain = manifest.monitoring is not None and manifest.monitoring.on_drift.retrain
    train_permissions = {"contents": "read"}
    if cloud:
        train_permissions["id-token"] = "write"
    # A pull request's run gets only the read-only identity (and secrets) declared for pull requests.
    pr_train_permissions = {"contents": "read"}
    if cloud and manifest.cloud.pull_requests:
        pr_train_permissions["id-token"] = "write"
    missing = []
    if cloud and not manifest.cloud.pull_requests:
        missing.append(f"cloud.{manifest.cloud.provider}.pull_requests")
    if manifest.data_secrets and not manifest.data_pr_secrets:
        missing.append("data.pull_request_secrets")
    deploy_id_token = bool(manifest.deploy) and cloud and project.metrics_need_dvc()
    if manifest.deploy and manifest.deploy.token_secret:
        # The deployment PR is made with the App/fine-grained token; GITHUB_TOKEN only reads.
        deploy_permissions = {"contents": "read"}
    else:
        deploy_permissions = {"contents": "write", "pull-requests": "write"}
    if deploy_id_token:
        # promote reads the model's metrics from the DVC remote: they are not in Git.
        deploy_permissions["id-token"] = "write"
    # Measuring reads the logs (and the cloud); only the alert job, which runs nothing but
    # mlops-gitops, holds the write token.
    measure_permissions = {"contents": "read"}
    if cloud:
        measure_permissions["id-token"] = "write"
    monitor_permissions = {"contents": "read", "issues": "write"}
    if retrain:
        monitor_permissions["actions"] = "write"
    from mlops_gitops.render.toolsource import TOOL_PYTHON, dvc_plugins, running_source

    deploy_extras = ("github", "dvc") if project.metrics_need_dvc() else ("github",)
    return {
        "m": manifest,
        "version": __version__,
        "tool": running_source(manifest.tool),
        # The tool runs in its own environment, made with its own Python; the project's is beside it.
        "tool_python_version": TOOL_PYTHON,
        "dvc_plugins": dvc_plugins(project.root),
        "deploy_extras": deploy_extras,
        # setup-python's pip cache fails on a path that matches nothing: only files that exist.
        "pip_cache_files": [f for f in manifest.requirements if (project.root / f).is_file()],
        "actions": ACTIONS,
        "job_ids": job_ids,
        "why": PERMISSION_REASONS,
        "retrain": retrain,
        "train_permissions": train_permissions,
        "pr_train_permissions": pr_train_permissions,
        "comment_permissions": comment_permissions(manifest),
        "retrain_pr_permissions": retrain_pr_permissions(manifest),
        "pr_credentials_missing": ", ".join(missing),
        "deploy_permissions": deploy_permissions,
        "monitor_permissions": monitor_permissions,
        "measure_permissions": measure_permissions,
        "train_paths": project.trigger_paths(),
        "lock_files": [project.lock_of(p) for p in project.pipelines],
        "metrics_paths": "\n".join(
            dict.fromkeys([*project.metrics_files(), *(project.lock_of(p) for p in project.pipelines)])
        ),
        # Training split into plan, upstream, a job matrix and a final job (docs/scaling.md).
        "fan": project.fans_out(),
        "planned_containers": project.planned_containers(),
        # Hand-owned pipelines cannot get a validation stage: the workflows validate before `dvc repro`.
        "validate_step": bool(manifest.data_checks) and not manifest.owns_dvc_yaml,
    }
