"""Context from the environment, redaction and one-line errors."""

from __future__ import annotations

import base64

import pytest

from mlops_gitops.adapters.github import client
from mlops_gitops.errors import UsageError
from tests.fakegithub import FakeGitHub

TOKEN = "ghs_secretSECRETsecret123"


def test_context_defaults_and_overrides() -> None:
    ctx = client.GitHubContext.from_env({})
    assert ctx.api_url == "https://api.github.com" and ctx.token is None and ctx.backoff == 1.0
    ctx = client.GitHubContext.from_env(
        {"GITHUB_API_URL": "https://ghe.example.com/api/v3/", "GITHUB_TOKEN": "a", "MLOPS_GITOPS_TOKEN": "b"},
        token_vars=("MLOPS_GITOPS_TOKEN", "GITHUB_TOKEN"),
    )
    assert ctx.api_url == "https://ghe.example.com/api/v3" and ctx.token == "b"
    assert TOKEN not in repr(client.GitHubContext(token=TOKEN))
    with pytest.raises(UsageError, match="GITHUB_REPOSITORY"):
        ctx.require_repository()
    with pytest.raises(UsageError, match="MLOPS_GITOPS_RETRY_BACKOFF"):
        client.GitHubContext.from_env({"MLOPS_GITOPS_RETRY_BACKOFF": "soon"})


def test_connect_without_token_is_usage_error() -> None:
    with pytest.raises(UsageError, match="GITHUB_TOKEN is not set"):
        client.connect(client.GitHubContext())


def test_redact_plain_and_encoded() -> None:
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    text = f"token {TOKEN} and Basic {basic}"
    assert TOKEN not in client.redact(text, TOKEN) and basic not in client.redact(text, TOKEN)
    assert client.redact("nothing", None) == "nothing"


def test_cap() -> None:
    assert client.cap("short") == "short"
    capped = client.cap("x" * 70000)
    assert len(capped) == 65536 and capped.endswith("job summary)\n")


def test_describe_errors_as_one_line(fake_github: FakeGitHub) -> None:
    from github import GithubException

    fake_github.add_repo("acme/models")
    gh = client.connect(client.GitHubContext(api_url=fake_github.url, token=fake_github.token, backoff=0))
    for kind, expected in [
        ("permission", "pull-requests: write"),
        ("credentials", "401 Bad credentials"),
        ("server", "500"),
        ("secondary", "rate limit"),
    ]:
        fake_github.fail("GET", r"/repos/acme/models$", count=10, kind=kind, retry_after=0)
        with pytest.raises(GithubException) as info:
            gh.get_repo("acme/models")
        error = client.describe(info.value, "reading", fake_github.token)
        assert expected in str(error) and "\n" not in str(error) and error.exit_code == 1
        fake_github.faults.clear()
    with pytest.raises(GithubException) as info:
        gh.get_user().login  # noqa: B018 -- GITHUB_TOKEN cannot read /user
    assert info.value.status == 403


def test_wrong_token_gets_401(fake_github: FakeGitHub) -> None:
    from github import BadCredentialsException

    fake_github.add_repo("acme/models")
    gh = client.connect(client.GitHubContext(api_url=fake_github.url, token="nope", backoff=0))
    with pytest.raises(BadCredentialsException):
        gh.get_repo("acme/models")


def test_translated_errors_names_the_step_and_leaves_bugs_alone(fake_github: FakeGitHub) -> None:
    """GitHub's refusals become one GitHubError line naming what was being done; a programming error
    inside the block is not disguised as a GitHub failure (it surfaces as an internal error)."""
    from mlops_gitops.errors import GitHubError

    fake_github.add_repo("acme/models")
    ctx = client.GitHubContext(api_url=fake_github.url, token=fake_github.token, backoff=0)
    gh = client.connect(ctx)
    fake_github.fail("GET", r"/repos/acme/models$", count=10, kind="server", retry_after=0)
    with (
        pytest.raises(GitHubError) as info,
        client.translated_errors(ctx, "reading", suffix="; kept") as step,
    ):
        step.action = "reading the repository"
        gh.get_repo("acme/models")
    assert str(info.value).startswith("reading the repository: GitHub answered 500")
    assert str(info.value).endswith("; kept") and fake_github.token not in str(info.value)
    with pytest.raises(KeyError), client.translated_errors(ctx, "anything"):
        raise KeyError("a bug")
    with pytest.raises(UsageError, match="ours"), client.translated_errors(ctx, "anything"):
        raise UsageError("ours")
