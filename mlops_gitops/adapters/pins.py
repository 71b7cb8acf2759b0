"""Action pins that Dependabot or Renovate move in generated workflows (pure: text in, text out).

The templates write every third-party action as one line, ``uses: owner/repo@<40-hex SHA> # vX.Y.Z``
(``render/actions.py``). Dependabot's github-actions updates, and Renovate's
``helpers:pinGitHubActionDigests``, rewrite that SHA and version comment in place, one action per pull
request, every occurrence in the file. This module is what lets such an update stand:

- :func:`normalize` is what a workflow's header hash covers (``files.body_digest``): each pin's SHA
  and comment replaced by a placeholder numbered per distinct value of that action, so moving a pin to
  another SHA of the *same* action is not an edit, while anything else is (another action, a tag or
  branch, a short or uppercase SHA, a comment that is not a version, a changed, added or removed line,
  occurrences of one action that no longer agree).
- :func:`keep` substitutes the pins of the file on disk into freshly rendered text, per action, where
  :func:`choose` prefers them to the tool's table.

The file on disk is untrusted (a pull request can write anything into it): a line is a pin only when
it matches :data:`PIN_LINE` exactly, and nothing of it but the 40-hex SHA and a version token
(``v?N(.N){0,3}``) ever reaches rendered text; the action's name and the line's indentation always
come from the rendered side.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_OWNER = r"[A-Za-z0-9][A-Za-z0-9-]*"  # a GitHub user or organization
_NAME = r"[A-Za-z0-9_.-]+"  # a repository, or a folder of it
VERSION = re.compile(r"v?[0-9]+(?:\.[0-9]+){0,3}", re.ASCII)
# One whole line (without its "\n"), exactly as the templates write a pinned action.
PIN_LINE = re.compile(
    r"(?P<lead>[ ]*(?:-[ ]+)?uses:[ ]+)"
    rf"(?P<action>{_OWNER}/{_NAME}(?:/{_NAME})*)"
    r"@(?P<sha>[0-9a-f]{40})"
    rf"(?:[ ]\#[ ](?P<version>{VERSION.pattern}))?"
    r"(?P<cr>\r?)",
    re.ASCII,
)


@dataclass(frozen=True)
class Pin:
    """One pinned action: ``owner/repo[/path]``, its commit, and the version its comment names."""

    action: str
    sha: str
    version: str | None = None

    @property
    def ref(self) -> str:
        """What follows ``<action>@`` on the line: the SHA, then `` # <version>`` if there is one."""
        return f"{self.sha} # {self.version}" if self.version else self.sha


def _pins(lines: list[str]) -> Iterator[tuple[int, re.Match[str], Pin]]:
    for index, line in enumerate(lines):
        match = PIN_LINE.fullmatch(line)
        if match:
            yield index, match, Pin(match["action"], match["sha"], match["version"])


def parse(text: str) -> list[Pin]:
    """Every well-formed pin of ``text``, in order."""
    return [pin for _, _, pin in _pins(text.split("\n"))]


def agreed(text: str) -> dict[str, Pin]:
    """Per action, its pin when every occurrence in ``text`` has the same one (Dependabot moves them
    all); an action whose occurrences disagree has no entry."""
    found: dict[str, Pin | None] = {}
    for pin in parse(text):
        if pin.action not in found:
            found[pin.action] = pin
        elif found[pin.action] != pin:
            found[pin.action] = None
    return {action: pin for action, pin in found.items() if pin is not None}


def normalize(text: str) -> str:
    """``text`` with each pin's SHA and comment replaced by ``\\0pin N\\0``, N numbering the distinct
    pins of that action in order of appearance: what a generated workflow's header hash covers."""
    lines = text.split("\n")
    seen: dict[str, list[Pin]] = {}
    for index, match, pin in _pins(lines):
        values = seen.setdefault(pin.action, [])
        if pin not in values:
            values.append(pin)
        lines[index] = f"{match['lead']}{pin.action}@\0pin {values.index(pin) + 1}\0{match['cr']}"
    return "\n".join(lines)


def version_key(version: str) -> tuple[int, ...]:
    """``v4`` < ``v4.2`` == ``v4.2.0`` < ``v4.10.1``: numbers compared field by field, missing ones 0."""
    if not VERSION.fullmatch(version):
        raise ValueError(f"not a version: {version!r}")
    return tuple([int(part) for part in version.removeprefix("v").split(".")] + [0, 0, 0])[:4]


def choose(table: Pin, disk: Pin) -> Pin:
    """Which pin a regenerated workflow carries when the tool's table and the file on disk disagree.

    The table's pin wins only when both have a version comment and the table's is strictly higher
    (the tool shipped a newer release than the one Dependabot moved the file to). Otherwise the disk
    pin stays: a higher version, the same version at another SHA (a digest-only update), or a pin
    whose version cannot be compared. A pin of another action never replaces the table's.
    """
    if disk.action != table.action:
        return table
    if table.version and disk.version and version_key(table.version) > version_key(disk.version):
        return table
    return disk


def apply(text: str, chosen: Mapping[str, Pin]) -> str:
    """``text`` with every pin of an action in ``chosen`` moved to that pin's SHA and version; the
    line's indentation and action name are kept from ``text``."""
    lines = text.split("\n")
    for index, match, pin in _pins(lines):
        new = chosen.get(pin.action)
        if new is not None and new.action == pin.action:
            lines[index] = f"{match['lead']}{pin.action}@{new.ref}{match['cr']}"
    return "\n".join(lines)


def overrides(rendered: str, on_disk: str) -> dict[str, Pin]:
    """The pins of ``on_disk`` that :func:`choose` keeps over those ``rendered`` from the table."""
    disk = agreed(on_disk)
    kept: dict[str, Pin] = {}
    for action, table in agreed(rendered).items():
        if action in disk and disk[action] != table and choose(table, disk[action]) == disk[action]:
            kept[action] = disk[action]
    return kept


def keep(rendered: str, on_disk: str) -> str:
    """``rendered`` (a workflow body from the tool's table) with the pins that ``on_disk`` (the body of
    the same workflow as it is in the repository) moved and :func:`choose` keeps."""
    return apply(rendered, overrides(rendered, on_disk))
