"""Connecting to GitHub (or GitHub Enterprise Server) and turning its failures into one-line errors.

PyGithub costs ~0.4 s to import, so ``github`` is imported only inside functions: commands that never
talk to GitHub do not pay for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops_gitops.errors import GitHubError, MlopsError, UsageError
from mlops_gitops.names import GITHUB_BODY_LIMIT

if TYPE_CHECKING:  # pragma: no cover
    import github

DEFAULT_API_URL = "https://api.github.com"
# The identity GitHub uses for GITHUB_TOKEN; commits we create carry it so we can tell ours apart.
BOT_LOGIN = "github-actions[bot]"
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


@dataclass(frozen=True)
class BotIdentity:
    """Who mlops-gitops acts as: the login its comments, issues and PRs carry, and the identity of the
    commits it makes. Only what this identity wrote is ever edited: a public marker alone proves nothing.

    Default: ``github-actions[bot]``, the identity of ``GITHUB_TOKEN``. With a GitHub App's token set
    ``MLOPS_GITOPS_BOT_LOGIN`` (``my-app[bot]``) and ``MLOPS_GITOPS_BOT_NAME``/``_EMAIL`` for its commits.
    """

    login: str = BOT_LOGIN
    name: str = BOT_NAME
    email: str = BOT_EMAIL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BotIdentity:
        env = os.environ if env is None else env
        name = env.get("MLOPS_GITOPS_BOT_NAME") or BOT_NAME
        return cls(
            login=env.get("MLOPS_GITOPS_BOT_LOGIN") or (name if name.endswith("[bot]") else BOT_LOGIN),
            name=name,
            email=env.get("MLOPS_GITOPS_BOT_EMAIL") or BOT_EMAIL,
        )


@dataclass(frozen=True)
class GitHubContext:
    """Where and as whom to talk to GitHub, read from the Actions environment."""

    api_url: str = DEFAULT_API_URL
    repository: str | None = None
    token: str | None = field(default=None, repr=False)
    event_path: str | None = None
    sha: str | None = None
    backoff: float = 1.0
    timeout: float = 15.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, token_vars: Iterable[str] = ("GITHUB_TOKEN",)
    ) -> GitHubContext:
        env = os.environ if env is None else env
        token = next((env[v] for v in token_vars if env.get(v)), None)
        try:
            backoff = float(env.get("MLOPS_GITOPS_RETRY_BACKOFF", "1"))
        except ValueError:
            raise UsageError("MLOPS_GITOPS_RETRY_BACKOFF must be a number of seconds") from None
        return cls(
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            repository=env.get("GITHUB_REPOSITORY") or None,
            token=token,
            event_path=env.get("GITHUB_EVENT_PATH") or None,
            sha=env.get("GITHUB_SHA") or None,
            backoff=max(backoff, 0.0),
        )

    def require_repository(self, repo: str | None = None) -> str:
        name = repo or self.repository
        if not name or not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", name):
            raise UsageError("GITHUB_REPOSITORY is not set (expected owner/name)")
        return name


def connect(ctx: GitHubContext, token_hint: str = "GITHUB_TOKEN") -> github.Github:
    """A PyGithub client with retries for 5xx and rate limits, 100 items per page and a timeout."""
    if not ctx.token:
        raise UsageError(f"{token_hint} is not set: pass the token to this step through env:")
    import logging

    import github
    from github import Auth, GithubRetry

    # PyGithub logs every retried request at INFO on stderr; our failures are reported as one line.
    github.set_log_level(logging.WARNING)

    # backoff scales every wait so tests (and impatient users) can set it to 0; Retry-After from
    # GitHub is honoured up to 2 minutes at the default scale.
    retry = GithubRetry(
        total=4,
        backoff_factor=ctx.backoff,
        secondary_rate_wait=60 * ctx.backoff,
        retry_after_max=int(120 * ctx.backoff),
        # After the last retry, hand GitHub's own answer to PyGithub (a GithubException with status and
        # message) instead of urllib3's "too many 500 error responses".
        raise_on_status=False,
    )
    return github.Github(
        base_url=ctx.api_url,
        auth=Auth.Token(ctx.token),
        retry=retry,
        per_page=100,
        timeout=int(ctx.timeout),
        # PyGithub's own pacing (GitHub's advice against secondary rate limits), scaled the same way.
        seconds_between_requests=0.25 * ctx.backoff,
        seconds_between_writes=1.0 * ctx.backoff,
        user_agent="mlops-gitops",
    )


def redact(text: str, token: str | None) -> str:
    """``text`` with every occurrence of ``token`` (and its common encodings) replaced by ``***``."""
    if not token:
        return text
    import base64

    for secret in (
        token,
        base64.b64encode(token.encode()).decode(),
        base64.b64encode(f"x-access-token:{token}".encode()).decode(),
    ):
        text = text.replace(secret, "***")
    return text


# Permission GitHub wants for an API route, as written in a workflow's `permissions:` block.
_PERMISSION_HINTS: tuple[tuple[str, str], ...] = (
    (r"/git/|/contents/", "contents: write"),
    (r"/pulls", "pull-requests: write"),
    (r"/issues/\d+/comments|/issues/comments/", "pull-requests: write (or issues: write)"),
    (r"/issues", "issues: write"),
    (r"/actions/", "actions: write"),
)


def _accepted_permissions(headers: Mapping[str, object] | None) -> str | None:
    """GitHub names the permissions a route accepts in X-Accepted-GitHub-Permissions."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "x-accepted-github-permissions"), None)
    if not value:
        return None
    parts = [p.strip() for p in str(value).split(";") if p.strip()]
    return " or ".join(p.replace("_", "-").replace("=", ": ") for p in parts) or None


def _message(data: object) -> str:
    """GitHub's error body (untrusted JSON, or whatever came back) as one short text."""
    if isinstance(data, dict):
        msg = str(data.get("message") or "")
        details = [
            str(e.get("message") or e.get("code") or "") if isinstance(e, dict) else str(e)
            for e in data.get("errors") or []
        ]
        details = [d for d in details if d]
        return f"{msg} ({'; '.join(details)})" if details else msg
    return str(data or "").strip()


def describe(
    exc: BaseException, action: str, token: str | None, permission: str | None = None
) -> GitHubError:
    """One line for ``exc`` raised while doing ``action``; the token never appears in it."""
    from github import GithubException

    if isinstance(exc, GithubException):
        status = exc.status
        msg = _message(exc.data)
        if status == 401:
            line = f"{action}: GitHub said 401 Bad credentials: check the token"
        elif status == 403 and "rate limit" in msg.lower():
            line = f"{action}: GitHub rate limit still exceeded after retries: {msg}"
        elif status == 403:
            needed = _accepted_permissions(exc.headers) or permission or "write access"
            line = (
                f"{action}: GitHub answered 403 ({msg or 'Forbidden'}): the token lacks `{needed}` "
                "(fork pull requests never get it; use the workflow_run comment workflow)"
            )
        elif status == 404:
            line = f"{action}: GitHub answered 404 Not Found (wrong repository, or the token cannot see it)"
        else:
            line = f"{action}: GitHub answered {status}: {msg or 'no message'}"
    else:
        # requests/urllib3 failures (connection refused, retries exhausted) carry URLs, never headers.
        line = f"{action}: cannot reach GitHub: {type(exc).__name__}: {exc}"
    line = " ".join(redact(line, token).split())
    return GitHubError(line)


@dataclass
class Step:
    """What a sequence of GitHub calls is doing right now, named in the error if one fails."""

    action: str
    permission: str | None = None
    suffix: str = ""


@contextmanager
def translated_errors(
    ctx: GitHubContext, action: str, permission: str | None = None, suffix: str = ""
) -> Iterator[Step]:
    """The one place GitHub failures become one-line errors: GitHub's refusals (``GithubException``)
    and transport failures (``requests``) raise :class:`GitHubError` naming ``step.action``, without
    the token. Our own errors pass through; anything else is a bug and is left to surface as one."""
    import requests
    from github import GithubException

    step = Step(action, permission, suffix)
    try:
        yield step
    except MlopsError:
        raise
    except (GithubException, requests.RequestException) as exc:
        error = describe(exc, step.action, ctx.token, step.permission)
        raise GitHubError(f"{error}{step.suffix}") from None


def cap(body: str, limit: int = GITHUB_BODY_LIMIT) -> str:
    """``body`` cut to GitHub's limit for comment / issue / PR bodies, saying that it was cut."""
    if len(body) <= limit:
        return body
    note = "\n\n… (truncated: the full report is in the job summary)\n"
    return body[: limit - len(note)] + note


__all__ = [
    "BOT_EMAIL",
    "BOT_LOGIN",
    "BOT_NAME",
    "BotIdentity",
    "GitHubContext",
    "GitHubError",
    "Step",
    "cap",
    "connect",
    "describe",
    "redact",
    "translated_errors",
]
