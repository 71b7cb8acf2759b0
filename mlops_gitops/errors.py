"""The one error family the CLI knows how to print.

Every failure a user can cause (bad manifest, unknown revision, unreadable data file) is raised as a
subclass of :class:`MlopsError`; ``cli.py`` prints its lines to stderr and exits with its code, so no
traceback ever reaches the user.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One located problem: ``file:line:col: path: message`` (line and col are 1-based)."""

    file: str
    line: int | None
    col: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        # One problem, one line: values quoted from the user's file may hold line breaks.
        return text.replace("\r", "\\r").replace("\n", "\\n")


class MlopsError(Exception):
    """A user-facing failure. ``exit_code`` 2 means bad input; 1 means a check failed."""

    exit_code = 2

    def lines(self) -> list[str]:
        return [str(self)]


class ManifestError(MlopsError):
    """One or more problems in mlops.yaml, each printed on its own line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class UsageError(MlopsError):
    """Bad input that is not located in a file (unknown revision, missing file, bad option)."""


class CheckFailed(MlopsError):
    """A check ran and said no (gate failed, generated file stale); exit code 1."""

    exit_code = 1
