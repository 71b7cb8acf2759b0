"""TOML reading on every supported Python: tomllib from 3.11, the tomli backport (a dependency) on 3.10."""

from __future__ import annotations

import importlib
from typing import Any


def tomllib() -> Any:
    """The module; imported by name so either spelling passes one type check."""
    try:
        return importlib.import_module("tomllib")
    except ImportError:  # Python 3.10
        return importlib.import_module("tomli")
