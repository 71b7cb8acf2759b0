"""Promotion logic without I/O: model identity, branch and marker names, value rendering, order check,
PR title and body, file diff. ``commands/promote.py`` feeds it and ``github/pulls.py`` publishes it.
"""

from __future__ import annotations

import posixpath
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Environment
from mlops_gitops.names import GITHUB_BODY_LIMIT
from mlops_gitops.reporters.markup import code, defang, plain, text

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.metrics.flatten import Scalar

MARKER_PREFIX = "<!-- mlops-gitops:promotion"
# What a hash in dvc.lock can be: hex md5, S3 and Azure etags (Azure's in double quotes), base64
# checksums. It is written into the PR's hidden marker, title and commit message: nothing else passes.
_HASH = re.compile(r'[A-Za-z0-9._+/="-]+')


@dataclass(frozen=True)
class ModelIdentity:
    """What identifies a model version: the hash of its DVC output and the commit that produced it."""

    name: str
    path: str
    hash: str  # md5 without DVC's ".dir" suffix
    commit: str
    stage: str | None = None
    out: str | None = None  # the dvc.lock out entry that holds the model (may be a parent directory)
    deps: dict[str, str] = field(default_factory=dict)
    params: dict[str, Scalar] = field(default_factory=dict)  # `file:dotted.key` -> value, as DVC shows it

    @property
    def short_hash(self) -> str:
        return self.hash[:8]

    @property
    def short_commit(self) -> str:
        return self.commit[:7]


def _norm(path: str) -> str:
    return posixpath.normpath(path.strip()).rstrip("/")


def _entry_hash(entry: Mapping[str, object]) -> str | None:
    for key in ("md5", "etag", "checksum"):
        value = entry.get(key)
        if value:
            return str(value)
    return None


def model_identity(
    lock: object,
    model_path: str,
    commit: str,
    name: str,
    where: str = "dvc.lock",
    wdirs: Mapping[str, str] | None = None,
    base: str = "",
) -> ModelIdentity:
    """The identity of ``model_path`` (repo-relative) from a parsed dvc.lock: the out that equals or
    contains it. dvc.lock paths are relative to each stage's wdir, which it does not record: ``wdirs``
    maps stage names to repo-relative wdirs (from the pipeline facts), ``base`` is the dvc.yaml's
    folder for a stage not in it. ``lock`` is parsed YAML, unvalidated: narrowed where read."""
    stages = lock.get("stages") if isinstance(lock, dict) else None
    if not isinstance(stages, dict):
        raise UsageError(f"{where}: no stages: run the pipeline (dvc repro) and commit dvc.lock")
    wanted = _norm(model_path)
    best: tuple[int, str, str, Mapping[str, object]] | None = None
    for stage_name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        wdir = (wdirs or {}).get(str(stage_name), base)
        for out in stage.get("outs") or []:
            if not isinstance(out, dict) or "path" not in out:
                continue
            path = _norm(posixpath.join(wdir, str(out["path"])) if wdir else str(out["path"]))
            # The most specific out wins when outs are nested.
            if (wanted == path or wanted.startswith(path + "/")) and (best is None or len(path) > best[0]):
                best = (len(path), str(stage_name), path, out)
    if best is None:
        raise UsageError(f"{where}: no stage output is or contains {model_path} (deploy.model.path)")
    _, stage_name, out_path, out = best
    digest = _entry_hash(out)
    if not digest:
        raise UsageError(
            f"{where}: output {out_path} of stage {stage_name} has no md5 (run dvc repro and commit)"
        )
    if not _HASH.fullmatch(digest):
        raise UsageError(f"{where}: output {out_path} of stage {stage_name}: {digest!r} is not a hash")
    stage = stages[stage_name]
    deps = {
        str(d["path"]): _entry_hash(d) or "?"
        for d in stage.get("deps") or []
        if isinstance(d, dict) and "path" in d
    }
    from mlops_gitops.metrics.flatten import flatten_params

    params: dict[str, Scalar] = {}
    for file, values in (stage.get("params") or {}).items():
        if isinstance(values, dict):
            # As DVC shows them: `train.C`, never a mapping's repr.
            for key, value in flatten_params(values).items():
                params[f"{file}:{key}"] = value
    return ModelIdentity(
        name=name,
        path=model_path,
        hash=digest.removesuffix(".dir"),
        commit=commit,
        stage=stage_name,
        out=out_path,
        deps=deps,
        params=params,
    )


def render_value(template: str, model: ModelIdentity, env: str) -> str:
    """The environment's ``value`` with its placeholders filled in."""
    values = {
        "model_hash": model.hash,
        "short_hash": model.short_hash,
        "commit": model.commit,
        "short_commit": model.short_commit,
        "model": model.name,
        "env": env,
    }
    try:
        return string.Formatter().vformat(template, (), values)
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"deploy environment {env}: value {template!r}: bad placeholder {exc}") from None


def branch_name(env: str, model: str) -> str:
    return f"mlops/promote/{env}/{model}"


def marker(project: str, env: str, model: str) -> str:
    """Stable part of the hidden marker: finds the PR whatever model version it currently carries."""
    return f"{MARKER_PREFIX} project={project} env={env} model={model}"


def full_marker(project: str, env: str, identity: ModelIdentity) -> str:
    return f"{marker(project, env, identity.name)} hash={identity.hash} commit={identity.commit} -->"


_MARKER_HASH = re.compile(r"<!-- mlops-gitops:promotion [^>]*?\bhash=([0-9a-f]+)")


def marked_hash(body: str | None) -> str | None:
    """The model hash recorded in a promotion PR body's marker."""
    m = _MARKER_HASH.search(body or "")
    return m.group(1) if m else None


def order_problems(
    env: Environment,
    environments: Mapping[str, Environment],
    current: Mapping[str, str | None],
    model: ModelIdentity,
) -> list[str]:
    """Why ``model`` may not go to ``env`` yet: each ``after`` env must already hold its rendered value.

    ``current`` maps an environment name to the value its deployment file holds now (None: unreadable).
    """
    problems = []
    for name in env.after:
        before = environments.get(name)
        if before is None:
            problems.append(f"{env.name} comes after {name}, which is not a deploy environment")
            continue
        expected = render_value(before.value, model, before.name)
        have = current.get(name)
        if have != expected:
            problems.append(
                f"{env.name} only takes a model already in {name}: {before.file} {before.field} is "
                f"{have!r}, not {expected!r} (promote --env {name} first)"
            )
    return problems


def title(env: str, model: ModelIdentity) -> str:
    """The PR title, and the first line of the commit that lands on the deployment branch: through
    :func:`~mlops_gitops.reporters.markup.plain`, so no closing keyword in it closes an issue."""
    return plain(f"Promote {model.name} {model.short_hash} to {env}")


def commit_message(env: str, model: ModelIdentity) -> str:
    """Lands on the default branch when the PR merges, where a closing keyword in it would close an
    issue: every part of it is :func:`~mlops_gitops.reporters.markup.plain`."""
    return f"{title(env, model)}\n\nModel hash {plain(model.hash)} from commit {plain(model.commit)}.\n"


def file_diff(old: str, new: str, path: str) -> str:
    from mlops_gitops.adapters.files import unified_diff

    return unified_diff(path, old, new)


@dataclass(frozen=True)
class Target:
    repo: str
    branch: str
    file: str
    field: str
    document: int
    old: str | None
    new: str


def body(
    project: str,
    env: str,
    model: ModelIdentity,
    target: Target,
    verdict: str,
    failed: list[str],
    report: str | None,
    forced_reason: str | None = None,
    limit: int = GITHUB_BODY_LIMIT,
) -> str:
    """The PR body: hidden marker, what changes, lineage, gate verdict, and the evaluation report.
    Every value from the repository, the deployment file or the command line is in a
    :func:`~mlops_gitops.reporters.markup.code` span or :func:`~mlops_gitops.reporters.markup.text`."""
    document = f" (document {target.document})" if target.document else ""
    lines = [
        full_marker(project, env, model),
        f"## Promote {code(model.name)} to {code(env)}",
        "",
        "| | |",
        "|---|---|",
        f"| Environment | {code(env)} |",
        f"| File | {code(target.repo)}: {code(target.file)} (branch {code(target.branch)}) |",
        f"| Field | {code(target.field)}{document} |",
        f"| Value | {code(str(target.old))} → {code(target.new)} |",
        f"| Model | {code(model.path)} md5 {code(model.hash)} (stage {code(str(model.stage))}) |",
        f"| Commit | {code(model.commit)} |",
        f"| Gates | {'✅ pass' if verdict == 'pass' else '❌ fail'} |",
        "",
    ]
    if forced_reason is not None:
        lines += [
            "> [!WARNING]",
            "> Promoted with `--force` although gates failed.",
            f"> Reason: {text(forced_reason)}",
        ]
        if failed:
            lines += [">", *(f"> - {text(f)}" for f in failed)]
        lines.append("")
    if model.deps or model.params:
        lines += ["<details><summary>Lineage</summary>", ""]
        if model.deps:
            lines += ["| Dependency | md5 |", "|---|---|"]
            lines += [f"| {code(p)} | {code(h)} |" for p, h in sorted(model.deps.items())]
            lines.append("")
        if model.params:
            lines += ["| Param | Value |", "|---|---|"]
            lines += [f"| {code(k)} | {code(str(v))} |" for k, v in sorted(model.params.items())]
            lines.append("")
        lines += ["</details>", ""]
    footer = [
        "---",
        "This pull request is managed by mlops-gitops: a newer model updates it in place. "
        "Pushing your own commit to the branch stops automatic updates; closing it unmerged skips this model.",
    ]
    head = "\n".join(lines)
    tail = "\n" + "\n".join(footer) + "\n"
    if report:
        report_lines = report.splitlines()
        if report_lines and report_lines[0].startswith("<!--"):
            report_lines = report_lines[1:]
        # The report escaped its own repository text; defang again, as a squash merge makes the commit
        # message from this raw body, and the report is the one part not written here.
        section = "\n### Evaluation report\n\n" + defang("\n".join(report_lines).strip()) + "\n"
        room = limit - len(head) - len(tail)
        if len(section) > room:
            note = "\n\n… (report truncated: see the workflow run's job summary)\n"
            section = section[: max(room - len(note), 0)] + note
        head += section
    return head + tail
