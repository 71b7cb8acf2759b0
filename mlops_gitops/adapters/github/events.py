"""Which pull request a run belongs to: the event payload GitHub wrote (untrusted data), and the open
pull requests whose head is exactly a run's, or that contain a commit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_gitops.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from github.PullRequest import PullRequest
    from github.Repository import Repository


def _event_payload(event_path: str | None) -> Mapping[str, object] | None:
    """The event payload GitHub wrote (untrusted data): a mapping, or None without one."""
    if not event_path:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{event_path}: cannot read the event payload: {exc}") from None
    return event if isinstance(event, dict) else None


def pr_number_from_event(event_path: str | None) -> int | None:
    """The PR number in a pull_request / issue_comment / workflow_run event payload, if any."""
    event = _event_payload(event_path)
    if event is None:
        return None
    candidates: list[object] = []
    pull = event.get("pull_request")
    if isinstance(pull, dict):
        candidates.append(pull.get("number"))
    issue = event.get("issue")
    if isinstance(issue, dict) and issue.get("pull_request"):
        candidates.append(issue.get("number"))
    run = event.get("workflow_run")
    if isinstance(run, dict):
        candidates += [p.get("number") for p in run.get("pull_requests") or [] if isinstance(p, dict)]
    for value in candidates:
        # bool is an int in Python; a payload is untrusted data, so insist on a real positive integer.
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@dataclass(frozen=True)
class RunHead:
    """Where the run that made a report came from, as GitHub states it in a ``workflow_run`` payload
    (not as the run's own artifact says): head repository ``owner/name``, branch and commit."""

    repository: str
    branch: str
    sha: str


def run_head_from_event(event_path: str | None) -> RunHead | None:
    """The triggering run's head, when the event is ``workflow_run``; None for any other event."""
    event = _event_payload(event_path)
    run = event.get("workflow_run") if event is not None else None
    if not isinstance(run, dict):
        return None
    head_repo = run.get("head_repository")
    repository = head_repo.get("full_name") if isinstance(head_repo, dict) else None
    branch, sha = run.get("head_branch"), run.get("head_sha")
    if not all(isinstance(v, str) and v for v in (repository, branch, sha)):
        raise UsageError(
            f"{event_path}: the workflow_run payload lacks head_repository.full_name, head_branch or "
            "head_sha, so the report's pull request cannot be verified"
        )
    return RunHead(str(repository), str(branch), str(sha))


def pulls_for_run(repo: Repository, run: RunHead) -> list[PullRequest]:
    """Open PRs of ``repo`` whose head is exactly the run's: same repository, branch and commit.

    The commit alone is not enough: a maintainer who pushes a fork's commits to a branch here (to run
    CI with secrets) makes the fork's own run share that commit with the maintainer's PR.
    """
    owner = run.repository.split("/", 1)[0]
    return [
        pr
        for pr in repo.get_pulls(state="open", head=f"{owner}:{run.branch}")
        if pr.head.sha == run.sha
        and pr.head.ref == run.branch
        and pr.head.repo is not None
        and pr.head.repo.full_name == run.repository
    ]


def pulls_for_commit(repo: Repository, sha: str) -> list[PullRequest]:
    """Open PRs whose head contains ``sha`` (GitHub's "list pull requests associated with a commit")."""
    return [p for p in repo.get_commit(sha).get_pulls() if p.state == "open"]
