"""Generated files: the header that marks them, planning against the tree, and the atomic write.

The core renders ``{path: text}``; this module compares that with the files on disk and decides, per
file, create / update / unchanged / conflict (edited by hand) / remove, then writes everything or nothing.
It is the only module that writes generated files.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlops_gitops import __version__
from mlops_gitops.adapters.atomic import stage
from mlops_gitops.names import GENERATED_PREFIX, WORKFLOWS_DIR

HASH_LINE = re.compile(r"^# mlops-gitops: sha256=(?P<digest>[0-9a-f]{64})(?: managed=(?P<managed>\S*))?\s*$")
VERSION_IN_HEADER = re.compile(r"mlops-gitops (?P<version>\S+) from mlops\.yaml")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def header(sha: str, *, managed: str | None = None, intro: Iterable[str] = ()) -> str:
    """The comment block every generated file starts with; ``sha`` covers the generated content."""
    lines = list(intro) or [
        f"{GENERATED_PREFIX} {__version__} from mlops.yaml. Do not edit by hand: change mlops.yaml,",
        "# then run `mlops-gitops generate` (`mlops-gitops generate --check` verifies this file is current).",
    ]
    lines.append(f"# mlops-gitops: sha256={sha}" + (f" managed={managed}" if managed is not None else ""))
    return "\n".join(lines) + "\n"


def unified_diff(path: str, old: str | None, new: str | None) -> str:
    """The change of ``path`` from ``old`` to ``new`` as ``git diff`` shows it and ``git apply`` reads
    it (None: the file does not exist on that side)."""
    import difflib  # only when a difference is shown

    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"a/{path}" if old is not None else "/dev/null",
        tofile=f"b/{path}" if new is not None else "/dev/null",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


@dataclass(frozen=True)
class Header:
    """What a file's header says; ``body`` is the text after it."""

    digest: str
    managed: str | None
    version: str | None
    body: str


def parse_header(text: str) -> Header | None:
    """Our header if ``text`` starts with one (the leading comment block ends with the hash line)."""
    lines = text.splitlines(keepends=True)
    version = None
    for index, line in enumerate(lines[:12]):
        if not line.startswith("#"):
            return None
        found = VERSION_IN_HEADER.search(line)
        if found and version is None:
            version = found.group("version")
        match = HASH_LINE.match(line)
        if match:
            return Header(match.group("digest"), match.group("managed"), version, "".join(lines[index + 1 :]))
    return None


# The check stamp (``generation.stamp``): one line of a header, before its hash line, saying what the
# file set was generated from, so that ``generate --check`` can answer by hashing. No hash covers it
# and no comparison of generated files reads it: a stale or missing stamp only costs speed.
STAMP_PREFIX = "# mlops-gitops check: "


def _split_stamp(text: str) -> tuple[str, str | None, str]:
    """(text before the stamp line, the stamp's JSON, text after it); the middle is None without one."""
    parsed = parse_header(text)
    if parsed is None:
        return text, None, ""
    head = text[: len(text) - len(parsed.body)]
    start = head.find(STAMP_PREFIX)
    if start < 0 or (start and head[start - 1] != "\n"):
        return text, None, ""
    end = head.index("\n", start) + 1  # the hash line follows it: there is a newline
    return text[:start], head[start + len(STAMP_PREFIX) : end - 1], text[end:]


def stamp_of(text: str | None) -> dict[str, object] | None:
    """The stamp in ``text``'s header (a JSON object), None when there is none or it does not parse."""
    if text is None:
        return None
    import json

    raw = _split_stamp(text)[1]
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def without_stamp(text: str) -> str:
    """``text`` without its stamp line: what the stamp itself hashes of the file that holds it."""
    before, raw, after = _split_stamp(text)
    return text if raw is None else before + after


def with_stamp(text: str, stamp: dict[str, object]) -> str:
    """``text`` (a file with a header) carrying ``stamp`` as the line before its hash line."""
    import json

    text = without_stamp(text)
    parsed = parse_header(text)
    if parsed is None:
        raise ValueError("a stamp goes in a header: this text has none")
    head = text[: len(text) - len(parsed.body)]
    hash_line = head.rstrip("\n").rsplit("\n", 1)[-1]
    at = len(head) - len(hash_line) - (1 if head.endswith("\n") else 0)
    # ensure_ascii: no character a line splitter reads as a line break can reach the line.
    line = STAMP_PREFIX + json.dumps(stamp, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"
    return text[:at] + line + text[at:]


def body_digest(body: str) -> str:
    """What a whole-file header records: the hash of ``body`` with each action pin's SHA and version
    comment normalized (``render.pins.normalize``), so a pin that Dependabot or Renovate moves to
    another commit of the same action is not an edit. Every other byte counts; a body without pins
    hashes as :func:`digest` does."""
    from mlops_gitops.adapters.pins import normalize  # not at import: mlops_gitops.render imports us

    return digest(normalize(body))


def with_header(body: str) -> str:
    """A whole generated file: header hashing ``body`` (pins normalized), then ``body``."""
    return header(body_digest(body)) + body


def is_edited(text: str) -> bool:
    """True when a whole-file generated text no longer matches the hash in its header. Headers written
    before pins were normalized hash the exact body: those still validate."""
    parsed = parse_header(text)
    return parsed is not None and parsed.digest not in (body_digest(parsed.body), digest(parsed.body))


@dataclass(frozen=True)
class Rendered:
    """One file the manifest produces. ``edited`` tells whether the current on-disk text was hand-edited
    (None: the file has no header of ours); it differs for dvc.yaml, where only managed stages count."""

    path: str
    text: str
    edited: Callable[[str], bool | None] = field(
        default=lambda old: None if parse_header(old) is None else is_edited(old)
    )


@dataclass(frozen=True)
class Action:
    path: str
    op: str  # create | update | unchanged | conflict | remove | keep
    old: str | None
    new: str | None
    reason: str = ""

    def diff(self) -> str:
        return unified_diff(self.path, self.old, self.new)


@dataclass
class Plan:
    actions: list[Action]

    def by_op(self, *ops: str) -> list[Action]:
        return [a for a in self.actions if a.op in ops]

    @property
    def conflicts(self) -> list[Action]:
        return self.by_op("conflict")

    @property
    def writes(self) -> list[Action]:
        return self.by_op("create", "update", "remove")


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def keep_pins(root: Path, rendered: list[Rendered]) -> list[Rendered]:
    """``rendered`` with each workflow carrying the action pins that Dependabot or Renovate moved in
    its copy on disk, where ``render.pins.choose`` keeps them over the tool's table. Pins are read
    only from a file of ours whose header still validates (so a hand-edited file is compared with the
    table, as before), and nothing of that file but a 40-hex SHA and a version token is copied."""
    from mlops_gitops.adapters.pins import keep

    out: list[Rendered] = []
    for item in rendered:
        old = read_text(root / item.path) if item.path.startswith(f"{WORKFLOWS_DIR}/") else None
        theirs = parse_header(old) if old is not None else None
        ours = parse_header(item.text)
        if old is None or theirs is None or ours is None or is_edited(old):
            out.append(item)
            continue
        body = keep(ours.body, theirs.body)
        head = item.text[: len(item.text) - len(ours.body)]  # its hash does not cover pins: unchanged
        out.append(item if body == ours.body else replace(item, text=head + body))
    return out


def plan(root: Path, rendered: list[Rendered], *, force: bool = False) -> Plan:
    """Compare the rendered files with the tree. Hand-edited files are conflicts unless ``force``."""
    actions: list[Action] = []
    wanted = {r.path for r in rendered}
    for item in rendered:
        old = read_text(root / item.path)
        if old is None:
            actions.append(Action(item.path, "create", None, item.text))
        elif old == item.text:
            actions.append(Action(item.path, "unchanged", old, item.text))
        else:
            edited = item.edited(old)
            if edited is None and not force:
                actions.append(
                    Action(
                        item.path, "conflict", old, item.text, "exists and was not generated by mlops-gitops"
                    )
                )
            elif edited and not force:
                actions.append(Action(item.path, "conflict", old, item.text, "was edited by hand"))
            else:
                actions.append(Action(item.path, "update", old, item.text))
    workflows = root / WORKFLOWS_DIR
    if workflows.is_dir():
        for path in sorted(workflows.iterdir()):
            rel = f"{WORKFLOWS_DIR}/{path.name}"
            if rel in wanted or path.suffix not in (".yml", ".yaml") or not path.is_file():
                continue
            old = read_text(path) or ""
            if parse_header(old) is None:
                continue  # not ours: never touched
            if is_edited(old) and not force:
                actions.append(
                    Action(rel, "keep", old, None, "no longer generated, but edited by hand: left in place")
                )
            else:
                actions.append(Action(rel, "remove", old, None, "no longer produced by mlops.yaml"))
    return Plan(actions)


def apply(root: Path, the_plan: Plan) -> None:
    """Write every create/update/remove, or nothing: stage all new contents in temp files next to their
    targets first, then rename; if anything fails, restore what was already replaced."""
    staged: list[tuple[Action, Path, Path | None]] = []
    try:
        for action in the_plan.writes:
            target = root / action.path
            staged.append(
                (action, target, None if action.op == "remove" else stage(target, action.new or ""))
            )
    except BaseException:
        for _, _, tmp_path in staged:
            if tmp_path is not None:
                tmp_path.unlink(missing_ok=True)
        raise
    done: list[tuple[Action, Path]] = []
    try:
        for action, target, tmp_path in staged:
            if tmp_path is None:
                target.unlink()
            else:
                os.replace(tmp_path, target)
            done.append((action, target))
    except BaseException:
        for action, target in reversed(done):
            if action.old is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(action.old, encoding="utf-8")
        for _, _, tmp_path in staged:
            if tmp_path is not None:
                tmp_path.unlink(missing_ok=True)
        raise
