"""Whether a repository's pipelines could resolve differently than when their facts were recorded,
decided without DVC.

DVC's parser is the only authority on what a dvc.yaml resolves to, but importing it costs half a
second and the core commands (``generate --check``, ``changed``, ``report``) must run without it. The
facts DVC gave are recorded with a fingerprint of everything resolution reads *structurally*:

* each governed dvc.yaml, parsed, without ``cmd``, ``desc`` and ``meta`` (editing a command changes
  no dependency, so it needs no regeneration);
* the values that ``${...}`` references outside ``cmd`` take in the files ``vars`` loads (the
  default ``params.yaml`` included): changing a learning rate the script reads changes nothing here,
  changing the list a ``foreach`` iterates over does;
* the paths of every dvc.yaml and ``.dvc`` file (a new pipeline, or a new data pointer), and what
  each ``.dvc`` file says apart from hashes (the paths it tracks, where ``dvc import`` and
  ``dvc import-url`` bring its data from): ``dvc add`` or ``dvc update`` of new data changes nothing;
* ``.dvc/config`` (its ``parsing`` options change how ``${}`` renders).

Same fingerprint, same facts. A different fingerprint means the facts must be read again by DVC.

A command takes all of that from the repository once: a :class:`WorkTree` lists it (one ``git
ls-files``), reads each file once and asks git where the work tree's root is once, and is handed down
to whatever needs it (the fingerprint, the project, ``generate``'s memo, ``init``'s detection).

Computing the fingerprint parses YAML (ruamel.yaml is a fifth of a command's start-up). So
``generate`` also records, in the stamp of ``.mlops/pipelines.yaml``, which files the fingerprint read
and a digest of their bytes (:func:`sources_digest`): while those bytes are the same, the record's
fingerprint is the fingerprint, and :func:`verified_sources` says so by hashing alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from mlops_gitops.errors import UsageError, YamlBombError

# Keys of a stage whose text changes nothing DVC resolves into paths.
NOT_STRUCTURAL = frozenset({"cmd", "desc", "meta"})
_REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)")
_SKIP_DIRS = frozenset({".git", ".dvc", ".venv", "venv", "node_modules", "__pycache__", ".mlops"})
DEFAULT_PARAMS = "params.yaml"


def listing(root: Path) -> list[str]:
    """Repo-relative paths of every dvc.yaml and ``.dvc`` file that Git would see (tracked or not,
    ignored files left out, as DVC leaves out git-ignored files)."""
    proc = subprocess.run(
        [
            "git",
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
            "dvc.yaml",
            "*/dvc.yaml",
            "*.dvc",
        ],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if proc.returncode == 0:
        found = {p for p in proc.stdout.decode("utf-8", "replace").split("\0") if p}
        return sorted(p for p in found if (root / p).is_file() and not _skipped(p))
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        rel = os.path.relpath(folder, root)
        for name in files:
            if name == "dvc.yaml" or name.endswith(".dvc"):
                out.append(posixpath.normpath(posixpath.join(rel.replace(os.sep, "/"), name)))
    return sorted(out)


def _skipped(path: str) -> bool:
    return any(part in _SKIP_DIRS for part in path.split("/")[:-1])


class WorkTree:
    """The repository at ``root`` as one command sees it: its :func:`listing`, the bytes of each file
    it reads and the Git work tree's root, each taken on first use and never again. Created at the
    top of a flow and handed down, so the fingerprint, the project and ``generate``'s memo agree on
    one reading (and a file edited halfway through a command is seen as it was first read: the memo
    then records what the answer was computed from, and the next command looks again).

    ``listed``: the listing when the caller already has it. A flow that writes files between two
    steps (``init``'s ``dvc init`` and ``dvc add``) hands the next step a new WorkTree made from the
    listing alone: what is listed does not change, what was read may have.

    A plain class with slots, not a dataclass: it is built on every ``generate --check``, the
    pre-commit hook, where each module's import time counts."""

    __slots__ = ("_listed", "_reads", "_toplevel", "root")

    def __init__(self, root: Path, listed: Iterable[str] | None = None) -> None:
        self.root = root
        self._listed = tuple(listed) if listed is not None else None
        self._toplevel: tuple[Path | None] | None = None
        self._reads: dict[str, bytes | None] = {}

    def __repr__(self) -> str:
        return f"WorkTree({self.root!r})"

    @property
    def listing(self) -> tuple[str, ...]:
        """Every dvc.yaml and ``.dvc`` file Git would see (:func:`listing`), repo-relative, sorted."""
        if self._listed is None:
            self._listed = tuple(listing(self.root))
        return self._listed

    @property
    def toplevel(self) -> Path | None:
        """The Git work tree's root (``git rev-parse --show-toplevel``), None outside a repository."""
        if self._toplevel is None:
            from mlops_gitops.adapters import git

            self._toplevel = (git.toplevel(self.root),)
        return self._toplevel[0]

    def read(self, path: str) -> bytes | None:
        """The bytes of a repo-relative file, None when it is not a readable file."""
        if path not in self._reads:
            try:
                self._reads[path] = (self.root / path).read_bytes()
            except OSError:  # missing, a folder, unreadable: DVC says what is wrong, if it matters
                self._reads[path] = None
        return self._reads[path]

    def sha(self, path: str) -> str:
        """sha256 of a file's bytes (of nothing when it is missing), as the memos key on them."""
        return hashlib.sha256(self.read(path) or b"").hexdigest()


def structure(data: object) -> object:
    """A parsed dvc.yaml without what cannot change a path: stage commands, descriptions, meta."""
    if not isinstance(data, dict):
        return data
    stages = data.get("stages")
    if not isinstance(stages, dict):
        return data
    kept: dict[str, object] = {}
    for name, stage in stages.items():
        if isinstance(stage, dict):
            body = stage.get("do")
            stage = {k: v for k, v in stage.items() if k not in NOT_STRUCTURAL}
            if isinstance(body, dict):
                stage["do"] = {k: v for k, v in body.items() if k not in NOT_STRUCTURAL}
        kept[str(name)] = stage
    return {**data, "stages": kept}


def references(data: object) -> set[str]:
    """Dotted names that ``${...}`` expressions refer to in ``data`` (commands already removed)."""
    found: set[str] = set()
    todo: list[object] = [data]
    while todo:
        node = todo.pop()
        if isinstance(node, str):
            found.update(_REFERENCE.findall(node))
        elif isinstance(node, dict):
            todo.extend(node.keys())
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return {r for r in found if r.split(".")[0] not in ("item", "key", "value")}


# Keys of a `.dvc` file whose values change with the data, not with where it lives or comes from.
_HASH_LINE = re.compile(
    rb"^\s*(md5|etag|checksum|size|nfiles|hash|rev_lock|version_id|isexec|cloud_versioned)\s*:"
)

_ITEM = re.compile(rb"^[\s-]*")


def pointer_structure(raw: bytes | None) -> str | None:
    """A ``.dvc`` file's text without the lines that record hashes (a digest of what remains): the
    paths it tracks and where its data is imported from. Read line by line, not parsed: a repository
    may hold thousands of pointers, and a file that is no YAML still fingerprints by its text."""
    if raw is None:
        return None
    # A list item's dash is blanked: which key DVC writes first in an item changes nothing.
    kept = [_ITEM.sub(lambda m: m.group(0).replace(b"-", b" "), line).rstrip() for line in raw.splitlines()]
    kept = [line for line in kept if not _HASH_LINE.match(line)]
    return hashlib.sha256(b"\n".join(kept)).hexdigest()


def _vars_files(dvcfile: str, data: object) -> list[str]:
    """Files a dvc.yaml's ``vars`` load (top level and per stage), and its default params.yaml."""
    base = posixpath.dirname(dvcfile)
    names = [DEFAULT_PARAMS]
    entries: list[object] = list(data.get("vars") or []) if isinstance(data, dict) else []
    stages = data.get("stages") if isinstance(data, dict) else None
    for stage in (stages or {}).values() if isinstance(stages, dict) else ():
        if isinstance(stage, dict):
            for where in (stage, stage.get("do")):
                if isinstance(where, dict):
                    entries.extend(where.get("vars") or [])
    for entry in entries:
        if isinstance(entry, str):
            names.append(entry.split(":", 1)[0])
    return list(dict.fromkeys(posixpath.normpath(posixpath.join(base, n)) for n in names))


def _dig(data: object, dotted: str) -> object:
    node = data
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return "<absent>"
    return node


def _parse(text: bytes, path: str) -> object:
    from mlops_gitops.adapters.datafiles import parse_file

    return parse_file(text, path, "the work tree")


def fingerprint(
    root: Path,
    dvcfiles: Iterable[str],
    overrides: Mapping[str, str] | None = None,
    listed: Iterable[str] | None = None,
    *,
    tree: WorkTree | None = None,
    reads: list[str] | None = None,
) -> str:
    """The fingerprint of ``dvcfiles`` (repo-relative) under ``root``; ``overrides`` give the text of
    files not yet written (a dvc.yaml ``generate`` is about to write); ``listed`` is :func:`listing`
    when the caller has it already; ``tree``: the command's :class:`WorkTree` (its listing and the
    files it read), else one for this call; ``reads``: where to note each file it reads. A file that
    does not parse is fingerprinted by its bytes: DVC will say what is wrong with it."""
    tree = tree if tree is not None else WorkTree(root)
    given = {p: t.encode("utf-8") for p, t in (overrides or {}).items()}

    def read(path: str) -> bytes | None:
        if reads is not None:
            reads.append(path)
        return given[path] if path in given else tree.read(path)

    names = sorted({*(tree.listing if listed is None else listed), *given})
    parts: dict[str, object] = {"listing": names}
    parts[".dvc/config"] = hashlib.sha256(read(".dvc/config") or b"").hexdigest()
    pointers = [p for p in names if p.endswith(".dvc")]
    if pointers:
        parts["pointers"] = {p: pointer_structure(read(p)) for p in pointers}
    parsed: dict[str, object] = {}  # a params file several dvc.yaml load is parsed once
    for dvcfile in sorted(dvcfiles):
        parts[dvcfile] = _dvcfile_part(dvcfile, read, parsed)
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_UNPARSED = object()


def _dvcfile_part(dvcfile: str, read: Callable[[str], bytes | None], parsed: dict[str, object]) -> object:
    """What a dvc.yaml contributes: its structure and the values its ``${}`` take from its vars
    files; a file that does not parse, its bytes' hash; a missing one, None."""
    raw = read(dvcfile)
    if raw is None:
        return None
    try:
        data = structure(_parse(raw, dvcfile))
    except YamlBombError:
        raise  # refused here, before DVC's own loader would expand it
    except UsageError:
        return hashlib.sha256(raw).hexdigest()
    refs = sorted(references(data))
    values: dict[str, object] = {}
    for vars_file in _vars_files(dvcfile, data):
        blob = read(vars_file)
        if blob is None:
            values[vars_file] = None
            continue
        if vars_file not in parsed:
            try:
                parsed[vars_file] = _parse(blob, vars_file)
            except YamlBombError:
                raise
            except UsageError:
                parsed[vars_file] = _UNPARSED
        loaded = parsed[vars_file]
        if loaded is _UNPARSED:
            values[vars_file] = hashlib.sha256(blob).hexdigest()
        else:
            values[vars_file] = {ref: _dig(loaded, ref) for ref in refs}
    return {"structure": data, "vars": values}


# --- what the fingerprint read, recorded (the record's stamp) -------------------------------------


class Sources:
    """What one fingerprint was computed from: the dvc.yaml files it covers and every file it read
    (params files, pointers, ``.dvc/config``), repo-relative, in reading order."""

    __slots__ = ("dvcfiles", "read")

    def __init__(self, dvcfiles: Iterable[str], read: Iterable[str]) -> None:
        self.dvcfiles = tuple(dvcfiles)
        self.read = tuple(dict.fromkeys(read))


def read_key(path: str, raw: bytes | None) -> str | None:
    """What of a file the fingerprint can see change: a ``.dvc`` pointer's structure (hash lines left
    out, as the fingerprint leaves them out), any other file's bytes; None when it is missing."""
    if raw is None:
        return None
    return "p" + (pointer_structure(raw) or "") if path.endswith(".dvc") else hashlib.sha256(raw).hexdigest()


_TOOL: list[str] = []


def tool_content() -> str:
    """A hash of the running tool's contents: its version and every file of the package and of its
    templates (bytes, by path relative to the package, the templates as ``templates/``, as a wheel
    holds them). Unlike ``resources.tool_signature`` (sizes and mtimes, per machine) it is the same
    on every machine that runs the same tool, so a stamp written on a laptop holds in CI; a local
    edit of the tool changes it. About 3 ms (2.4 MB), once per process."""
    if _TOOL:
        return _TOOL[0]
    from mlops_gitops import __version__
    from mlops_gitops.adapters.resources import PACKAGE_DIR, templates_dir

    found: dict[str, str] = {}
    templates = templates_dir()
    roots = [(str(PACKAGE_DIR), "")]
    if PACKAGE_DIR not in templates.parents:
        roots.append((str(templates), "templates/"))
    while roots:
        folder, prefix = roots.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir():
                    # examples/ (in a wheel) renders nothing; bytecode is not the tool's source.
                    if entry.name != "__pycache__" and rel != "examples":
                        roots.append((entry.path, rel + "/"))
                elif not entry.name.endswith((".pyc", ".pyo")):
                    with open(entry.path, "rb") as handle:
                        found[rel] = hashlib.sha256(handle.read()).hexdigest()
    text = json.dumps([__version__, sorted(found.items())], separators=(",", ":"))
    _TOOL.append(hashlib.sha256(text.encode("utf-8")).hexdigest())
    return _TOOL[0]


def sources_digest(
    tree: WorkTree,
    print_: str,
    sources: Sources,
    listed: Iterable[str],
    overrides: Mapping[str, str] | None = None,
) -> str:
    """A digest binding the fingerprint ``print_`` to everything it was computed from: the tool that
    computed it, the listing, the dvc.yaml files it covers and what each file it read holds
    (``overrides``: texts not yet written, read instead of the files)."""
    given = overrides or {}

    def raw(path: str) -> bytes | None:
        return given[path].encode("utf-8") if path in given else tree.read(path)

    parts = {
        "tool": tool_content(),
        "fingerprint": print_,
        "dvcfiles": list(sources.dvcfiles),
        "listed": sorted(listed),
        "read": [[path, read_key(path, raw(path))] for path in sources.read],
    }
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode("utf-8")).hexdigest()


def verified_sources(
    tree: WorkTree,
    stamp: Mapping[str, object] | None,
    print_: str,
    dvcfiles: Iterable[str],
    listed: Iterable[str],
    overrides: Mapping[str, str] | None = None,
) -> Sources | None:
    """The sources a stamp (:func:`mlops_gitops.adapters.files.stamp_of`) recorded for the
    fingerprint ``print_``, when hashing shows they still hold what they held: then ``print_`` is
    what :func:`fingerprint` would compute for ``dvcfiles``, without parsing a file. None otherwise
    (no stamp, another tool, other dvc.yaml files, a file read then has changed)."""
    recorded = stamp.get("sources") if stamp is not None else None
    if not isinstance(recorded, dict):
        return None
    read, digest, covered = recorded.get("read"), recorded.get("digest"), recorded.get("dvcfiles")
    if not (isinstance(read, list) and isinstance(covered, list) and isinstance(digest, str)):
        return None
    if covered != list(dvcfiles) or not all(isinstance(p, str) for p in read):
        return None
    sources = Sources(covered, read)
    return sources if sources_digest(tree, print_, sources, listed, overrides) == digest else None
