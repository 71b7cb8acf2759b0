"""``mlops-gitops init``: write mlops.yaml for an existing project (or a bundled example), then generate.
Detection, the questions and adoption live in :mod:`mlops_gitops.adoption`; this module prompts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from mlops_gitops.adoption.adopt import init
from mlops_gitops.adoption.answers import Question, Terminal
from mlops_gitops.commands.options import dir_option


def _ask(q: Question) -> str:
    def answer(value: str) -> str:
        if problem := q.problem(value.strip()):
            raise click.BadParameter(problem)  # said, and asked again
        return value.strip()

    return str(click.prompt(q.text, q.default, show_default=q.show_default, value_proc=answer))


def _choose(heading: str, options: Sequence[str], question: str) -> int:
    click.echo("\n".join([heading, *(f"  {number}. {option}" for number, option in enumerate(options, 1))]))
    return int(click.prompt(question, type=click.IntRange(1, len(options)), default=1))


TERMINAL = Terminal(
    click.echo, lambda line: click.echo(line, err=True), _ask, _choose, lambda text: click.confirm(text)
)


@click.command(name="init")
@click.option("--yes", "-y", is_flag=True, help="Take the detected defaults without asking.")
@click.option(
    "--force", is_flag=True, help="Overwrite an existing mlops.yaml (or scaffold into a non-empty directory)."
)
@click.option(
    "--example", metavar="NAME", help="Scaffold a bundled example (e.g. iris) into an empty directory."
)
@click.option("--branch", metavar="NAME", help="Default branch (must exist; default: the detected one).")
@click.option("--remote", metavar="NAME", help="DVC remote of .dvc/config (default: core.remote).")
@click.option(
    "--codeowners",
    multiple=True,
    metavar="OWNER",
    help="Write .github/CODEOWNERS giving mlops.yaml, .mlops/ and .github/ to OWNER (@user, @org/team; "
    "repeatable) when the repository has no CODEOWNERS. Without it, the entry is printed to complete.",
)
@dir_option("Project directory.")
def command(yes: bool, root: Path, **options: Any) -> int:
    """Detect the project (its dvc.yaml files, requirements, Python, branch, DVC remote), write
    mlops.yaml and generate the workflows. Your dvc.yaml files are named under `pipelines:` and never
    written. With --example, scaffold a bundled example first."""
    return init(root, TERMINAL, yes=yes, **options)
