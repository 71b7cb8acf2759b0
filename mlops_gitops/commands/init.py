"""``mlops-gitops init``: write mlops.yaml for an existing project (or a bundled example), then generate.

Detection lives in :mod:`mlops_gitops.adoption.detect` and adoption in :mod:`mlops_gitops.adoption.adopt`; this module
asks the user to confirm what was detected (unless ``--yes``) and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click

from mlops_gitops.adoption.adopt import Answers, Questions, check_answers, init
from mlops_gitops.adoption.detect import Detection, requirements_choice
from mlops_gitops.commands.options import dir_option


def ask(start: Answers, found: Detection) -> Answers:
    """Prompt for each answer, offering the detected value as the default; a branch or remote that
    does not exist, or an empty install command, is asked again."""
    import re

    def pattern(regex: str, what: str) -> Callable[[str], str]:
        def check(value: str) -> str:
            value = value.strip()
            if not re.fullmatch(regex, value):
                raise click.BadParameter(f"{value!r} is not {what}")
            return value

        return check

    def existing(kind: str) -> Callable[[str], str]:
        def check(value: str) -> str:
            value = value.strip()
            trial = replace(
                start, **({"default_branch": value} if kind == "branch" else {"remote": value or None})
            )
            problem = check_answers(trial, found).get(kind)
            if problem:
                raise click.BadParameter(problem)
            return value

        return check

    name = click.prompt(
        "Project name",
        default=start.name,
        value_proc=pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", "a valid name (letters, digits, . _ -)"),
    )
    branch = click.prompt("Default branch", default=start.default_branch, value_proc=existing("branch"))
    version = click.prompt(
        "Python version",
        default=start.python_version,
        value_proc=pattern(r"3\.[0-9]{1,2}", "a Python version such as 3.11"),
    )
    requirements = start.requirements
    if len(found.install_options) > 1:
        # Several requirement files (a requirements/ folder): which one the pipeline needs.
        click.echo("Requirement files found:")
        for number, option in enumerate(found.install_options, 1):
            click.echo(f"  {number}. {option}")
        choice = click.prompt(
            "Which one installs what the pipeline needs",
            type=click.IntRange(1, len(found.install_options)),
            default=1,
        )
        chosen = requirements_choice(
            found.root, found.install_options[choice - 1], tuple(found.install_options)
        )
        start = replace(start, install=chosen.command)
        requirements = list(chosen.requirements)
    if start.conda:
        install: str | None = (
            click.prompt(
                f"Command run in the conda environment of {start.conda} after it is created (empty for none)",
                default=start.install or "",
                show_default=bool(start.install),
            ).strip()
            or None
        )
    else:
        install = click.prompt(
            "Command that installs the project's requirements",
            default=start.install,
            value_proc=pattern(r".*\S.*", "a command"),
        ).strip()
    remote = click.prompt(
        "DVC remote (empty for none)",
        default=start.remote or "",
        show_default=True,
        value_proc=existing("remote"),
    ).strip()
    return Answers(name, branch, version, install, remote or None, requirements, start.conda)


def confirm_git_init(root: Path) -> bool:
    return click.confirm(f"{root} is not a Git repository. Initialise one here (git init)?", default=False)


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
    "codeowners",
    multiple=True,
    metavar="OWNER",
    help="Write .github/CODEOWNERS giving mlops.yaml, .mlops/ and .github/ to OWNER (@user, @org/team; "
    "repeatable) when the repository has no CODEOWNERS. Without it, the entry is printed to complete.",
)
@dir_option("Project directory.")
def command(
    yes: bool,
    force: bool,
    example: str | None,
    branch: str | None,
    remote: str | None,
    codeowners: tuple[str, ...],
    root: Path,
) -> int:
    """Detect the project (its dvc.yaml files, requirements, Python, branch, DVC remote), write
    mlops.yaml and generate the workflows. Your dvc.yaml files are named under `pipelines:` and never
    written. With --example, scaffold a bundled example first."""
    questions = None if yes else Questions(ask, confirm_git_init)
    return init(
        root,
        questions=questions,
        force=force,
        example=example,
        branch=branch,
        remote=remote,
        codeowners=codeowners,
        echo=click.echo,
        warn=lambda line: click.echo(line, err=True),
    )
