"""`mlops-gitops comment` against the fake GitHub over real HTTP (PyGithub pointed at it by base_url)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlops_gitops.cli import cli
from tests.fakegithub import FakeGitHub, env_for

REPO = "acme/models"
MARKER = "<!-- mlops-gitops:pr-report project=iris -->"


def report(tmp_path: Path, text: str = "accuracy 0.91", name: str = "report.md") -> Path:
    path = tmp_path / name
    path.write_text(f"{MARKER}\n## Metrics\n{text}\n", encoding="utf-8")
    return path


def run(fake: FakeGitHub, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    runner = CliRunner()
    result = runner.invoke(cli, list(args), env={**env_for(fake, REPO), **(env or {})}, catch_exceptions=True)
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    if result.exception and not isinstance(result.exception, SystemExit):
        from mlops_gitops.errors import MlopsError

        if isinstance(result.exception, MlopsError):
            return result.exception.exit_code, out + str(result.exception)
        raise result.exception
    return result.exit_code, out


@pytest.fixture
def pr(fake_github: FakeGitHub) -> int:
    fake_github.add_repo(REPO)
    return fake_github.add_pull(REPO, "feature")


def bot_comments(fake: FakeGitHub, number: int) -> list[str]:
    return [c.body for c in fake.comments(REPO, number) if c.body.startswith(MARKER)]


def test_creates_then_updates_then_leaves_unchanged(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 0, out
    assert "created comment" in out
    assert bot_comments(fake_github, pr) == [f"{MARKER}\n## Metrics\naccuracy 0.91\n"]

    code, out = run(
        fake_github, "comment", "--report", str(report(tmp_path, "accuracy 0.93")), "--pr", str(pr)
    )
    assert code == 0 and "updated comment" in out
    assert bot_comments(fake_github, pr) == [f"{MARKER}\n## Metrics\naccuracy 0.93\n"]

    writes = len(fake_github.writes())
    code, out = run(
        fake_github, "comment", "--report", str(report(tmp_path, "accuracy 0.93")), "--pr", str(pr)
    )
    assert code == 0 and "unchanged comment" in out
    assert len(fake_github.writes()) == writes, "an unchanged report must not touch the comment"


def test_finds_its_comment_beyond_the_first_100(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    fake_github.add_comments(REPO, pr, 150)
    fake_github.add_comments(REPO, pr, 1, body=f"{MARKER}\nold report\n", user="github-actions[bot]")
    fake_github.add_comments(REPO, pr, 60)
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 0 and "updated comment" in out, out
    assert len(bot_comments(fake_github, pr)) == 1
    assert len(fake_github.comments(REPO, pr)) == 211
    pages = fake_github.matching("GET", rf"/issues/{pr}/comments$")
    assert len(pages) == 2 and pages[0].query.get("per_page") == "100"


def test_quoted_marker_in_a_reply_is_not_our_comment(
    fake_github: FakeGitHub, pr: int, tmp_path: Path
) -> None:
    fake_github.add_comments(REPO, pr, 1, body=f"> {MARKER}\n> why did accuracy drop?")
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 0 and "created" in out
    assert fake_github.comments(REPO, pr)[0].body.startswith("> ")


def test_rerun_never_adds_a_second_comment(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    for i in range(3):
        code, _ = run(fake_github, "comment", "--report", str(report(tmp_path, f"run {i}")), "--pr", str(pr))
        assert code == 0
    assert len(bot_comments(fake_github, pr)) == 1


def test_other_project_gets_its_own_comment(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    other = tmp_path / "other.md"
    other.write_text("<!-- mlops-gitops:pr-report project=other -->\nhello\n", encoding="utf-8")
    assert run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))[0] == 0
    assert run(fake_github, "comment", "--report", str(other), "--pr", str(pr))[0] == 0
    assert len(fake_github.comments(REPO, pr)) == 2


def test_pr_from_event_payload(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": pr, "pull_request": {"number": pr}}))
    code, out = run(
        fake_github, "comment", "--report", str(report(tmp_path)), env={"GITHUB_EVENT_PATH": str(event)}
    )
    assert code == 0, out
    assert len(bot_comments(fake_github, pr)) == 1


def test_pr_from_head_commit(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    sha = fake_github.repo(REPO).refs["heads/feature"]
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), env={"GITHUB_SHA": sha})
    assert code == 0, out
    assert f"PR #{pr}" in out
    assert fake_github.count("GET", rf"/commits/{sha}/pulls") == 1


def test_no_pr_found_is_a_usage_error(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    main = fake_github.repo(REPO).refs["heads/main"]
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), env={"GITHUB_SHA": main})
    assert code == 2 and "--pr" in out


def test_report_without_marker_is_refused_before_any_request(
    fake_github: FakeGitHub, pr: int, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("## no marker\n")
    code, out = run(fake_github, "comment", "--report", str(bad), "--pr", str(pr))
    assert code == 2 and "marker" in out
    assert fake_github.requests == []


def test_forbidden_names_the_permission(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    fake_github.fail(
        "POST", r"/comments$", kind="permission", permissions="issues=write; pull_requests=write"
    )
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 1
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert "pull-requests: write" in lines[0] and "job summary" in lines[0]
    assert "Traceback" not in out


def test_server_errors_are_retried(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    fake_github.fail("GET", rf"/issues/{pr}/comments$", count=2, kind="server")
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 0, out
    assert fake_github.count("GET", rf"/issues/{pr}/comments$") == 3
    assert len(bot_comments(fake_github, pr)) == 1


def test_secondary_rate_limit_is_retried(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    fake_github.fail("POST", r"/comments$", count=1, kind="secondary", retry_after=30)
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 0, out
    assert fake_github.count("POST", r"/comments$") == 2
    assert len(bot_comments(fake_github, pr)) == 1


def test_persistent_server_error_is_one_line(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    fake_github.fail("GET", rf"/pulls/{pr}$", count=50, kind="server")
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 1
    assert "Traceback" not in out and fake_github.token not in out
    assert len([x for x in out.splitlines() if x.strip()]) == 1, out


def test_body_is_capped_at_github_limit(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path, "x" * 100_000)), "--pr", str(pr))
    assert code == 0, out
    (body,) = bot_comments(fake_github, pr)
    assert len(body) <= 65536 and "truncated" in body


def test_missing_token_is_a_usage_error(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    code, out = run(
        fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr), env={"GITHUB_TOKEN": ""}
    )
    assert code == 2 and "GITHUB_TOKEN" in out


@pytest.mark.parametrize("kind", ["permission", "credentials", "server"])
def test_token_never_leaks_in_process(fake_github: FakeGitHub, pr: int, tmp_path: Path, kind: str) -> None:
    fake_github.fail("GET", r".*", count=20, kind=kind)
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 1
    assert fake_github.token not in out


def test_token_never_leaks_from_a_subprocess(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    fake_github.fail("POST", r"/comments$", kind="permission")
    env = {**os.environ, **env_for(fake_github, REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "comment", "--report", str(report(tmp_path)), "--pr", str(pr)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert fake_github.token not in proc.stdout + proc.stderr
    # and with bad credentials (the token itself is what GitHub rejects)
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "comment", "--report", str(report(tmp_path)), "--pr", str(pr)],
        capture_output=True,
        text=True,
        env={**env, "GITHUB_TOKEN": "ghp_wrongTOKENvalue123"},
        timeout=60,
    )
    assert proc.returncode == 1 and "Bad credentials" in proc.stderr
    assert "ghp_wrongTOKENvalue123" not in proc.stdout + proc.stderr


def test_github_enterprise_api_prefix(tmp_path: Path) -> None:
    with FakeGitHub(prefix="/api/v3") as fake:
        fake.add_repo(REPO)
        number = fake.add_pull(REPO, "feature")
        fake.add_comments(REPO, number, 120)
        code, out = run(fake, "comment", "--report", str(report(tmp_path)), "--pr", str(number))
        assert code == 0, out
        assert fake.url.endswith("/api/v3")
        assert len(bot_comments(fake, number)) == 1


def test_report_for_another_commit_is_not_posted(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    """A fork's run could name any PR in pr-number.txt; the head SHA from workflow_run must match."""
    head = fake_github.repos[REPO].refs["heads/feature"]
    code, out = run(
        fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr), "--head-sha", "f" * 40
    )
    assert code == 0 and "not posted" in out
    assert bot_comments(fake_github, pr) == []
    code, out = run(
        fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr), "--head-sha", head
    )
    assert code == 0 and "created comment" in out
    assert len(bot_comments(fake_github, pr)) == 1


def test_a_human_comment_carrying_the_marker_is_left_alone(
    fake_github: FakeGitHub, pr: int, tmp_path: Path
) -> None:
    """Hostile: the marker is public. A comment someone else wrote with it is not ours to overwrite."""
    fake_github.add_comments(REPO, pr, 1, body=f"{MARKER}\nI wrote this", user="mallory")
    fake_github.add_comments(REPO, pr, 1, body=f"{MARKER}\nanother bot", user="renovate[bot]")
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(pr))
    assert code == 0 and "created comment" in out, out
    bodies = {c.user: c.body for c in fake_github.comments(REPO, pr)}
    assert bodies["mallory"] == f"{MARKER}\nI wrote this"
    assert bodies["renovate[bot]"] == f"{MARKER}\nanother bot"
    assert bodies["github-actions[bot]"].endswith("accuracy 0.91\n")
    # The next run edits the bot's own comment, still not the planted ones.
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path, "0.95")), "--pr", str(pr))
    assert code == 0 and "updated comment" in out
    assert [c.body for c in fake_github.comments(REPO, pr) if c.user == "mallory"] == [
        f"{MARKER}\nI wrote this"
    ]


def test_an_app_identity_finds_its_own_comment(fake_github: FakeGitHub, pr: int, tmp_path: Path) -> None:
    fake_github.add_comments(REPO, pr, 1, body=f"{MARKER}\nold", user="mlops-bot[bot]")
    code, out = run(
        fake_github,
        "comment",
        "--report",
        str(report(tmp_path)),
        "--pr",
        str(pr),
        env={"MLOPS_GITOPS_BOT_LOGIN": "mlops-bot[bot]"},
    )
    assert code == 0 and "updated comment" in out, out


FORK = "mallory/models"


def workflow_run_payload(tmp_path: Path, head_repo: str, branch: str, sha: str) -> str:
    """What GitHub puts in GITHUB_EVENT_PATH for the comment workflow: the run's head, by GitHub."""
    path = tmp_path / "event.json"
    path.write_text(
        json.dumps(
            {
                "action": "completed",
                "workflow_run": {
                    "id": 42,
                    "event": "pull_request",
                    "head_branch": branch,
                    "head_sha": sha,
                    "head_repository": {"full_name": head_repo},
                    "repository": {"full_name": REPO},
                    "pull_requests": [],
                },
            }
        )
    )
    return str(path)


@pytest.fixture
def fork_and_mirror(fake_github: FakeGitHub) -> tuple[int, int, str]:
    """A fork's PR (#fork_pr, mallory/models:feature), and the same commits pushed by a maintainer to a
    branch here (#mirror_pr, acme/models:mallory-feature) to run CI with secrets: one head SHA."""
    fake_github.add_repo(REPO)
    fake_github.add_repo(FORK)
    fake_github.add_file(FORK, "feature", "model.py", "poisoned = True\n")
    sha = fake_github.repo(FORK).refs["heads/feature"]
    fork_pr = fake_github.add_pull(REPO, "feature", head_repo=FORK, user="mallory")
    fake_github.repo(REPO).refs["heads/mallory-feature"] = sha
    mirror_pr = fake_github.add_pull(REPO, "mallory-feature", user="maintainer")
    return fork_pr, mirror_pr, sha


def test_a_fork_run_cannot_aim_its_report_at_the_maintainers_pr(
    fake_github: FakeGitHub, fork_and_mirror: tuple[int, int, str], tmp_path: Path
) -> None:
    """Hostile: the fork's run shares the head SHA with the maintainer's PR and writes that PR's number
    into its artifact. The payload's head repository and branch say whose run it was."""
    fork_pr, mirror_pr, sha = fork_and_mirror
    event = workflow_run_payload(tmp_path, FORK, "feature", sha)
    env = {"GITHUB_EVENT_PATH": event}
    code, out = run(
        fake_github,
        "comment",
        "--report",
        str(report(tmp_path)),
        "--pr",
        str(mirror_pr),
        "--head-sha",
        sha,
        env=env,
    )
    assert code == 0 and "not posted" in out, out
    assert f"names PR #{mirror_pr}" in out and f"head of PR #{fork_pr}" in out
    assert bot_comments(fake_github, mirror_pr) == [] and bot_comments(fake_github, fork_pr) == []

    # Its own PR number is accepted: the report lands where the run came from.
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(fork_pr), env=env)
    assert code == 0 and f"created comment on PR #{fork_pr}" in out, out
    # Without a hint, the PR is found from the payload alone.
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path, "0.5")), env=env)
    assert code == 0 and f"updated comment on PR #{fork_pr}" in out, out
    assert bot_comments(fake_github, mirror_pr) == []


def test_the_maintainers_run_posts_on_the_maintainers_pr(
    fake_github: FakeGitHub, fork_and_mirror: tuple[int, int, str], tmp_path: Path
) -> None:
    fork_pr, mirror_pr, sha = fork_and_mirror
    env = {"GITHUB_EVENT_PATH": workflow_run_payload(tmp_path, REPO, "mallory-feature", sha)}
    code, out = run(
        fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(mirror_pr), env=env
    )
    assert code == 0 and f"created comment on PR #{mirror_pr}" in out, out
    assert bot_comments(fake_github, fork_pr) == []


def test_a_closed_pr_or_a_moved_head_gets_nothing(
    fake_github: FakeGitHub, fork_and_mirror: tuple[int, int, str], tmp_path: Path
) -> None:
    fork_pr, _, sha = fork_and_mirror
    env = {"GITHUB_EVENT_PATH": workflow_run_payload(tmp_path, FORK, "feature", "e" * 40)}
    code, out = run(fake_github, "comment", "--report", str(report(tmp_path)), "--pr", str(fork_pr), env=env)
    assert code == 0 and "no open pull request has the run's head" in out, out
    env = {"GITHUB_EVENT_PATH": workflow_run_payload(tmp_path, FORK, "feature", sha)}
    code, out = run(
        fake_github, "comment", "--report", str(report(tmp_path)), "--head-sha", "d" * 40, env=env
    )
    assert code == 2 and "not the triggering run's head commit" in out
    assert bot_comments(fake_github, fork_pr) == []
