"""``deploy.environments[].rollout``: the typed section with the schema's defaults, the ready-made
traffic shapes, and every mistake reported as one located line."""

from __future__ import annotations

import pytest

from mlops_gitops.errors import ManifestError
from mlops_gitops.manifest import load_manifest_text
from mlops_gitops.manifest.rollout import Rollout, default_scale, readable_fields

HEAD = """\
version: 1
project: {name: iris}
stages:
  train: {cmd: python train.py, outs: [models/model.pkl]}
deploy:
  model: {name: iris, path: models/model.pkl}
  environments:
    - name: production
      file: deploy/isvc.yaml
      field: spec.predictor.model.storageUri
      value: s3://models/{model_hash}
      rollout:
"""

LOGS = """\
        metrics:
          - name: setosa share
            kind: proportion
            column: prediction
            value: setosa
            direction: increase
            guardrail: true
        source:
          logs: {path: logs/predictions.csv, version: model_version, timestamp: ts}
"""

PROMETHEUS = """\
        metrics:
          - name: errors
            kind: proportion
            direction: decrease
            query:
              positives: sum(errors{version="{{version}}"})
              count: sum(requests{version="{{version}}"})
          - name: latency
            kind: mean
            direction: decrease
            tolerance: 5
            segment: region=eu
            query:
              count: sum(increase(ms_count{version="{{version}}", region="eu"}[{{window}}]))
              sum: sum(increase(ms_sum{version="{{version}}", region="eu"}[{{window}}]))
              sum_squares: sum(increase(ms_squares{version="{{version}}", region="eu"}[{{window}}]))
        source:
          prometheus:
            url: http://prometheus:9090
            token_env: PROMETHEUS_TOKEN
            units: sum(requests{version="{{version}}"})
"""


def rollout(text: str) -> Rollout:
    manifest = load_manifest_text(text)
    assert manifest.deploy is not None
    found = manifest.deploy.environments[0].rollout
    assert found is not None
    return found


def errors(text: str) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifest_text(text)
    return info.value.lines()


def test_defaults_come_from_the_schema() -> None:
    r = rollout(HEAD + LOGS)
    assert (r.steps, r.min_minutes, r.min_outcomes, r.alpha, r.version, r.segments) == (
        (5.0, 25.0, 50.0),
        60.0,
        100,
        0.05,
        "{short_hash}",
        (),
    )
    assert r.schedule == "17 * * * *"
    assert r.traffic.shape == "kserve" and r.traffic.in_place
    assert (
        r.traffic.share == "spec.predictor.canaryTrafficPercent" and r.traffic.scale == default_scale() == 100
    )
    (metric,) = r.metrics
    # A proportion's tolerance defaults to one percentage point: 0 would ask for proof of "better".
    assert (metric.tolerance, metric.guardrail, metric.value, metric.column) == (
        0.01,
        True,
        "setosa",
        "prediction",
    )
    assert r.logs is not None and r.logs.version == "model_version" and r.prometheus is None
    assert r.fraction(25) == 0.25


def test_an_environment_without_rollout_has_none() -> None:
    manifest = load_manifest_text(HEAD.removesuffix("      rollout:\n"))
    assert manifest.deploy is not None and manifest.deploy.environments[0].rollout is None


def test_prometheus_metrics_keep_their_queries_and_segments() -> None:
    r = rollout(HEAD + PROMETHEUS)
    errors_, latency = r.metrics
    assert set(errors_.queries) == {"positives", "count"} and errors_.guardrail is False
    assert (latency.kind, latency.tolerance, latency.segment) == ("mean", 5.0, "region=eu")
    assert r.prometheus is not None and r.prometheus.token_env == "PROMETHEUS_TOKEN"
    assert r.prometheus.units == 'sum(requests{version="{{version}}"})'


@pytest.mark.parametrize(
    ("traffic", "share", "candidate", "control_share"),
    [
        ("kserve-raw", "spec.canary.0.trafficPercent", "spec.canary.0.predictor.model.storageUri", None),
        ("seldon", "spec.candidates.1.weight", "spec.predictor.model.storageUri", "spec.candidates.0.weight"),
    ],
)
def test_ready_made_shapes(traffic: str, share: str, candidate: str, control_share: str | None) -> None:
    r = rollout(HEAD + f"        traffic: {traffic}\n" + LOGS)
    assert (r.traffic.shape, r.traffic.share, r.traffic.candidate, r.traffic.control_share) == (
        traffic,
        share,
        candidate,
        control_share,
    )
    assert not r.traffic.in_place


def test_a_custom_shape() -> None:
    text = HEAD + (
        "        traffic: {share: spec.weights.canary, document: 1, candidate: spec.canary.uri, "
        "control_share: spec.weights.stable, scale: 1000}\n        steps: [10, 200]\n"
    )
    r = rollout(text + LOGS)
    t = r.traffic
    assert (t.shape, t.share, t.document, t.candidate, t.candidate_document, t.control_share, t.scale) == (
        "custom",
        "spec.weights.canary",
        1,
        "spec.canary.uri",
        None,
        "spec.weights.stable",
        1000.0,
    )
    assert r.fraction(200) == 0.2


def test_version_placeholders_read_back_from_the_value() -> None:
    assert readable_fields("s3://m/{model_hash}") >= {"model_hash", "short_hash", "value", "env", "model"}
    assert "short_hash" not in readable_fields("registry/iris:{commit}")
    rollout(HEAD.replace("{model_hash}", "{commit}") + '        version: "v-{short_commit}"\n' + LOGS)


# Line numbers: HEAD ends on line 12 (`rollout:`); the section's own lines follow from 13.
@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "        steps: [5, 50, 25, 100]\n" + LOGS,
            [
                "mlops.yaml:13:24: deploy.environments[0].rollout.steps[2]: steps must increase: 25 follows 50",
                "mlops.yaml:13:28: deploy.environments[0].rollout.steps[3]: a step is the candidate's share "
                "before promotion: below 100 (all traffic); the promotion after the last step gives it everything",
            ],
        ),
        (
            "        steps: [0, 5]\n" + LOGS,
            [
                "mlops.yaml:13:17: deploy.environments[0].rollout.steps[0]: 0 is less than or equal to the minimum of 0"
            ],
        ),
        (
            "        alpha: 1\n" + LOGS,
            [
                "mlops.yaml:13:16: deploy.environments[0].rollout.alpha: 1 is greater than or equal to the maximum of 1"
            ],
        ),
        (
            LOGS.replace("            direction: increase\n", ""),
            ["mlops.yaml:14:13: deploy.environments[0].rollout.metrics[0]: missing required key 'direction'"],
        ),
        (
            LOGS.replace("kind: proportion", "kind: mean").replace("            value: setosa\n", ""),
            [
                "mlops.yaml:14:13: deploy.environments[0].rollout.metrics[0]: a mean needs tolerance: the "
                "largest degradation you accept, in its own units (5 for 5 ms of latency); 0 asks for proof "
                "that the candidate is better"
            ],
        ),
        (
            LOGS.replace("            column: prediction\n", ""),
            [
                "mlops.yaml:14:13: deploy.environments[0].rollout.metrics[0]: a metric read from source.logs needs column"
            ],
        ),
        (
            "        version: '{commit}'\n" + LOGS,
            [
                "mlops.yaml:13:18: deploy.environments[0].rollout.version: {commit} cannot be read back from "
                "value 's3://models/{model_hash}', which holds {model_hash}, {short_hash}: name the version by "
                "what value holds, or {value} (the whole value)"
            ],
        ),
        (
            "        version: '{hash'\n" + LOGS,
            [
                "mlops.yaml:13:18: deploy.environments[0].rollout.version: bad template '{hash': braces must "
                "pair up around a placeholder"
            ],
        ),
        (
            "        version: '{sha}'\n" + LOGS,
            [
                "mlops.yaml:13:18: deploy.environments[0].rollout.version: unknown placeholder {sha}; use one "
                "of {model_hash}, {short_hash}, {commit}, {short_commit}, {model}, {env}, {value}"
            ],
        ),
        (
            "        schedule: '0 * * * mon!'\n" + LOGS,
            [
                "mlops.yaml:13:19: deploy.environments[0].rollout.schedule: '0 * * * mon!' is not a valid cron expression"
            ],
        ),
        (
            "        traffic: seldn\n" + LOGS,
            [
                "mlops.yaml:13:18: deploy.environments[0].rollout.traffic: 'seldn' is not one of: kserve, kserve-raw, seldon"
            ],
        ),
        (
            "        traffic: {share: spec.predictor.model.storageUri}\n" + LOGS,
            [
                "mlops.yaml:13:26: deploy.environments[0].rollout.traffic.share: share must be a field of its own"
            ],
        ),
        (
            "        traffic: {share: spec.w, candidate: spec.predictor.model.storageUri}\n" + LOGS,
            [
                "mlops.yaml:13:45: deploy.environments[0].rollout.traffic.candidate: the candidate's place must "
                "differ from field, which keeps the current model (leave candidate out to replace field in place)"
            ],
        ),
        (
            LOGS + "          prometheus: {url: 'http://p:9090', units: 'sum(r{version=\"{{version}}\"})'}\n",
            [
                "mlops.yaml:20:9: deploy.environments[0].rollout.source: give either logs or prometheus, not both"
            ],
        ),
    ],
)
def test_mistakes_are_one_located_line_each(section: str, expected: list[str]) -> None:
    assert errors(HEAD + section) == expected


def test_kserve_shapes_need_a_field_below_the_predictor() -> None:
    text = (
        HEAD.replace("field: spec.predictor.model.storageUri", "field: spec.image")
        + "        traffic: kserve-raw\n"
    )
    assert errors(text + LOGS) == [
        "mlops.yaml:13:18: deploy.environments[0].rollout.traffic: traffic kserve-raw splits spec.predictor: "
        "field must be a path below spec.predictor (it is spec.image)"
    ]


def test_prometheus_mistakes() -> None:
    text = HEAD + PROMETHEUS.replace('sum(errors{version="{{version}}"})', 'sum(errors{version="{{ver}}"})')
    text = text.replace("            tolerance: 5\n", "            tolerance: 5\n            column: ms\n")
    text = text.replace(
        '              sum_squares: sum(increase(ms_squares{version="{{version}}", region="eu"}[{{window}}]))\n',
        "",
    )
    text = text.replace("        source:", "        segments: [region]\n        source:")
    assert errors(text) == [
        "mlops.yaml:18:26: deploy.environments[0].rollout.metrics[0].query.positives: unknown placeholder "
        "{{ver}}; use {{version}} and {{window}}",
        "mlops.yaml:18:26: deploy.environments[0].rollout.metrics[0].query.positives: no {{version}}: without "
        "it both arms would read the same numbers",
        "mlops.yaml:24:13: deploy.environments[0].rollout.metrics[1].column: column is for source.logs; "
        "source.prometheus reads query",
        "mlops.yaml:26:13: deploy.environments[0].rollout.metrics[1].query: a mean needs a sum_squares query",
        "mlops.yaml:29:19: deploy.environments[0].rollout.segments: segments are log columns; with prometheus "
        "give each metric's segment and select it in its queries",
    ]


def test_a_url_with_a_password_or_another_scheme_is_refused_by_the_schema() -> None:
    text = HEAD + PROMETHEUS.replace("http://prometheus:9090", "file:///etc/passwd")
    (line,) = errors(text)
    assert line.startswith(
        "mlops.yaml:31:18: deploy.environments[0].rollout.source.prometheus.url: 'file:///etc/passwd'"
    )
