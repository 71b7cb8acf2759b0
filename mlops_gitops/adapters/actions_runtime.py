"""GitHub Actions runtime helpers: job summary, step outputs, workflow-command annotations.

Written against the documented file protocols (``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``) and the
``::command key=value::message`` syntax, so they behave the same under GitHub, ``act`` and in tests.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping
from typing import TextIO


def in_actions(env: Mapping[str, str] | None = None) -> bool:
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """Escape a workflow command's message: ``%``, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", **properties: str | int | None) -> str:
    """``::name k=v,k=v::message`` with both parts escaped; None properties are left out."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def annotate(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
    stream: TextIO | None = None,
) -> str:
    """Print an ``error``/``warning``/``notice`` annotation to stdout and return the line."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"unknown annotation level {level!r}")
    text = command(level, message, file=file, line=line, col=col, title=title)
    print(text, file=stream or sys.stdout, flush=True)
    return text


def error(message: str, **where: str | int | None) -> str:
    return annotate("error", message, **where)  # type: ignore[arg-type]


def format_output(name: str, value: str) -> str:
    """One ``$GITHUB_OUTPUT`` entry; multi-line values use a delimiter absent from the value."""
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    while delimiter in value:
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _append(variable: str, text: str, env: Mapping[str, str] | None) -> bool:
    path = (env if env is not None else os.environ).get(variable)
    if not path:
        return False
    with open(path, "a", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return True


def set_outputs(values: Mapping[str, str], env: Mapping[str, str] | None = None) -> bool:
    """Append to ``$GITHUB_OUTPUT``; False when the variable is not set (not in a step)."""
    return _append("GITHUB_OUTPUT", "".join(format_output(k, v) for k, v in values.items()), env)


def append_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append Markdown to ``$GITHUB_STEP_SUMMARY`` (ends with a newline so summaries do not merge)."""
    return _append("GITHUB_STEP_SUMMARY", markdown if markdown.endswith("\n") else markdown + "\n", env)
