"""Read metrics and params files at a revision: from Git objects, the work tree, or the DVC cache.

The usual metrics file is committed to Git (``cache: false``), so it is read with one
``git cat-file --batch`` process and never imports DVC (which costs over half a second). Only a file
that Git does not hold but DVC tracks (an ``outs`` directory, as in DVC's get-started example) is read
through ``dvc.api``, imported inside that path.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import posixpath
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, ClassVar

from mlops_gitops.adapters import git
from mlops_gitops.adapters.datafiles import parse_file
from mlops_gitops.errors import DvcError, MetricsFileError, UsageError, YamlBombError
from mlops_gitops.metrics.flatten import Scalar, flatten_metrics, flatten_params
from mlops_gitops.names import DVC_LOCK

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.pipeline.facts import RepoFacts

WORKSPACE = "workspace"


@dataclass(frozen=True)
class Revision:
    """A revision as the user named it, and the commit it resolved to (None for the work tree)."""

    name: str
    sha: str | None
    subject: str = ""

    @property
    def short(self) -> str:
        return self.sha[:7] if self.sha else WORKSPACE

    @property
    def label(self) -> str:
        if self.sha is None:
            return WORKSPACE
        return self.short if self.name in (self.sha, self.short) else f"{self.name} ({self.short})"


@dataclass
class Snapshot:
    """Everything read at one revision: flattened metrics and params per file, and dvc.lock."""

    revision: Revision
    metrics: dict[str, dict[str, Scalar]] = field(default_factory=dict)
    params: dict[str, dict[str, Scalar]] = field(default_factory=dict)
    locks: dict[str, dict[str, object]] = field(default_factory=dict)  # dvc.lock path -> parsed
    from_dvc: list[str] = field(default_factory=list)
    # Files that exist at this revision but could not be read or parsed: path -> why, in one line.
    unavailable: dict[str, str] = field(default_factory=dict)


_TOPLEVELS: dict[str, tuple[Path, str]] = {}


def git_root_and_prefix(root: Path) -> tuple[Path, str]:
    """The Git top level holding ``root``, and ``root``'s path inside it ('' at the top). Asked of
    git once per folder in a process: ``report`` reads metrics, history and plots from one root."""
    key = str(Path(root).resolve())
    if key in _TOPLEVELS:
        return _TOPLEVELS[key]
    top = git.toplevel(root)
    if top is None:
        raise UsageError(f"{root}: not inside a Git repository; report compares Git revisions")
    rel = Path(key).relative_to(top.resolve()).as_posix()
    _TOPLEVELS[key] = (top, "" if rel == "." else rel)
    return _TOPLEVELS[key]


def resolve_revision(name: str, cwd: Path) -> Revision:
    """Resolve ``name`` to a commit, or explain how to fetch it (shallow clones miss the base)."""
    if name == WORKSPACE:
        return Revision(WORKSPACE, None)
    # The commit and its subject from the command's one `git cat-file --batch` (a process less per
    # revision); git's own errors are told apart below, on the slow path.
    found = CatFile.of(cwd).commit(name) if "\n" not in name else None
    if found is not None:
        return Revision(name, *found)
    resolved = git.resolve(name, cwd)
    if resolved is None:
        if _is_shallow(cwd):
            ref = name.removeprefix("origin/")
            raise UsageError(
                f"revision '{name}' is not in this shallow clone: run `git fetch --unshallow`, or "
                f"`git fetch origin {ref} --depth=50` (actions/checkout: set fetch-depth: 0)"
            )
        raise UsageError(f"unknown revision '{name}': no commit by that name in {cwd}")
    return Revision(name, resolved, git.text(["log", "-1", "--format=%s", resolved], cwd))


def _is_shallow(cwd: Path) -> bool:
    try:
        return git.is_shallow(cwd)
    except UsageError:
        return False


def cat_files(top: Path, specs: Iterable[str]) -> list[bytes | None]:
    """Contents of many ``rev:path`` objects through one ``git cat-file --batch`` (None if missing)."""
    return [body if kind == BLOB else None for kind, body in cat_objects(top, specs)]


BLOB, TREE, MISSING = "blob", "tree", "missing"
Object = tuple[str, bytes | None]  # (BLOB | TREE | MISSING | "commit", the bytes of a blob)


def cat_objects(top: Path, specs: Iterable[str]) -> list[Object]:
    """(kind, contents) of many ``rev:path`` objects: ``blob`` and its bytes, ``tree`` (a folder;
    ``commit`` for a submodule) without its body, or ``missing``. Every call of a command goes to
    the one ``git cat-file --batch`` that command keeps open for the repository (:class:`CatFile`)."""
    specs = list(specs)
    if not specs:
        return []
    if any("\n" in s for s in specs):
        raise UsageError("a path with a newline cannot be read from Git")
    return CatFile.of(top).objects(specs)


class CatFile:
    """A ``git cat-file --batch`` kept open for one repository while a command runs.

    ``report`` reads both revisions' metrics, the base's manifest, the history's metrics, the
    validation result and the plots: each a process of its own cost ~2 ms to start. One process
    answers them all; it reads the object database as it is at each request (a commit made since is
    found). One is kept at a time (a command reads one repository; a test process reads many, one
    after another), and closed at exit."""

    _open: ClassVar[dict[tuple[str, int], CatFile]] = {}
    CHUNK = 32 * 1024  # requests written before the answers are read: less than a pipe holds

    def __init__(self, top: Path) -> None:
        self.proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=top,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    @classmethod
    def of(cls, top: Path) -> CatFile:
        """The open one for ``top``'s repository (a repository made again at the same path is
        another: its ``.git`` is another inode), or a new one."""
        try:
            key = (str(top), os.stat(Path(top) / ".git").st_ino)
        except OSError:
            key = (str(top), -1)
        found = cls._open.get(key)
        if found is not None and found.proc.poll() is None:
            return found
        cls.close_all()
        cls._open[key] = cls(top)
        return cls._open[key]

    @classmethod
    def close_all(cls) -> None:
        for batch in list(cls._open.values()):
            batch.close()
        cls._open.clear()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def commit(self, name: str) -> tuple[str, str] | None:
        """The commit ``name`` resolves to and its subject (``git log --format=%s``: the message's
        first paragraph on one line), or None when it names no commit."""
        ((oid, kind, body),) = self.raw([f"{name}^{{commit}}"])
        if kind != "commit" or body is None:
            return None
        _headers, _, message = body.decode("utf-8", "replace").partition("\n\n")
        return oid, _subject(message)

    def raw(self, specs: list[str]) -> list[tuple[str, str, bytes | None]]:
        """(oid, kind, body) of each object ``specs`` name: any kind, with its body."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        out: list[tuple[str, str, bytes | None]] = []
        try:
            for chunk in _chunks(specs, self.CHUNK):
                # A chunk fits in the pipe, so writing it never waits for git to be read from.
                stdin.write(b"".join(s.encode() + b"\n" for s in chunk))
                stdin.flush()
                out.extend(_read_answer(stdout) for _ in chunk)
        except (OSError, ValueError) as exc:
            CatFile.close_all()
            raise UsageError(f"git cat-file --batch stopped: {exc}") from None
        return out

    def objects(self, specs: list[str]) -> list[Object]:
        # A tree or commit at a path: its body is dropped, it is no file.
        return [(kind, body if kind == BLOB else None) for _oid, kind, body in self.raw(specs)]


atexit.register(CatFile.close_all)


def first_parents(top: Path, sha: str, count: int) -> list[str]:
    """``git log --first-parent -n COUNT --format=%H SHA``: the commit and its first parents, newest
    first, read through the command's ``git cat-file`` (no process). The line ends where a parent is
    not in the repository, as it does at a shallow clone's boundary."""
    batch, at = CatFile.of(top), sha
    found: list[str] = []
    while len(found) < count:
        ((oid, kind, body),) = batch.raw([at])
        if kind != "commit" or body is None:
            break
        found.append(oid)
        parent = next(
            (line[7:] for line in body.split(b"\n\n", 1)[0].split(b"\n") if line.startswith(b"parent ")), None
        )
        if parent is None:
            break
        at = parent.decode("ascii", "replace")
    return found


def list_trees(top: Path, specs: Sequence[str]) -> list[list[str] | None]:
    """What ``git ls-tree -r -z --name-only SPEC`` lists for each folder ``specs`` name (``REV:PATH``,
    or ``REV^{tree}`` for the root): every path below it that is no folder, relative to it; None
    where the spec names no folder. One request per tree level through the command's ``git cat-file
    --batch``, each distinct tree read once: two commits share most of theirs, so listing both costs
    about what listing one does, and no process is started."""
    batch = CatFile.of(top)
    roots = batch.raw(list(specs)) if specs else []
    entries: dict[str, list[tuple[str, bool, str]]] = {}  # tree oid -> (name, is a tree, oid)
    todo = {oid: body for oid, kind, body in roots if kind == TREE and body is not None}
    while todo:
        for oid, body in todo.items():
            entries[oid] = _tree_entries(body, len(oid) // 2)
        wanted = {child for oid in todo for _n, is_tree, child in entries[oid] if is_tree} - entries.keys()
        found = batch.raw(sorted(wanted))
        todo = {oid: body for oid, kind, body in found if kind == TREE and body is not None}
    return [_paths(oid, entries) if kind == TREE else None for oid, kind, _body in roots]


def _tree_entries(body: bytes, size: int) -> list[tuple[str, bool, str]]:
    """A tree object's entries: ``MODE NAME\\0`` then the binary object id of ``size`` bytes."""
    out, at = [], 0
    while at < len(body):
        space = body.index(b" ", at)
        nul = body.index(b"\0", space)
        mode, name = body[at:space], body[space + 1 : nul].decode("utf-8", "replace")
        out.append((name, mode == b"40000", body[nul + 1 : nul + 1 + size].hex()))
        at = nul + 1 + size
    return out


def _paths(root: str, entries: Mapping[str, list[tuple[str, bool, str]]]) -> list[str]:
    out: list[str] = []
    stack = [("", root)]
    while stack:
        prefix, oid = stack.pop()
        for name, is_tree, child in entries.get(oid, ()):
            if is_tree:
                stack.append((f"{prefix}{name}/", child))
            else:
                out.append(prefix + name)
    return out


def _subject(message: str) -> str:
    """``git log --format=%s`` of a commit message, stripped: its first paragraph (blank lines before
    it skipped) on one line, each line's trailing blanks dropped (git's blanks: space, tab, CR)."""
    lines = [line.rstrip(" \t\r") for line in message.split("\n")]
    first = next((i for i, line in enumerate(lines) if line), len(lines))
    paragraph = []
    for line in lines[first:]:
        if not line:
            break
        paragraph.append(line)
    return " ".join(paragraph).strip()


def _chunks(specs: list[str], size: int) -> Iterable[list[str]]:
    chunk: list[str] = []
    length = 0
    for spec in specs:
        request = len(spec.encode()) + 1
        if chunk and length + request > size:
            yield chunk
            chunk, length = [], 0
        chunk.append(spec)
        length += request
    if chunk:
        yield chunk


def _read_answer(stdout: IO[bytes]) -> tuple[str, str, bytes | None]:
    """One answer of ``git cat-file --batch``: ``<oid> <type> <size>`` and the body, or
    ``<request> missing`` (the request may hold spaces: a path)."""
    header = stdout.readline()
    if not header.endswith(b"\n"):
        raise ValueError("no answer")
    header = header[:-1]
    if header.endswith((b" missing", b" ambiguous")):
        return "", MISSING, None
    oid, kind, size = header.rsplit(b" ", 2)
    body = stdout.read(int(size) + 1)
    if len(body) != int(size) + 1:
        raise ValueError("a short answer")
    return oid.decode("ascii", "replace"), kind.decode("ascii", "replace"), body[:-1]


class Reader:
    """Reads project files (paths relative to the manifest's folder) at revisions."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.top, self.prefix = git_root_and_prefix(self.root)

    def git_path(self, path: str) -> str:
        return posixpath.join(self.prefix, path) if self.prefix else path

    def read_many(self, rev: Revision, paths: list[str]) -> dict[str, bytes | None]:
        if rev.sha is None:
            found: dict[str, bytes | None] = {}
            for p in paths:
                file = self.root / p
                found[p] = file.read_bytes() if file.is_file() else None
            return found
        blobs = cat_files(self.top, (f"{rev.sha}:{self.git_path(p)}" for p in paths))
        return dict(zip(paths, blobs, strict=True))

    def read_dvc(self, rev: Revision, path: str) -> bytes:
        """A file that only the DVC cache (or remote) holds, read through DVC's Python API. Whatever
        DVC raises becomes one :class:`~mlops_gitops.errors.DvcError` line here, at the adapter."""
        from mlops_gitops.adapters.dvc import dvc_import_failure, guarded_yaml, remote_failure

        try:
            import dvc.api
            from dvc.exceptions import DvcException
            from dvc_data.index import DataIndexError
        except ImportError as exc:
            why = dvc_import_failure(exc, f"DVC caches it, and reading it at {rev.label}")
            raise DvcError(why or f"DVC failed to import: {exc}") from None

        try:
            # DVC reads the revision's dvc.yaml, dvc.lock and params files itself: guarded here.
            with guarded_yaml(self.root, rev.short if rev.sha else None):
                data: bytes = dvc.api.read(path, repo=str(self.root), rev=rev.sha, mode="rb")
        except ImportError as exc:  # the remote's plugin (dvc-gdrive...) is not installed here
            remote = remote_failure(self.root, exc, rev.sha)
            if remote is None:  # DVC itself, broken by what was installed over it
                raise DvcError(dvc_import_failure(exc) or f"DVC failed: {exc}") from None
            raise DvcError(f"tracked by DVC; reading it at {rev.label} {remote}") from None
        except (DvcException, DataIndexError, OSError, KeyError, ValueError) as exc:
            remote = remote_failure(self.root, exc, rev.sha)
            if remote is not None:
                raise DvcError(f"tracked by DVC; reading it at {rev.label} {remote}") from None
            first = " ".join(str(exc).split())[:240] or type(exc).__name__
            raise DvcError(
                f"tracked by DVC, but neither the cache nor the remote holds it at {rev.label} ({first}); "
                "`dvc fetch` it, or push it from where it was made"
            ) from None
        return data


def tracked_by(path: str, outs: set[str]) -> bool:
    path = posixpath.normpath(path)
    return any(path == out or path.startswith(out.rstrip("/") + "/") for out in outs)


@dataclass(frozen=True)
class Layout:
    """Where DVC keeps things, from the pipeline facts: how to read each dvc.lock's paths (its folder
    and each stage's wdir), the ``.dvc`` pointer files, and the outputs DVC never caches."""

    locks: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # lock -> (base, wdirs)
    pointers: tuple[str, ...] = ()
    uncached: frozenset[str] = frozenset()


def layout_of(facts: RepoFacts) -> Layout:
    """Where the pipelines' dvc.lock files, ``.dvc`` pointers and uncached outputs are."""
    return Layout(
        locks={
            posixpath.join(posixpath.dirname(p.dvcfile), DVC_LOCK): (
                posixpath.dirname(p.dvcfile),
                {s.name: s.wdir for s in p.stages},
            )
            for p in facts.pipelines
        },
        pointers=tuple(t.dvcfile for t in facts.tracked),
        uncached=frozenset(u for s in facts.stages() for u in s.uncached),
    )


@dataclass
class Recorded:
    """What a revision's dvc.lock files and ``.dvc`` pointers record: each lock parsed, the paths DVC
    has a hash of (outputs and dependencies, tracked data; uncached outputs included), and the
    lock files that could not be parsed, with why."""

    locks: dict[str, dict[str, object]] = field(default_factory=dict)
    hashed: set[str] = field(default_factory=set)
    unavailable: dict[str, str] = field(default_factory=dict)


def recorded(blobs: Mapping[str, bytes | None], layout: Layout, where: str) -> Recorded:
    """The dvc.lock files and pointers of ``layout`` among ``blobs`` (read at revision ``where``)."""
    from mlops_gitops.metrics.lineage import lock_hashes

    found = Recorded()
    for lock_file, (base, wdirs) in layout.locks.items():
        text = blobs.get(lock_file)
        if text is None:
            continue
        from mlops_gitops.metrics.dvclock import load as load_lock

        try:
            lock = load_lock(text, lock_file, where)  # the YAML DVC writes, read fast
        except MetricsFileError as exc:
            found.unavailable[lock_file] = str(exc)
            continue
        if isinstance(lock, dict):
            found.locks[lock_file] = lock
            found.hashed.update(lock_hashes(lock, wdirs, base))
    for pointer in layout.pointers:
        text = blobs.get(pointer)
        try:
            body = parse_file(text, pointer, where) if text is not None else None
        except MetricsFileError:
            continue
        for out in (body or {}).get("outs") or [] if isinstance(body, dict) else []:
            if isinstance(out, dict) and out.get("path"):
                found.hashed.add(
                    posixpath.normpath(posixpath.join(posixpath.dirname(pointer), str(out["path"])))
                )
    return found


def snapshot(
    reader: Reader, rev: Revision, metrics_files: list[str], param_files: list[str], layout: Layout
) -> Snapshot:
    """Read metrics, params and the pipelines' dvc.lock files at ``rev`` in one batch. A metrics file
    Git does not hold is read through DVC when DVC caches it *at that revision* (a dvc.lock or ``.dvc``
    file of the revision records an output holding it). Nothing here raises for a file's content:
    what cannot be read is recorded in ``unavailable`` with the reason, so a report is still written."""
    names = list(dict.fromkeys([*metrics_files, *param_files, *layout.locks, *layout.pointers]))
    blobs = reader.read_many(rev, names)
    where = rev.label
    snap = Snapshot(rev)
    found = recorded(blobs, layout, where)
    snap.locks.update(found.locks)
    snap.unavailable.update(found.unavailable)
    cached = found.hashed - layout.uncached
    for path in metrics_files:
        text = blobs.get(path)
        try:
            if text is None:
                if not tracked_by(path, cached):
                    continue
                text = reader.read_dvc(rev, path)
                snap.from_dvc.append(path)
            snap.metrics[path] = flatten_metrics(parse_file(text, path, where))
        except YamlBombError:
            raise  # hostile, not merely unreadable: refused like every YAML bomb
        except UsageError as exc:  # unparseable, or DVC could not provide it
            snap.unavailable[path] = str(exc)
    for path in param_files:
        text = blobs.get(path)
        if text is None:
            continue
        try:
            snap.params[path] = flatten_params(parse_file(text, path, where))
        except MetricsFileError as exc:
            snap.unavailable[path] = str(exc)
    return snap
