"""Plot definitions matched to plot data across revisions, with DVC's own converters.

``dvc plots diff --json`` does two things: ``Repo.plots.show`` collects, per revision, the
definitions (``{config file: {plot id: props}}``) and the parsed data files, then
``dvc.render.match.match_defs_renderers`` groups the definitions by plot id and converts each plot's
files into datapoints. :mod:`mlops_gitops.metrics.plotgit` rebuilds the first half from Git objects;
this module does the second without importing ``dvc.repo`` (whose import costs more than a report).

* **DVC's, imported** (lazily, inside the functions that need them; ~40 ms in a report, almost all
  of it the ``dvc`` package itself): ``dvc.utils.plots.group_definitions_by_id`` (plot ids in one
  revision), ``dvc.render.converter.vega.VegaConverter`` and ``dvc.render.converter.image.
  ImageConverter`` (datapoints, the inference of ``x`` and ``y``, and the exceptions they raise).
  ``dvc_render`` is not imported (~20 ms): its image suffixes and builtin template names are kept
  here as data, which the tests compare with ``dvc_render``'s.
* **Ours**, written from the behaviour that ``tests/metrics/test_plots_git.py`` compares with DVC's
  field by field: which files a definition draws from, reading CSV/TSV, and gathering one plot's
  definitions of every revision into one :class:`Drawn` (``dvc.render.match`` itself imports
  ``dvc.repo``, so it is not used).

What comes in: :class:`Revision` per revision name (``workspace`` or a commit), in DVC's order (base
first). What goes out: one :class:`Drawn` per plot, the shape of DVC's ``RendererWithErrors``, which
:mod:`mlops_gitops.metrics.plots` turns into typed plots for both paths alike (an image's ``src`` is
the ``data:image;base64,...`` text DVC inlines).
"""

from __future__ import annotations

import csv
import io
from collections import ChainMap, defaultdict
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

Props = dict[str, object]
Point = dict[str, object]

# Two of dvc_render's constants, as data: importing dvc_render costs ~20 ms (it loads every renderer),
# more than the rest of a report's plots. tests/metrics/test_plots_git.py checks they are DVC's.
# ImageRenderer.EXTENSIONS: a plot whose id ends so is an image, one plot per file, read as bytes.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".gif", ".png", ".svg"})
# The DEFAULT_NAME of each of vega_templates.TEMPLATES: the names DVC knows without a template file.
BUILTIN_TEMPLATES = frozenset(
    {
        "linear",
        "simple",
        "smooth",
        "scatter",
        "scatter_jitter",
        "bar_horizontal",
        "bar_horizontal_sorted",
        "confusion",
        "confusion_normalized",
    }
)


class Source:
    """One data file at one revision, as DVC's ``parse`` left it: the parsed content (omitted when
    falsy, as DVC omits it), or why it could not be read. (Plain classes here, not dataclasses:
    each dataclass costs its module's import a few hundred microseconds, on every report.)"""

    __slots__ = ("data", "error")

    def __init__(self, data: object = None, error: BaseException | None = None) -> None:
        self.data = data
        self.error = error


class Revision:
    """What ``Repo.plots.show`` gives for one revision: definitions by config file (a dvc.yaml's
    repo-relative path for top-level ``plots:``, ``""`` for stage outputs), then by plot id, and the
    data files by repo-relative path."""

    __slots__ = ("definitions", "sources")

    def __init__(
        self,
        definitions: dict[str, dict[str, Props]] | None = None,
        sources: dict[str, Source] | None = None,
    ) -> None:
        self.definitions = definitions if definitions is not None else {}
        self.sources = sources if sources is not None else {}


class Drawn:
    """One plot as DVC's matching returns it: the renderer's name, kind, properties and datapoints,
    with the errors of its sources and definitions by revision."""

    __slots__ = ("datapoints", "definition_errors", "image", "name", "properties", "source_errors")

    def __init__(
        self,
        name: str,
        image: bool,
        properties: Props,
        datapoints: list[Point],
        source_errors: dict[str, dict[str, BaseException]],
        definition_errors: dict[str, BaseException],
    ) -> None:
        self.name = name
        self.image = image
        self.properties = properties
        self.datapoints = datapoints
        self.source_errors = source_errors
        self.definition_errors = definition_errors

    def to_json(self) -> dict[str, object]:
        """What a memo keeps of a plot drawn without errors (errors are exceptions: never kept)."""
        return {
            "name": self.name,
            "image": self.image,
            "properties": self.properties,
            "datapoints": self.datapoints,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Drawn:
        """A plot :meth:`to_json` kept; KeyError or TypeError when ``data`` is not one."""
        properties, datapoints = data["properties"], data["datapoints"]
        if not isinstance(properties, dict) or not isinstance(datapoints, list):
            raise TypeError("not a kept plot")
        if not all(isinstance(point, dict) for point in datapoints):
            raise TypeError("not a kept plot's datapoints")
        return cls(str(data["name"]), bool(data["image"]), properties, datapoints, {}, {})


def infer_data_sources(plot_id: str, config: Props | None = None) -> list[str]:
    """The files a definition reads, each once: the keys of a mapping ``y`` (otherwise the plot id
    names the file), then the file named first in a mapping ``x``."""
    y = (config or {}).get("y")
    x = (config or {}).get("x")
    files = [str(name) for name in y] if isinstance(y, dict) else [plot_id]
    if isinstance(x, dict) and x:
        files.append(str(next(iter(x))))
    return list(dict.fromkeys(files))


def read_table(text: str, delimiter: str) -> list[dict[str | None, object]]:
    """A CSV or TSV text as DVC holds it: one dict of strings per row, keyed by the header row."""
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def match(data: Mapping[str, Revision]) -> list[Drawn]:
    """Every plot of every revision with its datapoints, as ``match_defs_renderers(data, out=None)``
    gives them: plots in the order their ids first appear, revisions in the order of ``data``."""
    from dvc.utils.plots import group_definitions_by_id

    by_plot: dict[str, list[tuple[str, str, Props]]] = defaultdict(list)
    for rev, content in data.items():
        wrapped = {config: {"data": plots} for config, plots in content.definitions.items()}
        for plot_id, (written_id, definition) in group_definitions_by_id(wrapped).items():
            by_plot[plot_id].append((rev, written_id, definition))
    return [_drawn(plot_id, found, data) for plot_id, found in by_plot.items()]


def _drawn(plot_id: str, found: list[tuple[str, str, Props]], data: Mapping[str, Revision]) -> Drawn:
    """One plot: each revision's files converted by DVC's converter, with the merged definitions
    (a property the earliest revision sets wins) as the converter's properties."""
    from dvc.render.converter.image import ImageConverter
    from dvc.render.converter.vega import VegaConverter

    merged: Props = dict(ChainMap(*(definition for _, _, definition in found)))
    points: list[Point] = []
    shown: Props = {}
    source_errors: dict[str, dict[str, BaseException]] = {}
    definition_errors: dict[str, BaseException] = {}
    with_points: list[str] = []
    image, name = False, plot_id
    for rev, written_id, definition in found:
        sources = data[rev].sources
        files = [f for f in infer_data_sources(written_id, definition) if f in sources]
        for f in files:
            if (error := sources[f].error) is not None:
                source_errors.setdefault(rev, {})[f] = error
        content = {f: sources[f].data for f in files if sources[f].data}
        image = PurePosixPath(written_id).suffix in IMAGE_EXTENSIONS  # as ImageRenderer.matches
        name = written_id if image else plot_id  # an image is one plot per file
        converter = (ImageConverter if image else VegaConverter)(written_id, content, merged)
        try:
            got, props = converter.flat_datapoints(rev)
        except Exception as exc:  # DVC keeps whatever its converter raised, by revision
            definition_errors[rev] = exc
            continue
        if got and rev not in with_points:
            with_points.append(rev)
        shown = shown or props
        points.extend(got)
    shown.setdefault("title", name)
    if with_points:
        shown["revs_with_datapoints"] = with_points
    return Drawn(name, image, shown, points, source_errors, definition_errors)
