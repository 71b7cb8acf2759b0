"""Markdown rendered as GitHub renders a PR comment (``tests/mermaid/gfm.mjs``: markdown-it with
GitHub's alerts), and the text a reader sees in it, for the escaping tests. One Node process renders
any number of cases; its ``node_modules`` comes from ``npm ci --prefix tests/mermaid``."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass

from mlops_gitops.reporters.markup import JOINER
from tests.mermaidcheck import HARNESS_DIR

RENDER_SCRIPT = HARNESS_DIR / "render.mjs"


@dataclass(frozen=True)
class Rendered:
    texts: list[str]  # textContent of each element the case's selector matched, in order
    html: str


def render(cases: list[tuple[str, str]], *, timeout: float = 120.0) -> list[Rendered]:
    """Each (markdown, CSS selector) rendered; raises RuntimeError when the harness cannot run."""
    if not cases:
        return []
    if not (HARNESS_DIR / "node_modules" / "markdown-it").is_dir():
        raise RuntimeError(
            f"{HARNESS_DIR / 'node_modules'} has no markdown-it: run `npm ci --prefix tests/mermaid`"
        )
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("`node` is not on PATH: the GFM renderer needs Node.js 20 or later")
    proc = subprocess.run(
        [node, str(RENDER_SCRIPT)],
        input=json.dumps([{"markdown": m, "selector": s} for m, s in cases]),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        cwd=HARNESS_DIR,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{RENDER_SCRIPT.name} failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return [Rendered(r["texts"], r["html"]) for r in json.loads(proc.stdout)]


def seen(value: str) -> str:
    """What a reader sees of ``value``: no joiners (invisible), whitespace runs as one space, trimmed."""
    return " ".join(value.replace(JOINER, "").split())
