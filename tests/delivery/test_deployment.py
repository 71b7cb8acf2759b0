"""delivery.deployment: what ``promote`` prints for each outcome, and the dry run over a checkout
(no Git, no GitHub: a deployment file on disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.adapters.github.pulls import Published
from mlops_gitops.delivery.deployment import Evaluated, LocalTarget, Outcome, apply_promotion, promote
from mlops_gitops.delivery.promotion import ModelIdentity
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.loader import load_manifest_text
from mlops_gitops.manifest.model import Environment, Manifest

MANIFEST = """\
version: 1
project: {name: iris}
python: {install: pip install -r requirements.txt}
stages:
  train: {cmd: python train.py, outs: [models]}
deploy:
  model: {name: iris-clf, path: models/model.pkl}
  environments:
    - {name: staging, file: deploy/isvc.yaml, field: spec.uri, value: "s3://m/{model_hash}"}
"""
MODEL = ModelIdentity("iris-clf", "models/model.pkl", "a" * 32, "c" * 40, stage="train")
PASSED = Evaluated("pass", [], None)


@pytest.fixture
def manifest() -> Manifest:
    return load_manifest_text(MANIFEST)


@pytest.fixture
def env(manifest: Manifest) -> Environment:
    assert manifest.deploy is not None
    return manifest.deploy.environments[0]


def published(action: str, detail: str = "") -> Published:
    return Published(action, 7, "https://github.com/acme/deploy/pull/7", detail=detail)


def test_dry_run_prints_the_diff_then_the_title_then_the_body(
    tmp_path: Path, manifest: Manifest, env: Environment
) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy/isvc.yaml").write_text("spec:\n  uri: s3://m/old\n")
    local = LocalTarget(tmp_path, "acme/deploy", "main")
    outcome = apply_promotion(manifest, env, MODEL, PASSED, None, local, None)
    assert outcome.action == "dry-run" and outcome.value == f"s3://m/{'a' * 32}"
    lines = outcome.stdout.splitlines()
    assert lines[:2] == ["--- a/deploy/isvc.yaml", "+++ b/deploy/isvc.yaml"]
    assert "-  uri: s3://m/old" in lines and f"+  uri: s3://m/{'a' * 32}" in lines
    title = next(i for i, line in enumerate(lines) if line.startswith("# PR: "))
    assert lines[title] == f"# PR: {outcome.title}" and "iris-clf" in outcome.title
    assert outcome.stdout.endswith(outcome.body if outcome.body.endswith("\n") else outcome.body + "\n")
    assert (outcome.stderr, outcome.outputs, outcome.exit_code) == ((), {}, 0)
    # Nothing was written: a dry run reads the checkout only.
    assert (tmp_path / "deploy/isvc.yaml").read_text() == "spec:\n  uri: s3://m/old\n"


def test_dry_run_without_a_change_says_the_value_is_current(
    tmp_path: Path, manifest: Manifest, env: Environment
) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy/isvc.yaml").write_text(f"spec:\n  uri: s3://m/{'a' * 32}\n")
    outcome = apply_promotion(manifest, env, MODEL, PASSED, None, LocalTarget(tmp_path, "r", "main"), None)
    first = outcome.stdout.splitlines()[0]
    assert first == f"# deploy/isvc.yaml: spec.uri is already 's3://m/{'a' * 32}': no change"


def test_what_each_published_action_prints(env: Environment) -> None:
    def outcome(action: str, in_actions: bool, detail: str = "") -> Outcome:
        return Outcome(
            action, env, MODEL, "v", "t", "b", published=published(action, detail), in_actions=in_actions
        )

    created = outcome("created", False)
    url = "https://github.com/acme/deploy/pull/7"
    assert created.stdout == f"created promotion PR #7 for staging: {url}\n"
    assert created.outputs == {}
    assert outcome("created", True).outputs == {"action": "created", "pr-number": "7", "pr-url": url}
    assert outcome("skipped", False, "a person owns the branch").stdout == (
        f"staging: a person owns the branch: {url}\n"
    )
    blocked = outcome("blocked", False, "the branch has a human commit")
    assert blocked.stdout == ""
    assert blocked.stderr == ("warning: promotion to staging not pushed: the branch has a human commit",)
    in_ci = outcome("blocked", True, "the branch has a human commit")
    assert in_ci.stderr == ()
    assert in_ci.stdout == (
        "::warning title=mlops-gitops promote::promotion to staging not pushed: the branch has a human commit\n"
    )
    current = Outcome("current", env, MODEL, "v", "t", "b")
    assert (
        current.stdout
        == "staging already runs iris-clf aaaaaaaa (deploy/isvc.yaml spec.uri): nothing to do\n"
    )
    assert current.outputs == {} and current.exit_code == 0


def test_force_and_reason_go_together_before_anything_is_read(tmp_path: Path) -> None:
    missing = str(tmp_path / "mlops.yaml")
    with pytest.raises(UsageError, match="--force needs --reason TEXT"):
        promote(missing, "staging", force=True, reason="  ")
    with pytest.raises(UsageError, match="--reason only applies with --force"):
        promote(missing, "staging", reason="why")
    with pytest.raises(UsageError, match="no such manifest"):
        promote(missing, "staging")


def test_an_unknown_environment_names_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "mlops.yaml").write_text(MANIFEST)
    with pytest.raises(UsageError, match=r"--env qa: not a deploy environment in .* \(have: staging\)"):
        promote(str(tmp_path / "mlops.yaml"), "qa")
