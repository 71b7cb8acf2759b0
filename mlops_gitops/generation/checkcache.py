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
from typing import TYPE_CHECKING, TypedDict, cast

from mlops_gitops.adapters.resources import tool_signature
from mlops_gitops.names import GENERATED_PREFIX, MANIFEST_FILE, WORKFLOWS_DIR
from mlops_gitops.pipeline.fingerprint import WorkTree

CACHE_NAME = "mlops-gitops-generated.json"


# The memo's keys. State is for the type checker only: a TypedDict class costs a tenth of a
# millisecond to make, and this module is imported by every pre-commit hook run.
KEYS = frozenset({"tool", "manifest", "files", "inputs", "listing"})

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.files import Plan

    class State(TypedDict):
        """What the memo records (as JSON): every key must still match for the memo to answer."""

        tool: str  # resources.tool_signature()
        manifest: str  # sha256 of mlops.yaml
        files: dict[str, str]  # generated file -> sha256 of what was rendered
        inputs: dict[str, str]  # file the pipeline facts were resolved from -> sha256
        listing: list[str]  # every dvc.yaml and .dvc file (fingerprint.listing)


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


def remember(
    root: Path,
    the_plan: Plan,
    inputs: Sequence[str] = (),
    *,
    tree: WorkTree | None = None,
    listed: Sequence[str] | None = None,
) -> None:
    """Record the state after a generate that wrote everything, or a check that found it current.
    ``inputs``: the files the pipeline facts were resolved from (your dvc.yaml files, the params
    files their ``vars`` read, ``.dvc/config``); with the listing of dvc.yaml and ``.dvc`` files, a
    change to any of them sends the next check down the full path. ``tree``: the command's reading
    of the repository, so what is recorded is what the answer came from (no file read twice);
    ``listed``: the listing as it is once the plan is written (with a dvc.yaml generate wrote)."""
    files: dict[str, str] = {}
    for action in the_plan.actions:
        if action.op in ("create", "update", "unchanged"):
            # Unchanged: the file on disk, which may carry another stamp than the one just made.
            text = action.old if action.op == "unchanged" else action.new
            files[action.path] = _sha((text or "").encode("utf-8"))
        elif action.op != "remove":
            return  # a conflict or a kept file: the next check must look properly
    remember_files(root, files, inputs, tree=tree, listed=listed)


def remember_files(
    root: Path,
    files: dict[str, str],
    inputs: Sequence[str] = (),
    *,
    tree: WorkTree | None = None,
    listed: Sequence[str] | None = None,
) -> None:
    """Record the state where ``files`` (generated file -> sha256 of its bytes) are current:
    :func:`remember` after a plan, or a check the record's stamp answered."""
    tree = tree if tree is not None else WorkTree(root)
    cache = _path(root)
    manifest = tree.read(MANIFEST_FILE)
    if cache is None or manifest is None:
        return
    state: State = {
        "tool": tool_signature(),
        "manifest": _sha(manifest),
        "files": files,
        "inputs": {rel: tree.sha(rel) for rel in inputs},
        "listing": list(tree.listing if listed is None else listed),
    }
    with contextlib.suppress(OSError):  # a read-only .git only costs speed
        cache.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")


def _recorded(raw: bytes) -> State | None:
    """The memo's state, or None when it is not one this version wrote (then the full path runs)."""
    try:
        data: object = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != KEYS:
        return None
    maps = (data["files"], data["inputs"])
    if not all(isinstance(m, dict) and all(isinstance(v, str) for v in m.values()) for m in maps):
        return None
    if not isinstance(data["listing"], list):
        return None
    if not all(isinstance(data[k], str) for k in ("tool", "manifest")):
        return None
    return cast("State", data)


def still_current(root: Path, tree: WorkTree | None = None) -> bool:
    """Whether the last generate or check answered for exactly this tree (``tree``: the command's
    reading of the repository, handed on to the full path when this says no)."""
    tree = tree if tree is not None else WorkTree(root)
    cache = _path(root)
    raw = _read(cache) if cache else None
    manifest = tree.read(MANIFEST_FILE)
    if raw is None or manifest is None:
        return False
    state = _recorded(raw)
    if state is None:
        return False
    if state["manifest"] != _sha(manifest) or state["tool"] != tool_signature():
        return False
    for rel, expected in state["files"].items():
        data = _read(root / rel)
        if data is None or _sha(data) != expected:
            return False
    if any(tree.sha(rel) != expected for rel, expected in state["inputs"].items()):
        return False
    if state["listing"] != list(tree.listing):
        return False
    return _ours_on_disk(root) <= set(state["files"])
