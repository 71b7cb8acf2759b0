"""TOML reading on every supported Python: tomllib from 3.11, the tomli backport (a dependency) on 3.10."""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast


class TomlReader(Protocol):
    """What of ``tomllib`` (and ``tomli``, its backport) the package uses."""

    TOMLDecodeError: type[ValueError]

    # Any: raw TOML from outside, before anything checked it (tomllib's own signature).
    def loads(self, s: str, /) -> dict[str, Any]: ...


def tomllib() -> TomlReader:
    """The module; imported by name so either spelling passes one type check."""
    try:
        return cast(TomlReader, importlib.import_module("tomllib"))
    except ImportError:  # Python 3.10
        return cast(TomlReader, importlib.import_module("tomli"))
