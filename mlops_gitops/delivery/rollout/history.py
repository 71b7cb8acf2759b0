"""A rollout's past, read from Git: when the current step started, and which model served before the
rollout began (the file no longer holds it when the candidate replaced the value in place).

The deployment file's commits are read newest first along the first parents of the branch (the
commits that landed on it: a merged pull request's merge commit, at the time it merged), so a step's
start is when its change reached the branch, not when the bot wrote it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mlops_gitops.adapters import git
from mlops_gitops.delivery.rollout.traffic import Slots, State, read_state, slots
from mlops_gitops.errors import UsageError, YamlEditError
from mlops_gitops.manifest.model import Environment
from mlops_gitops.manifest.rollout import Rollout

MAX_COMMITS = 500  # a rollout is a few steps; this many commits of one file is far beyond one


@dataclass(frozen=True)
class Revision:
    """The deployment file at one commit that changed it (``text`` None: the file was removed)."""

    commit: str
    time: dt.datetime
    text: str | None


@dataclass(frozen=True)
class Past:
    """What the history says of the current rollout: the commit that set the current step and when
    it landed, and the value the current model had before the rollout began (None: not needed, or
    no commit before the rollout was found)."""

    step_commit: str
    step_start: dt.datetime
    control: str | None


def local_revisions(root: Path, path: str, rev: str = "HEAD") -> Iterator[Revision]:
    """The commits of ``rev``'s first-parent line that changed ``path`` (repo-relative), newest first."""
    lines = git.text(
        ["log", "--first-parent", f"-n{MAX_COMMITS}", "--format=%H %ct", rev, "--", path], root
    ).splitlines()
    for line in lines:
        commit, _, stamp = line.partition(" ")
        data = git.show(commit, path, root)
        yield Revision(
            commit,
            dt.datetime.fromtimestamp(int(stamp), dt.timezone.utc),
            data.decode("utf-8") if data is not None else None,
        )


def _state(revision: Revision, env: Environment, rollout: Rollout) -> tuple[State | None, Slots | None]:
    if revision.text is None:
        return None, None
    try:
        places = slots(revision.text, env, rollout)
        return read_state(revision.text, env, places), places
    except YamlEditError:
        return None, None  # an older shape of the file that says nothing of this rollout


def past(revisions: Iterable[Revision], env: Environment, rollout: Rollout, current: State) -> Past:
    """The start of ``current``'s step (the oldest of the newest commits that all hold its share and
    candidate) and, for a candidate in place, the value before the rollout (the newest commit
    holding no rollout)."""
    step: Revision | None = None
    control: str | None = None
    in_step = True
    for revision in revisions:
        state, places = _state(revision, env, rollout)
        same = state is not None and (state.share, state.candidate) == (current.share, current.candidate)
        if in_step and same:
            step = revision
            continue
        in_step = False
        if state is None or state.rolling or places is None:
            continue
        if places.in_place:
            assert revision.text is not None
            from mlops_gitops.delivery.rollout.traffic import documents, lookup

            data = documents(revision.text, env.file)[places.control.document]
            control = str(lookup(data, places.control.path))
        break
    if step is None:
        raise UsageError(
            f"{env.file}: no commit in the history sets the current split; is the history complete "
            "(actions/checkout with fetch-depth: 0)?"
        )
    return Past(step.commit, step.time, control)
