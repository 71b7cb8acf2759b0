"""`report` judges a pull request with the gates of the manifest at its base (security finding 5: a
pull request can loosen its own gates). Real Git repositories: the base commits mlops.yaml and the
metrics, the pull request changes them in the work tree, as the PR workflow's checkout does.

Also `promote`: a deployment is decided by the checked-out manifest's gates, never by those a pull
request's commits introduced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAD_MANIFEST = """\
version: 1
project: {{name: demo}}
stages:
  train:
    cmd: python train.py
    metrics:
      - metrics.json: {{cache: false}}
metrics:
  gates:
{gates}"""


def manifest(*gates: str) -> str:
    return HEAD_MANIFEST.format(gates="".join(f"    - {g}\n" for g in gates) or "    []\n")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def run(root: Path, *args: str, command: str = "report") -> subprocess.CompletedProcess[str]:
    code = "import sys; from mlops_gitops.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_OUTPUT")}
    return subprocess.run(
        [sys.executable, "-c", code, command, *args], cwd=root, capture_output=True, text=True, env=env
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    return root


def base(root: Path, manifest_text: str | None, metrics: dict[str, float]) -> None:
    """The base branch: its manifest (None: none yet) and metrics, committed."""
    if manifest_text is not None:
        (root / "mlops.yaml").write_text(manifest_text)
    (root / "metrics.json").write_text(json.dumps(metrics))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")


def pull_request(root: Path, manifest_text: str, metrics: dict[str, float]) -> None:
    """The pull request, in the work tree."""
    (root / "mlops.yaml").write_text(manifest_text)
    (root / "metrics.json").write_text(json.dumps(metrics))


def report(root: Path, *args: str) -> tuple[int, str, dict]:
    """Exit code and Markdown of `report --base main`, and its JSON."""
    md = run(root, "--base", "main", *args)
    assert md.stderr == "", md.stderr
    data = json.loads(run(root, "--base", "main", "--format", "json", *args).stdout)
    return md.returncode, md.stdout, data


def test_pr_lowering_its_own_gate_still_fails_and_says_the_gates_changed(repo: Path) -> None:
    """The hostile case: the pull request lowers `min: 0.9` to `0.1` and accuracy drops to 0.5."""
    base(repo, manifest("{metric: accuracy, min: 0.9}"), {"accuracy": 0.95})
    pull_request(repo, manifest("{metric: accuracy, min: 0.1}"), {"accuracy": 0.5})
    code, md, data = report(repo)
    assert code == 1, md
    assert md.splitlines()[1].startswith("❌ **Fail**: 1 of 1 gate failed")
    assert "### ⚠️ This pull request changes the gates" in md
    assert "| `accuracy` | min 0.9 -> 0.1 · ⚠️ looser |" in md
    assert "**Not the verdict:** with this pull request's gates the report would **pass**" in md
    assert "| `accuracy` | 0.95 | 0.5 | -0.45 | -47.37% | ❌ 0.5 &lt; min 0.9 · ↑ ≥ 0.9 |" in md

    assert data["verdict"] == "fail" and data["failed"] == ["metrics.json: accuracy: 0.5 < min 0.9"]
    source = data["gate_source"]
    assert (source["decided_by"], source["from_base"], source["base_manifest"]) == ("base", True, "valid")
    assert source["head_verdict"] == "pass" and source["reason"] is None
    (change,) = source["changes"]
    assert change["text"] == "accuracy: min 0.9 -> 0.1" and change["looser"] is True
    assert change["fields"] == [{"field": "min", "old": 0.9, "new": 0.1, "effect": "looser"}]

    text = run(repo, "--base", "main", "--format", "text")
    assert text.returncode == 1
    assert "  accuracy: min 0.9 -> 0.1  (looser)\n" in text.stdout
    assert "Not the verdict: with this pull request's gates the report would PASS (1 of 1 gate pass):" in (
        text.stdout
    )


def test_committed_pr_against_its_base_commit(repo: Path) -> None:
    """The same with both sides committed (`--head HEAD`): the manifest at the base commit decides."""
    base(repo, manifest("{metric: accuracy, min: 0.9}"), {"accuracy": 0.95})
    git(repo, "checkout", "-qb", "loosen")
    pull_request(repo, manifest("{metric: accuracy, min: 0.1}"), {"accuracy": 0.5})
    git(repo, "commit", "-qam", "lower the bar")
    code, md, data = report(repo, "--head", "HEAD")
    assert code == 1 and "min 0.9 -> 0.1" in md
    assert data["gate_source"]["head_verdict"] == "pass"


def test_pr_tightening_a_gate_is_judged_by_the_base_gate(repo: Path) -> None:
    base(repo, manifest("{metric: accuracy, min: 0.8}"), {"accuracy": 0.85})
    pull_request(repo, manifest("{metric: accuracy, min: 0.95}"), {"accuracy": 0.9})
    code, md, data = report(repo)
    assert code == 0, md
    assert "| `accuracy` | min 0.8 -> 0.95 |" in md
    assert "would **fail** (0 of 1 gate pass)" in md
    assert "| `accuracy` | ↑ ≥ 0.95 | ❌ 0.9 &lt; min 0.95 |" in md
    assert data["verdict"] == "pass" and data["gate_source"]["head_verdict"] == "fail"
    assert data["gate_source"]["changes"][0]["fields"][0]["effect"] == "stricter"


def test_pr_adding_a_gate_lists_it_and_the_base_gates_decide(repo: Path) -> None:
    base(repo, manifest("{metric: accuracy, min: 0.8}"), {"accuracy": 0.9, "f1": 0.6})
    pull_request(
        repo,
        manifest("{metric: accuracy, min: 0.8}", "{metric: f1, min: 0.7, regression: {absolute: 0.01}}"),
        {"accuracy": 0.9, "f1": 0.5},
    )
    code, md, data = report(repo)
    assert code == 0, md
    assert "| `f1` | added: ↑ ≥ 0.7, regression ≤ 0.01 |" in md
    assert "would **fail** (1 of 2 gates pass)" in md
    assert [(c["kind"], c["metric"]) for c in data["gate_source"]["changes"]] == [("added", "f1")]
    assert [g["metric"] for g in data["gates"]] == ["accuracy"]  # the verdict's gates: the base's


def test_pr_removing_a_gate_still_answers_to_it(repo: Path) -> None:
    gates = ("{metric: accuracy, min: 0.8}", "{metric: loss, direction: lower, max: 0.3}")
    base(repo, manifest(*gates), {"accuracy": 0.9, "loss": 0.2})
    pull_request(repo, manifest(gates[0]), {"accuracy": 0.9, "loss": 0.6})
    code, md, data = report(repo)
    assert code == 1, md
    assert "| `loss` | removed (was ↓ ≤ 0.3) · ⚠️ looser |" in md
    assert "would **pass** (1 of 1 gate pass)" in md
    assert data["failed"] == ["metrics.json: loss: 0.6 > max 0.3"]
    # Removing every gate is no way out either.
    pull_request(repo, manifest(), {"accuracy": 0.1, "loss": 0.6})
    code, md, data = report(repo)
    assert code == 1 and "this pull request's manifest has no gates" in md
    assert [c["kind"] for c in data["gate_source"]["changes"]] == ["removed", "removed"]


def test_first_adoption_uses_the_pr_gates_and_says_so(repo: Path) -> None:
    base(repo, None, {"accuracy": 0.95})
    pull_request(repo, manifest("{metric: accuracy, min: 0.9}"), {"accuracy": 0.5})
    code, md, data = report(repo)
    short = git(repo, "rev-parse", "--short=7", "main")
    sentence = (
        f"mlops.yaml does not exist at the base revision main ({short}), so this pull request's own gates "
        "decide the verdict (it adopts mlops-gitops: there are no earlier gates to hold it to)."
    )
    assert code == 1 and f"> [!NOTE]\n> {sentence}\n" in md
    assert "changes the gates" not in md
    source = data["gate_source"]
    assert (source["decided_by"], source["from_base"], source["base_manifest"]) == ("head", False, "missing")
    assert source["reason"] == sentence
    assert run(repo, "--base", "main", "--format", "text").stdout.count(f"note: {sentence}\n") == 1
    pull_request(repo, manifest("{metric: accuracy, min: 0.9}"), {"accuracy": 0.95})
    assert report(repo)[0] == 0


@pytest.mark.parametrize(
    "broken",
    [
        "version: 1\nproject: {name: demo}\n",  # no pipelines or stages
        manifest("{metric: accuracy, min: high}"),  # a schema error
        manifest("{metric: accuracy, min: 0.9, max: 0.1}"),  # a semantic rule
        "version: 1\nproject: [unclosed\n",  # not YAML
    ],
)
def test_invalid_base_manifest_falls_back_to_the_pr_gates_with_a_warning(repo: Path, broken: str) -> None:
    base(repo, broken, {"accuracy": 0.95})
    pull_request(repo, manifest("{metric: accuracy, min: 0.9}"), {"accuracy": 0.5})
    code, md, data = report(repo)
    short = git(repo, "rev-parse", "--short=7", "main")
    source = data["gate_source"]
    assert code == 1 and source["decided_by"] == "head" and source["base_manifest"] == "invalid"
    assert source["reason"].startswith(
        f"mlops.yaml at the base revision main ({short}) is not a valid manifest (mlops.yaml@{short}"
    )
    assert source["reason"].endswith(
        "so this pull request's own gates decide the verdict: review them, and fix the manifest on the "
        "base branch."
    )
    assert "> [!WARNING]\n> mlops.yaml at the base revision" in md


def test_yaml_bomb_at_base_is_refused_not_a_fallback(repo: Path) -> None:
    """Hostile rather than invalid: refused in one line naming the base's file, like every YAML bomb."""
    laughs = ["l0: &l0 lol", *(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10))]
    base(repo, manifest("{metric: accuracy, min: 0.9}") + "\n".join(laughs) + "\n", {"accuracy": 0.95})
    pull_request(repo, manifest("{metric: accuracy, min: 0.1}"), {"accuracy": 0.5})
    proc = run(repo, "--base", "main")
    short = git(repo, "rev-parse", "--short=7", "main")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"mlops.yaml@{short}:") and "aliases expand" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unchanged_gates_add_nothing_to_the_report(repo: Path) -> None:
    base(repo, manifest("{metric: accuracy, min: 0.9}"), {"accuracy": 0.95})
    pull_request(repo, manifest("{metric: accuracy, min: 0.9}") + "# a comment\n", {"accuracy": 0.91})
    code, md, data = report(repo)
    assert code == 0 and "changes the gates" not in md and "[!NOTE]" not in md
    assert data["gate_source"]["decided_by"] == "base" and data["gate_source"]["changed"] is False


def test_metrics_files_redirected_by_the_pr_is_listed(repo: Path) -> None:
    base(repo, manifest("{metric: accuracy, min: 0.9}"), {"accuracy": 0.95})
    fake = manifest("{metric: accuracy, min: 0.9}").replace(
        "metrics:\n  gates:", "metrics:\n  files: [fake.json]\n  gates:"
    )
    (repo / "fake.json").write_text('{"accuracy": 0.99}')
    pull_request(repo, fake, {"accuracy": 0.5})
    # What the pull request's pipeline computes is for code review; the report makes the switch visible.
    _, md, data = report(repo)
    # Brackets are escaped so a file name never becomes a link: GitHub shows "[fake.json]".
    assert "| every gate | metrics.files every metrics file -> \\[fake.json] |" in md
    assert data["gate_source"]["metrics_files"] == {"old": [], "new": ["fake.json"]}


def test_manifest_in_a_subfolder_is_read_there_at_base(repo: Path) -> None:
    sub = repo / "ml"
    sub.mkdir()
    base(sub, manifest("{metric: accuracy, min: 0.9}"), {"accuracy": 0.95})
    pull_request(sub, manifest("{metric: accuracy, min: 0.1}"), {"accuracy": 0.5})
    code, md, data = report(repo, "--manifest", "ml/mlops.yaml")
    assert code == 1 and "min 0.9 -> 0.1" in md and data["gate_source"]["decided_by"] == "base"


# --- promote ----------------------------------------------------------------------------------------

DEPLOY = """\
deploy:
  model: {name: clf, path: models/model.pkl}
  environments:
    - {name: staging, file: deploy/staging.yaml, field: model, value: "s3://m/{model_hash}"}
"""
LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    outs:
    - path: models
      hash: md5
      md5: {md5}.dir
      size: 20
      nfiles: 1
"""


def test_promote_is_decided_by_the_checked_out_gates_not_a_prs(repo: Path) -> None:
    """A model trained on a pull request's branch, whose parent commit lowered the gate: promoting it
    from the default branch's checkout applies the default branch's gate, and refuses."""
    strict = (
        manifest("{metric: accuracy, min: 0.9}").replace(
            "    cmd: python train.py\n", "    cmd: python train.py\n    outs: [models]\n"
        )
        + DEPLOY
    )
    (repo / "deploy").mkdir()
    (repo / "deploy" / "staging.yaml").write_text("model: s3://m/old\n")
    (repo / "dvc.lock").write_text(LOCK.format(md5="a" * 32))
    base(repo, strict, {"accuracy": 0.95})
    git(repo, "checkout", "-qb", "pr")
    (repo / "mlops.yaml").write_text(strict.replace("min: 0.9", "min: 0.1"))
    git(repo, "commit", "-qam", "lower the bar")
    (repo / "dvc.lock").write_text(LOCK.format(md5="b" * 32))
    (repo / "metrics.json").write_text('{"accuracy": 0.5}')
    git(repo, "commit", "-qam", "a worse model")
    git(repo, "checkout", "-q", "main")
    proc = run(repo, "--env", "staging", "--model-ref", "pr", "--dry-run", command="promote")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fails its gates: metrics.json: accuracy: 0.5 < min 0.9" in proc.stderr
    # On the default branch itself the model passes, and the body holds no gate review.
    ok = run(
        repo, "--env", "staging", "--model-ref", "main", "--base", "main", "--dry-run", command="promote"
    )
    assert ok.returncode == 0, ok.stderr
    assert "changes the gates" not in ok.stdout and "[!NOTE]" not in ok.stdout
