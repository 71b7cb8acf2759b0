"""What a pull request changes in the gates (pure diff), and how each reporter shows it: the changes as
``old -> new``, the head's gates labelled as not the verdict, the fallback sentence when the base has
no valid manifest. Security finding 5: a pull request must not loosen its own gates unseen."""

from __future__ import annotations

import json

from mlops_gitops.metrics.collect import Revision
from mlops_gitops.metrics.compare import Comparison, compare
from mlops_gitops.metrics.gatediff import (
    BASE,
    HEAD,
    INVALID,
    LOOSER,
    MISSING,
    OTHER,
    STRICTER,
    VALID,
    FieldChange,
    GateReview,
    diff_gates,
    fallback_reason,
    files_change,
)
from mlops_gitops.reporters import json as json_reporter
from mlops_gitops.reporters import markdown, text
from mlops_gitops.reporters.markup import cell, code
from tests.parts import gate

BASE_REV = Revision("main", "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "base")
HEAD_REV = Revision("workspace", None)


def fields(base: list, head: list) -> list[tuple[str, object, object, str]]:
    (change,) = diff_gates(base, head)
    assert change.kind == "changed"
    return [(f.name, f.old, f.new, f.effect) for f in change.fields]


# --- diff_gates ---------------------------------------------------------------------------------


def test_same_gates_in_another_order_are_no_change() -> None:
    gates = [gate("acc", min=0.9), gate("loss", direction="lower", max=0.3), gate("f1", min=0.5)]
    assert diff_gates(gates, list(reversed(gates))) == []
    assert diff_gates([], []) == []


def test_lowered_min_is_a_looser_change_shown_old_to_new() -> None:
    (change,) = diff_gates([gate("accuracy", min=0.9)], [gate("accuracy", min=0.1)])
    assert change.kind == "changed" and change.looser
    assert change.fields == (FieldChange("min", 0.9, 0.1, LOOSER),)
    assert str(change) == "accuracy: min 0.9 -> 0.1"
    assert change.summary() == "min 0.9 -> 0.1"


def test_each_bound_knows_which_way_is_looser() -> None:
    assert fields([gate("a", min=0.8)], [gate("a", min=0.95)]) == [("min", 0.8, 0.95, STRICTER)]
    assert fields([gate("a", max=0.3)], [gate("a", max=0.5)]) == [("max", 0.3, 0.5, LOOSER)]
    assert fields([gate("a", max=0.3)], [gate("a", max=0.2)]) == [("max", 0.3, 0.2, STRICTER)]
    assert fields([gate("a", regression_absolute=0.01)], [gate("a", regression_absolute=0.1)]) == [
        ("regression.absolute", 0.01, 0.1, LOOSER)
    ]
    assert fields([gate("a", min=0.1, regression_relative=0.02)], [gate("a", min=0.1)]) == [
        ("regression.relative", 0.02, None, LOOSER)
    ]
    assert fields([gate("a", min=0.1)], [gate("a", min=0.1, regression_relative=0.02)]) == [
        ("regression.relative", None, 0.02, STRICTER)
    ]
    assert fields([gate("a", min=0.5)], [gate("a", max=0.9)]) == [
        ("min", 0.5, None, LOOSER),
        ("max", None, 0.9, STRICTER),
    ]


def test_optional_direction_file_and_pipeline_changes() -> None:
    assert fields([gate("a", min=0.5)], [gate("a", min=0.5, required=False)]) == [
        ("required", True, False, LOOSER)
    ]
    assert fields([gate("a", min=0.5, required=False)], [gate("a", min=0.5)]) == [
        ("required", False, True, STRICTER)
    ]
    flip = fields(
        [gate("a", regression_absolute=0.01)], [gate("a", direction="lower", regression_absolute=0.01)]
    )
    assert flip == [("direction", "higher", "lower", OTHER)]
    # A scope change is one changed gate, not a removal and an addition.
    assert fields([gate("a", min=0.5, pipeline="a")], [gate("a", min=0.5, pipeline="b")]) == [
        ("pipeline", "a/dvc.yaml", "b/dvc.yaml", OTHER)
    ]
    assert fields([gate("a", min=0.5, file="m.json")], [gate("a", min=0.5)]) == [
        ("file", "m.json", None, OTHER)
    ]
    (change,) = diff_gates([gate("a", min=0.5, pipeline="a")], [gate("a", min=0.5, pipeline="b")])
    assert str(change) == "a (pipeline a/dvc.yaml): pipeline a/dvc.yaml -> b/dvc.yaml"


def test_added_and_removed_gates() -> None:
    base = [gate("acc", min=0.9), gate("loss", direction="lower", max=0.3)]
    head = [gate("acc", min=0.9), gate("f1", min=0.5)]
    added, removed = diff_gates(base, head)
    assert (added.kind, added.old, added.new) == ("added", None, head[1])
    assert not added.looser and str(added) == "f1: added: ↑ ≥ 0.5"
    assert (removed.kind, removed.old, removed.new) == ("removed", base[1], None)
    assert removed.looser and str(removed) == "loss: removed (was ↓ ≤ 0.3)"
    # A renamed metric is a gate removed and another added.
    assert [c.kind for c in diff_gates([gate("acc", min=0.9)], [gate("accuracy", min=0.9)])] == [
        "added",
        "removed",
    ]


def test_one_metric_gated_per_pipeline_pairs_each_with_its_own() -> None:
    base = [gate("acc", min=0.8, pipeline="a"), gate("acc", min=0.7, pipeline="b")]
    head = [gate("acc", min=0.7, pipeline="b"), gate("acc", min=0.5, pipeline="a")]
    (change,) = diff_gates(base, head)
    assert change.old == base[0] and change.new == head[1]
    assert [str(f) for f in change.fields] == ["min 0.8 -> 0.5"]
    # The same gate twice, one of them loosened: the unchanged one pairs with its twin.
    base = [gate("acc", min=0.8), gate("acc", min=0.8)]
    (change,) = diff_gates(base, [gate("acc", min=0.8), gate("acc", min=0.2)])
    assert [str(f) for f in change.fields] == ["min 0.8 -> 0.2"]


def test_metrics_files_change_and_fallback_sentences() -> None:
    assert files_change(["m.json"], ["m.json"]) is None
    assert str(files_change([], ["fake.json"])) == "metrics.files every metrics file -> [fake.json]"
    missing = fallback_reason("mlops.yaml", "main (abc1234)", MISSING)
    assert missing.startswith("mlops.yaml does not exist at the base revision main (abc1234), so this ")
    assert "own gates decide the verdict" in missing and missing.count(".") <= 2
    invalid = fallback_reason("mlops.yaml", "main (abc1234)", INVALID, "mlops.yaml@abc1234:3:5: bad")
    assert "is not a valid manifest (mlops.yaml@abc1234:3:5: bad)" in invalid
    assert "own gates decide the verdict" in invalid


# --- reporters ----------------------------------------------------------------------------------


def comparison(base_gates: list, head_gates: list, metrics: dict[str, float]) -> Comparison:
    """A report judged by ``base_gates``, on a pull request whose manifest holds ``head_gates``."""
    before = {"metrics.json": dict.fromkeys(metrics, 0.95)}
    after = {"metrics.json": metrics}
    rows, outcomes = compare(before, after, base_gates, ["metrics.json"])
    review = GateReview(BASE, "mlops.yaml", VALID, changes=diff_gates(base_gates, head_gates), head_gates=[])
    review.head_gates = compare(before, after, head_gates, ["metrics.json"])[1]
    return Comparison("demo", BASE_REV, HEAD_REV, ["metrics.json"], rows, outcomes, gate_review=review)


def test_markdown_lists_changes_and_labels_the_head_gates_as_not_the_verdict() -> None:
    c = comparison([gate("accuracy", min=0.9)], [gate("accuracy", min=0.1)], {"accuracy": 0.5})
    assert c.verdict == "fail"
    md = markdown.render(c)
    assert md.splitlines()[1].startswith("❌ **Fail**: 1 of 1 gate failed")
    assert "### ⚠️ This pull request changes the gates" in md
    assert "The verdict above uses the gates of `mlops.yaml` at the base (`main (1111111)`)" in md
    assert "| `accuracy` | min 0.9 -> 0.1 · ⚠️ looser |" in md
    assert "**Not the verdict:** with this pull request's gates the report would **pass**" in md
    assert "| `accuracy` | ↑ ≥ 0.1 | ✅ pass |" in md
    # The changes come before the gate table of the verdict.
    assert md.index("changes the gates") < md.index("### Gates")


def test_text_and_json_carry_the_same_review() -> None:
    c = comparison(
        [gate("accuracy", min=0.9), gate("loss", direction="lower", max=0.3)],
        [gate("accuracy", min=0.95), gate("f1", min=0.9)],
        {"accuracy": 0.92, "loss": 0.2, "f1": 0.5},
    )
    assert c.verdict == "pass"
    out = text.render(c, color=False)
    assert "This pull request changes the gates (the verdict uses those of mlops.yaml at base main" in out
    assert "  accuracy: min 0.9 -> 0.95\n" in out
    assert "  f1: added: ↑ ≥ 0.9\n" in out
    assert "  loss: removed (was ↓ ≤ 0.3)  (looser)\n" in out
    assert "Not the verdict: with this pull request's gates the report would FAIL (0 of 2 gates pass):" in out
    assert "  FAIL  accuracy  ↑ ≥ 0.95\n        metrics.json: accuracy: 0.92 < min 0.95\n" in out
    data = json.loads(json_reporter.render(c))
    source = data["gate_source"]
    assert data["verdict"] == "pass"
    assert (source["decided_by"], source["from_base"], source["changed"]) == ("base", True, True)
    assert source["head_verdict"] == "fail"
    assert [(ch["kind"], ch["metric"], ch["looser"]) for ch in source["changes"]] == [
        ("changed", "accuracy", False),
        ("added", "f1", False),
        ("removed", "loss", True),
    ]
    assert source["changes"][0]["fields"] == [{"field": "min", "old": 0.9, "new": 0.95, "effect": "stricter"}]
    assert source["changes"][0]["text"] == "accuracy: min 0.9 -> 0.95"
    assert [(g["metric"], g["passed"]) for g in source["head_gates"]] == [("accuracy", False), ("f1", False)]


def test_nothing_is_added_when_the_gates_did_not_change() -> None:
    c = comparison([gate("accuracy", min=0.9)], [gate("accuracy", min=0.9)], {"accuracy": 0.95})
    plain = Comparison("demo", BASE_REV, HEAD_REV, c.metrics_files, c.rows, c.gates)
    assert markdown.render(c) == markdown.render(plain)
    assert text.render(c, color=False) == text.render(plain, color=False)
    source = json.loads(json_reporter.render(c))["gate_source"]
    assert source["changed"] is False and source["changes"] == [] and source["decided_by"] == "base"
    assert json.loads(json_reporter.render(plain))["gate_source"] is None


def test_fallback_is_one_sentence_a_note_on_adoption_a_warning_when_invalid() -> None:
    rows, outcomes = compare({}, {"metrics.json": {"acc": 0.5}}, [gate("acc", min=0.9)], ["metrics.json"])
    for state, kind in ((MISSING, "NOTE"), (INVALID, "WARNING")):
        reason = fallback_reason("mlops.yaml", "main (1111111)", state, "mlops.yaml@1111111:2:1: bad")
        review = GateReview(HEAD, "mlops.yaml", state, reason=reason, head_gates=outcomes)
        c = Comparison("demo", BASE_REV, HEAD_REV, ["metrics.json"], rows, outcomes, gate_review=review)
        md = markdown.render(c)
        # The reason quotes the manifest's own error, text from the repository: escaped like any.
        assert f"> [!{kind}]\n> {cell(reason)}\n" in md
        assert "changes the gates" not in md
        prefix = "note: " if state == MISSING else "warning: "
        assert prefix + reason + "\n" in text.render(c, color=False)
        source = json.loads(json_reporter.render(c))["gate_source"]
        assert (source["decided_by"], source["from_base"], source["base_manifest"]) == ("head", False, state)
        assert source["reason"] == reason and source["head_verdict"] == "fail"


def test_names_from_the_repository_are_escaped() -> None:
    c = comparison(
        [gate("a|b<img src=x>", min=0.9, file="m|<x>.json")],
        [gate("a|b<img src=x>", min=0.1, file="m|<x>.json")],
        {},
    )
    md = markdown.render(c)
    section = md[md.index("changes the gates") : md.index("### Gates")]
    assert "a|b" not in section and "m|<" not in section  # no raw pipe breaks a table row
    assert f"| {code('a|b<img src=x>')} ({code('m|<x>.json')}) | min 0.9 -> 0.1 · ⚠️ looser |" in section
