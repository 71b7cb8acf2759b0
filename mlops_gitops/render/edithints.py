"""When ``generate`` refuses to overwrite a workflow edited by hand: which manifest key would have
made the edit, so the user moves it into mlops.yaml instead of losing it to ``--force``."""

from __future__ import annotations

# (workflow, job id) -> the runners.<kind> entry that configures it; deploy jobs are promote-<env>.
_KINDS = {("mlops-pr", "check"): "default", ("mlops-pr", "train"): "train", ("mlops-train", "train"): "train"}
_JOB_KEYS = {
    "env": "runners.{kind}.env (or .secrets for a secret)",
    "container": "runners.{kind}.container",
    "services": "runners.{kind}.services",
    "runs-on": "runners.{kind}.runs_on",
    "timeout-minutes": "runners.{kind}.timeout_minutes",
    "steps": "runners.{kind}.steps (before_install, after_install, after_repro)",
}


def kind_of(workflow: str, job: str) -> str | None:
    if workflow == "mlops-deploy":
        return "deploy"
    if workflow == "mlops-monitor":
        return "monitor"
    return _KINDS.get((workflow, job))


def hints(path: str, old_text: str, new_text: str) -> list[str]:
    """Manifest keys for what differs between the edited file and what mlops.yaml gives."""
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe

    try:
        old, new = load_safe(old_text, path), load_safe(new_text, path)
    except YAMLError:
        return []
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    workflow = path.rsplit("/", 1)[-1].removesuffix(".yml")
    found: list[str] = []
    old_on, new_on = old.get("on") or {}, new.get("on") or {}
    if isinstance(old_on, dict) and isinstance(new_on, dict):
        if _get(old_on, "push", "paths") != _get(new_on, "push", "paths"):
            found.append("triggers.paths")
        if old_on.get("schedule") != new_on.get("schedule"):
            found.append("triggers.schedule (monitoring.schedule for mlops-monitor)")
    old_jobs, new_jobs = old.get("jobs") or {}, new.get("jobs") or {}
    for job, body in old_jobs.items() if isinstance(old_jobs, dict) else ():
        mine = new_jobs.get(job) if isinstance(new_jobs, dict) else None
        if not isinstance(body, dict) or not isinstance(mine, dict):
            continue
        kind = kind_of(workflow, job)
        for key, where in _JOB_KEYS.items():
            if body.get(key) != mine.get(key):
                found.append(where.format(kind=kind) if kind else f"{key} (this job is not configurable)")
        if body.get("permissions") != mine.get("permissions"):
            found.append("no key: permissions follow from what each job does (docs/workflows.md)")
    return list(dict.fromkeys(found))


def _get(node: object, *keys: str) -> object:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node
