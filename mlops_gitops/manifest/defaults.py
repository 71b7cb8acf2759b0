"""The manifest's defaults, read from the schema's ``default`` keywords and applied in one pass.

Every default is declared once, in ``schema.json``, next to the key it belongs to (so editors show
it and ``mlops-gitops schema`` prints it). :func:`apply_defaults` walks a validated manifest with its
schema and fills in each missing key that has a ``default``; a missing section whose default is
``{}`` is created and filled in turn. Runner settings are the one merge rather than a fill (a job
takes its own entry, then ``runners.default``, then the built-in values), so their built-in values
are declared as ``x-builtin`` and read by :func:`builtin`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TypeVar

from mlops_gitops.adapters.jsontypes import JSONValue

Schema = Mapping[str, JSONValue]  # a JSON Schema node (ours: schema.json)
T = TypeVar("T")


def _node(value: JSONValue) -> Schema:
    """A schema node the schema itself points at: an object, or the schema has a bug."""
    if not isinstance(value, dict):
        raise TypeError(f"not a schema node: {value!r}")
    return value


def _resolve(node: Schema, root: Schema) -> Schema:
    ref = node.get("$ref")
    while isinstance(ref, str) and ref.startswith("#/"):
        target = root
        for part in ref[2:].split("/"):
            target = _node(target[part])
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        ref = target.get("$ref")
    return node


def apply_defaults(data: T, schema: Schema, at: str | None = None) -> T:
    """``data`` (valid against ``schema``, or against its ``$defs`` entry ``at``) with every schema
    default filled in; ``data`` itself is not changed. The copy has the type of ``data``: the shape
    with the defaults in is the loader's to name (its section TypedDicts)."""
    result = copy.deepcopy(data)
    _fill(result, {"$ref": f"#/$defs/{at}"} if at else schema, schema)
    return result


def _fill(data: object, node: Schema, root: Schema) -> None:
    node = _resolve(node, root)
    if isinstance(data, dict):
        properties = _node(node.get("properties") or {})
        for key, value in properties.items():
            sub = _resolve(_node(value), root)
            if key not in data and "default" in sub:
                data[key] = copy.deepcopy(sub["default"])
            if key in data:
                _fill(data[key], sub, root)
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key, value in data.items():
                if key not in properties:
                    _fill(value, extra, root)
    elif isinstance(data, list):
        items = node.get("items")
        if isinstance(items, Mapping):
            for item in data:
                _fill(item, items, root)


def builtin(schema: Schema, *path: str) -> dict[str, JSONValue]:
    """The ``x-builtin`` values declared at ``properties.<path>`` (runner settings per job kind)."""
    node = schema
    for part in path:
        node = _node(_node(node["properties"])[part])
    return dict(_node(node.get("x-builtin") or {}))
