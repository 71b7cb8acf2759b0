"""Click options that several commands share, so they read and behave the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mlops_gitops.manifest.loader import MANIFEST_FILE

F = TypeVar("F", bound=Callable[..., Any])


def manifest_option(purpose: str) -> Callable[[F], F]:
    """``--manifest PATH`` (default mlops.yaml), passed to the command as ``manifest_path``."""
    return click.option(
        "--manifest",
        "manifest_path",
        default=MANIFEST_FILE,
        show_default=True,
        type=click.Path(dir_okay=False),
        help=f"The manifest {purpose}.",
    )


def dir_option(purpose: str) -> Callable[[F], F]:
    """``--dir PATH`` (default the current directory), passed to the command as ``root``."""
    return click.option(
        "--dir",
        "root",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help=purpose,
    )
