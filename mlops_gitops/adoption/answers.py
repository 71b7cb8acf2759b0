"""What ``init`` asks and what goes into the manifest: the :class:`Answers`, offered as detected, and
the interview that lets the user confirm or change them.

The questions, their order and what makes an answer wrong are decided here; the ``init`` command
only puts each question to the terminal (:class:`Terminal`, click's prompts) and asks again while a
:class:`Question` finds a problem with the answer."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mlops_gitops.adoption.detect import Detection, branch_exists, remote_problem, requirements_choice

Echo = Callable[[str], None]
NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}"
PYTHON_VERSION = r"3\.[0-9]{1,2}"


@dataclass
class Answers:
    """What goes into the manifest's project, python and data sections."""

    name: str
    default_branch: str
    python_version: str
    install: str | None  # None: unknown (--yes writes the placeholder validate flags), or conda alone
    remote: str | None
    requirements: list[str] | None = None  # None: what detection found
    conda: str | None = None  # python.conda: the environment file CI creates


def defaults(found: Detection, template: Any) -> Answers:
    """Detected values; a template (an example's curated manifest) supplies the project name."""
    name = found.name
    if template is not None:
        name = str((template.get("project") or {}).get("name") or name)
    return Answers(
        name,
        found.default_branch,
        found.python_version,
        found.install,
        found.remote,
        list(found.requirements),
        found.conda,
    )


def check_answers(answers: Answers, found: Detection) -> dict[str, str]:
    """Why the answers cannot be written, by answer: a branch or a remote that does not exist."""
    problems: dict[str, str] = {}
    if found.is_git and not branch_exists(found.root, answers.default_branch):
        problems["branch"] = (
            f"default branch '{answers.default_branch}' does not exist in this repository (locally or on "
            "origin); name the branch your pull requests merge into"
        )
    if answers.remote:
        problem = remote_problem(answers.remote, found.remotes)
        if problem:
            problems["remote"] = problem
    return problems


def _fine(answer: str) -> str | None:
    return None


@dataclass(frozen=True)
class Question:
    """One question: its text, the answer offered (None: none, an answer is needed) and whether the
    prompt shows it, and ``problem``: what is wrong with an answer (given stripped; None: nothing)."""

    text: str
    default: str | None
    problem: Callable[[str], str | None] = _fine
    show_default: bool = True


@dataclass(frozen=True)
class Terminal:
    """How ``init`` talks with the user (each call may raise click's Abort): ``echo`` and ``warn`` a
    line on stdout and stderr; ``ask`` a question, returning the stripped answer once the question
    finds no problem with it; ``choose`` one of numbered options listed under a heading, returning
    its number (from 1); ``confirm`` a yes/no question whose default is no."""

    echo: Echo
    warn: Echo
    ask: Callable[[Question], str]
    choose: Callable[[str, Sequence[str], str], int]
    confirm: Callable[[str], bool]


def interview(start: Answers, found: Detection, terminal: Terminal) -> Answers:
    """The answers as the user confirms or changes them, each detected one offered first; a branch or
    a remote that does not exist, or an empty install command, is asked again."""
    ask = terminal.ask
    name = ask(Question("Project name", start.name, matching(NAME, "a valid name (letters, digits, . _ -)")))
    branch = ask(Question("Default branch", start.default_branch, existing(start, found, "branch")))
    version_problem = matching(PYTHON_VERSION, "a Python version such as 3.11")
    version = ask(Question("Python version", start.python_version, version_problem))
    requirements = start.requirements
    if len(found.install_options) > 1:
        # Several requirement files (a requirements/ folder): which one the pipeline needs.
        options = found.install_options
        number = terminal.choose(
            "Requirement files found:", options, "Which one installs what the pipeline needs"
        )
        chosen = requirements_choice(found.root, options[number - 1], tuple(options))
        start = replace(start, install=chosen.command)
        requirements = list(chosen.requirements)
    if start.conda:
        text = f"Command run in the conda environment of {start.conda} after it is created (empty for none)"
        install: str | None = (
            ask(Question(text, start.install or "", show_default=bool(start.install))) or None
        )
    else:
        text = "Command that installs the project's requirements"
        install = ask(Question(text, start.install, matching(r".*\S.*", "a command")))
    remote = ask(
        Question("DVC remote (empty for none)", start.remote or "", existing(start, found, "remote"))
    )
    return Answers(name, branch, version, install, remote or None, requirements, start.conda)


def matching(regex: str, what: str) -> Callable[[str], str | None]:
    """An answer that does not match ``regex`` is not ``what``."""
    return lambda answer: None if re.fullmatch(regex, answer) else f"{answer!r} is not {what}"


def existing(start: Answers, found: Detection, kind: str) -> Callable[[str], str | None]:
    """A ``kind`` ("branch" or "remote") that does not exist, as :func:`check_answers` says it."""

    def problem(answer: str) -> str | None:
        trial = replace(
            start, **({"default_branch": answer} if kind == "branch" else {"remote": answer or None})
        )
        return check_answers(trial, found).get(kind)

    return problem
