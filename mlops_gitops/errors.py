"""Every error the tool raises on purpose, and the exit code each one means.

Exit codes (documented in the README, mapped in one place, :func:`mlops_gitops.cli.main`):

* ``0`` success;
* ``1`` a check said no (a gate failed, a generated file is stale, data failed validation, drift,
  GitHub refused);
* ``2`` bad input (a manifest problem, an unknown revision, an unreadable file), one line per problem;
* ``3`` a bug in mlops-gitops: one line on stderr, the traceback in a log file;
* ``130`` interrupted (Ctrl-C).

A user-caused failure is an :class:`MlopsError` subclass; anything else that escapes a command is an
internal error. So an ``except`` anywhere else in the package names the errors it expects, never
``Exception``: a bug must surface as exit 3, not disguised as a GitHub or input failure.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


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
        return one_line(text)


def one_line(text: str) -> str:
    """``text`` on one line: quoted user values may hold line breaks."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class MlopsError(Exception):
    """A user-facing failure, printed as its lines on stderr; the process exits with ``exit_code``."""

    exit_code = EXIT_BAD_INPUT

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
    """Bad input that is not a manifest problem (unknown revision, missing file, bad option)."""


class GitError(UsageError):
    """git refused: unknown revision, not a repository, ..."""


class DvcError(UsageError):
    """DVC refused or failed; the message is DVC's own first line, never its traceback."""


class MetricsFileError(UsageError):
    """A metrics or params file that does not parse; the message is ``file:line:col: ...``."""


class DataError(UsageError):
    """A data file that cannot be read as the format it claims (or that the manifest declares)."""


class YamlEditError(UsageError):
    """A deployment file whose field cannot be found or set byte-minimally."""


class YamlBombError(UsageError):
    """A YAML document whose aliases recurse or expand beyond the tool's bound."""


class PrometheusError(MlopsError):
    """Prometheus could not be reached, timed out or refused; exit 1 (the input was fine, the service
    said no, as for GitHub)."""

    exit_code = EXIT_CHECK_FAILED


class PromQLError(PrometheusError):
    """A query Prometheus rejects as malformed, or whose answer is not the one number asked for; exit 2."""

    exit_code = EXIT_BAD_INPUT


class CheckFailed(MlopsError):
    """A check ran and said no (gate failed, generated file stale); exit code 1."""

    exit_code = EXIT_CHECK_FAILED


class GitHubError(MlopsError):
    """GitHub refused or failed after retries; exit 1 (the input was fine, the service said no)."""

    exit_code = EXIT_CHECK_FAILED
