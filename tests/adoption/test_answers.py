"""adoption.answers.interview: the questions init asks, in order, with the detected answers
offered, what makes an answer wrong, and the answers it returns (the terminal is scripted here; the
click prompts that re-ask are tests/test_init.py's)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from mlops_gitops.adoption.answers import Answers, Question, Terminal, defaults, interview
from mlops_gitops.adoption.detect import Detection, detect


def git_repo(root: Path, files: dict[str, str]) -> Detection:
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return detect(root)


class Script:
    """A terminal that answers from a script and remembers what it was asked."""

    def __init__(self, answers: dict[str, str], choice: int = 1) -> None:
        self.answers, self.choice = answers, choice
        self.asked: list[Question] = []
        self.listed: list[tuple[str, list[str], str]] = []

    def ask(self, question: Question) -> str:
        self.asked.append(question)
        return self.answers.get(question.text, question.default or "")

    def choose(self, heading: str, options: Sequence[str], question: str) -> int:
        self.listed.append((heading, list(options), question))
        return self.choice

    def terminal(self) -> Terminal:
        return Terminal(print, print, self.ask, self.choose, lambda text: False)


def test_the_detected_answers_are_offered_in_order(tmp_path: Path) -> None:
    found = git_repo(tmp_path, {"requirements.txt": "numpy\n"})
    script = Script({})
    answers = interview(defaults(found, None), found, script.terminal())
    assert [(q.text, q.default) for q in script.asked] == [
        ("Project name", found.name),
        ("Default branch", "main"),
        ("Python version", found.python_version),
        ("Command that installs the project's requirements", "python -m pip install -r requirements.txt"),
        ("DVC remote (empty for none)", ""),
    ]
    assert answers == Answers(
        found.name,
        "main",
        found.python_version,
        "python -m pip install -r requirements.txt",
        None,
        ["requirements.txt"],
    )
    assert script.listed == []  # one requirement file: nothing to choose


def test_what_makes_an_answer_wrong(tmp_path: Path) -> None:
    found = git_repo(tmp_path, {"requirements.txt": "numpy\n"})
    script = Script({})
    interview(defaults(found, None), found, script.terminal())
    name, branch, version, install, remote = script.asked
    assert name.problem("my-project.v2") is None
    assert name.problem("bad name!") == "'bad name!' is not a valid name (letters, digits, . _ -)"
    assert branch.problem("main") is None
    assert "default branch 'develop' does not exist" in (branch.problem("develop") or "")
    assert (
        version.problem("3.12") is None
        and version.problem("2.7") == "'2.7' is not a Python version such as 3.11"
    )
    assert install.problem("") == "'' is not a command"
    assert remote.problem("") is None
    assert "DVC remote 'nope' is not in .dvc/config" in (remote.problem("nope") or "")


def test_several_requirement_files_are_chosen_from(tmp_path: Path) -> None:
    files = {
        "requirements/train-requirements.txt": "numpy\n",
        "requirements/base.txt": "pandas\n",
        "requirements/ci-requirements.txt": "pytest\n",
    }
    found = git_repo(tmp_path, files)
    script = Script({}, choice=3)
    answers = interview(defaults(found, None), found, script.terminal())
    ((heading, options, question),) = script.listed
    assert heading == "Requirement files found:" and question == "Which one installs what the pipeline needs"
    assert options == found.install_options and len(options) == 3
    # The install command offered next is the chosen file's.
    assert script.asked[3].default == "python -m pip install -r requirements/ci-requirements.txt"
    assert answers.requirements == ["requirements/ci-requirements.txt"]


def test_a_conda_project_may_leave_the_install_command_empty(tmp_path: Path) -> None:
    env = "name: x\ndependencies:\n  - python=3.9\n  - pip\n"
    found = git_repo(tmp_path, {"environment.yml": env})
    script = Script({})
    answers = interview(defaults(found, None), found, script.terminal())
    install = script.asked[3]
    assert install.text.startswith("Command run in the conda environment of environment.yml")
    assert (install.default, install.show_default) == ("", False)
    assert answers.install is None and answers.conda == "environment.yml"
