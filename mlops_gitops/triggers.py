"""Which changes retrain which pipelines: the files changed between two revisions matched against
each pipeline's trigger paths, with GitHub's ``paths`` filter semantics (:mod:`mlops_gitops.pathfilter`),
so the union equals what the training workflow's ``on.push.paths`` does. A pipeline downstream of one
that retrains (it reads that pipeline's outputs) retrains too."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlops_gitops import git
from mlops_gitops.errors import UsageError
from mlops_gitops.project import Project


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
    from mlops_gitops.pathfilter import matching

    every = [p.dvcfile for p in project.pipelines]
    if base is None:
        return Changed([], every, {p: ["(all pipelines)"] for p in every})
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
    files = git.changed_files(base, head, top)
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
