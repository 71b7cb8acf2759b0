"""The fanned-out layout of mlops-pr and mlops-train (docs/scaling.md): which projects get it, and
how the jobs hand the plan and their runs to each other. tests/test_fanout_act.py runs it under act."""

from __future__ import annotations

from typing import Any

from mlops_gitops.manifest.loader import load_manifest_text
from mlops_gitops.render.actions import ACTIONS
from mlops_gitops.render.workflows import render_workflows
from tests.parts import project_of
from tests.render.test_workflows import MINIMAL, WF, parse, steps

DIGEST = "sha256:" + "0" * 64
FANOUT = f"""\
version: 1
project: {{name: fan}}
stages:
  prepare: {{cmd: python prepare.py, deps: [prepare.py, raw.csv], outs: [prepared.csv]}}
  train:
    foreach: [us, uk, de]
    do: {{cmd: "python train.py ${{item}}", deps: [train.py, prepared.csv], outs: ["models/${{item}}.pkl"]}}
  aggregate:
    cmd: python aggregate.py
    deps: [aggregate.py, models]
    metrics: [{{metrics.json: {{cache: false}}}}]
data:
  remote: storage
fanout: {{max_parallel: 3}}
runners:
  train: {{timeout_minutes: 30, env: {{HF_HOME: /tmp/hf}}, secrets: {{HF_TOKEN: HF_TOKEN}},
           services: {{redis: {{image: "redis:7@{DIGEST}"}}}},
           steps: {{after_repro: [{{name: Upload the model card, run: echo card}}]}}}}
  stages:
    "train@*":
      runs_on: [self-hosted, gpu]
      timeout_minutes: 240
      container: {{image: "nvidia/cuda:12.4.1-runtime-ubuntu22.04@{DIGEST}", options: "--gpus all"}}
"""


def rendered(text: str = FANOUT) -> dict[str, dict[str, Any]]:
    files = render_workflows(project_of(load_manifest_text(text)))
    return {name: parse(files[WF + f"{name}.yml"]) for name in ("mlops-pr", "mlops-train")}


def named(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in steps(job) if s.get("name") == name)


def test_a_project_with_nothing_to_run_side_by_side_keeps_one_training_job() -> None:
    single = rendered(MINIMAL)
    assert set(single["mlops-pr"]["jobs"]) == {"check", "train"}
    assert set(single["mlops-train"]["jobs"]) == {"train", "retrained-model"}
    disabled = rendered(FANOUT.replace("fanout: {max_parallel: 3}", "fanout: {enabled: false}"))
    assert set(disabled["mlops-pr"]["jobs"]) == {"check", "train"}
    # A matrix one job at a time would only add the jobs' overhead.
    serial = rendered(FANOUT.replace("fanout: {max_parallel: 3}", "fanout: {max_parallel: 1}"))
    assert set(serial["mlops-train"]["jobs"]) == {"train", "retrained-model"}
    # min_jobs: 1 asks for the matrix even for one pipeline without foreach.
    always = rendered(MINIMAL + "fanout: {min_jobs: 1}\n")
    assert set(always["mlops-pr"]["jobs"]) == {"check", "upstream", "fan", "train"}


def test_the_pr_workflow_plans_in_the_check_job_and_fans_out_a_matrix() -> None:
    pr = rendered()["mlops-pr"]["jobs"]
    assert list(pr) == ["check", "upstream", "fan", "train"]
    check = pr["check"]
    plan = named(check, "Which stages run again, and in which job")
    assert plan["run"] == 'mlops-gitops plan --base "$BASE_SHA"'
    for key in ("retrain", "has_upstream", "has_fan", "upstream", "matrix", "final"):
        assert check["outputs"][key] == f"${{{{ steps.changed.outputs.{key} }}}}"
    assert check["outputs"]["reproduce"] == "${{ steps.mode.outputs.reproduce }}"
    # The check job installs no DVC: the plan reads the committed record.
    assert (
        "locks install\n"
        in named(check, "Install mlops-gitops 0.1.0 in its own environment (hash-locked)")["run"]
    )

    fan = pr["fan"]
    assert fan["needs"] == ["check", "upstream"]
    assert fan["strategy"] == {
        "fail-fast": False,
        "max-parallel": 3,
        "matrix": "${{ fromJSON(needs.check.outputs.matrix) }}",
    }
    assert "needs.upstream.result != 'failure'" in fan["if"] and "!cancelled()" in fan["if"]
    assert "needs.check.outputs.reproduce == 'true'" in fan["if"]  # forks: no training job at all
    assert fan["runs-on"] == "${{ matrix.runs_on }}"
    assert fan["timeout-minutes"] == "${{ matrix.timeout_minutes }}"
    assert fan["container"] == "${{ matrix.container || '' }}"
    assert fan["services"] == {"redis": {"image": f"redis:7@{DIGEST}"}}
    assert fan["permissions"] == {"contents": "read"}
    # The job's targets come from its matrix entry, through env, never spliced into the script.
    targets = named(fan, "Which stages this job reproduces")
    assert targets["env"]["JOB"] == "${{ toJSON(matrix) }}"
    assert "${{" not in targets["run"]
    assert "HF_TOKEN" in fan["env"] and "github.repository && secrets.HF_TOKEN" in fan["env"]["HF_TOKEN"]

    upstream = pr["upstream"]
    assert (
        upstream["if"]
        == "needs.check.outputs.reproduce == 'true' && needs.check.outputs.has_upstream == 'true'"
    )
    assert upstream["runs-on"] == "${{ fromJSON(needs.check.outputs.upstream).runs_on }}"

    final = pr["train"]
    assert final["needs"] == ["check", "upstream", "fan"]
    assert final["if"] == "${{ !cancelled() && needs.check.outputs.retrain == 'true' }}"
    assert final["runs-on"] == "${{ fromJSON(needs.check.outputs.final).runs_on }}"
    assert (
        named(final, "Which stages this job reproduces")["env"]["JOB"] == "${{ needs.check.outputs.final }}"
    )
    # After a failed job before it, the final job reproduces nothing (that would train it again).
    repro = named(final, "Reproduce the pipelines that changed, reusing the run-cache")
    assert repro["if"] == "needs.check.outputs.reproduce == 'true' && !contains(needs.*.result, 'failure')"
    # A pull request pushes nothing, in any tier.
    for job in pr.values():
        assert not any("push-runs" in s.get("run", "") or "dvc push" in s.get("run", "") for s in steps(job))
    # after_repro steps run once, in the final job, where the whole pipeline is.
    assert [
        n for n, job in pr.items() if any(s.get("name") == "Upload the model card" for s in steps(job))
    ] == ["train"]


def test_runs_travel_between_jobs_as_artifacts_of_what_each_job_added() -> None:
    for workflow in rendered().values():
        jobs = workflow["jobs"]
        upstream, fan, final = jobs["upstream"], jobs["fan"], jobs["train"]
        for job, name in ((upstream, "mlops-run-upstream"), (fan, "mlops-run-${{ matrix.id }}")):
            repro = named(job, "Reproduce these stages, reusing the run-cache")["run"]
            # The snapshot is taken after the remote's runs are pulled and before DVC runs anything.
            assert (
                repro.index("dvc pull --run-cache")
                < repro.index("mlops-cache-before")
                < repro.index("dvc repro")
            )
            share = named(job, "Share this job's runs with the jobs after it")
            assert "comm -z -13" in share["run"] and "${{" not in share["run"]
            upload = named(job, "Upload this job's runs")
            assert upload["uses"] == ACTIONS["upload_artifact"].ref
            assert upload["with"]["name"] == name
            assert upload["with"]["if-no-files-found"] == "error"
            assert upload["with"]["overwrite"] is True  # "Re-run jobs" uploads under the same name
        # The matrix job starts from the upstream job's runs, on top of the restored DVC cache.
        names = [s.get("name") for s in steps(fan)]
        fetch = named(fan, "Fetch the runs of the jobs before this one")
        assert (
            fetch["with"]["name"] == "mlops-run-upstream"
            and fetch["if"] == "needs.upstream.result == 'success'"
        )
        assert names.index("DVC cache") < names.index("Fetch the runs of the jobs before this one")
        assert names.index("Put them in DVC's cache") < names.index(
            "Reproduce these stages, reusing the run-cache"
        )
        # The final job merges every job's runs; content-addressed files never overwrite each other.
        fetch = named(final, "Fetch the runs of the jobs before this one")
        assert fetch["uses"] == ACTIONS["download_artifact"].ref
        assert fetch["with"]["pattern"] == "mlops-run-*" and fetch["with"]["merge-multiple"] is True
        assert "--skip-old-files" in named(final, "Put them in DVC's cache")["run"]


def test_the_training_workflow_plans_pushes_every_tiers_runs_and_publishes_after_all_succeeded() -> None:
    train = rendered()["mlops-train"]["jobs"]
    assert list(train) == ["plan", "upstream", "fan", "train", "retrained-model"]
    plan = train["plan"]
    assert plan["permissions"] == {"contents": "read"}
    script = named(plan, "Which stages run again, and in which job")["run"]
    assert 'mlops-gitops plan --base "$BEFORE"' in script and "mlops-gitops plan --all" in script
    for tier in ("upstream", "fan"):
        repro = named(train[tier], "Reproduce these stages, reusing the run-cache")["run"]
        # Without --allow-missing, and each tier's runs reach the remote.
        assert "dvc repro --pull\n" in repro + "\n" and "--allow-missing\n" not in repro.split("dvc pull")[1]
        assert 'mlops-gitops push-runs --remote "$DVC_REMOTE"' in repro
    final = train["train"]
    assert final["needs"] == ["plan", "upstream", "fan"]
    assert "!contains(needs.*.result, 'failure')" in final["if"]
    assert "needs.plan.outputs.retrain == 'true'" in final["if"]
    assert final["outputs"]["recorded"] == "${{ steps.recorded.outputs.recorded }}"
    assert train["retrained-model"]["needs"] == "train"


def test_without_containers_the_plan_sets_none() -> None:
    text = FANOUT.split("  stages:\n")[0]
    for workflow in rendered(text).values():
        for job in workflow["jobs"].values():
            assert "container" not in job


def test_plan_values_reach_scripts_only_through_env() -> None:
    """The plan comes from the pull request's own dvc.yaml: no `run:` script of any fanned-out job
    contains an expression, so no stage or item name can become shell."""
    for workflow in rendered().values():
        for job in workflow["jobs"].values():
            for step in steps(job):
                assert "${{" not in step.get("run", ""), step
