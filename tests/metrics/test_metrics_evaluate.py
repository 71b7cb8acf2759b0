"""evaluate() on real Git repositories: what a reviewer sees in the report's rows and gates."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pytest
from conftest import MANIFEST, GitRepo

from mlops_gitops.errors import MlopsError
from mlops_gitops.manifest.loader import load_manifest_text
from mlops_gitops.metrics.compare import Comparison
from mlops_gitops.pipeline.project import load_project
from mlops_gitops.reporters import markdown
from mlops_gitops.reporting.evaluate import evaluate as evaluate_project


def manifest(gates: str = "", extra_metrics: str = "", files: str = "") -> object:
    text = MANIFEST + extra_metrics
    if gates or files:
        text += "metrics:\n" + files + ("  gates:\n" + gates if gates else "")
    return load_manifest_text(text)


def evaluate(root: Path, m: object, base: str, head: str = "workspace") -> Comparison:
    """The report of ``m`` (a manifest) on the repository at ``root``, as the report command builds it."""
    return evaluate_project(load_project(root, m), base, head)


def rows(c: Comparison) -> dict[tuple[str, str], tuple[object, object, str]]:
    return {(r.file, r.key): (r.base, r.head, r.status) for r in c.rows}


def test_nested_metrics_are_flattened_and_gated(repo: GitRepo) -> None:
    gates = "    - {metric: eval.acc, min: 0.8, regression: {absolute: 0.01}}\n"
    m = manifest(gates)
    repo.commit({"metrics.json": {"eval": {"acc": 0.9, "loss": 0.5}}, "params.yaml": "lr: 0.1\n"})
    repo.commit({"metrics.json": {"eval": {"acc": 0.91, "loss": 0.4}}})
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    got = rows(c)
    assert got[("metrics.json", "eval.acc")] == (0.9, 0.91, "improved")
    assert got[("metrics.json", "eval.loss")] == (0.5, 0.4, "changed")
    assert c.verdict == "pass" and c.failed == []
    assert c.params == []


def test_regression_beyond_tolerance_fails_with_reason(repo: GitRepo) -> None:
    m = manifest("    - {metric: acc, regression: {relative: 0.02}}\n")
    repo.commit({"metrics.json": {"acc": 0.9}})
    repo.commit({"metrics.json": {"acc": 0.85}})
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    assert c.verdict == "fail"
    assert c.failed == ["metrics.json: acc: regressed by 5.56% (allowed 2%)"]


def test_workspace_head_reads_files_from_disk(repo: GitRepo) -> None:
    m = manifest("    - {metric: acc, min: 0.5}\n")
    repo.commit({"metrics.json": {"acc": 0.9}})
    repo.write("metrics.json", '{"acc": 0.4}')
    c = evaluate(repo.path, m, "HEAD")
    assert rows(c)[("metrics.json", "acc")] == (0.9, 0.4, "fail")
    assert c.head.sha is None and c.failed == ["metrics.json: acc: 0.4 < min 0.5"]


def test_several_metrics_files_yaml_and_json(repo: GitRepo) -> None:
    m = manifest(files="  files: [metrics.json, eval/scores.yaml]\n")
    repo.commit({"metrics.json": {"acc": 1}, "eval/scores.yaml": "auc: 0.7\nsub: {f1: 1e-3}\n"})
    repo.commit({"eval/scores.yaml": "auc: 0.75\nsub: {f1: 2e-3}\n"})
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    got = rows(c)
    assert got[("eval/scores.yaml", "auc")] == (0.7, 0.75, "changed")
    assert got[("eval/scores.yaml", "sub.f1")] == (0.001, 0.002, "changed")
    assert got[("metrics.json", "acc")] == (1, 1, "unchanged")


def test_params_changes_in_params_yaml_and_stage_params_files(repo: GitRepo) -> None:
    text = MANIFEST.replace("params: [lr]", "params: [lr, {conf/train.yaml: [depth]}]")
    m = load_manifest_text(text)
    repo.commit(
        {
            "metrics.json": {"acc": 1},
            "params.yaml": "lr: 0.1\nlayers: [1, 2]\nsame: 3\n",
            "conf/train.yaml": "depth: 4\n",
        }
    )
    repo.commit(
        {"params.yaml": "lr: 0.2\nlayers: [1, 2, 3]\nsame: 3\nnew_one: x\n", "conf/train.yaml": "{}\n"}
    )
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    got = {(p.file, p.key): (p.base, p.head, p.status) for p in c.params}
    assert got == {
        ("params.yaml", "lr"): (0.1, 0.2, "changed"),
        ("params.yaml", "layers"): ("[1, 2]", "[1, 2, 3]", "changed"),
        ("params.yaml", "new_one"): (None, "x", "new"),
        ("conf/train.yaml", "depth"): (4, None, "removed"),
    }


def test_segment_pattern_applies_per_segment_and_reports_worst(repo: GitRepo) -> None:
    m = manifest("    - {metric: per_class.*.recall, min: 0.5}\n")
    classes = {"cat": {"recall": 0.9, "precision": 0.1}, "dog": {"recall": 0.6}, "owl": {"recall": 0.8}}
    repo.commit({"metrics.json": {"per_class": classes}})
    classes = {"cat": {"recall": 0.9, "precision": 0.1}, "dog": {"recall": 0.3}, "owl": {"recall": 0.45}}
    repo.commit({"metrics.json": {"per_class": classes}})
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    outcome = c.gates[0]
    assert [r.key for r in outcome.rows] == [
        "per_class.cat.recall",
        "per_class.dog.recall",
        "per_class.owl.recall",
    ]
    assert outcome.worst is not None and outcome.worst.key == "per_class.dog.recall"
    assert c.failed == [
        "metrics.json: per_class.dog.recall: 0.3 < min 0.5",
        "metrics.json: per_class.owl.recall: 0.45 < min 0.5",
    ]
    # '*' is one segment: precision is not a recall, and a deeper key does not match
    assert rows(c)[("metrics.json", "per_class.cat.precision")][2] == "unchanged"


def test_first_run_has_no_base_metrics_and_is_not_an_error(repo: GitRepo) -> None:
    m = manifest("    - {metric: acc, min: 0.5, regression: {absolute: 0.01}}\n")
    repo.commit({"README.md": "hi"})
    repo.commit({"metrics.json": {"acc": 0.7, "loss": 1}})
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    assert c.first_run
    assert rows(c) == {
        ("metrics.json", "acc"): (None, 0.7, "new"),
        ("metrics.json", "loss"): (None, 1, "new"),
    }
    assert c.verdict == "pass"


def test_removed_metric_and_required_gate(repo: GitRepo) -> None:
    gates = "    - {metric: acc, min: 0.5}\n    - {metric: old, min: 0, required: false}\n"
    m = manifest(gates)
    repo.commit({"metrics.json": {"acc": 0.7, "old": 3, "gone": 1}})
    repo.commit({"metrics.json": {"loss": 2}})
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    got = rows(c)
    assert got[("metrics.json", "gone")] == (1, None, "removed")
    assert got[("metrics.json", "old")] == (3, None, "removed")  # optional gate: not a failure
    assert got[("metrics.json", "acc")][2] == "fail"
    assert c.failed == ["metrics.json: acc: missing at head"]


def test_non_numeric_values_and_nan_inf(repo: GitRepo) -> None:
    gates = "    - {metric: acc, min: 0.5}\n    - {metric: loss, max: 1, direction: lower}\n    - {metric: label, min: 0}\n"
    m = manifest(gates)
    repo.commit({"metrics.json": '{"acc": 0.9, "loss": 0.3, "label": "a", "tag": "x", "flag": true}'})
    repo.commit({"metrics.json": '{"acc": NaN, "loss": Infinity, "label": "b", "tag": "y", "flag": false}'})
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    got = rows(c)
    assert math.isnan(got[("metrics.json", "acc")][1])
    assert got[("metrics.json", "tag")] == ("x", "y", "not numeric")
    assert got[("metrics.json", "flag")] == (True, False, "not numeric")
    assert c.failed == [
        "metrics.json: acc: head is NaN",
        "metrics.json: loss: head is inf",
        "metrics.json: label: not numeric (b)",
    ]


def test_malformed_metrics_file_is_reported_not_raised(repo: GitRepo) -> None:
    """A side that cannot be read still gives a report: the file is named with the line, and the
    verdict is not a pass."""
    m = manifest("    - {metric: acc, min: 0.5}\n")
    repo.commit({"metrics.json": {"acc": 1}})
    repo.commit({"metrics.json": '{\n  "acc": 1,\n  oops\n}'})
    c = evaluate(repo.path, m, "HEAD~1", "HEAD")
    assert c.verdict == "fail"
    reason = c.unavailable["head"]["metrics.json"]
    assert reason.startswith("metrics.json:3:3: invalid JSON at HEAD (") and "\n" not in reason
    assert c.failed == [f"metrics.json: acc: cannot be evaluated: {reason}"]
    assert "cannot be evaluated: metrics.json:3:3: invalid JSON" in markdown.render(c)


def test_malformed_yaml_metrics_file_names_line(repo: GitRepo) -> None:
    m = manifest(files="  files: [m.yaml]\n")
    repo.commit({"m.yaml": "a: 1\n"})
    repo.write("m.yaml", "a: 1\nb: [2\nc: 3\n")
    c = evaluate(repo.path, m, "HEAD")
    assert c.verdict == "fail"
    assert re.match(r"^m\.yaml:\d+:\d+: invalid YAML at workspace", c.unavailable["head"]["m.yaml"])
    assert c.failed == [f"m.yaml at head is not available: {c.unavailable['head']['m.yaml']}"]


def test_unknown_revision_is_bad_input(repo: GitRepo) -> None:
    repo.commit({"metrics.json": {"acc": 1}})
    with pytest.raises(MlopsError, match="unknown revision 'nope'") as info:
        evaluate(repo.path, manifest(), "nope")
    assert info.value.exit_code == 2


def test_shallow_clone_missing_base_says_which_fetch(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"metrics.json": {"acc": 1}})
    base = repo.commit({"metrics.json": {"acc": 2}})
    repo.commit({"metrics.json": {"acc": 3}})
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)], check=True, env=repo.env
    )
    with pytest.raises(MlopsError) as info:
        evaluate(clone, manifest(), base)
    message = str(info.value)
    assert "shallow clone" in message and "git fetch --unshallow" in message
    assert f"git fetch origin {base} --depth=" in message
    # After fetching as told, the same report works.
    subprocess.run(["git", "fetch", "-q", "origin", base, "--depth=5"], cwd=clone, check=True, env=repo.env)
    c = evaluate(clone, manifest(), base, "HEAD")
    assert rows(c)[("metrics.json", "acc")] == (2, 3, "changed")


def test_lineage_has_commits_and_dvc_lock_hashes(repo: GitRepo) -> None:
    lock = "schema: '2.0'\nstages:\n  train:\n    cmd: x\n    deps:\n    - path: data.csv\n      hash: md5\n      md5: {h}\n    outs:\n    - path: model.pkl\n      hash: md5\n      md5: bbbb\n"
    base = repo.commit(
        {
            "metrics.json": {"acc": 1},
            "dvc.lock": lock.format(h="aaaa"),
            "requirements.txt": "click>=8\n# c\n-e .\n",
        }
    )
    head = repo.commit({"dvc.lock": lock.format(h="cccc")}, message="new data")
    c = evaluate(repo.path, manifest(), base, head)
    lin = c.lineage
    assert lin is not None and (lin.base_commit, lin.head_commit, lin.head_subject) == (
        base,
        head,
        "new data",
    )
    assert [(d.path, d.base, d.head) for d in lin.data] == [
        ("data.csv", "aaaa", "cccc"),
        ("model.pkl", "bbbb", "bbbb"),
    ]
    assert lin.packages["click"][0].isdigit() and "dvc" in lin.packages
    assert lin.python.count(".") == 2


def test_history_reads_gated_metric_over_base_branch(repo: GitRepo) -> None:
    gates = "    - {metric: acc, min: 0}\n    - {metric: per.*.x, min: 0}\n"
    m = load_manifest_text(MANIFEST + "metrics:\n  history: 3\n  gates:\n" + gates)
    for value in (0.1, 0.2, "broken", 0.4):
        per = {"a": {"x": value}, "b": {"x": 0.3}} if value != "broken" else {}
        repo.commit({"metrics.json": {"acc": value, "per": per} if value != "broken" else "{nope"})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"metrics.json": {"acc": 0.9, "per": {"a": {"x": 0.9}, "b": {"x": 0.8}}}})
    c = evaluate(repo.path, m, "main", "feature")
    assert c.history is not None and len(c.history.commits) == 3
    # A pattern gate is charted as its worst segment at each commit (higher is better: the minimum).
    assert c.history.series == {
        ("metrics.json", "acc"): [0.2, None, 0.4],
        ("metrics.json", "per.*.x"): [0.2, None, 0.3],
    }
    text = markdown.render(c)
    # Both on one scale: one chart, over the commits where both have a value.
    assert 'title "acc, per.*.x worst segment"' in text
    assert "line [0.2, 0.4, 0.9]" in text
    assert "line [0.2, 0.3, 0.8]" in text  # the base history, then head's worst segment (b: 0.8)


def test_package_versions_agree_with_importlib_metadata() -> None:
    """The dist-info fast path gives the same version as importlib.metadata for every installed package."""
    from importlib import metadata

    from mlops_gitops.metrics.lineage import package_versions

    names = sorted({d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"]})
    got = package_versions(names)
    wrong = {n: (got[n], metadata.version(n)) for n in names if got[n] != metadata.version(n)}
    assert not wrong
    assert package_versions(["surely-not-installed-pkg"])["surely-not-installed-pkg"] == "not installed"
