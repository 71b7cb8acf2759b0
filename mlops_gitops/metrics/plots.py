"""The project's DVC plots at two revisions, as plain typed data: the numbers ``dvc plots diff BASE
HEAD --json`` reports.

DVC gets them in two steps: ``Repo.plots.show`` per revision (the definitions of every dvc.yaml, and
each plot file read and parsed), then ``dvc.render.match.match_defs_renderers``, which groups the
definitions and turns each plot's files into datapoints. So every plot definition DVC knows is here:
top-level ``plots:`` (several ``y`` columns, several files, an ``x`` from another file), stage plots
with their template, files inside DVC-tracked output directories (read from the cache or the remote
at that revision), CSV, TSV, JSON and YAML data, and images. Values are kept as DVC gives them (CSV
cells are strings); turning them into numbers is the renderer's business
(:mod:`mlops_gitops.reporters.plots`).

Two ways to the same numbers, the cheaper first:

* **from Git** (:mod:`mlops_gitops.metrics.plotgit`, given the project): the definitions DVC already
  resolved into the pipeline facts, the files read from Git objects (or the work tree), turned into
  datapoints by DVC's own converters, imported lazily (:mod:`mlops_gitops.metrics.plotmatch`). No
  ``dvc.repo``, no DVC index: tens of milliseconds rather than a second;
* **through DVC** (imported only then): when a plot file is only in DVC's cache at a revision, or
  anything else only DVC can tell (``plotgit`` says what). Every YAML text DVC parses meanwhile goes
  through the bomb guard (:func:`mlops_gitops.adapters.dvc.guarded_yaml`).

Either way a refused YAML bomb is raised; anything else that keeps a plot from being read becomes a
one-line reason on the plot (or on the whole side), so a report is always written.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from mlops_gitops.errors import UsageError, YamlBombError
from mlops_gitops.metrics.plotmatch import Drawn
from mlops_gitops.metrics.plotmatch import Revision as PlotRevision

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.metrics.collect import Revision
    from mlops_gitops.pipeline.project import Project


Datum = str | int | float | bool | None


# The JSON the report writes (`report --format json`, its `plots` key).
class SeriesJSON(TypedDict):
    file: str
    field: str
    x: list[Datum]
    y: list[Datum]


class ImageSideJSON(TypedDict):
    sha256: str


class SeriesSideJSON(TypedDict):
    series: list[SeriesJSON]


SideJSON = ImageSideJSON | SeriesSideJSON


class PlotJSON(TypedDict):
    id: str
    kind: str
    template: str | None
    title: str
    x: str
    y: str
    x_label: str
    y_label: str
    status: str
    base: SideJSON | None
    head: SideJSON | None
    errors: dict[str, str]


class PlotsJSON(TypedDict):
    plots: list[PlotJSON]
    errors: dict[str, str]
    error: str | None


BASE, HEAD = "base", "head"
SIDES = (BASE, HEAD)

LINE, BAR, CONFUSION, IMAGE = "line", "bar", "confusion", "image"
# DVC's templates by what the report draws for them; a custom template (.dvc/plots/*.json) is a line.
_KINDS = {
    None: LINE,
    "linear": LINE,
    "simple": LINE,
    "smooth": LINE,
    "scatter": LINE,
    "scatter_jitter": LINE,
    "bar_horizontal": BAR,
    "bar_horizontal_sorted": BAR,
    "confusion": CONFUSION,
    "confusion_normalized": CONFUSION,
}
# DVC's name for the x of a plot without one (the row index); it names the x or y field of a plot
# whose files use different columns ``dvc_inferred_x_value`` / ``dvc_inferred_y_value``.
INDEX_FIELD = "step"
INFERRED_PREFIX = "dvc_inferred_"
_REASON_CHARS = 300


@dataclass(frozen=True)
class Series:
    """One (file, y column) of a plot at one revision: its points, in the file's order."""

    file: str
    field: str
    x: tuple[Datum, ...]
    y: tuple[Datum, ...]

    def to_json(self) -> SeriesJSON:
        return {"file": self.file, "field": self.field, "x": list(self.x), "y": list(self.y)}


@dataclass(frozen=True)
class Side:
    """A plot as one revision has it: its series, or for an image, the file's digest (and bytes)."""

    series: tuple[Series, ...] = ()
    digest: str | None = None  # images: sha256 of the file
    data: bytes | None = field(default=None, repr=False, compare=False)  # images only

    def to_json(self) -> SideJSON:
        if self.digest is not None:
            return {"sha256": self.digest}
        return {"series": [s.to_json() for s in self.series]}


@dataclass(frozen=True)
class Plot:
    """One plot as DVC renders it (one per id; one per file for images), at base and head.

    ``x`` and ``y`` name the datapoint fields DVC filled, as ``dvc plots diff --json`` has them
    (``step`` when the plot has no ``x``, ``dvc_inferred_y_value`` when its files use different
    columns: each series names its own); a side is None when the plot has no data there, and
    ``errors`` says why when DVC could not read it.
    """

    id: str
    kind: str  # LINE | BAR | CONFUSION | IMAGE
    template: str | None
    title: str
    x: str = INDEX_FIELD
    y: str = ""
    x_label: str = ""
    y_label: str = ""
    base: Side | None = None
    head: Side | None = None
    errors: Mapping[str, str] = field(default_factory=dict)

    def side(self, name: str) -> Side | None:
        return self.base if name == BASE else self.head

    @property
    def status(self) -> str:
        """``changed`` or ``unchanged``; ``new`` (only at head) or ``removed`` (only at base);
        ``partial`` (one side could not be read, ``errors`` says why); ``unavailable`` (neither)."""
        if self.base is not None and self.head is not None:
            return "unchanged" if self.base == self.head else "changed"
        if self.head is not None:
            return "new" if BASE not in self.errors else "partial"
        if self.base is not None:
            return "removed" if HEAD not in self.errors else "partial"
        return "unavailable"

    def to_json(self) -> PlotJSON:
        return {
            "id": self.id,
            "kind": self.kind,
            "template": self.template,
            "title": self.title,
            "x": self.x,
            "y": self.y,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "status": self.status,
            "base": self.base.to_json() if self.base is not None else None,
            "head": self.head.to_json() if self.head is not None else None,
            "errors": dict(self.errors),
        }


GIT, DVC = "git", "dvc"


@dataclass(frozen=True)
class Plots:
    """Every plot of both revisions, and what kept a whole side (or all of them) from being read."""

    plots: tuple[Plot, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)  # side -> why its plots were not read
    error: str | None = None  # why no plot was read at all (DVC missing, the repository unreadable)
    # How they were read (GIT or DVC), and why DVC had to read them: for tests and the debug log,
    # not for the report (the numbers are the same either way).
    read_by: str = field(default=DVC, compare=False)
    why_dvc: str = field(default="", compare=False)

    def to_json(self) -> PlotsJSON:
        return {
            "plots": [p.to_json() for p in self.plots],
            "errors": dict(self.errors),
            "error": self.error,
        }

    def images(self) -> list[tuple[str, str, bytes]]:
        """(side, path, bytes) of every image, for the workflow to upload."""
        out: list[tuple[str, str, bytes]] = []
        for plot in self.plots:
            for name in SIDES:
                side = plot.side(name)
                if plot.kind == IMAGE and side is not None and side.data is not None:
                    out.append((name, plot.id, side.data))
        return out


def collect(root: Path, base: Revision, head: Revision, project: Project | None = None) -> Plots:
    """Every plot DVC knows at ``base`` and ``head`` (``head.sha`` None: the work tree). Given the
    ``project`` (its pipeline facts), from Git without DVC wherever that gives DVC's answer."""
    why = "no pipeline facts given"
    if project is not None:
        from mlops_gitops.metrics import plotgit

        try:
            drawn = matched(root, plotgit.revisions(project, base, head))
        except plotgit.NeedsDvc as exc:
            why = str(exc)
        else:
            revs = {BASE: base.sha or "workspace", HEAD: head.sha or "workspace"}
            return Plots(tuple(p for d in drawn for p in _plots_of(d, revs, root)), read_by=GIT)
    return replace(_through_dvc(root, base, head), why_dvc=why)


# Plots drawn from Git, kept in .git by what they were drawn from (see `matched`): one file each.
PLOTS_MEMO = "mlops-gitops-plots"
_MEMO_KEEP = 16
_MEMO_CHARS = 4 << 20  # a plot bigger than this as JSON is drawn again each time rather than kept


def matched(root: Path, data: Mapping[str, PlotRevision]) -> list[Drawn]:
    """:func:`~mlops_gitops.metrics.plotmatch.match` of ``data``, remembered in ``root/.git``.

    A commit's plot files never change, so what DVC's converters make of them is kept under a key that
    covers every input: both revisions' definitions and parsed files, this tool and the DVC installed.
    A report run again (the same pull request, another format, a comment re-posted) then imports no
    DVC at all, which is most of its plots' cost. Plots drawn with errors, or whose datapoints JSON
    cannot carry unchanged (a YAML date), are drawn again every time."""
    from mlops_gitops.adapters.memo import GitMemoFolder
    from mlops_gitops.metrics.plotmatch import match

    memo = GitMemoFolder.beside(root, PLOTS_MEMO, _MEMO_KEEP)
    key = _match_key(data) if memo is not None else None
    if memo is None or key is None:
        return match(data)
    kept = memo.recall(key)
    if isinstance(kept, list):
        try:
            return [Drawn.from_json(d) for d in kept]
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # not a memo this tool wrote: draw them again
    drawn = match(data)
    if not any(d.source_errors or d.definition_errors for d in drawn):
        value = [d.to_json() for d in drawn]
        with contextlib.suppress(TypeError, ValueError):
            text = json.dumps(value)
            if len(text) <= _MEMO_CHARS and json.loads(text) == value:
                memo.remember(key, text)
    return drawn


def _match_key(data: Mapping[str, PlotRevision]) -> str | None:
    """The hash of everything :func:`match` reads and is: None when a file could not be read (the
    error is an exception, kept for the report) or no DVC is installed."""
    from mlops_gitops.adapters.memo import dvc_signature
    from mlops_gitops.adapters.resources import tool_signature

    dvc = dvc_signature()
    if dvc is None or any(s.error is not None for r in data.values() for s in r.sources.values()):
        return None
    # repr, not JSON: it tells 1 from "1" and a None key from "null", and bytes (an image) by content.
    inputs = [
        (rev, r.definitions, {path: s.data for path, s in r.sources.items()}) for rev, r in data.items()
    ]
    return hashlib.sha256(repr((tool_signature(), dvc, inputs)).encode("utf-8")).hexdigest()


def _through_dvc(root: Path, base: Revision, head: Revision) -> Plots:
    """Every plot at both revisions, through DVC's plots API (imported here)."""
    from mlops_gitops.adapters.dvc import dvc_import_failure, guarded_yaml

    try:
        from dvc.exceptions import DvcException
        from dvc.render.match import match_defs_renderers
        from dvc.repo import Repo
    except ImportError as exc:
        return Plots(error=dvc_import_failure(exc, "reading the plots") or f"DVC failed to import: {exc}")

    revs = {BASE: base.sha or "workspace", HEAD: head.sha or "workspace"}
    shown = {BASE: base, HEAD: head}
    data: dict[str, object] = {}  # DVC's plots, by revision, as `Repo.plots.show` gives them
    # ImportError: the remote's plugin (dvc-gdrive...) is not installed here.
    failures = (DvcException, OSError, ValueError, KeyError, TypeError, AttributeError, ImportError)
    try:
        with _quiet_dvc(), Repo(str(root)) as repo:
            for side in dict.fromkeys(revs.values()):
                rev = next(shown[s] for s in SIDES if revs[s] == side)
                with guarded_yaml(root, rev.short if rev.sha else None):
                    data.update(repo.plots.show(revs=[side], onerror=_onerror))
            renderers = match_defs_renderers(data, out=None, templates_dir=repo.plots.templates_dir)
    except YamlBombError:
        raise
    except UsageError as exc:
        return Plots(error=_one_line(str(exc), root))
    except failures as exc:
        return Plots(error=_one_line(_describe(exc, root, head.sha), root))
    errors = {
        side: _one_line(_describe(err, root, shown[side].sha), root)
        for side in SIDES
        if isinstance(err := _get(data, revs[side], "definitions", "error"), BaseException)
    }
    drawn = (
        Drawn(
            str(r.renderer.name),
            r.renderer.TYPE == "image",
            dict(r.renderer.properties),
            list(r.renderer.datapoints),
            dict(r.source_errors),
            dict(r.definition_errors),
        )
        for r in renderers
    )
    plots = tuple(p for d in drawn for p in _plots_of(d, revs, root))
    # A side whose plots could not be read at all: every plot it lacks says why, rather than "new".
    plots = tuple(
        replace(p, errors={**{s: errors[s] for s in errors if p.side(s) is None}, **p.errors})
        if any(p.side(s) is None for s in errors)
        else p
        for p in plots
    )
    return Plots(plots, errors)


def _onerror(result: dict[str, object], exception: BaseException, *args: object, **kwargs: object) -> None:
    """DVC's ``onerror_collect``, except that a refused YAML bomb is raised, not recorded."""
    if isinstance(exception, YamlBombError):
        raise exception
    result["error"] = exception


@contextmanager
def _quiet_dvc() -> Iterator[None]:
    """Nothing from DVC on the report's stderr (progress bars, warnings, its "failed to load some
    plots" line, which it prints even as a library): what fails is in the report, on the plot."""
    import logging  # here: the report from Git never needs it (3 ms of imports)

    logger = logging.getLogger("dvc")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def _get(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _describe(exc: BaseException, root: Path | None = None, rev: str | None = None) -> str:
    if root is not None:
        from mlops_gitops.adapters.dvc import dvc_import_failure, remote_failure

        remote = remote_failure(root, exc, rev)
        if remote is not None:
            return f"reading them {remote}"
        broken = dvc_import_failure(exc)
        if broken is not None:
            return broken
    if isinstance(exc, FileNotFoundError):
        return f"no such file{': ' + str(exc.filename) if exc.filename else ''}"
    text = str(exc).strip()
    cause = exc.__cause__
    if cause is not None and str(cause).strip() and str(cause).strip() not in text:
        text = f"{text}: {str(cause).strip()}" if text else str(cause).strip()
    return text or type(exc).__name__


def _one_line(text: str, root: Path) -> str:
    """One line, without the absolute path of the checkout (it says nothing to a reviewer)."""
    for prefix in {str(root.resolve()) + os.sep, str(root) + os.sep}:
        text = text.replace(prefix, "")
    line = " ".join(text.split())
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 3] + "..."


def _plots_of(drawn: Drawn, revs: Mapping[str, str], root: Path) -> list[Plot]:
    """The typed plots of one DVC renderer (a vega plot, or an image with one datapoint per revision)."""
    props = drawn.properties
    errors: dict[str, str] = {}
    for side in SIDES:
        rev = revs[side]
        reasons = [_describe(e) for e in (drawn.source_errors.get(rev) or {}).values()]
        if rev in drawn.definition_errors:
            reasons.append(_describe(drawn.definition_errors[rev]))
        if reasons:
            errors[side] = _one_line("; ".join(dict.fromkeys(reasons)), root)
    name = drawn.name
    if drawn.image:
        sides: dict[str, Side] = {}
        for point in drawn.datapoints:
            blob = _image_bytes(point.get("src"))
            for side in SIDES:
                if point.get("rev") == revs[side] and blob is not None:
                    sides[side] = Side(digest=hashlib.sha256(blob).hexdigest(), data=blob)
        return [
            Plot(
                id=name,
                kind=IMAGE,
                template=None,
                title=str(props.get("title") or name),
                base=sides.get(BASE),
                head=sides.get(HEAD),
                errors=errors,
            )
        ]
    written = props.get("template")
    template = str(written) if written is not None else None
    x, y = str(props.get("x") or INDEX_FIELD), str(props.get("y") or "")
    series: dict[str, dict[tuple[str, str], tuple[list[Datum], list[Datum]]]] = {s: {} for s in SIDES}
    for point in drawn.datapoints:
        key = (str(point.get("filename", "")), str(point.get("field", y)))
        for side in SIDES:
            if point.get("rev") == revs[side]:
                xs, ys = series[side].setdefault(key, ([], []))
                xs.append(_datum(point.get(x)))
                ys.append(_datum(point.get(y)))
    built = {
        side: Side(tuple(Series(f, c, tuple(xs), tuple(ys)) for (f, c), (xs, ys) in found.items()))
        for side, found in series.items()
        if found
    }
    y_label = str(props.get("y_label") or y)
    x_label = str(props.get("x_label") or x)
    return [
        Plot(
            id=name,
            kind=_KINDS.get(template, LINE),
            template=template,
            title=str(props.get("title") or name),
            x=x,
            y=y,
            x_label=x_label,
            y_label=y_label,
            base=built.get(BASE),
            head=built.get(HEAD),
            errors=errors,
        )
    ]


def _datum(value: object) -> Datum:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _image_bytes(src: object) -> bytes | None:
    """The bytes DVC inlined as ``data:image;base64,...`` (``out=None``: nothing written to disk), or
    read from Git (:mod:`mlops_gitops.metrics.plotgit` keeps them as they are)."""
    if isinstance(src, bytes):
        return src
    if not isinstance(src, str) or "," not in src:
        return None
    try:
        import base64

        return base64.b64decode(src.split(",", 1)[1], validate=True)
    except ValueError:
        return None


def write_images(plots: Plots, directory: Path) -> list[str]:
    """Write every image at ``directory/base/<path>`` and ``directory/head/<path>``, for the workflow to
    upload beside the report. A path from the repository that would leave ``directory`` is skipped."""
    from mlops_gitops.adapters.atomic import write_atomic

    written: list[str] = []
    for side, path, blob in plots.images():
        rel = safe_relative(path)
        if rel is None:
            continue
        target = directory / side / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, blob, "plot image")
        written.append(f"{side}/{rel}")
    return written


def safe_relative(path: str) -> str | None:
    """``path`` as a relative POSIX path inside a folder, or None if it is absolute or climbs out."""
    norm = posixpath.normpath(path.replace("\\", "/"))
    if norm.startswith("/") or norm == "." or norm.split("/")[0] == ".." or ":" in norm.split("/")[0]:
        return None
    return norm
