"""Sticky issues and workflow dispatch (used by monitoring) against the fake GitHub."""

from __future__ import annotations

import pytest

from mlops_gitops.adapters.github import client, issues
from tests.fakegithub import BOT_LOGIN, FakeGitHub

REPO = "acme/models"
MARKER = "<!-- mlops-gitops:drift project=iris -->"


@pytest.fixture
def repo(fake_github: FakeGitHub):  # type: ignore[no-untyped-def]
    fake_github.add_repo(REPO)
    ctx = client.GitHubContext(api_url=fake_github.url, repository=REPO, token=fake_github.token, backoff=0)
    return client.connect(ctx).get_repo(REPO)


def test_issue_is_created_updated_and_closed_once(fake_github: FakeGitHub, repo) -> None:  # type: ignore[no-untyped-def]
    fake_github.add_pull(REPO, "feature", body=MARKER)  # a PR with the marker is not the issue
    made = issues.upsert_issue(repo, "Drift in iris", f"{MARKER}\nPSI 0.3", MARKER, ["drift", "mlops"])
    assert made.action == "created"
    again = issues.upsert_issue(repo, "Drift in iris", f"{MARKER}\nPSI 0.3", MARKER, ["drift", "mlops"])
    assert again == issues.IssueOutcome("unchanged", made.number, made.url)
    newer = issues.upsert_issue(repo, "Drift in iris", f"{MARKER}\nPSI 0.4", MARKER, ["drift", "mlops"])
    assert newer.action == "updated" and newer.number == made.number
    (issue,) = fake_github.issues(REPO)
    assert issue.body == f"{MARKER}\nPSI 0.4" and set(issue.labels) == {"drift", "mlops"}

    closed = issues.close_issue(repo, MARKER, "Back to normal.", ["drift"])
    assert closed.action == "closed"
    assert fake_github.issues(REPO)[0].state == "closed"
    assert fake_github.comments(REPO, made.number or 0)[0].body == "Back to normal."
    assert issues.close_issue(repo, MARKER).action == "none"
    assert issues.upsert_issue(repo, "Drift again", "PSI 0.5", MARKER, ["drift"]).action == "created"


def test_issue_found_after_labels_were_removed(fake_github: FakeGitHub, repo) -> None:  # type: ignore[no-untyped-def]
    number = fake_github.add_issue(REPO, "Drift", f"{MARKER}\nold", user=BOT_LOGIN)
    out = issues.upsert_issue(repo, "Drift", f"{MARKER}\nnew", MARKER, ["drift"])
    assert out.number == number and out.action == "updated"
    assert fake_github.issues(REPO)[0].labels == ["drift"]


def test_issue_listing_paginates(fake_github: FakeGitHub, repo) -> None:  # type: ignore[no-untyped-def]
    for i in range(130):
        fake_github.add_issue(REPO, f"noise {i}", "x", labels=["drift"])
    number = fake_github.add_issue(REPO, "Drift", MARKER, labels=["drift"], user=BOT_LOGIN)
    for i in range(5):
        fake_github.add_issue(REPO, f"later {i}", "x", labels=["drift"])
    assert issues.find_open_issue(repo, MARKER, ["drift"]).number == number


def test_a_human_issue_carrying_the_marker_is_left_alone(fake_github: FakeGitHub, repo) -> None:  # type: ignore[no-untyped-def]
    """Hostile: the marker is public; an issue someone else opened with it must not be edited or closed."""
    planted = fake_github.add_issue(REPO, "Pwned", f"{MARKER}\nmy text", labels=["drift"], user="mallory")
    made = issues.upsert_issue(repo, "Drift in iris", f"{MARKER}\nPSI 0.3", MARKER, ["drift"])
    assert made.action == "created" and made.number != planted
    human = next(i for i in fake_github.issues(REPO) if i.number == planted)
    assert human.body == f"{MARKER}\nmy text" and human.title == "Pwned" and human.state == "open"
    assert issues.close_issue(repo, MARKER, "clear", ["drift"]).number == made.number
    assert next(i for i in fake_github.issues(REPO) if i.number == planted).state == "open"


def test_an_app_identity_is_recognised(fake_github: FakeGitHub, repo) -> None:  # type: ignore[no-untyped-def]
    number = fake_github.add_issue(REPO, "Drift", f"{MARKER}\nold", user="mlops-deployer[bot]")
    assert issues.find_open_issue(repo, MARKER, bot_login="mlops-deployer[bot]").number == number
    assert issues.find_open_issue(repo, MARKER) is None


def test_dispatch_is_recorded(fake_github: FakeGitHub, repo) -> None:  # type: ignore[no-untyped-def]
    issues.dispatch_workflow(repo, "mlops-train.yml", "main", {"reason": "drift"})
    assert fake_github.dispatches == [
        {"repo": REPO, "workflow": "mlops-train.yml", "ref": "main", "inputs": {"reason": "drift"}}
    ]


def test_dispatch_refused_raises(fake_github: FakeGitHub, repo) -> None:  # type: ignore[no-untyped-def]
    from github import GithubException

    fake_github.fail("POST", r"/dispatches$", kind="permission", permissions="actions=write")
    with pytest.raises(GithubException) as info:
        issues.dispatch_workflow(repo, "mlops-train.yml", "main")
    line = str(client.describe(info.value, "starting retraining", fake_github.token))
    assert "actions: write" in line and fake_github.token not in line
