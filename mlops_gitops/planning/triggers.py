"""Which changes retrain which pipelines: the files changed between two revisions matched against
each pipeline's trigger paths, with GitHub's ``paths`` filter semantics (:mod:`mlops_gitops.pipeline.pathfilter`),
so the union equals what the training workflow's ``on.push.paths`` does. A pipeline downstream of one
that retrains (it reads that pipeline's outputs) retrains too.

:func:`plan` goes one level down, for training that fans out over several jobs: in those pipelines,
which stages DVC would run again (:mod:`mlops_gitops.pipeline.stagediff`) and which job runs each
(:mod:`mlops_gitops.pipeline.fanout`).

:func:`changed_pipelines` and :func:`planned_jobs` are the ``changed`` and ``plan`` commands' flows:
from the manifest's path to what the command prints (:class:`Retrain`, :class:`Planned`)."""

from __future__ import annotations

import json
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
    top = _toplevel_of_both(project.root, base, head)
    if top is not None:
        return top
    # One of them is unknown (or odd): ask one question at a time, to say which and why.
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


def _toplevel_of_both(root: Path, base: str, head: str) -> Path | None:
    """The work tree root when both revisions name commits, from one ``git rev-parse`` instead of
    three (each git process is about 2% of the import floor ``changed`` is measured against);
    None when anything is not plainly so."""
    import re
    import subprocess

    if base.startswith("-") or head.startswith("-"):
        return None  # read as options: the careful path refuses them
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel", f"{base}^{{commit}}", f"{head}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.splitlines()
    commit = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
    if proc.returncode != 0 or len(lines) != 3 or not all(commit.fullmatch(x) for x in lines[1:]):
        return None  # a path of that name is echoed back, not resolved: not a commit either
    return Path(lines[0])


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


def _text(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _project(manifest_path: str, base: str | None, every: bool) -> Project:
    """The project of ``manifest_path``, once the revisions are asked for one way: a base, or all."""
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project

    if (base is None) == (not every):
        raise UsageError("give --base REV, or --all")
    return load_project(Path(manifest_path).resolve().parent, load_manifest(manifest_path))


@dataclass(frozen=True)
class Retrain:
    """What ``changed`` prints: the changed files that retrain, each pipeline they hit (with its first
    five reasons), then ``retrain=true|false``; the answer and the pipelines are also step outputs."""

    changed: Changed
    stderr: tuple[str, ...] = ()
    exit_code: int = 0

    @property
    def verdict(self) -> str:
        return "true" if self.changed.retrain else "false"

    @property
    def stdout(self) -> str:
        c = self.changed
        hits = [f"reproduce {p}: {', '.join(c.because[p][:5])}" for p in c.pipelines]
        return _text([*c.files, *hits, f"retrain={self.verdict}"])

    @property
    def outputs(self) -> dict[str, str]:
        return {"retrain": self.verdict, "pipelines": json.dumps(self.changed.pipelines)}


def changed_pipelines(
    manifest_path: str,
    base: str | None,
    head: str = "HEAD",
    every: bool = False,
    targets_file: str | None = None,
) -> Retrain:
    """``changed``: the pipelines the change between ``base`` and ``head`` retrains (every one with
    ``every``); their dvc.yaml files also go to ``targets_file``, NUL-terminated."""
    from mlops_gitops.adapters.atomic import write_atomic

    result = changed(_project(manifest_path, base, every), None if every else base, head)
    if targets_file:
        write_atomic(targets_file, "".join(f"{p}\0" for p in result.pipelines), "targets file")
    return Retrain(result)


@dataclass(frozen=True)
class Planned:
    """What ``plan`` prints: the plan's lines and its step outputs, or (``--entry``) one job's targets."""

    plan: Plan | None
    targets: tuple[str, ...] = ()
    stderr: tuple[str, ...] = ()
    exit_code: int = 0

    @property
    def stdout(self) -> str:
        if self.plan is None:
            return _text([f"dvc repro targets: {' '.join(self.targets)}"])
        return _text(self.plan.lines())

    @property
    def outputs(self) -> dict[str, str]:
        return {} if self.plan is None else self.plan.outputs()


def planned_jobs(
    manifest_path: str,
    base: str | None,
    head: str = "HEAD",
    every: bool = False,
    output: str | None = None,
    entry: str | None = None,
    targets_file: str | None = None,
) -> Planned:
    """``plan``: which changed stage runs in which job (the whole plan also to ``output``, as JSON).
    With ``entry`` (one job of a plan) and ``targets_file``: that job's targets, and no planning."""
    from mlops_gitops.adapters.atomic import write_atomic

    if entry is not None or targets_file is not None:
        if entry is None or targets_file is None or base or every:
            raise UsageError("give --entry JSON and --targets-file FILE together, without --base or --all")
        return job_targets(entry, targets_file)
    result = plan(_project(manifest_path, base, every), None if every else base, head)
    if output:
        write_atomic(output, json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", "plan file")
    return Planned(result)


def job_targets(entry: str, targets_file: str) -> Planned:
    """The ``dvc repro`` targets of one job of a plan, written NUL-terminated to ``targets_file``."""
    from mlops_gitops.adapters.atomic import write_atomic
    from mlops_gitops.pipeline.fanout import PlanError, targets_of

    try:
        targets = targets_of(entry)
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    write_atomic(targets_file, "".join(f"{t}\0" for t in targets), "targets file")
    return Planned(None, targets)
