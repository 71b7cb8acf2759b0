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
from typing import Any


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    while isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        ref = target.get("$ref") if isinstance(target, Mapping) else None
    return node


def apply_defaults(data: Any, schema: Mapping[str, Any], at: str | None = None) -> Any:
    """``data`` (valid against ``schema``, or against its ``$defs`` entry ``at``) with every schema
    default filled in; ``data`` itself is not changed."""
    result = copy.deepcopy(data)
    _fill(result, {"$ref": f"#/$defs/{at}"} if at else schema, schema)
    return result


def _fill(data: Any, node: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    node = _resolve(node, root)
    if isinstance(data, dict):
        properties: Mapping[str, Any] = node.get("properties") or {}
        for key, sub in properties.items():
            sub = _resolve(sub, root)
            if key not in data and "default" in sub:
                data[key] = copy.deepcopy(sub["default"])
            if key in data:
                _fill(data[key], sub, root)
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key, value in data.items():
                if key not in properties:
                    _fill(value, extra, root)
    elif isinstance(data, list) and isinstance(node.get("items"), Mapping):
        for item in data:
            _fill(item, node["items"], root)


def builtin(schema: Mapping[str, Any], *path: str) -> dict[str, Any]:
    """The ``x-builtin`` values declared at ``properties.<path>`` (runner settings per job kind)."""
    node: Mapping[str, Any] = schema
    for part in path:
        node = node["properties"][part]
    return dict(node.get("x-builtin") or {})
