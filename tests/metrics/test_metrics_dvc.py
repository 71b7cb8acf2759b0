"""Against real DVC: metrics kept in the DVC cache, and number-for-number equality with
``dvc metrics diff --json``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo

from mlops_gitops.manifest.loader import load_manifest_text
from mlops_gitops.pipeline.project import load_project
from mlops_gitops.reporters import json as json_reporter
from mlops_gitops.reporting.evaluate import evaluate as evaluate_project

DVC = str(Path(sys.executable).with_name("dvc"))


def evaluate(root: Path, m: Any, base: str, head: str = "workspace") -> Any:
    return evaluate_project(load_project(root, m), base, head)


pytestmark = pytest.mark.slow


def dvc(repo: GitRepo, *args: str) -> str:
    proc = subprocess.run([DVC, *args], cwd=repo.path, env=repo.env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_metrics_in_dvc_cache_are_read_through_dvc(repo: GitRepo) -> None:
    dvc(repo, "init", "-q")
    script = "import json,os,sys; os.makedirs('eval', exist_ok=True); json.dump({'acc': float(open('score').read()), 'per': {'a': 1}}, open('eval/metrics.json', 'w'))"
    repo.write("make_eval.py", script)
    repo.write("score", "0.7")
    repo.write(
        "dvc.yaml",
        f"stages:\n  evaluate:\n    cmd: {sys.executable} make_eval.py\n    deps: [score, make_eval.py]\n"
        "    outs: [eval]\nmetrics:\n  - eval/metrics.json\n",
    )
    dvc(repo, "repro", "-q")
    base = repo.commit(message="base")
    repo.write("score", "0.9")
    dvc(repo, "repro", "-q")
    head = repo.commit(message="head")
    assert repo.git("ls-files", "eval") == ""  # really not in Git
    # The pipeline is the repository's own: its top-level metrics, read through DVC's parser.
    m = load_manifest_text(
        "version: 1\nproject: {name: cached}\npipelines: [dvc.yaml]\n"
        "metrics:\n  gates:\n    - {metric: acc, min: 0.8}\n"
    )
    c = evaluate(repo.path, m, base, head)
    got = {r.key: (r.base, r.head, r.status) for r in c.rows}
    assert got == {"acc": (0.7, 0.9, "improved"), "per.a": (1, 1, "unchanged")}
    assert c.from_dvc == ["eval/metrics.json"] and c.verdict == "pass"
    # workspace head reads the checked-out file from disk
    assert {r.key: r.head for r in evaluate(repo.path, m, base).rows}["acc"] == 0.9


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def test_json_numbers_equal_dvc_metrics_diff(repo: GitRepo) -> None:
    dvc(repo, "init", "-q")
    repo.write("dvc.yaml", "metrics:\n  - m.json\n  - sub/m.yaml\n")
    old = {
        "a": {"b": 1, "c": [0.5], "d": [1, 2], "e": "x", "f": True, "g": None, "h": {}},
        "n": float("nan"),
        "same": 3,
        "deep": {"x": {"y": {"z": 0.1}}},
        "gone": 4,
    }
    new = {
        "a": {"b": 2.5, "c": [0.7], "d": [1, 3], "e": "y", "f": False},
        "n": 1.5,
        "same": 3,
        "deep": {"x": {"y": {"z": 0.30000000000000004}}},
        "fresh": -1e-9,
    }
    repo.commit({"m.json": json.dumps(old), "sub/m.yaml": "x: 1e-3\ny: .nan\nz: {w: 2}\nl: [3]\nk: 7\n"})
    repo.commit({"m.json": json.dumps(new), "sub/m.yaml": "x: 2e-3\ny: 1\nz: {w: 3}\nl: [4]\nk: 7\n"})
    expected = json.loads(dvc(repo, "metrics", "diff", "HEAD~1", "HEAD", "--json", "--all"))
    m = load_manifest_text("version: 1\nproject: {name: eq}\npipelines: [dvc.yaml]\n")
    ours = json.loads(json_reporter.render(evaluate(repo.path, m, "HEAD~1", "HEAD")))["metrics"]
    assert set(ours) == set(expected)
    for file, keys in expected.items():
        assert set(ours[file]) == set(keys), file
        for key, entry in keys.items():
            mine = {k: v for k, v in ours[file][key].items() if k in ("old", "new", "diff")}
            assert set(mine) == set(entry), (file, key)
            for field, value in entry.items():
                assert _same(mine[field], value), (file, key, field, mine[field], value)
