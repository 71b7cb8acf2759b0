"""Who must review a change to the gates and the workflows: the CODEOWNERS entry ``init`` proposes.

``report`` judges a pull request with the gates of its base (a pull request cannot loosen its own), but
a pull request still edits ``mlops.yaml``, ``.mlops/`` and ``.github/`` for what comes after it, and
the workflows in ``.github/`` run from the pull request itself. With a CODEOWNERS entry and the branch
protection "Require review from Code Owners", those changes need their owners' approval.

Owners cannot be guessed, so ``init`` never writes owners it made up: without ``--codeowners`` it
prints the entry with ``@OWNER`` to fill in; with it, it writes ``.github/CODEOWNERS``, and only when
the repository has no CODEOWNERS file in any of the places GitHub reads. An existing file is never
changed; when it gives no owner to those paths, ``init`` says so in one line. Pure, except
:func:`find`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mlops_gitops.names import MANIFEST_FILE

# Where GitHub looks, in its order: the first one found is the one it uses.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
WRITTEN = LOCATIONS[0]
PLACEHOLDER = "@OWNER"
# @user, @org/team, or an e-mail address (GitHub's three kinds of owner).
_OWNER = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9._-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Protected:
    """A path to protect: its CODEOWNERS pattern, how a person names it, and a file it must cover."""

    pattern: str
    name: str
    sample: str


def protected(prefix: str = "") -> list[Protected]:
    """The manifest and the pipeline record (in the project's folder ``prefix`` of the repository), and
    ``.github/`` at the top, which GitHub reads workflows (and this file) from."""
    at = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    return [
        Protected(f"/{at}{MANIFEST_FILE}", f"{at}{MANIFEST_FILE}", f"{at}{MANIFEST_FILE}"),
        Protected(f"/{at}.mlops/", f"{at}.mlops/", f"{at}.mlops/pipelines.yaml"),
        Protected("/.github/", ".github/", ".github/workflows/mlops-pr.yml"),
    ]


def owner_problems(owners: Sequence[str]) -> list[str]:
    """Owners GitHub would not accept (``@user``, ``@org/team`` or an e-mail address)."""
    return [
        f"--codeowners {o!r}: not an owner GitHub accepts (@user, @org/team or an e-mail address)"
        for o in owners
        if not _OWNER.fullmatch(o)
    ]


def entry(owners: Sequence[str], prefix: str = "") -> list[str]:
    """The CODEOWNERS lines, aligned: ``/mlops.yaml  @org/ml-leads``."""
    paths = protected(prefix)
    width = max(len(p.pattern) for p in paths)
    who = " ".join(owners) or PLACEHOLDER
    return [f"{p.pattern.ljust(width)}  {who}" for p in paths]


def file_text(owners: Sequence[str], branch: str, prefix: str = "") -> str:
    """``.github/CODEOWNERS`` as ``init --codeowners`` writes it."""
    head = [
        "# Written by `mlops-gitops init --codeowners`. A change to the gates (mlops.yaml), the pipeline",
        "# record (.mlops/) or the workflows (.github/, this file included) needs one of these owners'",
        f'# approval once the protection of {branch} has "Require review from Code Owners" turned on.',
    ]
    return "\n".join([*head, *entry(owners, prefix)]) + "\n"


# --- reading an existing file ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    pattern: str
    owners: tuple[str, ...]


def parse(text: str) -> list[Rule]:
    """Rules in file order; comments and blank lines skipped, an owner list ends at ``#``."""
    rules: list[Rule] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        owners: list[str] = []
        for part in parts[1:]:
            if part.startswith("#"):
                break
            owners.append(part)
        rules.append(Rule(parts[0], tuple(owners)))
    return rules


@lru_cache(maxsize=128)
def _regex(pattern: str) -> re.Pattern[str]:
    """gitignore-style, as GitHub applies it: a leading or inner ``/`` anchors at the top, else any
    depth; ``*`` stays within a folder, ``**`` crosses them; a name covers what is below it, except
    after a trailing ``*`` (``docs/*`` owns the files of docs/, not deeper)."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out, i = "", 0
    while i < len(body):
        if body.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif body.startswith("**", i):
            out, i = out + ".*", i + 2
        elif body[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif body[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(body[i]), i + 1
    below = "" if body.endswith("*") and not body.endswith("**") else "(?:/.*)?"
    return re.compile(("" if anchored else "(?:.*/)?") + out + below)


def owners_of(rules: Sequence[Rule], path: str) -> tuple[str, ...]:
    """The owners of ``path``: the last matching rule wins (no owners there: nobody's)."""
    for rule in reversed(rules):
        if _regex(rule.pattern).fullmatch(path):
            return rule.owners
    return ()


def uncovered(text: str, paths: Sequence[Protected]) -> list[Protected]:
    rules = parse(text)
    return [p for p in paths if not owners_of(rules, p.sample)]


# --- what init does -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advice:
    """What ``init`` does about CODEOWNERS: a file to write (repository path, text), lines to print,
    and at most one warning."""

    write: tuple[str, str] | None = None
    lines: list[str] = field(default_factory=list)
    warning: str | None = None


def advise(existing: tuple[str, str] | None, owners: Sequence[str], branch: str, prefix: str = "") -> Advice:
    """``existing``: the CODEOWNERS GitHub uses (path, text), or None; ``owners``: ``--codeowners``."""
    paths = protected(prefix)
    names = _join([p.name for p in paths], "or")
    if existing is None and owners:
        return Advice(
            write=(WRITTEN, file_text(owners, branch, prefix)),
            lines=[
                f"wrote {WRITTEN}: a change to {names} needs a review by {' '.join(owners)} once the "
                f'protection of {branch} has "Require review from Code Owners" turned on'
            ],
        )
    if existing is None:
        return Advice(
            lines=[
                f"protect the gates: without CODEOWNERS any reviewer can approve a pull request that "
                f"edits {names} (the gates, and the workflows that run on it). Create {WRITTEN} with "
                f"these lines, {PLACEHOLDER} replaced by who approves such changes (@user or @org/team), "
                f'and turn on "Require review from Code Owners" in the protection of {branch}:',
                *(f"    {line}" for line in entry((), prefix)),
            ]
        )
    where, text = existing
    lines = [f"{where} exists and was not changed (--codeowners)"] if owners else []
    missing = uncovered(text, paths)
    if not missing:
        return Advice(lines=lines)
    who = " ".join(owners) or PLACEHOLDER
    warning = (
        f"warning: {where} gives no owner to {_join([p.name for p in missing], 'and')}, so any reviewer can "
        "approve a change to the gates or the workflows; add "
        + ", ".join(f"`{p.pattern} {who}`" for p in missing)
    )
    return Advice(lines=lines, warning=warning)


def _join(names: list[str], word: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def find(top: Path) -> tuple[str, str] | None:
    """The CODEOWNERS file GitHub uses in the repository at ``top``, and its text."""
    for where in LOCATIONS:
        file = top / where
        if file.is_file():
            try:
                return where, file.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return where, ""
    return None
