"""Which changes retrain which pipelines: the files changed between two revisions matched against
each pipeline's trigger paths, with GitHub's ``paths`` filter semantics (:mod:`mlops_gitops.pipeline.pathfilter`),
so the union equals what the training workflow's ``on.push.paths`` does. A pipeline downstream of one
that retrains (it reads that pipeline's outputs) retrains too.

:func:`plan` goes one level down, for training that fans out over several jobs: in those pipelines,
which stages DVC would run again (:mod:`mlops_gitops.pipeline.stagediff`) and which job runs each
(:mod:`mlops_gitops.pipeline.fanout`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_gitops.adapters import git
from mlops_gitops.errors import UsageError
from mlops_gitops.names import MANIFEST_FILE
from mlops_gitops.pipeline.project import Project

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.pipeline.fanout import Plan


@dataclass(frozen=True)
class Changed:
    files: list[str]  # changed files that retrain something
    pipelines: list[str]  # dvc.yaml of every pipeline to reproduce, in order
    because: dict[str, list[str]] = field(default_factory=dict)  # pipeline -> changed files that hit it

    @property
    def retrain(self) -> bool:
        return bool(self.pipelines)


def changed(project: Project, base: str | None, head: str = "HEAD") -> Changed:
    """What changed between ``base``'s merge base with ``head`` and ``head``; every pipeline when
    ``base`` is None (a schedule, a dispatch)."""
    every = [p.dvcfile for p in project.pipelines]
    if base is None:
        return Changed([], every, {p: ["(all pipelines)"] for p in every})
    top = checked_revisions(project, base, head)
    return pipelines_hit(project, git.changed_files(base, head, top))


def checked_revisions(project: Project, base: str, head: str) -> Path:
    """The work tree root, once both revisions are known there (else one line saying how to fix it)."""
    top = git.toplevel(project.root)
    if top is None:
        raise UsageError(f"{project.root}: not inside a git repository")
    for rev in (base, head):
        if git.resolve(rev, top) is None:
            hint = (
                "; this is a shallow clone: fetch the history (actions/checkout with fetch-depth: 0, "
                "or `git fetch --unshallow`)"
                if git.is_shallow(top)
                else ""
            )
            raise UsageError(f"unknown revision '{rev}'{hint}")
    return top


def pipelines_hit(project: Project, files: list[str]) -> Changed:
    """The pipelines whose trigger paths ``files`` hit, and those downstream of them."""
    from mlops_gitops.pipeline.pathfilter import matching

    every = [p.dvcfile for p in project.pipelines]
    because: dict[str, list[str]] = {}
    for pipeline in project.pipelines:
        hits = matching(files, project.trigger_paths(pipeline))
        if hits:
            because[pipeline.dvcfile] = hits
    for dvcfile in list(because):
        for down in project.facts.downstream(dvcfile):
            because.setdefault(down, [f"(downstream of {dvcfile})"])
    hit = sorted({f for fs in because.values() for f in fs if not f.startswith("(")})
    return Changed(hit, [p for p in every if p in because], because)


EVERY_STAGE = "every pipeline retrains (a schedule or a dispatch)"


def plan(project: Project, base: str | None, head: str = "HEAD") -> Plan:
    """Which changed stage runs in which job when training fans out (docs/scaling.md): the pipelines
    ``changed`` selects, and in them the stages DVC would run again between ``base``'s merge base
    with ``head`` and ``head`` (every stage when ``base`` is None). Reads Git, never DVC."""
    from mlops_gitops.errors import ManifestError
    from mlops_gitops.pipeline import fanout, stagediff
    from mlops_gitops.pipeline.project import runner_problems

    problems = runner_problems(project)
    if problems:
        raise ManifestError(problems)
    facts = project.facts
    if base is None:
        pipelines = [p.dvcfile for p in project.pipelines]
        stages = stagediff.every_stage(facts, EVERY_STAGE)
    else:
        top = checked_revisions(project, base, head)
        files = git.changed_files(base, head, top)
        pipelines = pipelines_hit(project, files).pipelines
        start = git.merge_base(base, head, top) or base
        contents = {
            path: (git.show(start, path, top), git.show(head, path, top))
            for path in stagediff.needed(facts, files)
        }
        stages = stagediff.changed_stages(facts, files, contents)
    reproduced = set(pipelines)
    chosen = {s.address for p in facts.pipelines if p.dvcfile in reproduced for s in p.stages}
    stages = {a: r for a, r in stages.items() if a in chosen}
    try:
        result = fanout.plan(facts, stages, pipelines, project.fanout_settings(), project.stage_placements())
        result.outputs()  # within GitHub's limit for job outputs, or one line here
        return result
    except fanout.PlanError as exc:
        raise UsageError(f"{MANIFEST_FILE}: fanout: {exc}") from None
