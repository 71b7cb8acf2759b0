"""The headline and the verdict: one set of facts (failing gates, failing data checks, metrics files
that could not be read), so the headline's mark is the verdict's, with or without gates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_gitops.metrics.compare import Comparison, Section
from mlops_gitops.metrics.flatten import Scalar
from mlops_gitops.reporters import markdown

_FILES = ("metrics.json", "eval/metrics.json")


@st.composite
def _judged(draw: st.DrawFn) -> tuple[Comparison, list[Section]]:
    from mlops_gitops.manifest.model import Gate
    from mlops_gitops.metrics.collect import Revision
    from mlops_gitops.metrics.compare import compare
    from mlops_gitops.reporting.evaluate import _unavailable

    files = draw(st.lists(st.sampled_from(_FILES), min_size=1, max_size=2, unique=True))
    values = st.one_of(st.none(), st.floats(0, 1, allow_nan=False))

    def side() -> tuple[dict[str, dict[str, Scalar]], dict[str, str]]:
        metrics: dict[str, dict[str, Scalar]] = {}
        unread: dict[str, str] = {}
        for file in files:
            state = draw(st.sampled_from(["read", "absent", "unreadable"]))
            if state == "unreadable":
                unread[file] = "tracked by DVC; reading it needs the DVC remote storage (gdrive://x)"
            elif state == "read":
                value = draw(values)
                metrics[file] = {} if value is None else {"acc": value}
        return metrics, unread

    base, base_unread = side()
    head, head_unread = side()
    gates = draw(
        st.lists(
            st.builds(
                Gate,
                metric=st.sampled_from(["acc", "loss"]),
                file=st.one_of(st.none(), st.sampled_from(files)),
                pipeline=st.none(),
                direction=st.just("maximize"),
                min=st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
                max=st.none(),
                regression_absolute=st.one_of(st.none(), st.just(0.05)),
                regression_relative=st.none(),
                required=st.booleans(),
            ),
            max_size=3,
        )
    )
    rows, outcomes = compare(base, head, gates, files)
    _unavailable(outcomes, files, base_unread, head_unread)  # as evaluate judges unreadable files
    unavailable = {s: u for s, u in (("base", base_unread), ("head", head_unread)) if u}
    comparison = Comparison(
        project="demo",
        base=Revision("main", "a" * 40),
        head=Revision("pr", "b" * 40),
        metrics_files=list(files),
        rows=rows,
        gates=outcomes,
        first_run=not any(base.values()) and not base_unread,
        unavailable=unavailable,
    )
    sections = [Section(f"{f.split('/')[0]}/dvc.yaml", [f], [], []) for f in files]
    return comparison, sections


@settings(max_examples=300, deadline=None)
@given(_judged())
def test_the_headline_mark_is_the_verdict(judged: tuple[Comparison, list[Section]]) -> None:
    from mlops_gitops.reporters import json as json_reporter
    from mlops_gitops.reporters import text

    comparison, sections = judged
    line = markdown.headline(comparison)
    mark = "fail" if line.startswith("❌ **Fail**") else "pass" if line.startswith("✅") else "?"
    assert mark == comparison.verdict, line
    if comparison.verdict == "pass" and not comparison.gates:
        assert line.startswith("✅ **No gates** configured")
    if comparison.unreadable:
        assert "unreadable at" in line and "No gates" not in line
    assert markdown.render(comparison).splitlines()[1] == line
    assert text.render(comparison, color=False).split()[0] == comparison.verdict.upper()
    assert json_reporter.to_data(comparison)["verdict"] == comparison.verdict

    # A pipeline's own mark counts its unreadable files too (a section without gates included).
    comparison.sections = sections
    for section in sections:
        unread = any(f in files for files in comparison.unavailable.values() for f in section.metrics_files)
        assert comparison.section_verdict(section) == ("fail" if unread else section.verdict)


def test_no_gates_and_metrics_unreadable_at_base_is_a_fail_headline() -> None:
    """What three adopting repositories showed: "No gates" over a failing verdict."""
    from mlops_gitops.metrics.collect import Revision

    comparison = Comparison(
        project="demo",
        base=Revision("main", "a" * 40),
        head=Revision("pr", "b" * 40),
        metrics_files=["eval/metrics.json"],
        rows=[],
        gates=[],
        unavailable={
            "base": {"eval/metrics.json": "tracked by DVC, but neither the cache nor the remote holds it"}
        },
    )
    assert comparison.verdict == "fail"
    assert markdown.headline(comparison) == "❌ **Fail**: 1 metrics file unreadable at base · 0 metrics"
