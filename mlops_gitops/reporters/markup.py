"""Markdown escaping for text that comes from the repository or its data (metric and param names,
file names, commit subjects, data values): the one place such text is made safe to embed."""

from __future__ import annotations


def cell(value: str) -> str:
    """Text inside a table cell or a line: no row or column breaks, no HTML."""
    return (
        value.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("\r", " ")
        .replace("\n", " ")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def code(text: str) -> str:
    """Inline code that survives backticks and pipes in ``text``."""
    ticks = "``" if "`" in text else "`"
    pad = " " if ticks == "``" else ""
    body = text.replace("|", "\\|").replace("\n", " ")
    return f"{ticks}{pad}{body}{pad}{ticks}"
