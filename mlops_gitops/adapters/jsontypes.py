"""JSON's shapes as types, named once for every module that writes or reads JSON.

``JSONValue`` is a document known to be JSON: what ``json.loads`` gives back, what ``json.dumps``
takes. ``JSONData`` is the read-only view of the same thing, which also admits tuples and any
mapping (so a ``tuple[str, ...]`` or a ``dict[str, float]`` passes where JSON is only read or
written out, which ``list``'s and ``dict``'s invariance would refuse).

Text parsed from outside and not checked yet is not JSON of ours: it stays ``Any`` at the one edge
that parses it (``adapters.yamlsafe``, ``adapters.datafiles``) and is narrowed from ``object`` where
it is read. A format this package writes and reads back has a ``TypedDict`` in the module that owns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = "JSONScalar | list[JSONValue] | dict[str, JSONValue]"
JSONObject: TypeAlias = "dict[str, JSONValue]"
JSONData: TypeAlias = "JSONScalar | Sequence[JSONData] | Mapping[str, JSONData]"
