"""Typed manifest parts for unit tests, built the way the loader builds them (schema defaults applied),
from keyword arguments shaped like the manifest's own keys."""

from __future__ import annotations

from typing import Any

from mlops_gitops.manifest.loader import environment_of, gate_of
from mlops_gitops.manifest.model import Environment, Gate


def gate(metric: str, **keys: Any) -> Gate:
    """``gate("acc", min=0.8, regression_absolute=0.01)``: the gate ``{metric: acc, min: 0.8, ...}``."""
    regression = {
        k.removeprefix("regression_"): keys.pop(k) for k in list(keys) if k.startswith("regression_")
    }
    raw: dict[str, Any] = {"metric": metric, **{k: v for k, v in keys.items() if v is not None}}
    if regression:
        raw["regression"] = regression
    return gate_of(raw)


def environment(name: str, file: str, field: str, value: str, **keys: Any) -> Environment:
    return environment_of(
        {
            "name": name,
            "file": file,
            "field": field,
            "value": value,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in keys.items()},
        }
    )
