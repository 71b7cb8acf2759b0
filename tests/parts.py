"""Typed manifest parts for unit tests, built the way the loader builds them (schema defaults applied),
from keyword arguments shaped like the manifest's own keys; and a small project with data checks on disk."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_gitops.manifest.loader import environment_of, gate_of
from mlops_gitops.manifest.model import Environment, Gate, Manifest
from mlops_gitops.pipeline.project import Project


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


def project_of(manifest: Manifest, root: Path | None = None) -> Project:
    """The project of a manifest-owned pipeline (``stages:``) in an empty directory: its facts are
    what DVC resolves the dvc.yaml generate would write to, as ``load_project`` reads them."""
    from mlops_gitops.pipeline.project import load_project

    key = json.dumps(manifest.raw, sort_keys=True, default=str)
    if root is None and key in _PROJECTS:
        return _PROJECTS[key]
    project = load_project(root or Path(tempfile.mkdtemp(prefix="mlops-project-")), manifest)
    if root is None:
        _PROJECTS[key] = project
    return project


_PROJECTS: dict[str, Project] = {}


# A manifest whose one stage trains on data/train.csv; the items of ``data.checks`` follow.
DATA_CHECKS_MANIFEST = """\
version: 1
project: {name: demo}
stages:
  train: {cmd: python train.py, deps: [data/train.csv]}
data:
  checks:
"""


def data_checks_project(root: Path, checks: str, files: Mapping[str, str]) -> Path:
    """``root`` as a project whose mlops.yaml (``DATA_CHECKS_MANIFEST``) declares the data ``checks``
    (YAML items indented under ``data.checks``), with ``files`` (path under ``root``: text) beside it.
    Returns the manifest's path."""
    for rel, text in {"mlops.yaml": DATA_CHECKS_MANIFEST + checks, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "mlops.yaml"
