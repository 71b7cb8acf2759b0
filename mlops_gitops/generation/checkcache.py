"""A local memo that lets ``generate --check`` answer without validating and rendering.

``generate --check`` runs as a pre-commit hook on every commit, and most commits touch neither
mlops.yaml nor a generated file. After a successful generate or check we record, inside ``.git`` (never
committed, per clone), the manifest's hash, the tool's version and templates, and the hash of every
generated file. When all of those still match, the answer is the same as last time, and we give it
without importing jsonschema or jinja2. Any difference takes the full path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops_gitops.adapters.files import Plan
from mlops_gitops.adapters.resources import tool_signature
from mlops_gitops.names import GENERATED_PREFIX, MANIFEST_FILE, WORKFLOWS_DIR

CACHE_NAME = "mlops-gitops-generated.json"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _path(root: Path) -> Path | None:
    git = root / ".git"
    return git / CACHE_NAME if git.is_dir() else None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _ours_on_disk(root: Path) -> set[str]:
    found: set[str] = set()
    directory = root / WORKFLOWS_DIR
    if directory.is_dir():
        for entry in os.scandir(directory):
            if entry.is_file() and entry.name.endswith((".yml", ".yaml")):
                with open(entry.path, "rb") as handle:
                    if handle.read(len(GENERATED_PREFIX)).decode("utf-8", "replace") == GENERATED_PREFIX:
                        found.add(f"{WORKFLOWS_DIR}/{entry.name}")
    return found


def remember(root: Path, the_plan: Plan, inputs: Sequence[str] = ()) -> None:
    """Record the state after a generate that wrote everything, or a check that found it current.
    ``inputs``: the files the pipeline facts were resolved from (your dvc.yaml files, the params
    files their ``vars`` read, ``.dvc/config``); with the listing of dvc.yaml and ``.dvc`` files, a
    change to any of them sends the next check down the full path."""
    cache = _path(root)
    manifest = _read(root / MANIFEST_FILE)
    if cache is None or manifest is None:
        return
    files: dict[str, str] = {}
    for action in the_plan.actions:
        if action.op in ("create", "update", "unchanged"):
            files[action.path] = _sha((action.new or "").encode("utf-8"))
        elif action.op != "remove":
            return  # a conflict or a kept file: the next check must look properly
    from mlops_gitops.pipeline.fingerprint import listing

    state = {
        "tool": tool_signature(),
        "manifest": _sha(manifest),
        "files": files,
        "inputs": {rel: _sha(_read(root / rel) or b"") for rel in inputs},
        "listing": listing(root),
    }
    with contextlib.suppress(OSError):  # a read-only .git only costs speed
        cache.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")


def still_current(root: Path) -> bool:
    cache = _path(root)
    raw = _read(cache) if cache else None
    manifest = _read(root / MANIFEST_FILE)
    if raw is None or manifest is None:
        return False
    try:
        state: dict[str, Any] = json.loads(raw)
    except ValueError:
        return False
    if state.get("manifest") != _sha(manifest) or state.get("tool") != tool_signature():
        return False
    files: dict[str, str] = state.get("files") or {}
    for rel, expected in files.items():
        data = _read(root / rel)
        if data is None or _sha(data) != expected:
            return False
    inputs: dict[str, str] = state.get("inputs") or {}
    for rel, expected in inputs.items():
        if _sha(_read(root / rel) or b"") != expected:
            return False
    from mlops_gitops.pipeline.fingerprint import listing

    if state.get("listing") != listing(root):
        return False
    return _ours_on_disk(root) <= set(files)
