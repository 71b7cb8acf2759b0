"""``mlops-gitops init``: write mlops.yaml for an existing project (or a bundled example), then generate.

Detection lives in :mod:`mlops_gitops.detect` and adoption in :mod:`mlops_gitops.adopt`; this module
asks the user to confirm what was detected (unless ``--yes``) and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from mlops_gitops.adopt import Answers, init
from mlops_gitops.commands.options import dir_option


def ask(start: Answers) -> Answers:
    """Prompt for each answer, offering the detected value as the default."""
    import re

    def pattern(regex: str, what: str) -> Callable[[str], str]:
        def check(value: str) -> str:
            value = value.strip()
            if not re.fullmatch(regex, value):
                raise click.BadParameter(f"{value!r} is not {what}")
            return value

        return check

    name = click.prompt(
        "Project name",
        default=start.name,
        value_proc=pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", "a valid name (letters, digits, . _ -)"),
    )
    branch = click.prompt(
        "Default branch", default=start.default_branch, value_proc=pattern(r"\S+", "a branch")
    )
    version = click.prompt(
        "Python version",
        default=start.python_version,
        value_proc=pattern(r"3\.[0-9]{1,2}", "a Python version such as 3.11"),
    )
    install = click.prompt("Install command", default=start.install).strip()
    remote = click.prompt(
        "DVC remote (empty for none)", default=start.remote or "", show_default=True
    ).strip()
    return Answers(name, branch, version, install or start.install, remote or None)


@click.command(name="init")
@click.option("--yes", "-y", is_flag=True, help="Take the detected defaults without asking.")
@click.option(
    "--force", is_flag=True, help="Overwrite an existing mlops.yaml (or scaffold into a non-empty directory)."
)
@click.option(
    "--example", metavar="NAME", help="Scaffold a bundled example (e.g. iris) into an empty directory."
)
@dir_option("Project directory.")
def command(yes: bool, force: bool, example: str | None, root: Path) -> int:
    """Detect the project (dvc.yaml, requirements, Python, branch, DVC remote), write mlops.yaml and
    generate dvc.yaml and the workflows. With --example, scaffold a bundled example first."""
    return init(root, ask=None if yes else ask, force=force, example=example, echo=click.echo)
