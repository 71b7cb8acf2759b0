"""JSON's shapes as types, named once for every module that writes or reads JSON.

``JSONValue`` is a document known to be JSON: what ``json.loads`` gives back, what ``json.dumps``
takes. ``list`` and ``dict`` are invariant, so a ``dict[str, float]`` is not a ``JSONValue``: build
values in place, or take ``Mapping[str, object]`` where any JSON-like data is only read.

Text parsed from outside and not checked yet is not JSON of ours: it stays ``Any`` at the one edge
that parses it (``adapters.yamlsafe``, ``adapters.datafiles``) and is narrowed from ``object`` where
it is read. A format this package writes and reads back has a ``TypedDict`` in the module that owns
it (a TypedDict is a ``Mapping[str, object]``, not a ``JSONValue``).
"""

from __future__ import annotations

from typing import TypeAlias

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = "JSONScalar | list[JSONValue] | dict[str, JSONValue]"
