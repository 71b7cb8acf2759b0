"""Check Mermaid diagrams with Mermaid's own parser (``mermaid.parse``), as GitHub would render them.

``tests/mermaid/check.mjs`` does the parsing in one Node process for any number of diagrams; its
``node_modules`` comes from ``npm ci --prefix tests/mermaid`` (``make test`` runs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent / "mermaid"
CHECK_SCRIPT = HARNESS_DIR / "check.mjs"

# An opening fence: up to 3 spaces, 3+ backticks or tildes, the info string's first word `mermaid`.
_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*mermaid(?:[ \t].*)?$")


def mermaid_blocks(markdown: str) -> list[str]:
    """The bodies of the ```` ```mermaid ```` fenced blocks in ``markdown``, in order, without the fences.

    Follows CommonMark fences: the closing fence uses the opening's character, is at least as long, and
    has nothing after it but spaces; an unclosed block runs to the end of the text.
    """
    blocks: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        i += 1
        if m is None:
            continue
        indent, fence = len(m["indent"]), m["fence"]
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        while i < len(lines) and not close.match(lines[i]):
            line = lines[i]
            strip = len(line) - len(line.lstrip(" "))
            body.append(line[min(indent, strip) :])
            i += 1
        i += 1  # the closing fence
        blocks.append("\n".join(body))
    return blocks


def parse_errors(diagrams: list[str], *, timeout: float = 120.0) -> list[str | None]:
    """For each diagram, None if ``mermaid.parse`` accepts it, else Mermaid's error on one line.

    Runs one ``node tests/mermaid/check.mjs`` for all of them. Raises RuntimeError when the harness
    cannot run (Node or the npm modules missing) or broke, so a broken setup never passes as valid.
    """
    if not diagrams:
        return []
    if not (HARNESS_DIR / "node_modules" / "mermaid").is_dir():
        raise RuntimeError(
            f"{HARNESS_DIR / 'node_modules'} is missing: run `make test` (it runs "
            "`npm ci --prefix tests/mermaid`), or that npm command yourself"
        )
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("`node` is not on PATH: the Mermaid check needs Node.js 20 or later")
    proc = subprocess.run(
        [node, str(CHECK_SCRIPT)],
        input=json.dumps(diagrams),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        cwd=HARNESS_DIR,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{CHECK_SCRIPT.name} failed (exit {proc.returncode}); run `make test` to reinstall its "
            f"node modules if they are broken:\n{proc.stderr.strip()}"
        )
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"{CHECK_SCRIPT.name} printed no JSON ({e}): {proc.stdout[:500]!r}") from e
    if (
        not isinstance(result, list)
        or len(result) != len(diagrams)
        or not all(r is None or isinstance(r, str) for r in result)
    ):
        raise RuntimeError(f"{CHECK_SCRIPT.name} answered {len(diagrams)} diagrams with {result!r:.500}")
    return [r if isinstance(r, str) else None for r in result]
