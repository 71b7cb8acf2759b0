"""Reporters on a fixed Comparison: golden Markdown, the 65,536-character cut, text and JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlops_gitops.manifest.model import Gate
from mlops_gitops.metrics.collect import Revision
from mlops_gitops.metrics.compare import Comparison, ParamRow, compare
from mlops_gitops.metrics.history import History
from mlops_gitops.metrics.lineage import DataHash, Lineage
from mlops_gitops.reporters import json as json_reporter
from mlops_gitops.reporters import markdown, text
from tests.parts import gate

GOLDEN = Path(__file__).parent / "golden"
BASE = Revision("main", "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Train on March data")
HEAD = Revision("feature", "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Deeper trees")


def comparison(base: dict, head: dict, gates: list[Gate], **extra: object) -> Comparison:
    files = list(dict.fromkeys([*base, *head]))
    rows, outcomes = compare(base, head, gates, files)
    return Comparison("demo", BASE, HEAD, files, rows, outcomes, **extra)  # type: ignore[arg-type]


def example() -> Comparison:
    base = {
        "metrics.json": {
            "acc": 0.91,
            "loss": 0.31,
            "per_class.cat.recall": 0.9,
            "per_class.dog.recall": 0.62,
            "per_class.owl.recall": 0.7,
            "epochs": 10,
            "model": "rf",
            "old": 1,
        },
        "eval/extra.yaml": {"auc": 0.8},
    }
    head = {
        "metrics.json": {
            "acc": 0.88,
            "loss": 0.29,
            "per_class.cat.recall": 0.93,
            "per_class.dog.recall": 0.41,
            "per_class.owl.recall": 0.7,
            "epochs": 10,
            "model": "gbm",
            "fresh": float("nan"),
        },
        "eval/extra.yaml": {"auc": 0.8},
    }
    gates = [
        gate("acc", min=0.85, regression_relative=0.02),
        gate("loss", direction="lower", max=0.5),
        gate("per_class.*.recall", min=0.5),
    ]
    history = History(
        ["a1a1a1a", "b2b2b2b", "1111111"],
        {("metrics.json", "acc"): [0.89, None, 0.91], ("metrics.json", "loss"): [0.33, 0.32, 0.31]},
    )
    lineage = Lineage(
        BASE.sha,
        HEAD.sha,
        BASE.subject,
        HEAD.subject,
        [
            DataHash("data/train.csv", "0123456789abcdef", "fedcba9876543210"),
            DataHash("model.pkl", "aa" * 16, "aa" * 16),
        ],
        "3.11.7",
        {"scikit-learn": "1.5.0", "dvc": "3.67.1"},
    )
    params = [
        ParamRow("params.yaml", "train.max_depth", 4, 8, "changed"),
        ParamRow("params.yaml", "seed", None, 1, "new"),
    ]
    return comparison(base, head, gates, params=params, lineage=lineage, history=history)


def check_golden(name: str, got: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8")


def test_markdown_golden_failing_report() -> None:
    got = markdown.render(
        example(), note="Could not reproduce training for a fork PR; showing committed metrics."
    )
    lines = got.splitlines()
    assert lines[0] == "<!-- mlops-gitops:pr-report project=demo -->"
    assert lines[1].startswith("❌ **Fail**: 2 of 3 gates failed · 10 metrics:")
    check_golden("failing.md", got)


def test_markdown_golden_first_run() -> None:
    head = {"metrics.json": {"acc": 0.9, "per_class.a.f1": 0.5}}
    c = comparison({}, head, [gate("acc", min=0.8)], first_run=True)
    got = markdown.render(c)
    assert got.splitlines()[1] == "✅ **Pass**: 1 gate passed · 2 metrics: 2 new"
    check_golden("first_run.md", got)


def test_failing_rows_come_first_in_gate_table() -> None:
    got = markdown.render(example())
    gates = got.split("### Gates")[1].split("###")[0]
    body = [line for line in gates.splitlines() if line.startswith("| `")]
    assert "❌" in body[0] and "❌" in body[1] and "❌" not in body[2]


def test_huge_report_is_cut_under_the_limit_with_a_note() -> None:
    base = {"m.json": {f"seg.{i}.recall": 0.5 for i in range(70_000)}}
    head = {"m.json": {f"seg.{i}.recall": 0.5 + (i % 3) * 0.01 for i in range(70_000)}}
    c = comparison(base, head, [gate("seg.*.recall", min=0.4)])
    c.json_path = "report.json"
    got = markdown.render(c)
    assert len(got) <= 65_536
    assert got.startswith("<!-- mlops-gitops:pr-report project=demo -->\n✅ **Pass**")
    assert "more segment rows left out to fit GitHub's comment limit; all rows are in `report.json`" in got
    kept = got.count("| `seg.")
    left = int(got.split(" more segment rows")[0].rsplit("*", 1)[1].replace(",", ""))
    assert kept - 1 + left == 70_000  # the gate row names the worst segment too
    assert len(markdown.render(c, limit=5000)) <= 5000


def test_text_report_plain_and_coloured() -> None:
    plain = text.render(example(), color=False)
    assert plain.startswith("FAIL  demo: main (1111111) -> feature (2222222)")
    assert "per_class.dog.recall: 0.41 < min 0.5" in plain and "\x1b[" not in plain
    assert "\x1b[31m" in text.render(example(), color=True)


def test_json_report_has_all_rows_and_dvc_shape() -> None:
    data = json.loads(json_reporter.render(example()))
    assert data["verdict"] == "fail" and len(data["failed"]) == 2
    assert data["metrics"]["metrics.json"]["acc"] == {
        "old": 0.91,
        "new": 0.88,
        "diff": pytest.approx(-0.03),
        "status": "fail",
        "reason": "regressed by 3.3% (allowed 2%)",
    }
    assert data["metrics"]["metrics.json"]["old"] == {"old": 1, "new": None, "status": "removed"}
    assert data["gates"][2]["worst"]["key"] == "per_class.dog.recall"
    assert data["history"]["series"]["metrics.json"]["acc"] == [0.89, None, 0.91]
