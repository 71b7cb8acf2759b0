"""Shared pytest fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests are seeded: every run (a fresh CI clone has no example database) draws the same
# examples, so a red CI is reproducible. MLOPS_HYPOTHESIS_PROFILE=explore draws new ones, and keeps
# what fails in .hypothesis/ for the next run.
settings.register_profile("seeded", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("MLOPS_HYPOTHESIS_PROFILE", "seeded"))

# Tests run the project's own tools (dvc, mlops-gitops, zizmor, act) as subprocesses: put the running
# interpreter's bin directory first on PATH so they resolve to this environment's, however pytest started.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
# Tests make real git commits in temp repositories: give them an identity without touching global config.
for _name, _value in {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "DVC_NO_ANALYTICS": "1",
}.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fake GitHub REST server over real HTTP (see tests/fakegithub.py); retries do not sleep."""
    from tests.fakegithub import FakeGitHub

    monkeypatch.setenv("MLOPS_GITOPS_RETRY_BACKOFF", "0")
    with FakeGitHub() as fake:
        yield fake
