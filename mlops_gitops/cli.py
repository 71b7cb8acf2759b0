"""The ``mlops-gitops`` command line.

Each command lives in its own module under ``mlops_gitops.commands`` and is imported only when it
runs, so ``generate --check`` never pays for importing DVC or PyGithub. A command module exposes a
click command named ``command``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any, NoReturn

import click

from mlops_gitops import __version__

# name -> (module, one-line help shown by `mlops-gitops --help` without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "Detect an existing repo (or scaffold an example), write mlops.yaml, generate."),
    "generate": (
        "generate",
        "Render dvc.yaml and .github/workflows/* from mlops.yaml (--check: verify only).",
    ),
    "validate": ("validate", "Validate mlops.yaml and print every problem with file:line:col."),
    "schema": ("schema", "Print the JSON Schema of mlops.yaml (for editors)."),
    "changed": ("changed", "Tell whether the files changed between two revisions should retrain."),
    "plan": ("plan", "Split the changed stages into jobs: upstream, a job matrix, and a final job."),
    "push-runs": (
        "push_runs",
        "dvc push --run-cache, plus the uncached outputs runs need to be restored elsewhere.",
    ),
    "report": ("report", "Compare metrics and params between two revisions, apply gates."),
    "comment": ("comment", "Post or update the one sticky PR comment with a report."),
    "promote": ("promote", "Open or update the deployment PR that promotes a model to an environment."),
    "retrain-pr": ("retrain_pr", "Open or update the retrained-model PR from a retrain's artifact."),
    "register": ("register", "Record deploy.model in DVC's model registry format (GTO tags)."),
    "validate-data": ("validate_data", "Check input data files against the manifest's data checks."),
    "monitor": ("monitor", "Compare production logs with the training baseline; alert on drift."),
    "rollout": ("rollout", "Move each rollout in progress one step by PR: advance, promote or roll back."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._available(name)]

    def _available(self, name: str) -> bool:
        return importlib.util.find_spec(f"mlops_gitops.commands.{COMMANDS[name][0]}") is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not self._available(cmd_name):
            return None
        module = importlib.import_module(f"mlops_gitops.commands.{COMMANDS[cmd_name][0]}")
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlops-gitops")
def cli() -> None:
    """GitOps for machine learning: one manifest (mlops.yaml) renders the DVC pipeline and secure
    GitHub Actions workflows; pull requests get a gated metric report; passing models are promoted
    by deployment pull requests."""


@cli.result_callback()
def exit_with(result: Any) -> None:
    """A command returns its exit code; make it the process's, however click was invoked."""
    if isinstance(result, int) and result:
        click.get_current_context().exit(result)


def main(argv: list[str] | None = None) -> int:
    """Entry point, and the one place errors become exit codes (see :mod:`mlops_gitops.errors`):
    our errors print their lines, a bug prints one line and leaves its traceback in a log file."""
    from mlops_gitops import errors

    try:
        result = cli.main(args=argv, prog_name="mlops-gitops", standalone_mode=False)
        return result if isinstance(result, int) else errors.EXIT_OK
    except errors.MlopsError as exc:
        for line in exc.lines():
            click.echo(redact_tokens(line), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(errors.EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(errors.EXIT_INTERRUPTED)
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            broken_dvc(exc, argv)
        click.echo(
            f"this command needs {exc.name}, which is not installed: pip install 'mlops-gitops[{extra}]' "
            "(or 'mlops-gitops[all]' for every command)",
            err=True,
        )
        sys.exit(errors.EXIT_BAD_INPUT)
    except ImportError as exc:  # DVC installed, but one of its imports fails (or a bug of ours)
        broken_dvc(exc, argv)
    except Exception as exc:  # a bug: say so in one line, keep the traceback for the report
        raise_internal(exc, argv)


# The optional dependencies, by top-level module, and the extra that installs them (pyproject.toml).
EXTRAS = {
    "dvc": "dvc",
    "dvc_data": "dvc",
    "github": "github",
    "pyarrow": "data",
    "numpy": "data",
    "scipy": "data",
}


def broken_dvc(exc: ImportError, argv: list[str] | None) -> NoReturn:
    """An import that failed inside DVC: DVC is installed but broken (a project's ``dvc==`` or a pin of
    one of its dependencies installed over it). Said in one line, exit 2; anything else is a bug."""
    from mlops_gitops import errors
    from mlops_gitops.adapters.dvc import dvc_import_failure, raised_in_dvc

    message = dvc_import_failure(exc) if raised_in_dvc(exc) else None
    if message is None:
        raise_internal(exc, argv)
    click.echo(redact_tokens(message), err=True)
    sys.exit(errors.EXIT_BAD_INPUT)


def raise_internal(exc: BaseException, argv: list[str] | None) -> NoReturn:
    """A bug: one line naming the log file that holds the traceback, exit 3."""
    from mlops_gitops import errors

    log = crash_log(exc, argv if argv is not None else sys.argv[1:])
    what = redact_tokens(" ".join(f"{type(exc).__name__}: {exc}".split()))[:300]
    where = f"details in {log}" if log else "no log file could be written"
    click.echo(f"internal error: {what}; {where}, please report it", err=True)
    sys.exit(errors.EXIT_INTERNAL)


# Environment variables that may hold a token; their values never reach output or the crash log.
TOKEN_VARIABLES = ("GITHUB_TOKEN", "MLOPS_GITOPS_TOKEN", "GH_TOKEN")


def redact_tokens(text: str) -> str:
    for name in TOKEN_VARIABLES:
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def crash_log(exc: BaseException, argv: list[str]) -> str | None:
    """Append the traceback of an internal error to the user's log file; its path, or None."""
    import datetime
    import platform
    import tempfile
    import traceback

    from mlops_gitops import __version__

    entry = "\n".join(
        [
            f"=== {datetime.datetime.now(datetime.timezone.utc).isoformat()} mlops-gitops {__version__}",
            f"python {platform.python_version()} on {platform.platform()}",
            f"argv: {argv}",
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        ]
    )
    entry = redact_tokens(entry)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for folder in (os.path.join(base, "mlops-gitops"), tempfile.gettempdir()):
        path = os.path.join(folder, "mlops-gitops.log")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(entry + "\n")
        except OSError:
            continue
        return path
    return None
