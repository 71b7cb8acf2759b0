"""What commands share: click options that read the same everywhere, and :func:`show`, the printing."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from mlops_gitops.adapters import actions_runtime as gha
from mlops_gitops.names import MANIFEST_FILE

F = TypeVar("F", bound=Callable[..., Any])


class Printed(Protocol):
    """A flow's result: ``stdout`` as written, ``stderr`` lines, step outputs (may be empty), exit code."""

    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> Sequence[str]: ...
    @property
    def outputs(self) -> Mapping[str, str]: ...
    @property
    def exit_code(self) -> int: ...


def show(result: Printed) -> int:
    """Print ``result``, hand its step outputs to ``$GITHUB_OUTPUT`` (when set), return its exit code."""
    click.echo(result.stdout, nl=False)
    click.echo("".join(f"{line}\n" for line in result.stderr), err=True, nl=False)
    if result.outputs:
        gha.set_outputs(result.outputs)
    return result.exit_code


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
