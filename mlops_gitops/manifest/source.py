"""mlops.yaml before it is typed: the schema it is checked against, and where each key was written.

Both the loader (parsing, schema problems, building the model) and the semantic rules
(:mod:`mlops_gitops.manifest.rules`) locate what they report with these.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

Path_ = tuple[str | int, ...]


@cache
def schema() -> dict[str, Any]:
    """The manifest JSON Schema shipped in the package."""
    # Beside this module in a wheel and in a checkout alike; plain file access is cheaper than importlib.resources.
    text = (Path(__file__).resolve().parent / "schema.json").read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


class SourceMap:
    """1-based (line, col) of every key and value in a ruamel.yaml round-trip document."""

    def __init__(self) -> None:
        self.keys: dict[Path_, tuple[int, int]] = {}
        self.values: dict[Path_, tuple[int, int]] = {}

    def record(self, node: Any, path: Path_ = ()) -> None:
        # ``node`` is ruamel's round-trip container (untyped): its ``lc`` holds the positions.
        lc = getattr(node, "lc", None)
        if lc is None:
            return
        if not path and lc.line is not None:
            self.values[()] = (lc.line + 1, lc.col + 1)
        if isinstance(node, dict):
            for key, child in node.items():
                sub = (*path, str(key))
                try:
                    kl, kc = lc.key(key)
                    vl, vc = lc.value(key)
                except (KeyError, TypeError):
                    continue
                self.keys[sub] = (kl + 1, kc + 1)
                self.values[sub] = (vl + 1, vc + 1)
                self.record(child, sub)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                sub = (*path, index)
                try:
                    il, ic = lc.item(index)
                except (KeyError, TypeError, IndexError):
                    continue
                self.keys[sub] = self.values[sub] = (il + 1, ic + 1)
                self.record(child, sub)

    def key(self, path: Path_) -> tuple[int, int] | None:
        """Where the key at ``path`` was written, or the nearest enclosing one."""
        for cut in range(len(path), -1, -1):
            pos = self.keys.get(path[:cut]) or self.values.get(path[:cut])
            if pos:
                return pos
        return None

    def value(self, path: Path_) -> tuple[int, int] | None:
        return self.values.get(path) or self.key(path)


def dotted(path: Path_) -> str:
    """``('stages', 'train', 'deps', 0)`` -> ``stages.train.deps[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(root)"
