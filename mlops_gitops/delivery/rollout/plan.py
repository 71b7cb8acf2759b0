"""What each rollout move does to the deployment file, and the pull request that proposes it. Pure.

Four moves, each a pull request on the environment's one rollout branch:

- ``start`` (from ``promote``): the candidate at the first step's share beside the current model;
- ``advance``: the candidate's share to the next step;
- ``promote``: the candidate becomes the model and the split is removed;
- ``rollback``: the candidate's share to 0 and the candidate removed, the current model everywhere.

In place (KServe's ``canaryTrafficPercent``) the candidate's value replaces the environment's and the
share key exists only during the rollout, so ``promote`` removes the key and ``rollback`` writes the
previous value back and removes it. With a place of its own (KServe's ``spec.canary``, Seldon's
Experiment) the shares go to 0 / all and the candidate's place takes the model that now serves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mlops_gitops.delivery.rollout.traffic import (
    Place,
    Slots,
    State,
    number_text,
    remove_key,
    set_number,
    set_value,
    value_at,
)
from mlops_gitops.reporters.markup import plain

Move = str  # start | advance | promote | rollback
MOVES = ("start", "advance", "promote", "rollback")
MARKER_PREFIX = "<!-- mlops-gitops:rollout"
STATUS_PREFIX = "<!-- mlops-gitops:rollout-status"


@dataclass(frozen=True)
class Edit:
    """One value the move changes, for the pull request to show (None: absent)."""

    place: Place
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Change:
    """A move applied to the deployment file: the new text, what changed, and the share after it
    (None: no rollout in progress any more)."""

    move: Move
    text: str
    edits: tuple[Edit, ...]
    share_before: float | None
    share_after: float | None


class _Edits:
    """The moves' edits, applied one after the other, each remembered with the value it replaced."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source, self.done = text, source, list[Edit]()

    def value(self, place: Place, value: str) -> None:
        old = value_at(self.text, place, self.source)
        self.text = set_value(self.text, place, value, self.source)
        self.done.append(Edit(place, old, value))

    def number(self, place: Place, value: float) -> None:
        old = value_at(self.text, place, self.source)
        self.text = set_number(self.text, place, value, self.source)
        self.done.append(Edit(place, old, number_text(value)))

    def remove(self, place: Place) -> None:
        old = value_at(self.text, place, self.source)
        self.text = remove_key(self.text, place, self.source)
        self.done.append(Edit(place, old, None))

    def shares(self, places: Slots, share: float) -> None:
        self.number(places.share, share)
        if places.control_share is not None:
            self.number(places.control_share, places.scale - share)

    def change(self, move: Move, before: float | None, after: float | None) -> Change:
        return Change(move, self.text, tuple(self.done), before, after)


def start(text: str, places: Slots, state: State, candidate: str, share: float, source: str) -> Change:
    """The candidate at ``share``; the current model keeps the rest."""
    edits = _Edits(text, source)
    edits.value(places.candidate, candidate)
    edits.shares(places, share)
    return edits.change("start", state.share, share)


def advance(text: str, places: Slots, state: State, share: float, source: str) -> Change:
    """The candidate's share to ``share``."""
    edits = _Edits(text, source)
    edits.shares(places, share)
    return edits.change("advance", state.share, share)


def promote(text: str, places: Slots, state: State, source: str) -> Change:
    """All traffic to the candidate, and no split left."""
    assert state.share is not None and state.candidate is not None
    edits = _Edits(text, source)
    if places.in_place:
        edits.remove(places.share)
    else:
        edits.value(places.control, state.candidate)
        edits.shares(places, 0)
    return edits.change("promote", state.share, None)


def rollback(text: str, places: Slots, state: State, control: str, source: str) -> Change:
    """All traffic back to the current model (``control``), and the candidate gone from the file."""
    assert state.share is not None
    edits = _Edits(text, source)
    edits.value(places.candidate, control)
    if places.in_place:
        edits.remove(places.share)
    else:
        edits.shares(places, 0)
    return edits.change("rollback", state.share, None)


# --- the pull request ----------------------------------------------------------------------------


def shown_share(share: float | None, scale: float) -> str:
    """``5%`` for a percentage, ``50/1000`` otherwise; ``0%`` when no rollout is in progress."""
    value = share or 0
    return f"{number_text(value)}%" if scale == 100 else f"{number_text(value)}/{number_text(scale)}"


def branch_name(env: str) -> str:
    """One branch per environment: every move replaces the one before it until it merges."""
    return f"mlops/rollout/{env}"


def marker(project: str, env: str) -> str:
    """The stable part of the PR's hidden marker: the same for every move of this environment."""
    return f"{MARKER_PREFIX} project={project} env={env}"


def status_marker(project: str, env: str) -> str:
    """The first line of the sticky status comment a hold updates."""
    return f"{STATUS_PREFIX} project={project} env={env} -->"


def content_hash(move: Move, share_after: float | None, candidate: str) -> str:
    """What a closed, unmerged PR said no to: this move, to this share, of this candidate."""
    text = f"{move}\0{share_after}\0{candidate}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def title(move: Move, model: str, env: str, candidate_version: str, change: Change, scale: float) -> str:
    """The PR title and first line of its commit, :func:`~mlops_gitops.reporters.markup.plain`."""
    after = shown_share(change.share_after, scale)
    if move == "start":
        text = f"Roll out {model} {candidate_version} to {env}: {after} of traffic"
    elif move == "advance":
        text = f"Roll out {model} {candidate_version} in {env}: {shown_share(change.share_before, scale)} to {after}"
    elif move == "promote":
        text = f"Promote {model} {candidate_version} in {env}: all traffic"
    else:
        text = f"Roll back {model} {candidate_version} in {env}"
    return plain(text)


def commit_message(headline: str, reason: str) -> str:
    """The commit landing on the branch when the PR merges: every part plain (no closing keyword)."""
    return f"{headline}\n\n{plain(reason)}\n"
