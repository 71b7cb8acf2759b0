"""metrics.plots.matched: plots drawn from Git are kept in .git, and a report run again imports no DVC.

Real Git + DVC repositories; what comes back from the memo is compared with what DVC's plots API
reads (the same oracle as tests/metrics/test_plots_git.py), and every reason to draw again (another
input, another DVC, a plot with an error, a memo this tool did not write) is held by a test.
"""

from __future__ import annotations

import json

import pytest
from conftest import GitRepo, governed_commits, project_of, put, report_json_importing

from mlops_gitops.adapters import memo as memo_module
from mlops_gitops.metrics import plotmatch
from mlops_gitops.metrics import plots as plots_module
from mlops_gitops.metrics.collect import resolve_revision
from mlops_gitops.metrics.plots import GIT, PLOTS_MEMO, Plots, collect

pytestmark = pytest.mark.slow

DVC_YAML = """\
stages:
  train:
    cmd: echo
    plots:
      - loss.csv:
          cache: false
          x: step
          y: loss
      - curve.png:
          cache: false
plots:
  - ROC:
      x: fpr
      y:
        roc.json: tpr
"""


def files(shift: str) -> dict[str, bytes]:
    roc = {"roc": [{"fpr": 0, "tpr": 0}, {"fpr": 0.5, "tpr": float(f"0.{shift or 5}")}, {"fpr": 1, "tpr": 1}]}
    return {
        "loss.csv": f"step,loss\n0,1.0\n1,0.{shift or 5}\n".encode(),
        "roc.json": json.dumps(roc).encode(),
        "curve.png": b"\x89PNG\r\n\x1a\n" + shift.encode() * 3,
    }


@pytest.fixture
def two_commits(repo: GitRepo) -> tuple[GitRepo, str, str]:
    base, head = governed_commits(repo, DVC_YAML, files(""), files("3"))
    return repo, base, head


def from_git(repo: GitRepo, base: str, head: str) -> Plots:
    got = collect(
        repo.path, resolve_revision(base, repo.path), resolve_revision(head, repo.path), project_of(repo)
    )
    assert got.read_by == GIT, got.why_dvc
    return got


def through_dvc(repo: GitRepo, base: str, head: str) -> Plots:
    return collect(repo.path, resolve_revision(base, repo.path), resolve_revision(head, repo.path))


def never_match(data: object) -> list[plotmatch.Drawn]:
    raise AssertionError("drawn again instead of from the memo")


def test_plots_drawn_again_come_from_the_memo_and_equal_dvcs(
    two_commits: tuple[GitRepo, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base, head = two_commits
    first = from_git(repo, base, head)
    assert len(list((repo.path / ".git" / PLOTS_MEMO).glob("*.json"))) == 1
    monkeypatch.setattr(plotmatch, "match", never_match)
    again = from_git(repo, base, head)
    assert again.to_json() == first.to_json() == through_dvc(repo, base, head).to_json()
    assert again.images() == first.images()  # the image's bytes, from its kept data URI
    assert {p.id: p.status for p in again.plots} == {
        "loss.csv": "changed",
        "curve.png": "changed",
        "ROC": "changed",
    }


def test_other_revisions_or_another_dvc_draw_again(
    two_commits: tuple[GitRepo, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base, head = two_commits
    from_git(repo, base, head)
    drawn: list[int] = []
    original = plotmatch.match

    def counting(data: object) -> list[plotmatch.Drawn]:
        drawn.append(1)
        return original(data)  # type: ignore[arg-type]

    monkeypatch.setattr(plotmatch, "match", counting)
    put(repo, files("7"))  # the work tree: another input
    assert from_git(repo, base, "workspace").to_json() == through_dvc(repo, base, "workspace").to_json()
    assert len(drawn) == 1
    real = memo_module.dvc_signature()
    monkeypatch.setattr(memo_module, "dvc_signature", lambda: f"{real}\0another DVC")
    from_git(repo, base, head)
    assert len(drawn) == 2


def test_a_plot_with_an_error_is_drawn_every_time(two_commits: tuple[GitRepo, str, str]) -> None:
    repo, base, _ = two_commits
    (repo.path / "roc.json").write_text("{not json")  # an error kept for the report, as an exception
    first = from_git(repo, base, "workspace")
    assert "ROC" in {p.id for p in first.plots if p.errors}
    assert not list((repo.path / ".git" / PLOTS_MEMO).glob("*.json"))
    theirs = through_dvc(repo, base, "workspace")
    assert from_git(repo, base, "workspace").to_json() == first.to_json() == theirs.to_json()


@pytest.mark.parametrize(
    "kept",
    [
        "{not json",
        "{}",
        "[1]",
        '[{"name": 1}]',
        '[{"name": "n", "image": 0, "properties": [], "datapoints": []}]',
        '[{"name": "n", "image": 0, "properties": {}, "datapoints": [1, "x"]}]',
    ],
    ids=[
        "not JSON",
        "not a list",
        "not plots",
        "a plot without its fields",
        "fields of the wrong type",
        "no points",
    ],
)
def test_a_memo_this_tool_did_not_write_is_drawn_again(
    two_commits: tuple[GitRepo, str, str], kept: str
) -> None:
    repo, base, head = two_commits
    expected = from_git(repo, base, head).to_json()
    (entry,) = (repo.path / ".git" / PLOTS_MEMO).glob("*.json")
    entry.write_text(kept)
    assert from_git(repo, base, head).to_json() == expected
    assert {d["name"] for d in json.loads(entry.read_text())} == {"loss.csv", "curve.png", "ROC"}, "kept anew"


def test_plots_too_big_to_keep_are_drawn_every_time(
    two_commits: tuple[GitRepo, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base, head = two_commits
    expected = through_dvc(repo, base, head).to_json()
    monkeypatch.setattr(plots_module, "_MEMO_CHARS", 10)
    assert from_git(repo, base, head).to_json() == expected
    assert not list((repo.path / ".git" / PLOTS_MEMO).glob("*.json"))


def test_a_report_run_again_imports_no_dvc(two_commits: tuple[GitRepo, str, str]) -> None:
    repo, base, head = two_commits
    runs = [report_json_importing(repo, base, head, ("dvc.", "dvc_")) for _ in range(3)]
    # The first resolves the pipelines and draws the plots through DVC; the third finds both memos.
    assert runs[0][1], "the first run imports DVC"
    assert runs[2][1] == [], runs[2][1]
    assert runs[2][0] == runs[0][0]
    assert len(json.loads(runs[2][0])["plots"]["plots"]) == 3
