"""mlops.yaml loading: every kind of bad manifest gives located one-line errors, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.errors import ManifestError
from mlops_gitops.manifest import load_manifest, load_manifest_text

GOOD = """\
version: 1
project:
  name: iris
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/iris.csv]
    params: [train]
    outs: [models/model.pkl]
    metrics:
      - metrics.json:
          cache: false
metrics:
  gates:
    - metric: accuracy
      min: 0.8
      regression: {absolute: 0.02}
    - metric: per_class.*.f1
      direction: higher
      regression: {relative: 0.05}
deploy:
  model: {name: iris, path: models/model.pkl}
  environments:
    - {name: staging, file: deploy/staging.yaml, field: spec.predictor.model.storageUri, value: "s3://m/{model_hash}"}
    - {name: production, file: deploy/prod.yaml, field: spec.predictor.model.storageUri, value: "s3://m/{model_hash}", after: [staging]}
"""


def errors(text: str) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifest_text(text)
    return info.value.lines()


def test_good_manifest_builds_typed_model() -> None:
    manifest = load_manifest_text(GOOD)
    assert manifest.name == "iris"
    assert manifest.metrics_files == () and manifest.owns_dvc_yaml and manifest.pipelines == ("dvc.yaml",)
    assert manifest.gates[1].is_pattern and manifest.gates[1].regression_relative == 0.05
    assert manifest.deploy is not None
    assert [e.name for e in manifest.deploy.environments] == ["staging", "production"]
    assert manifest.deploy.environments[0].auto and not manifest.deploy.environments[1].auto
    assert manifest.runner("train").runs_on == "ubuntu-latest"
    # Metrics files and retrain paths come from what DVC resolves the pipeline to (mlops_gitops.pipeline.project).
    assert manifest.trigger_paths == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 1. YAML syntax error, located
        ("version: 1\nproject: {name: x\nstages: {}\n", "mlops.yaml:3:"),
        # 2. unknown key with a suggestion
        (
            GOOD.replace("  name: iris", "  nmae: iris\n  name: iris"),
            "mlops.yaml:3:3: project.nmae: unknown key; did you mean 'name'?",
        ),
        # 3. wrong type
        (GOOD.replace("version: 1", "version: one"), "mlops.yaml:1:10: version: must be 1, got 'one'"),
        # 4. missing required key
        (
            GOOD.replace("    cmd: python train.py\n", ""),
            "mlops.yaml:5:3: stages.train: missing required key 'cmd'",
        ),
        # 5. bad enum
        (
            GOOD.replace("direction: higher", "direction: up"),
            "metrics.gates[1].direction: 'up' is not one of: higher, lower",
        ),
        # 6. duplicate key
        (
            GOOD.replace("project:\n  name: iris", "project:\n  name: iris\n  name: other"),
            "YAML syntax error: found duplicate key",
        ),
        # 7. unknown environment in order, with a suggestion
        (
            GOOD.replace("after: [staging]", "after: [stagign]"),
            "unknown environment 'stagign'; did you mean 'staging'?",
        ),
        # 8. a manifest with both ways of owning the pipeline
        (
            GOOD.replace("stages:\n", "pipelines: [dvc.yaml]\nstages:\n"),
            "give either `pipelines:`",
        ),
        # 9. min above max
        (
            GOOD.replace("min: 0.8", "min: 0.8\n      max: 0.5"),
            "metrics.gates[0].min: min (0.8) is greater than max (0.5)",
        ),
        # 10. unknown placeholder in a value template
        (GOOD.replace('"s3://m/{model_hash}"}', '"s3://m/{hash}"}', 1), "unknown placeholder {hash}"),
        # 11. invalid cron
        (GOOD + "triggers:\n  schedule: '0 3 * *'\n", "triggers.schedule: '0 3 * *' does not match"),
        # 12. cloud provider without its settings
        (GOOD + "cloud:\n  provider: aws\n", "cloud: missing required key 'aws'"),
        # 13. a gate with nothing to check
        (GOOD + "", None),
        # 14. a stage name DVC would reject
        # DVC refuses punctuation other than _ and - in stage names (`train@x` would read as a foreach item).
        (GOOD.replace("  train:\n", "  'train@x':\n"), "stages: 'train@x' does not match"),
        # 15. negative timeout
        (
            GOOD + "runners:\n  train: {timeout_minutes: 0}\n",
            "runners.train.timeout_minutes: 0 is less than the minimum of 1",
        ),
        # 16. cycle in environment order
        (
            GOOD.replace("file: deploy/staging.yaml,", "file: deploy/staging.yaml, after: [production],"),
            "environment order has a cycle",
        ),
        # 17. empty manifest
        ("", "mlops.yaml:1:1: the manifest is empty"),
        # 18. not a mapping
        ("- a\n- b\n", "(root): expected object, got a list"),
        # 20. a GitHub expression smuggled into a workflow-bound value
        (
            GOOD.replace(
                "  name: iris\n", "  name: iris\npython:\n  install: pip install ${{ secrets.X }}\n", 1
            ),
            "python.install: '${{' is not allowed",
        ),
        # 19. foreach stage with cmd
        (
            GOOD.replace(
                "    cmd: python train.py\n",
                "    cmd: python train.py\n    foreach: [a, b]\n    do: {cmd: echo}\n",
            ),
            "a foreach stage takes its cmd inside 'do'",
        ),
    ],
)
def test_bad_manifest_one_located_line_each(text: str, expected: str | None) -> None:
    if expected is None:
        text = text.replace("      min: 0.8\n      regression: {absolute: 0.02}\n", "")
        expected = "metrics.gates[0]: a gate needs at least one of min, max or regression"
    lines = errors(text)
    assert any(expected in line for line in lines), lines
    for line in lines:
        assert "\n" not in line
        assert line.startswith("mlops.yaml:"), line


def test_all_problems_reported_in_one_pass() -> None:
    text = GOOD.replace("  name: iris", "  name: iris\n  colour: red").replace(
        "direction: higher", "direction: up"
    )
    lines = errors(text)
    assert len(lines) == 2
    assert lines[0].startswith("mlops.yaml:4:3: project.colour")
    assert lines[1].startswith("mlops.yaml:") and "direction" in lines[1]


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path / "mlops.yaml")
    assert "run `mlops-gitops init`" in str(info.value)


def test_cli_validate_exit_code_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "mlops.yaml").write_text(GOOD.replace("direction: higher", "direction: up"))
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "validate"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "mlops.yaml:19:18: metrics.gates[1].direction: 'up' is not one of: higher, lower"
    ]
    (tmp_path / "mlops.yaml").write_text(GOOD)
    ok = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "validate"], cwd=tmp_path, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout


def test_validation_memo_skips_only_text_that_already_passed(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    manifest = tmp_path / "mlops.yaml"
    manifest.write_text(GOOD)
    assert load_manifest(manifest).name == "iris"
    memo = tmp_path / ".git" / "mlops-gitops-valid.json"
    assert len(json.loads(memo.read_text())) == 1
    assert load_manifest(manifest).gates == load_manifest_text(GOOD).gates  # from the memo, same result
    bad = GOOD.replace("direction: higher", "direction: up")
    manifest.write_text(bad)
    for _ in range(2):  # a failing text is never remembered
        with pytest.raises(ManifestError):
            load_manifest(manifest)
    assert len(json.loads(memo.read_text())) == 1


def test_reserved_stage_name_is_refused_by_validate_with_its_position(tmp_path: Path) -> None:
    """A stage named like the data-validation stage passed `validate` and only failed `generate`."""
    text = GOOD.replace("  train:\n", "  mlops_validate_data:\n")
    (tmp_path / "mlops.yaml").write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_gitops", "validate"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 2
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("  mlops_validate_data:"))
    assert proc.stderr.strip() == (
        f"mlops.yaml:{line}:3: stages.mlops_validate_data: this stage name is reserved for the "
        "data-validation stage mlops-gitops generates"
    )


def test_defaults_come_from_the_schema_once() -> None:
    """Every key with a default in the schema reads back as that default when left out."""
    from mlops_gitops.manifest.loader import schema

    minimal = "version: 1\nproject: {name: p}\nstages:\n  s: {cmd: echo}\n"
    manifest = load_manifest_text(minimal)
    props = schema()["properties"]
    assert manifest.default_branch == props["project"]["properties"]["default_branch"]["default"]
    assert manifest.python_version == props["python"]["properties"]["version"]["default"]
    assert manifest.install == props["python"]["properties"]["install"]["default"]
    assert list(manifest.requirements) == props["python"]["properties"]["requirements"]["default"]
    assert manifest.history == props["metrics"]["properties"]["history"]["default"]
    assert manifest.cloud.provider == "none"
    assert (
        manifest.runner("train").timeout_minutes
        == props["runners"]["properties"]["train"]["x-builtin"]["timeout_minutes"]
    )
    assert (
        manifest.runner("train").runs_on == props["runners"]["properties"]["default"]["x-builtin"]["runs_on"]
    )
    with_default = load_manifest_text(minimal + "runners:\n  default: {timeout_minutes: 7}\n")
    assert with_default.runner("train").timeout_minutes == 7  # runners.default beats the built-in


def test_monitoring_defaults_are_typed() -> None:
    text = "version: 1\nproject: {name: p}\nstages:\n  s: {cmd: echo}\nmonitoring: {logs: l.csv, baseline: b.csv}\n"
    monitoring = load_manifest_text(text).monitoring
    assert monitoring is not None
    assert monitoring.thresholds.psi == 0.2 and monitoring.on_drift.issue and not monitoring.on_drift.retrain
    assert monitoring.on_drift.labels == ("mlops-gitops", "drift") and monitoring.schedule == "0 6 * * *"


def test_a_deploy_token_needs_the_login_it_acts_as() -> None:
    """Without it, promote could not tell its own PRs from anyone's (the marker is public)."""
    text = (
        "version: 1\nproject: {name: p}\nstages:\n  s: {cmd: echo, outs: [m.pkl]}\n"
        "deploy:\n  model: {name: m, path: m.pkl}\n  token_secret: DEPLOY_TOKEN\n"
        "  environments:\n    - {name: staging, file: k.yaml, field: a.b, value: '{model_hash}'}\n"
    )
    with pytest.raises(ManifestError) as info:
        load_manifest_text(text)
    assert "mlops.yaml:7:17: deploy.token_secret: set deploy.token_login too" in str(info.value)
    fixed = text.replace("  environments:", "  token_login: deployer[bot]\n  environments:")
    deploy = load_manifest_text(fixed).deploy
    assert deploy is not None and deploy.token_login == "deployer[bot]"


def test_record_defaults_and_the_registry_needs_a_model() -> None:
    base = "version: 1\nproject: {name: p}\nstages:\n  s: {cmd: echo, outs: [m.pkl]}\n"
    record = load_manifest_text(base).record
    assert (record.pull_requests, record.retrain_branch, record.registry) == (
        "commit",
        "mlops-gitops/retrained-model",
        False,
    )
    with pytest.raises(ManifestError) as info:
        load_manifest_text(base + "record: {registry: true}\n")
    assert "mlops.yaml:5:20: record.registry: the registry records deploy.model" in str(info.value)
    with pytest.raises(ManifestError) as info:
        load_manifest_text(base + "record: {pull_requests: push}\n")
    assert "mlops.yaml:5:25: record.pull_requests" in str(info.value)


def test_fanout_and_stage_runners_defaults_types_and_located_errors() -> None:
    from mlops_gitops.manifest.loader import schema

    base = "version: 1\nproject: {name: p}\npipelines: [dvc.yaml]\n"
    manifest = load_manifest_text(base)
    fanout = schema()["properties"]["fanout"]["properties"]
    assert (manifest.fanout.enabled, manifest.fanout.max_parallel) == (
        fanout["enabled"]["default"],
        fanout["max_parallel"]["default"],
    )
    assert (manifest.fanout.max_jobs, manifest.fanout.min_jobs) == (256, 2) and manifest.stage_runners == ()

    digest = "b" * 64
    runners = (
        "runners:\n"
        "  train: {timeout_minutes: 90}\n"
        "  stages:\n"
        f"    'train@*': {{runs_on: [self-hosted, gpu], container: {{image: 'cuda:12@sha256:{digest}', options: --gpus all}}}}\n"
        "    pipelines/b/dvc.yaml:fit: {timeout_minutes: 20}\n"
        "fanout: {max_parallel: 4}\n"
    )
    manifest = load_manifest_text(base + runners)
    gpu, fit = manifest.stage_runners
    assert (gpu.pattern, gpu.runs_on, gpu.timeout_minutes) == ("train@*", ("self-hosted", "gpu"), None)
    assert gpu.container == {"image": f"cuda:12@sha256:{digest}", "options": "--gpus all"}
    assert (fit.runs_on, fit.timeout_minutes, fit.container) == (None, 20, None)
    assert manifest.fanout.max_parallel == 4 and manifest.runner("train").timeout_minutes == 90
    # A key matches a stage's address, name, group, or the group's address; the first key wins.
    assert manifest.stage_runner("train@us", "train@us", "train") is gpu
    assert manifest.stage_runner("pipelines/b/dvc.yaml:fit", "fit", None) is fit
    assert manifest.stage_runner("fit", "fit", None) is None

    assert errors(base + "fanout: {max_jobs: 300, paralel: 2}\n") == [
        "mlops.yaml:4:20: fanout.max_jobs: 300 is greater than the maximum of 256",
        "mlops.yaml:4:25: fanout.paralel: unknown key; did you mean 'max_parallel'?",
    ]
    assert errors(base + "fanout: {max_jobs: 1}\n") == [
        "mlops.yaml:4:20: fanout.max_jobs: min_jobs (2) is greater than max_jobs (1)"
    ]
    assert errors(
        base + "runners:\n  stages:\n    train: {}\n    fit: {runs_on: '${{ github.actor }}'}\n"
    ) == [
        "mlops.yaml:6:12: runners.stages.train: must not be empty",
    ]
    assert errors(
        base + "runners:\n  stages:\n    fit: {runs_on: '${{ github.actor }}', container: cuda:12}\n"
    ) == [
        "mlops.yaml:6:20: runners.stages.fit.runs_on: '${{' is not allowed: this value is written into a "
        "generated workflow, where GitHub would evaluate it as an expression",
        "mlops.yaml:6:54: runners.stages.fit.container: 'cuda:12' is not pinned: add its digest "
        "(IMAGE:TAG@sha256:<64 hex>, from `docker buildx imagetools inspect IMAGE:TAG`); a tag can be moved "
        "by whoever controls it",
    ]
