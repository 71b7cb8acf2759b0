"""The rollout's moves on real deployment-file shapes (KServe serverless and raw deployment, Seldon
Core 2, a field path of one's own): each move is the old data with exactly its change, every other
byte is kept, and what cannot be edited safely is refused in one line. Pure: no Git, no GitHub."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from mlops_gitops.delivery.rollout import plan
from mlops_gitops.delivery.rollout.measure import arm, fields_of, next_share
from mlops_gitops.delivery.rollout.traffic import Place, read_state, remove_key, set_number, slots
from mlops_gitops.errors import UsageError, YamlEditError
from mlops_gitops.manifest import load_manifest_text
from mlops_gitops.manifest.model import Environment

OLD = "s3://models/iris/" + "0" * 32
NEW = "s3://models/iris/" + "ab12" * 8

KSERVE = f"""\
# KServe serves the iris classifier.
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: iris
spec:
  predictor:
    minReplicas: 2 # keep two warm
    model:
      modelFormat: {{name: sklearn}}
      # Set by promotion.
      storageUri: "{OLD}"
"""

KSERVE_RAW = f"""\
spec:
  predictor:
    model:
      storageUri: {OLD}
  canary:
    - trafficPercent: 0   # the candidate's share
      predictor:
        model:
          storageUri: {OLD}
"""

SELDON = f"""\
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: iris-a
spec:
  storageUri: {OLD}
---
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata:
  name: iris-b
spec:
  storageUri: {OLD}
---
apiVersion: mlops.seldon.io/v1alpha1
kind: Experiment
metadata:
  name: iris
spec:
  default: iris-a
  candidates:
    - name: iris-a
      weight: 100
    - name: iris-b
      weight: 0
"""

CUSTOM = f"""\
image: {OLD}
canary:
  image: {OLD}
weights: {{stable: 1000, canary: 0}}
"""


def environment(field: str, traffic: str, document: int = 0, steps: str = "[5, 25, 50]") -> Environment:
    text = f"""\
version: 1
project: {{name: iris}}
stages: {{train: {{cmd: python t.py, outs: [m.pkl]}}}}
deploy:
  model: {{name: iris, path: m.pkl}}
  environments:
    - name: production
      file: deploy.yaml
      document: {document}
      field: {field}
      value: "s3://models/iris/{{model_hash}}"
      rollout:
        traffic: {traffic}
        steps: {steps}
        metrics: [{{name: ok, kind: proportion, column: ok, direction: increase}}]
        source: {{logs: {{path: logs.csv, version: v, timestamp: ts}}}}
"""
    manifest = load_manifest_text(text)
    assert manifest.deploy is not None
    return manifest.deploy.environments[0]


def load(text: str) -> list[object]:
    return list(YAML(typ="safe", pure=True).load_all(text))


def walk(text: str, env: Environment) -> dict[str, str]:
    """Start, advance twice, then promote; and, from the first step, roll back."""
    assert env.rollout is not None
    places = slots(text, env, env.rollout)
    state = read_state(text, env, places)
    assert not state.rolling
    control = state.control or OLD
    out = {}
    started = plan.start(text, places, state, NEW, env.rollout.steps[0], "deploy.yaml")
    out["start"] = started.text
    current = started.text
    for _ in range(2):
        state = read_state(current, env, places)
        share = next_share(env.rollout, state.share or 0)
        assert share is not None
        current = plan.advance(current, places, state, share, "deploy.yaml").text
    out["advanced"] = current
    state = read_state(current, env, places)
    assert next_share(env.rollout, state.share or 0) is None  # the last step: a pass promotes
    out["promoted"] = plan.promote(current, places, state, "deploy.yaml").text
    first = read_state(out["start"], env, places)
    out["rolled back"] = plan.rollback(out["start"], places, first, control, "deploy.yaml").text
    return out


def test_kserve_canary_in_place() -> None:
    env = environment("spec.predictor.model.storageUri", "kserve")
    out = walk(KSERVE, env)
    assert out["start"] == KSERVE.replace(
        "    minReplicas: 2", "    canaryTrafficPercent: 5\n    minReplicas: 2"
    ).replace(OLD, NEW)
    assert out["advanced"] == out["start"].replace("canaryTrafficPercent: 5", "canaryTrafficPercent: 50")
    # Promoted: the candidate is the model and the split is gone; rolled back: the file as it was.
    assert out["promoted"] == KSERVE.replace(OLD, NEW)
    assert out["rolled back"] == KSERVE
    state = read_state(out["start"], env, slots(out["start"], env, env.rollout))  # type: ignore[arg-type]
    assert (state.share, state.candidate, state.control) == (5.0, NEW, None)


def test_kserve_raw_deployment_canary_entry() -> None:
    env = environment("spec.predictor.model.storageUri", "kserve-raw")
    out = walk(KSERVE_RAW, env)
    assert out["start"] == KSERVE_RAW.replace("trafficPercent: 0 ", "trafficPercent: 5 ").replace(
        f"          storageUri: {OLD}", f"          storageUri: {NEW}"
    )
    promoted = load(out["promoted"])[0]
    assert promoted == {
        "spec": {
            "predictor": {"model": {"storageUri": NEW}},
            "canary": [{"trafficPercent": 0, "predictor": {"model": {"storageUri": NEW}}}],
        }
    }
    assert out["rolled back"] == KSERVE_RAW
    assert "# the candidate's share" in out["promoted"]


def test_seldon_experiment_weights_and_models() -> None:
    env = environment("spec.storageUri", "seldon")
    out = walk(SELDON, env)
    docs = load(out["start"])
    assert [d["spec"]["storageUri"] for d in docs[:2]] == [OLD, NEW]  # type: ignore[index]
    assert [c["weight"] for c in docs[2]["spec"]["candidates"]] == [95, 5]  # type: ignore[index]
    assert [c["weight"] for c in load(out["advanced"])[2]["spec"]["candidates"]] == [50, 50]  # type: ignore[index]
    promoted = load(out["promoted"])
    assert [d["spec"]["storageUri"] for d in promoted[:2]] == [NEW, NEW]  # type: ignore[index]
    assert [c["weight"] for c in promoted[2]["spec"]["candidates"]] == [100, 0]  # type: ignore[index]
    assert out["rolled back"] == SELDON


def test_seldon_files_that_are_not_an_experiment_say_why() -> None:
    env = environment("spec.storageUri", "seldon")
    assert env.rollout is not None
    with pytest.raises(
        YamlEditError, match="traffic seldon needs one Experiment document in the file, found 0"
    ):
        slots(SELDON.split("---")[0], env, env.rollout)
    with pytest.raises(
        YamlEditError, match="the Experiment names Model 'iris-b', which the file does not hold"
    ):
        slots(SELDON.replace("name: iris-b\n", "name: other\n", 1), env, env.rollout)
    wrong = environment("spec.storageUri", "seldon", document=1)
    with pytest.raises(YamlEditError, match="must be the Model the Experiment serves first, 'iris-a'"):
        slots(SELDON, wrong, wrong.rollout)  # type: ignore[arg-type]


def test_a_shape_of_ones_own_with_weights_that_add_up() -> None:
    traffic = "{share: weights.canary, candidate: canary.image, control_share: weights.stable, scale: 1000}"
    env = environment("image", traffic, steps="[10, 200, 500]")
    out = walk(CUSTOM, env)
    assert out["start"] == CUSTOM.replace("stable: 1000, canary: 0", "stable: 990, canary: 10").replace(
        f"  image: {OLD}", f"  image: {NEW}"
    )
    assert load(out["promoted"]) == [
        {"image": NEW, "canary": {"image": NEW}, "weights": {"stable": 1000, "canary": 0}}
    ]
    assert out["rolled back"] == CUSTOM


def test_titles_say_the_move_and_the_shares() -> None:
    env = environment("spec.predictor.model.storageUri", "kserve")
    assert env.rollout is not None
    places = slots(KSERVE, env, env.rollout)
    state = read_state(KSERVE, env, places)
    started = plan.start(KSERVE, places, state, NEW, 5, "f")
    assert plan.title("start", "iris", "production", "ab12ab12", started, 100) == (
        "Roll out iris ab12ab12 to production: 5% of traffic"
    )
    moved = plan.advance(started.text, places, read_state(started.text, env, places), 25, "f")
    assert plan.title("advance", "iris", "production", "ab12ab12", moved, 100) == (
        "Roll out iris ab12ab12 in production: 5% to 25%"
    )
    assert plan.shown_share(25, 1000) == "25/1000"
    assert [e.place.path for e in started.edits] == [
        "spec.predictor.model.storageUri",
        "spec.predictor.canaryTrafficPercent",
    ]
    assert [(e.old, e.new) for e in started.edits] == [(OLD, NEW), (None, "5")]
    # One branch and one marker per environment; the content names the move, share and candidate.
    assert plan.branch_name("production") == "mlops/rollout/production"
    assert plan.content_hash("advance", 25, NEW) != plan.content_hash("advance", 50, NEW)


def test_versions_are_read_back_from_the_values() -> None:
    env = environment("spec.predictor.model.storageUri", "kserve")
    assert env.rollout is not None
    assert fields_of(NEW, env.value, "production", "iris")["short_hash"] == "ab12ab12"
    assert arm(NEW, env, env.rollout, "iris").version == "ab12ab12"
    with pytest.raises(UsageError, match="does not have the form of its value template"):
        arm("latest", env, env.rollout, "iris")


def test_edits_that_cannot_be_made_safely_are_refused() -> None:
    with pytest.raises(YamlEditError, match="is a flow mapping"):
        set_number("spec: {predictor: {a: 1}}\n", Place(0, "spec.predictor.canaryTrafficPercent"), 5, "f")
    with pytest.raises(YamlEditError, match=r"no mapping spec\.predictor to add canaryTrafficPercent to"):
        set_number("spec: {}\n", Place(0, "spec.predictor.canaryTrafficPercent"), 5, "f")
    with pytest.raises(YamlEditError, match="remove it by hand"):
        remove_key("a:\n  b: |\n    x\n  c: 1\n", Place(0, "a.b"), "f")
    # The share of a shape with a place of its own must be in the file, and a number.
    env = environment("spec.predictor.model.storageUri", "kserve-raw")
    assert env.rollout is not None
    with pytest.raises(YamlEditError, match=r"no spec\.canary\.0\.trafficPercent in document 0"):
        read_state(KSERVE, env, slots(KSERVE, env, env.rollout))
    bad = KSERVE_RAW.replace("trafficPercent: 0 ", "trafficPercent: lots ")
    with pytest.raises(YamlEditError, match="is 'lots', not a number"):
        read_state(bad, env, slots(bad, env, env.rollout))


def test_a_share_written_by_hand_between_steps_goes_on_from_there() -> None:
    env = environment("spec.predictor.model.storageUri", "kserve")
    assert env.rollout is not None
    assert next_share(env.rollout, 10) == 25
    assert next_share(env.rollout, 60) is None
    text = KSERVE.replace("    minReplicas: 2", "    canaryTrafficPercent: 100\n    minReplicas: 2")
    assert not read_state(text, env, slots(text, env, env.rollout)).rolling  # all traffic: no rollout
