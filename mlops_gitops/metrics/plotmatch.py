"""DVC's matching of plot definitions to plot data, as plain Python over plain data.

``dvc plots diff --json`` (and :func:`mlops_gitops.metrics.plots.collect` through DVC) does two things:
``Repo.plots.show`` collects, per revision, the definitions (``{config file: {plot id: props}}``) and
the parsed data files; ``dvc.render.match.match_defs_renderers`` then groups the definitions by id
across revisions and turns each plot's files into datapoints (``VegaConverter``, ``ImageConverter``).
The second half needs nothing of DVC's repository machinery, so it is carried over here line for line
(DVC 3.x, ``dvc/render/match.py``, ``dvc/render/converter/vega.py`` and ``image.py``,
``dvc/utils/plots.py``, ``dvc/repo/plots/__init__.py:infer_data_sources`` and ``_load_sv``): same
inference of ``x`` and ``y``, same field names, same order, the same exceptions where DVC's own code
raises (a missing field, files of different lengths, data that is no list of records), so that
:mod:`mlops_gitops.metrics.plotgit` can give the numbers DVC gives without importing DVC.

What comes in: :class:`Revision` per revision name (``workspace`` or a commit), in DVC's order (base
first). What goes out: one :class:`Drawn` per plot, the shape of DVC's ``RendererWithErrors``, which
:mod:`mlops_gitops.metrics.plots` turns into typed plots for both paths alike. An image's datapoint
holds the file's bytes under ``src`` (DVC inlines them base64-encoded: the same bytes).
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import cast

# dvc.render: the fields DVC adds to every datapoint.
INDEX, REVISION, FILENAME, FIELD, SRC = "step", "rev", "filename", "field", "src"
INFERRED_X, INFERRED_Y = "dvc_inferred_x_value", "dvc_inferred_y_value"
# dvc_render.ImageRenderer.EXTENSIONS: a plot whose id ends so is an image, one per file.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".gif", ".png", ".svg"})
# dvc_render.vega_templates.TEMPLATES: the names DVC knows without a template file.
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

Props = dict[str, object]
Point = dict[str, object]


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
    """One plot as ``match_defs_renderers`` returns it: the renderer's name, kind, properties and
    datapoints, with the errors of its sources and definitions by revision."""

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


class FieldNotFoundError(Exception):
    """dvc.render.converter.vega.FieldNotFoundError (a DvcException there)."""

    def __init__(self, expected_field: object, found_fields: object) -> None:
        found_str = ", ".join(cast("list[str]", found_fields))
        super().__init__(
            f"Could not find provided field ('{expected_field}') in data fields ('{found_str}')."
        )


class ConversionError(Exception):
    """What DVC raises as a plain DvcException while converting (files of different lengths)."""


def _first(seq: object) -> object:
    """funcy.first: the first item, or None."""
    return next(iter(cast("list[object]", seq)), None)


def _last(seq: object) -> object:
    """funcy.last: the last item, or None."""
    items = list(cast("list[object]", seq))
    return items[-1] if items else None


def _items(mapping: object) -> Iterator[tuple[object, object]]:
    """``mapping.items()``, failing as DVC's code fails on something that is no mapping."""
    if not isinstance(mapping, Mapping):
        raise AttributeError(f"'{type(mapping).__name__}' object has no attribute 'items'")
    yield from mapping.items()


# --- dvc/repo/plots/__init__.py ------------------------------------------------------------------------


def infer_data_sources(plot_id: str, config: Props | None = None) -> list[str]:
    """The files a definition draws from: ``y``'s keys (else the id itself), and ``x``'s first key."""
    y = config.get("y", None) if config else None
    sources = [str(k) for k in y] if isinstance(y, dict) else [plot_id]
    x = config.get("x", None) if config else None
    if isinstance(x, dict) and x:
        sources.append(str(next(iter(x))))
    return list(dict.fromkeys(sources))


def load_sv(content: str, delimiter: str = ",", header: bool = True) -> list[dict[str | None, object]]:
    """DVC's ``_load_sv``: CSV/TSV rows as dicts of strings, keyed by the header row."""
    if header:
        reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    else:
        first_row = next(iter(csv.reader(io.StringIO(content))), [])
        reader = csv.DictReader(
            io.StringIO(content), delimiter=delimiter, fieldnames=[str(i) for i in range(len(first_row))]
        )
    return cast("list[dict[str | None, object]]", list(reader))


# --- dvc/utils/plots.py ----------------------------------------------------------------------------


def get_plot_id(config_plot_id: str, config_file_path: str = "") -> str:
    return f"{config_file_path}::{config_plot_id}" if config_file_path else config_plot_id


def group_definitions_by_id(definitions: Mapping[str, Mapping[str, Props]]) -> dict[str, tuple[str, Props]]:
    """Plot id -> (id as written, definition); an id in several config files is prefixed by each."""
    groups_by_config: dict[str, dict[str, tuple[str, Props]]] = defaultdict(dict)
    groups_by_id: dict[str, tuple[str, Props]] = {}
    for config_file, content in definitions.items():
        for plot_id, plot_definition in content.items():
            groups_by_config[plot_id][config_file] = (plot_id, plot_definition)
    for plot_id, configs in groups_by_config.items():
        if len(configs) == 1:
            groups_by_id[plot_id] = next(iter(configs.values()))
        else:
            for config_file, found in configs.items():
                groups_by_id[get_plot_id(plot_id, config_file)] = found
    return groups_by_id


# --- dvc/render/match.py ---------------------------------------------------------------------------


def match(data: Mapping[str, Revision]) -> list[Drawn]:
    """``match_defs_renderers(data, out=None)``: every plot of every revision, with its datapoints."""
    groups: dict[str, list[tuple[str, str, Props]]] = defaultdict(list)
    for rev, content in data.items():
        for plot_id, (inner_id, definition) in group_definitions_by_id(content.definitions).items():
            groups[plot_id].append((rev, inner_id, definition))
    return [_draw(plot_id, group, data) for plot_id, group in groups.items()]


def _squash_plots_properties(group: list[tuple[str, str, Props]]) -> Props:
    """The definitions of all revisions merged, the first revision's winning."""
    resolved: Props = {}
    for _rev, _inner_id, config in reversed(group):
        resolved = resolved | config
    return resolved


def is_image(plot_id: str) -> bool:
    """``ImageRenderer.matches``: by the id's suffix, as ``pathlib`` reads it."""
    return PurePosixPath(plot_id).suffix in IMAGE_EXTENSIONS


def _draw(plot_id: str, group: list[tuple[str, str, Props]], data: Mapping[str, Revision]) -> Drawn:
    props = _squash_plots_properties(group)
    datapoints: list[Point] = []
    first_props: Props = {}
    def_errors: dict[str, BaseException] = {}
    src_errors: dict[str, dict[str, BaseException]] = defaultdict(dict)
    revs: list[str] = []
    image, renderer_id = False, plot_id
    for rev, inner_id, plot_definition in group:
        plot_sources = infer_data_sources(inner_id, plot_definition)
        sources = data[rev].sources
        definitions_data = {
            src: sources[src].data for src in plot_sources if src in sources and sources[src].data
        }
        image = is_image(inner_id)
        renderer_id = inner_id if image else plot_id
        for src in plot_sources:
            if src in sources and (error := sources[src].error) is not None:
                src_errors[rev][src] = error
        try:
            if image:
                dps, rev_props = _image_datapoints(definitions_data, props, rev)
            else:
                dps, rev_props = Vega(inner_id, definitions_data, props).flat_datapoints(rev)
            if dps and rev not in revs:
                revs.append(rev)
        except Exception as exc:  # DVC records whatever its converter raised, per revision
            def_errors[rev] = exc
            continue
        if not first_props and rev_props:
            first_props = rev_props
        datapoints.extend(dps)
    if "title" not in first_props:
        first_props["title"] = renderer_id
    if revs:
        first_props["revs_with_datapoints"] = revs
    return Drawn(renderer_id, image, first_props, datapoints, dict(src_errors), def_errors)


# --- dvc/render/converter/image.py -------------------------------------------------------------------


def _image_datapoints(
    data: Mapping[str, object], properties: Props, revision: str
) -> tuple[list[Point], Props]:
    """``ImageConverter.flat_datapoints`` with ``out=None``, keeping the bytes DVC would inline."""
    datapoints: list[Point] = []
    for filename, image_data in data.items():
        if not isinstance(image_data, bytes):  # DVC's base64 encoding fails on parsed data
            raise TypeError(f"a bytes-like object is required, not '{type(image_data).__name__}'")
        datapoints.append({REVISION: revision, FILENAME: filename, SRC: image_data})
    return datapoints, properties


# --- dvc/render/converter/vega.py --------------------------------------------------------------------


def _lists(blob: object) -> Iterator[list[object]]:
    if isinstance(blob, list):
        yield blob
    else:
        if not isinstance(blob, dict):
            raise AttributeError(f"'{type(blob).__name__}' object has no attribute 'values'")
        for value in blob.values():
            if isinstance(value, dict):
                yield from _lists(value)
            elif isinstance(value, list):
                yield value


def _file_field(*args: object) -> Iterator[tuple[str, object]]:
    for axis_def in args:
        if axis_def is not None:
            for file, val in _items(axis_def):
                if isinstance(val, str):
                    yield cast(str, file), val
                elif isinstance(val, list):
                    for one in val:
                        yield cast(str, file), one


def _verify_field(file2datapoints: Mapping[str, list[Point]], filename: str, field: object) -> None:
    if filename in file2datapoints:
        datapoint = _first(file2datapoints[filename])
        if not isinstance(datapoint, dict):  # no datapoints: DVC's `field not in None` fails so
            raise TypeError("argument of type 'NoneType' is not iterable")
        if field not in datapoint:
            raise FieldNotFoundError(field, list(datapoint.keys()))


def _get_xs(properties: Props, file2datapoints: Mapping[str, list[Point]]) -> Iterator[tuple[str, object]]:
    x = properties.get("x")
    if x is not None and isinstance(x, dict):
        for filename, one in _file_field(x):
            _verify_field(file2datapoints, filename, one)
            yield filename, one


def _get_ys(properties: Props, file2datapoints: Mapping[str, list[Point]]) -> Iterator[tuple[str, object]]:
    y = properties.get("y", None)
    if y is not None:
        for filename, one in _file_field(y):
            _verify_field(file2datapoints, filename, one)
            yield filename, one


def _is_datapoints(lst: list[object]) -> bool:
    """Whether every item is a dict with the same keys as the first."""
    if not all(isinstance(item, dict) for item in lst):
        return False
    head = _first(lst)
    if not isinstance(head, dict):  # an empty list: DVC's `first(lst).keys()` fails on None
        raise AttributeError("'NoneType' object has no attribute 'keys'")
    return set(head.keys()) == {key for keys in cast("list[dict[object, object]]", lst) for key in keys}


def get_datapoints(file_content: object) -> list[Point]:
    result: list[Point] = []
    for lst in _lists(file_content):
        if _is_datapoints(lst):
            for index, datapoint in enumerate(cast("list[Point]", lst)):
                if len(result) <= index:
                    result.append({})
                result[index].update(datapoint)
    return result


class Vega:
    """``VegaConverter``: a plot's files at one revision as datapoints, ``x`` and ``y`` inferred."""

    def __init__(self, plot_id: str, data: Mapping[str, object], properties: Props) -> None:
        self.plot_id = plot_id
        self.data = data
        self.properties = properties

    def _infer_y_from_data(self) -> Props | None:
        if self.plot_id in self.data:
            for lst in _lists(self.data[self.plot_id]):
                if all(isinstance(item, dict) for item in lst):
                    datapoint = _first(lst)
                    if not isinstance(datapoint, dict):
                        raise AttributeError("'NoneType' object has no attribute 'keys'")
                    return {self.plot_id: _last(datapoint.keys())}
        return None

    def _infer_x_y(self) -> Props:
        x = self.properties.get("x", None)
        y = self.properties.get("y", None)
        inferred: Props = {}
        if isinstance(x, str):
            xs: dict[str, object] = {}
            if isinstance(y, dict):  # several y files: x duplicated for each y
                for file, fields in y.items():
                    xs[file] = [x] * len(fields) if isinstance(fields, list) else x
            else:  # otherwise the plot id is the file
                xs[self.plot_id] = x
            inferred["x"] = xs
        if y is None:
            inferred["y"] = self._infer_y_from_data()
        elif not isinstance(y, dict):
            inferred["y"] = {self.plot_id: y}
        return inferred

    @staticmethod
    def infer_y_label(properties: Props) -> object:
        y_label = properties.get("y_label", None)
        if y_label is not None:
            return y_label
        y = properties.get("y", None)
        if isinstance(y, str):
            return y
        if isinstance(y, list):
            return "y"
        if not isinstance(y, dict):
            return None
        fields = {one for _, one in _file_field(y)}
        return _first(fields) if len(fields) == 1 else "y"

    @staticmethod
    def infer_x_label(properties: Props) -> object:
        x_label = properties.get("x_label", None)
        if x_label is not None:
            return x_label
        x = properties.get("x", None)
        if not isinstance(x, dict):
            return INDEX
        fields = {one for _, one in _file_field(x)}
        return _first(fields) if len(fields) == 1 else "x"

    def convert(self) -> tuple[dict[str, list[Point]], Props]:
        inferred = self._infer_x_y()
        datapoints = {file: get_datapoints(content) for file, content in self.data.items()}
        properties = self.properties | inferred
        properties["y_label"] = self.infer_y_label(properties)
        properties["x_label"] = self.infer_x_label(properties)
        return datapoints, properties

    def flat_datapoints(self, revision: str) -> tuple[list[Point], Props]:
        file2datapoints, properties = self.convert()
        update: Props = {}
        xs = list(_get_xs(properties, file2datapoints))
        x_file, x_field = (None, INDEX) if not xs else xs[0]
        num_xs = len(xs)
        multiple_x_fields = num_xs > 1 and len({x[1] for x in xs}) > 1
        update["x"] = INFERRED_X if multiple_x_fields else x_field
        ys = list(_get_ys(properties, file2datapoints))
        if num_xs > 1 and num_xs != len(ys):
            raise ConversionError(
                "Cannot have different number of x and y data sources. Found "
                f"{num_xs} x and {len(ys)} y data sources."
            )
        all_y_files = {f for f, _ in ys}
        all_y_fields = {f for _, f in ys}
        update["y"] = INFERRED_Y if len(all_y_fields) > 1 else _first(all_y_fields)
        common = len(os.path.commonpath(list(all_y_files))) if len(all_y_files) > 1 else 0
        update["anchors_y_definitions"] = [{FILENAME: _short(f, common), FIELD: one} for f, one in ys]
        all_datapoints: list[Point] = []
        for i, (y_file, y_field) in enumerate(ys):
            if num_xs > 1:
                x_file, x_field = xs[i]
            datapoints = [{**d} for d in file2datapoints.get(y_file, [])]
            if update.get("y") == INFERRED_Y:
                _update_from_field(datapoints, field=INFERRED_Y, source_field=y_field)
            if x_field == INDEX and x_file is None:
                for index, datapoint in enumerate(datapoints):
                    datapoint[INDEX] = index
            else:
                x_datapoints = file2datapoints.get(str(x_file), [])
                try:
                    _update_from_field(
                        datapoints,
                        field=INFERRED_X if multiple_x_fields else str(x_field),
                        source_datapoints=x_datapoints,
                        source_field=x_field,
                    )
                except IndexError:
                    raise ConversionError(
                        f"Cannot join '{x_field}' from '{x_file}' and '{y_field}' from '{y_file}'. "
                        "They have to have same length."
                    ) from None
            for datapoint in datapoints:
                datapoint.update({REVISION: revision, FILENAME: _short(y_file, common), FIELD: y_field})
            all_datapoints.extend(datapoints)
        if not all_datapoints:
            return [], {}
        return all_datapoints, properties | update


def _short(y_file: str, common_prefix_len: int) -> str:
    return y_file[common_prefix_len:].strip("/\\")


def _update_from_field(
    target_datapoints: list[Point],
    field: str,
    source_datapoints: list[Point] | None = None,
    source_field: object = None,
) -> None:
    if source_datapoints is None:
        source_datapoints = target_datapoints
    if source_field is None:
        source_field = field
    if len(source_datapoints) != len(target_datapoints):
        raise IndexError("Source and target datapoints must have the same length")
    for index, datapoint in enumerate(target_datapoints):
        source_datapoint = source_datapoints[index]
        if source_field in source_datapoint:
            datapoint[field] = source_datapoint[source_field]
