"""A project's DVC plots at two revisions without DVC: definitions from the pipeline facts, data from
Git objects (or the work tree), as :mod:`mlops_gitops.metrics.collect` reads metrics.

What ``Repo.plots.show`` would collect is rebuilt here, for :func:`mlops_gitops.metrics.plotmatch.match`
(DVC's own matching, carried over) to turn into the numbers ``dvc plots diff --json`` prints:

* **definitions**: DVC resolved every dvc.yaml once, into the project's facts (``PlotDef``: ids,
  files, x/y, template). They are a revision's definitions when that revision's fingerprint (what
  resolution reads, :mod:`mlops_gitops.pipeline.fingerprint`, computed from Git objects) is the work
  tree's, or the one its committed record (``.mlops/pipelines.yaml``) or the facts memo in ``.git``
  holds;
* **data**: every file a definition draws from, read in one ``git cat-file --batch`` for both
  commits and parsed as DVC parses it (CSV and TSV rows of strings, JSON, YAML through the bomb
  guard, images as bytes); a file whose bytes are the same at both revisions is parsed once.

Whenever that would not be DVC's answer, :class:`NeedsDvc` says why and the caller asks DVC
(:func:`mlops_gitops.metrics.plots.collect`): a plot file only DVC's cache holds at a revision (inside
a cached output, or tracked by a ``.dvc`` file), a folder of plots (DVC lists it), a dvc.yaml the
manifest does not govern (DVC shows its plots too), pipelines that resolve differently at a revision
with no record of them, CSV ``header:`` options, custom templates, a ``.dvcignore`` with rules, a TOML
or Python data file, and a project that is not the DVC repository's root.
"""

from __future__ import annotations

import errno
import io
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from mlops_gitops.adapters import git
from mlops_gitops.metrics import plotmatch as M
from mlops_gitops.metrics.collect import (
    BLOB,
    MISSING,
    Reader,
    Revision,
    cat_objects,
    layout_of,
    recorded,
    tracked_by,
)
from mlops_gitops.names import DVC_FILE
from mlops_gitops.pipeline import fingerprint as fp
from mlops_gitops.pipeline.facts import PipelineFacts, PlotDef, RepoFacts
from mlops_gitops.pipeline.project import FactsMemo, Project
from mlops_gitops.pipeline.record import RECORD_FILE
from mlops_gitops.pipeline.record import parse as parse_record

WORKSPACE = "workspace"
DVCIGNORE = ".dvcignore"
# A stage plot's `header: false` (CSV without a header row) is no fact: such a project goes to DVC.
_HEADER_OPTION = re.compile(rb"(?m)^[ \t-]*header[ \t]*:")
_PARSED = frozenset({".json", ".yaml", ".yml", ".csv", ".tsv"})
# What DVC's `parse` reads that is not parsed here (tomlkit's types, Python's ast): left to DVC.
_LEFT_TO_DVC = frozenset({".toml", ".py"})


class NeedsDvc(Exception):
    """These plots need DVC's own reading; the message says why (for tests and the debug log)."""


def revisions(project: Project, base: Revision, head: Revision) -> dict[str, M.Revision]:
    """What ``Repo.plots.show(revs=[base])`` and ``([head])`` collect, by DVC's revision name
    (the commit, or ``workspace``), base first; raises :class:`NeedsDvc` when only DVC can tell."""
    root = project.root
    if project.overrides:
        raise NeedsDvc("the root dvc.yaml is not written yet")
    if not (root / ".dvc").is_dir():
        raise NeedsDvc("the project is not the root of a DVC repository")
    if (root / ".dvc" / "plots").exists():
        raise NeedsDvc("the project has plot templates of its own (.dvc/plots)")
    reader = Reader(root)
    sides: dict[str, Revision] = {}
    for rev in (base, head):
        sides.setdefault(rev.sha or WORKSPACE, rev)
    facts = {label: facts_at(project, reader, rev) for label, rev in sides.items()}
    defs = {label: definitions(found) for label, found in facts.items()}
    wanted = {
        label: list(
            dict.fromkeys(
                src
                for plots in found.values()
                for pid, props in plots.items()
                for src in M.infer_data_sources(pid, props)
            )
        )
        for label, found in defs.items()
    }
    sources = read_sources(reader, sides, wanted, facts)
    return {label: M.Revision(defs[label], sources[label]) for label in sides}


# --- definitions ------------------------------------------------------------------------------------


def facts_at(project: Project, reader: Reader, rev: Revision) -> RepoFacts:
    """The pipeline facts of ``rev``: the project's when it resolves as the work tree does (same
    fingerprint), else those its committed record or the facts memo keeps for its fingerprint."""
    read: Callable[[str], bytes | None]
    if rev.sha is None:
        listed, facts = project.listed, project.facts
        read = fp.WorkTree(project.root, listed).read
    else:
        listed = listing(reader, rev.sha)
        tree = RevisionTree(reader, rev, listed)
        dvcfiles = [p for p in listed if posixpath.basename(p) == DVC_FILE]
        params = [posixpath.join(posixpath.dirname(p), fp.DEFAULT_PARAMS) for p in dvcfiles]
        tree.prefetch([*listed, *params, ".dvc/config", RECORD_FILE, DVCIGNORE])
        print_ = fp.fingerprint(project.root, dvcfiles, None, listed, tree=tree)
        facts = _recorded(project, tree, print_, rev)
        read = tree.read
    _check_revision(rev, listed, facts, read)
    return facts


def _recorded(project: Project, tree: RevisionTree, print_: str, rev: Revision) -> RepoFacts:
    if print_ == project.fingerprint:
        return project.facts
    raw = tree.read(RECORD_FILE)
    try:
        record = parse_record(raw.decode("utf-8")) if raw is not None else None
    except UnicodeDecodeError:
        record = None
    if record is not None and record.fingerprint == print_:
        return record.facts
    memo = FactsMemo.beside(project.root)
    remembered = memo.recall(print_) if memo is not None else None
    if remembered is not None:
        return remembered
    raise NeedsDvc(f"the pipelines resolve differently at {rev.label}, and nothing records how")


def _check_revision(
    rev: Revision, listed: Iterable[str], facts: RepoFacts, read: Callable[[str], bytes | None]
) -> None:
    """What DVC would read at ``rev`` that the facts do not hold."""
    dvcfiles = {p for p in listed if posixpath.basename(p) == DVC_FILE}
    if dvcfiles != set(facts.dvcfiles):
        raise NeedsDvc(
            f"at {rev.label}, some dvc.yaml is not governed by the manifest (DVC shows its plots too)"
        )
    ignore = read(DVCIGNORE) or b""
    if any(line.strip() and not line.strip().startswith(b"#") for line in ignore.splitlines()):
        raise NeedsDvc(f"{DVCIGNORE} has rules at {rev.label}")
    for dvcfile in sorted(dvcfiles):
        if _HEADER_OPTION.search(read(dvcfile) or b""):
            raise NeedsDvc(f"{dvcfile} sets a plot's `header` at {rev.label}")


def definitions(facts: RepoFacts) -> dict[str, dict[str, M.Props]]:
    """DVC's plot definitions from the facts: ``{dvc.yaml: {id: props}}`` for top-level ``plots:``
    (a file id made repo-relative, a named plot as written), then ``{"": {output: props}}`` for the
    stages' plot outputs, in the order DVC walks the repository."""
    pipelines = sorted(facts.pipelines, key=lambda p: tuple(_parts(posixpath.dirname(p.dvcfile))))
    result: dict[str, dict[str, M.Props]] = {}
    for pipeline in pipelines:
        resolved = _top_level(pipeline)
        if resolved:
            result[pipeline.dvcfile] = resolved
    outputs = {plot.id: props(plot) for p in pipelines for stage in p.stages for plot in stage.plots}
    if outputs:
        result[""] = outputs
    return result


def _top_level(pipeline: PipelineFacts) -> dict[str, M.Props]:
    written: dict[str, PlotDef] = {}
    for plot in pipeline.plots:  # DVC reads the list into a dict: an id written twice, the last wins
        written[plot.id] = plot
    resolved: dict[str, M.Props] = {}
    for plot in written.values():
        key = plot.id if isinstance(plot.y, Mapping) else plot.files[0]
        if key in resolved:  # DVC merges the two definitions key by key
            raise NeedsDvc(f"{pipeline.dvcfile}: two plots of {key}")
        resolved[key] = props(plot)
    return resolved


def props(plot: PlotDef) -> M.Props:
    """A definition's properties as DVC holds them: only those written, lists as lists."""
    if plot.template is not None and plot.template not in M.BUILTIN_TEMPLATES:
        raise NeedsDvc(f"{plot.id}: template {plot.template!r} is no template DVC ships")
    found: M.Props = {}
    if isinstance(plot.x, Mapping):
        if not plot.x:
            raise NeedsDvc(f"{plot.id}: an empty x")
        found["x"] = dict(plot.x)
    elif plot.x is not None:
        found["x"] = plot.x
    if isinstance(plot.y, Mapping):
        found["y"] = {f: c if isinstance(c, str) else list(c) for f, c in plot.y.items()}
    elif isinstance(plot.y, tuple):
        found["y"] = list(plot.y)
    elif plot.y is not None:
        found["y"] = plot.y
    for key, value in (
        ("template", plot.template),
        ("title", plot.title),
        ("x_label", plot.x_label),
        ("y_label", plot.y_label),
    ):
        if value is not None:
            found[key] = value
    return found


def _parts(path: str) -> list[str]:
    return [] if path in ("", ".") else path.split("/")


# --- a revision's files -----------------------------------------------------------------------------


def listing(reader: Reader, sha: str) -> tuple[str, ...]:
    """Every dvc.yaml and ``.dvc`` file at commit ``sha``, relative to the project, sorted (what
    :func:`mlops_gitops.pipeline.fingerprint.listing` gives for the work tree)."""
    raw = git.run(["ls-tree", "-r", "-z", "--name-only", "--full-tree", sha], reader.top)
    prefix = f"{reader.prefix}/" if reader.prefix else ""
    names = (n[len(prefix) :] for n in raw.decode("utf-8", "replace").split("\0") if n.startswith(prefix))
    return tuple(sorted(n for n in names if n and (posixpath.basename(n) == DVC_FILE or n.endswith(".dvc"))))


class RevisionTree(fp.WorkTree):
    """The repository at a commit, as the fingerprint reads it: its listing and files from Git."""

    __slots__ = ("_blobs", "_reader", "_rev")

    def __init__(self, reader: Reader, rev: Revision, listed: Iterable[str]) -> None:
        super().__init__(reader.root, listed)
        self._reader = reader
        self._rev = rev
        self._blobs: dict[str, bytes | None] = {}

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read ``paths`` in one batch, so the fingerprint's reads cost no process each."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._blobs]
        self._blobs.update(self._reader.read_many(self._rev, todo))

    def read(self, path: str) -> bytes | None:
        if path not in self._blobs:
            self.prefetch([path])
        return self._blobs[path]


def read_sources(
    reader: Reader,
    sides: Mapping[str, Revision],
    wanted: Mapping[str, list[str]],
    facts: Mapping[str, RepoFacts],
) -> dict[str, dict[str, M.Source]]:
    """Every wanted file at its revision, parsed; both commits' files in one ``git cat-file``."""
    specs = [(label, path) for label, rev in sides.items() if rev.sha is not None for path in wanted[label]]
    blobs = cat_objects(reader.top, (f"{sides[label].sha}:{reader.git_path(path)}" for label, path in specs))
    objects = dict(zip(specs, blobs, strict=True))
    parsed: dict[tuple[str, bytes], M.Source] = {}  # a file unchanged between the revisions: parsed once
    out: dict[str, dict[str, M.Source]] = {}
    for label, rev in sides.items():
        found: dict[str, M.Source] = {}
        missing: list[str] = []
        for path in wanted[label]:
            kind, blob = objects[(label, path)] if rev.sha is not None else _from_work_tree(reader.root, path)
            if kind == MISSING:
                missing.append(path)
                found[path] = M.Source(error=FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path))
            elif kind != BLOB or blob is None:
                raise NeedsDvc(f"{path} is a folder at {rev.label}: DVC lists the files inside")
            else:
                key = (path, blob)
                if key not in parsed:
                    parsed[key] = _source(path, blob, f"{path}@{rev.short}" if rev.sha else path)
                found[path] = parsed[key]
        if missing:
            _not_in_dvc(reader, rev, facts[label], missing)
        out[label] = found
    return out


def _from_work_tree(root: Path, path: str) -> tuple[str, bytes | None]:
    file = root / path
    if file.is_dir():
        return "tree", None
    try:
        return BLOB, file.read_bytes()
    except FileNotFoundError:
        return MISSING, None


def _not_in_dvc(reader: Reader, rev: Revision, facts: RepoFacts, paths: list[str]) -> None:
    """Raise :class:`NeedsDvc` when DVC may hold one of ``paths``, which Git lacks at ``rev``: the
    revision's dvc.lock or a ``.dvc`` pointer records a hash of it or of a folder holding it (an
    uncached output too: DVC 3 can keep those in its cache, and `push-runs` pushes them)."""
    layout = layout_of(facts)
    blobs = reader.read_many(rev, [*layout.locks, *layout.pointers])
    hashed = recorded(blobs, layout, rev.label).hashed
    for path in paths:
        if tracked_by(path, hashed):
            raise NeedsDvc(f"{path} is in DVC's cache only, at {rev.label}")


# --- parsing, as dvc.repo.plots.parse ---------------------------------------------------------------


class PlotFileError(Exception):
    """DVC's ParseError, worded as DVC words it (``unable to read: 'PATH', ...``)."""


def _source(path: str, blob: bytes, shown: str) -> M.Source:
    try:
        data = parse(path, blob, shown)
    except PlotFileError as exc:  # an alias bomb is raised (refused), as through DVC
        return M.Source(error=exc)
    return M.Source(data=data if data else None)


def parse(path: str, blob: bytes, shown: str) -> object:
    """A plot file's bytes as DVC's ``parse`` reads them: images as bytes; otherwise text decoded as
    UTF-8 with universal newlines (DVC opens it in text mode), then CSV/TSV rows, JSON or YAML (an
    alias bomb refused, named ``shown``). Raises :class:`PlotFileError` with DVC's wording."""
    extension = os.path.splitext(path)[1]
    if extension in M.IMAGE_EXTENSIONS:
        return blob
    if extension in _LEFT_TO_DVC:
        raise NeedsDvc(f"{path}: DVC parses {extension} files its own way")
    if extension not in _PARSED:
        raise PlotFileError(
            f"'{path}' - file type error\nOnly JSON, YAML, CSV and TSV formats are supported."
        )
    try:
        text = io.TextIOWrapper(io.BytesIO(blob), encoding="utf8").read()
    except UnicodeDecodeError as exc:
        raise _unreadable(path, "is not valid utf8") from exc
    if extension in (".csv", ".tsv"):
        return M.load_sv(text, delimiter="\t" if extension == ".tsv" else ",")
    if extension == ".json":
        try:
            return json.loads(text) or {}
        except json.JSONDecodeError as exc:
            raise _unreadable(path, "JSON file structure is corrupted") from exc
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe

    try:
        return load_safe(text, shown) or {}
    except YAMLError as exc:
        raise _unreadable(path, "YAML file structure is corrupted") from exc


def _unreadable(path: str, message: str) -> PlotFileError:
    """Raised from the parser's error, as DVC raises it: the cause is shown after the message."""
    return PlotFileError(f"unable to read: '{path}', {message}")
