"""reporting.comment: what ``comment`` prints for each way posting ends, and that a report that
cannot be posted is refused before the run is recorded or GitHub is asked anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_gitops.adapters.github.comments import Outcome
from mlops_gitops.errors import UsageError
from mlops_gitops.reporting.comment import Commented, Posted, comment


def test_posted_prints_what_was_recorded_then_where_the_comment_is() -> None:
    url = "https://github.com/acme/models/pull/3#issuecomment-1"
    posted = Posted(3, Outcome("updated", url, 1))
    result = Commented(posted, ("committed: recorded dvc.lock in abc",), in_actions=False)
    assert result.stdout == f"committed: recorded dvc.lock in abc\nupdated comment on PR #3: {url}\n"
    assert (result.stderr, result.outputs, result.exit_code) == ((), {}, 0)
    in_ci = Commented(posted, (), in_actions=True)
    assert in_ci.outputs == {"comment-url": url, "comment-action": "updated"}


def test_not_posted_says_why_and_is_no_failure() -> None:
    result = Commented(Posted(3, None, "the PR's head moved on"), (), in_actions=True)
    assert result.stdout == "not posted: the PR's head moved on\n"
    assert (result.stderr, result.outputs, result.exit_code) == ((), {}, 0)


def test_a_refused_recording_is_posted_all_the_same_and_fails_the_step() -> None:
    posted = Posted(3, Outcome("created", "u", 1), record_error="GitHub said no: contents: write")
    result = Commented(posted)
    assert result.stdout == "created comment on PR #3: u\n"
    assert result.stderr == ("GitHub said no: contents: write",) and result.exit_code == 1


def test_an_unmarked_report_is_refused_before_the_recorder_runs(tmp_path: Path) -> None:
    calls: list[Any] = []

    def recorder(*given: Any) -> tuple[None, list[str]]:
        calls.append(given)
        return None, []

    report = tmp_path / "report.md"
    report.write_text("no marker\n")
    with pytest.raises(UsageError, match=r"report\.md:1:1: the report must start with its marker line"):
        comment(str(report), record_mode="commit", lock_dir=str(tmp_path), recorder=recorder)
    assert calls == []
