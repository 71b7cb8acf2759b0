"""Which changes retrain: the files changed between two revisions matched against the manifest's
trigger paths, with GitHub's ``paths`` filter semantics (:mod:`mlops_gitops.pathfilter`), so the
answer equals what the training workflow's ``on.push.paths`` would do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_gitops import git
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Manifest


@dataclass(frozen=True)
class Changed:
    files: list[str]  # changed files that retrain

    @property
    def retrain(self) -> bool:
        return bool(self.files)


def changed(manifest: Manifest, root: Path, base: str, head: str) -> Changed:
    """The files changed between ``base``'s merge base with ``head`` and ``head`` that retrain."""
    from mlops_gitops.pathfilter import matching

    top = git.toplevel(root)
    if top is None:
        raise UsageError(f"{root}: not inside a git repository")
    for rev in (base, head):
        if git.resolve(rev, top) is None:
            hint = (
                "; this is a shallow clone: fetch the history (actions/checkout with fetch-depth: 0, "
                "or `git fetch --unshallow`)"
                if git.is_shallow(top)
                else ""
            )
            raise UsageError(f"unknown revision '{rev}'{hint}")
    return Changed(matching(git.changed_files(base, head, top), manifest.train_paths))
