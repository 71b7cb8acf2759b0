"""Pure promotion logic: model identity from dvc.lock, values, order, body."""

from __future__ import annotations

import pytest

from mlops_gitops.delivery import promotion
from mlops_gitops.errors import UsageError
from tests.parts import environment

LOCK = {
    "schema": "2.0",
    "stages": {
        "prepare": {"outs": [{"path": "data/clean", "md5": "c" * 32 + ".dir"}]},
        "train": {
            "deps": [{"path": "data/clean", "md5": "c" * 32 + ".dir"}],
            "params": {"params.yaml": {"train.lr": 0.1}},
            "outs": [
                {"path": "models", "hash": "md5", "md5": "a" * 32 + ".dir"},
                {"path": "models/model.pkl", "md5": "b" * 32},
            ],
        },
        # dvc.lock writes paths relative to the stage's wdir without naming it: the facts do.
        "sub": {"outs": [{"path": "model.onnx", "md5": "d" * 32}]},
    },
}


def test_identity_prefers_the_most_specific_out() -> None:
    m = promotion.model_identity(LOCK, "models/model.pkl", "f" * 40, "clf")
    assert (m.hash, m.stage, m.out) == ("b" * 32, "train", "models/model.pkl")
    assert m.deps == {"data/clean": "c" * 32 + ".dir"} and m.params == {"params.yaml:train.lr": 0.1}


def test_identity_from_a_directory_out_and_wdir() -> None:
    assert promotion.model_identity(LOCK, "models/other.bin", "f" * 40, "clf").hash == "a" * 32
    wdirs = {"sub": "pkg"}
    assert promotion.model_identity(LOCK, "./pkg/model.onnx", "f" * 40, "clf", wdirs=wdirs).hash == "d" * 32
    # a pipeline in a subfolder: stages not named in wdirs run in the dvc.yaml's folder
    nested = promotion.model_identity(LOCK, "pipelines/models/model.pkl", "f" * 40, "clf", base="pipelines")
    assert nested.hash == "b" * 32


def test_identity_missing() -> None:
    with pytest.raises(UsageError, match=r"no stage output is or contains nope\.pkl"):
        promotion.model_identity(LOCK, "nope.pkl", "f" * 40, "clf")
    with pytest.raises(UsageError, match="no stages"):
        promotion.model_identity({}, "x", "f" * 40, "clf")


def test_render_value_and_names() -> None:
    m = promotion.ModelIdentity("clf", "m.pkl", "0123456789abcdef", "f" * 40)
    assert promotion.render_value("s3://b/{model}/{short_hash}/{short_commit}-{env}", m, "prod") == (
        "s3://b/clf/01234567/fffffff-prod"
    )
    with pytest.raises(UsageError, match="bad placeholder"):
        promotion.render_value("{nope}", m, "prod")
    assert promotion.branch_name("prod", "clf") == "mlops/promote/prod/clf"
    marker = promotion.full_marker("iris", "prod", m)
    assert marker.startswith(promotion.marker("iris", "prod", "clf"))
    assert promotion.marked_hash(f"{marker}\nbody") == m.hash


def test_order_problems() -> None:
    m = promotion.ModelIdentity("clf", "m.pkl", "abc", "f" * 40)
    staging = environment("staging", "s.yaml", "a.b", "uri/{model_hash}")
    prod = environment("prod", "p.yaml", "a.b", "uri/{model_hash}", after=("staging",))
    envs = {"staging": staging, "prod": prod}
    assert promotion.order_problems(prod, envs, {"staging": "uri/abc"}, m) == []
    (problem,) = promotion.order_problems(prod, envs, {"staging": "uri/old"}, m)
    assert "promote --env staging first" in problem
    assert promotion.order_problems(staging, envs, {}, m) == []


def test_body_is_capped_and_keeps_marker_and_footer() -> None:
    m = promotion.ModelIdentity("clf", "m.pkl", "abc", "f" * 40)
    target = promotion.Target("acme/deploy", "main", "f.yaml", "a.b", 0, "old", "new")
    body = promotion.body("iris", "prod", m, target, "pass", [], "<!-- marker -->\n" + "x" * 100000)
    assert len(body) <= 65536
    assert body.startswith("<!-- mlops-gitops:promotion") and body.rstrip().endswith("skips this model.")
    assert "<!-- marker -->" not in body
