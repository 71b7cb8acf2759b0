"""A project's DVC plots at two revisions without DVC: definitions from the pipeline facts, data from
Git objects (or the work tree), as :mod:`mlops_gitops.metrics.collect` reads metrics.

What ``Repo.plots.show`` would collect is rebuilt here, for :func:`mlops_gitops.metrics.plotmatch.match`
(DVC's own converters, without ``dvc.repo``) to turn into the numbers ``dvc plots diff --json`` prints:

* **definitions**: DVC resolved every dvc.yaml once, into the project's facts (``PlotDef``: ids,
  files, x/y, template). They are a commit's definitions when its dvc.yaml files, pointers and config
  are the work tree's (and its params files the same, or unused), or when its fingerprint (what
  resolution reads, :mod:`mlops_gitops.pipeline.fingerprint`, computed from Git objects) is the work
  tree's; else those its committed record (``.mlops/pipelines.yaml``) or the facts memo in ``.git``
  keeps for that fingerprint;
* **data**: every file a definition draws from, both commits' in one batch of the command's
  ``git cat-file``, parsed as DVC parses it (CSV and TSV rows of strings, JSON, YAML through the bomb
  guard, images as bytes); a file whose bytes are the same at both revisions is parsed once.

Whenever that might not be DVC's answer, :class:`NeedsDvc` says why and the caller asks DVC
(:func:`mlops_gitops.metrics.plots.collect`): a plot file Git lacks at a revision whose dvc.lock or
``.dvc`` pointers record a hash of it (DVC's cache may hold it), a folder of plots (DVC lists it), a
dvc.yaml the manifest does not govern (DVC shows its plots too), pipelines that resolve differently
at a revision with no record of them, CSV ``header:`` options, custom templates, a ``.dvcignore`` with
rules, a TOML or Python data file, and a project that is not the DVC repository's root.
"""

from __future__ import annotations

import errno
import io
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from mlops_gitops.adapters.datafiles import parse_file
from mlops_gitops.errors import MetricsFileError
from mlops_gitops.metrics import plotmatch as M
from mlops_gitops.metrics.collect import (
    BLOB,
    MISSING,
    TREE,
    Object,
    Reader,
    Revision,
    cat_objects,
    layout_of,
    list_trees,
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
    (the commit, or ``workspace``), base first; raises :class:`NeedsDvc` when only DVC can tell.

    Everything goes through the command's one ``git cat-file``: both commits' folders are listed
    together (a folder they share, once); their files (those the fingerprint reads, and the plot and
    dvc.lock files the work tree's facts name) are one batch of requests, and a commit whose
    pipelines resolve differently one more."""
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
    trees = _files(project, reader, sides)
    guess = [*sources_of(definitions(project.facts)), *_layout_files(project.facts)]
    fetch(
        [t for t in trees.values() if isinstance(t, RevisionTree)],
        lambda t: [*_read_by_fingerprint(t), *guess],
    )
    facts = {label: facts_at(project, trees[label], rev) for label, rev in sides.items()}
    defs = {label: definitions(found) for label, found in facts.items()}
    wanted = {label: sources_of(found) for label, found in defs.items()}
    fetch([t for t in trees.values() if isinstance(t, RevisionTree)], lambda t: wanted[t.label])
    sources = read_sources(trees, sides, wanted, facts)
    return {label: M.Revision(defs[label], sources[label]) for label in sides}


def sources_of(defs: Mapping[str, Mapping[str, M.Props]]) -> list[str]:
    """Every file the definitions draw from, once, in order."""
    found = (
        src
        for plots in defs.values()
        for pid, props in plots.items()
        for src in M.infer_data_sources(pid, props)
    )
    return list(dict.fromkeys(found))


def _layout_files(facts: RepoFacts) -> list[str]:
    layout = layout_of(facts)
    return [*layout.locks, *layout.pointers]


# --- definitions ------------------------------------------------------------------------------------


def facts_at(project: Project, files: Files, rev: Revision) -> RepoFacts:
    """The pipeline facts of ``rev``: the project's when it resolves as the work tree does (the
    same files, or the same fingerprint), else those its committed record or the facts memo keeps
    for its fingerprint."""
    if isinstance(files, RevisionTree):
        listed = files.listing
        if _same_as_work_tree(project, files):
            facts = project.facts
        else:
            dvcfiles = [p for p in listed if posixpath.basename(p) == DVC_FILE]
            print_ = fp.fingerprint(project.root, dvcfiles, None, listed, tree=files)
            facts = _recorded(project, files, print_, rev)
    else:
        listed, facts = project.listed, project.facts
    _check_revision(rev, listed, facts, files.read)
    return facts


def _same_as_work_tree(project: Project, tree: RevisionTree) -> bool:
    """Whether the commit's pipelines resolve as the work tree's, told without parsing them: the
    same listing, ``.dvc/config`` and dvc.yaml files, ``.dvc`` pointers that differ at most in their
    hashes, no ``vars`` of their own; and default params files that are the same, or (when no
    dvc.yaml interpolates anything, so no value of theirs is used) that load. Anything else: the
    fingerprint decides."""
    if tree.listing != project.listed:
        return False
    dvcfiles = [p for p in tree.listing if posixpath.basename(p) == DVC_FILE]
    texts = [tree.read(p) or b"" for p in dvcfiles]
    if any(b"vars" in text for text in texts):
        return False  # which files it loads is known only once it is parsed
    work = WorkspaceFiles(project.root)
    same = (".dvc/config", *dvcfiles)
    if any(tree.read(p) != work.read(p) for p in same):
        return False
    pointers = (p for p in tree.listing if p.endswith(".dvc"))
    if any(fp.pointer_structure(tree.read(p)) != fp.pointer_structure(work.read(p)) for p in pointers):
        return False
    differ = [p for p in _default_params(dvcfiles) if tree.read(p) != work.read(p)]
    if differ and any(b"${" in text for text in texts):
        return False
    # DVC loads a dvc.yaml's default params file before anything else, and fails if it does not load.
    return all(_loads(p, tree.read(p), tree.rev) for p in differ)


def _loads(path: str, blob: bytes | None, rev: Revision) -> bool:
    if blob is None:
        return True  # absent: nothing is loaded
    try:
        parse_file(blob, path, rev.label)
    except MetricsFileError:
        return False
    return True


def _default_params(dvcfiles: Iterable[str]) -> list[str]:
    return [posixpath.normpath(posixpath.join(posixpath.dirname(p), fp.DEFAULT_PARAMS)) for p in dvcfiles]


def _read_by_fingerprint(tree: RevisionTree) -> list[str]:
    """What the fingerprint and the checks read at the commit (but ``vars`` files of their own)."""
    dvcfiles = [p for p in tree.listing if posixpath.basename(p) == DVC_FILE]
    return [".dvc/config", *tree.listing, *_default_params(dvcfiles), RECORD_FILE, DVCIGNORE]


def _recorded(project: Project, tree: RevisionTree, print_: str, rev: Revision) -> RepoFacts:
    """The facts for ``print_``: the work tree's, the revision's record's, or the memo's."""
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


def listings(reader: Reader, shas: Sequence[str]) -> list[tuple[str, ...]]:
    """Every dvc.yaml and ``.dvc`` file at each commit of ``shas``, relative to the project, sorted
    (what :func:`mlops_gitops.pipeline.fingerprint.listing` gives for the work tree); the commits'
    trees read together, each shared folder once."""
    specs = [f"{sha}:{reader.prefix}" if reader.prefix else f"{sha}^{{tree}}" for sha in shas]
    return [
        tuple(sorted(n for n in names or () if posixpath.basename(n) == DVC_FILE or n.endswith(".dvc")))
        for names in list_trees(reader.top, specs)
    ]


class RevisionTree(fp.WorkTree):
    """The repository at a commit: its listing, and its files read from Git in batches
    (:func:`fetch`), as the fingerprint reads a work tree."""

    __slots__ = ("_objects", "_reader", "label", "rev", "top")

    def __init__(self, reader: Reader, rev: Revision, listed: Iterable[str]) -> None:
        super().__init__(reader.root, listed)
        self._reader = reader
        self.top = reader.top
        self.rev = rev
        self.label = rev.sha or WORKSPACE
        self._objects: dict[str, Object] = {}

    def spec(self, path: str) -> str:
        return f"{self.rev.sha}:{self._reader.git_path(path)}"

    def missing(self, paths: Iterable[str]) -> list[str]:
        return [p for p in dict.fromkeys(paths) if p not in self._objects]

    def store(self, path: str, found: Object) -> None:
        self._objects[path] = found

    def object(self, path: str) -> Object:
        if path not in self._objects:
            fetch([self], lambda _: [path])
        return self._objects[path]

    def read(self, path: str) -> bytes | None:
        kind, blob = self.object(path)
        return blob if kind == BLOB else None


class WorkspaceFiles:
    """The work tree's files, as :class:`RevisionTree` gives a commit's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = WORKSPACE

    def object(self, path: str) -> Object:
        file = self.root / path
        if file.is_dir():
            return TREE, None
        try:
            return BLOB, file.read_bytes()
        except OSError:  # missing, or unreadable: DVC could not read it either
            return MISSING, None

    def read(self, path: str) -> bytes | None:
        kind, blob = self.object(path)
        return blob if kind == BLOB else None


Files = RevisionTree | WorkspaceFiles


def _files(project: Project, reader: Reader, sides: Mapping[str, Revision]) -> dict[str, Files]:
    commits = {label: rev.sha for label, rev in sides.items() if rev.sha is not None}
    listed = dict(zip(commits, listings(reader, list(commits.values())), strict=True))
    return {
        label: RevisionTree(reader, rev, listed[label]) if rev.sha else WorkspaceFiles(project.root)
        for label, rev in sides.items()
    }


def fetch(trees: Iterable[RevisionTree], paths: Callable[[RevisionTree], Iterable[str]]) -> None:
    """Read ``paths(tree)`` of every tree not read yet, all commits in one ``git cat-file``."""
    todo = [(tree, path) for tree in trees for path in tree.missing(paths(tree))]
    if not todo:
        return
    found = cat_objects(todo[0][0].top, (tree.spec(path) for tree, path in todo))
    for (tree, path), got in zip(todo, found, strict=True):
        tree.store(path, got)


def read_sources(
    trees: Mapping[str, Files],
    sides: Mapping[str, Revision],
    wanted: Mapping[str, list[str]],
    facts: Mapping[str, RepoFacts],
) -> dict[str, dict[str, M.Source]]:
    """Every wanted file at its revision, parsed as DVC parses it; a file with the same bytes at
    both revisions is parsed once."""
    parsed: dict[tuple[str, bytes], M.Source] = {}
    out: dict[str, dict[str, M.Source]] = {}
    for label, rev in sides.items():
        files = trees[label]
        found: dict[str, M.Source] = {}
        missing: list[str] = []
        for path in wanted[label]:
            kind, blob = files.object(path)
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
            _not_in_dvc(files, rev, facts[label], missing)
        out[label] = found
    return out


def _not_in_dvc(files: Files, rev: Revision, facts: RepoFacts, paths: list[str]) -> None:
    """Raise :class:`NeedsDvc` when DVC may hold one of ``paths``, which Git lacks at ``rev``: the
    revision's dvc.lock or a ``.dvc`` pointer records a hash of it or of a folder holding it (an
    uncached output too: DVC 3 can keep those in its cache, and `push-runs` pushes them)."""
    layout = layout_of(facts)
    blobs = {path: files.read(path) for path in [*layout.locks, *layout.pointers]}
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
        return M.read_table(text, "\t" if extension == ".tsv" else ",")
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
