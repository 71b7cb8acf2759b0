"""Which stages DVC would run again (mlops_gitops.pipeline.stagediff), from file contents alone."""

from __future__ import annotations

import json

from mlops_gitops.pipeline.facts import PipelineFacts, RepoFacts, StageFacts, TrackedData
from mlops_gitops.pipeline.stagediff import ALWAYS, NEVER_RUN, changed_stages, downstream, needed
from tests.pipeline.test_fanout import repo, stage

ITEMS = ["us", "uk", "fr"]

DVC_YAML = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [raw.csv]
    outs: [prepared]
  train:
    foreach: ${customers}
    do:
      cmd: python train.py ${item} ${train.epochs}
      deps: [prepared, "items/${item}.csv"]
      params: ["lr.${item}"]
      outs: ["models/${item}.json"]
  report:
    cmd: python report.py
    deps: [models]
    outs: [report.json]
"""

PARAMS = {"customers": ITEMS, "train": {"epochs": 3}, "lr": {n: 0.1 for n in ITEMS}}


def facts() -> RepoFacts:
    train = [
        StageFacts(
            address=f"train@{n}",
            name=f"train@{n}",
            group="train",
            dvcfile="dvc.yaml",
            wdir=".",
            cmd="",
            deps=("prepared", f"items/{n}.csv"),
            params=(("params.yaml", (f"lr.{n}",)),),
            outs=(f"models/{n}.json",),
        )
        for n in ITEMS
    ]
    pipeline = PipelineFacts(
        "dvc.yaml",
        (
            stage("prepare", ["raw.csv"], ["prepared"]),
            *train,
            stage("report", ["models"], ["report.json"]),
        ),
        params_files=("params.yaml",),
        vars_files=("params.yaml",),
    )
    return RepoFacts((pipeline,))


def lock(*names: str, **md5: str) -> bytes:
    stages = {
        n: {"cmd": f"run {n}", "deps": [{"path": "x", "md5": md5.get(n.replace("@", "_"), "1")}]}
        for n in names
    }
    return json.dumps({"schema": "2.0", "stages": stages}).encode()


ALL = ["prepare", *[f"train@{n}" for n in ITEMS], "report"]
LOCK = lock(*ALL)


def diff(files: list[str], contents: dict[str, tuple[bytes | None, bytes | None]]) -> dict[str, str]:
    contents = {"dvc.lock": (LOCK, LOCK), **contents}
    return changed_stages(facts(), files, contents)


def params(**changes: object) -> bytes:
    data = json.loads(json.dumps(PARAMS))
    for key, value in changes.items():
        node = data
        *path, last = key.split("__")
        for part in path:
            node = node[part]
        node[last] = value
    return json.dumps(data).encode()  # JSON is YAML


def test_a_changed_input_file_marks_its_stage_and_what_is_below() -> None:
    assert diff(["items/uk.csv"], {}) == {"train@uk": "items/uk.csv", "report": "downstream of train@uk"}
    assert list(diff(["raw.csv"], {})) == ALL
    assert diff(["prepared/part.csv"], {})["train@us"] == "prepared/part.csv (in prepared)"
    assert diff(["README.md"], {}) == {}


def test_a_params_key_marks_only_the_stages_reading_it() -> None:
    before, after = params(), params(lr__fr=0.2)
    result = diff(["params.yaml"], {"params.yaml": (before, after), "dvc.yaml": (DVC_YAML.encode(),) * 2})
    assert result == {"train@fr": "params.yaml: lr.fr", "report": "downstream of train@fr"}


def test_an_interpolated_variable_marks_every_stage_using_it() -> None:
    before, after = params(), params(train__epochs=5)
    result = diff(["params.yaml"], {"params.yaml": (before, after), "dvc.yaml": (DVC_YAML.encode(),) * 2})
    assert [a for a, r in result.items() if r == "uses ${train.epochs}, which changed"] == [
        f"train@{n}" for n in ITEMS
    ]


def test_a_foreach_list_from_vars_marks_only_new_or_changed_items() -> None:
    before, after = params(), params(customers=[*ITEMS, "de"])
    result = diff(["params.yaml"], {"params.yaml": (before, after), "dvc.yaml": (DVC_YAML.encode(),) * 2})
    assert result == {}  # train@de is not a stage of these facts; below it is
    grown = RepoFacts(
        (
            PipelineFacts(
                "dvc.yaml",
                (*facts().pipelines[0].stages, stage("train@de", ["items/de.csv"], ["models/de.json"])),
                vars_files=("params.yaml",),
            ),
        )
    )
    contents = {"params.yaml": (before, after), "dvc.yaml": (DVC_YAML.encode(),) * 2}
    contents["dvc.lock"] = (LOCK, lock(*ALL, "train@de"))
    assert changed_stages(grown, ["params.yaml"], contents) == {
        "train@de": "its item in ${customers} changed",
        "report": "downstream of train@de",
    }


def test_editing_a_definition_marks_that_stage_and_a_literal_foreach_only_its_new_items() -> None:
    edited = DVC_YAML.replace("python report.py", "python report.py --all")
    result = diff(["dvc.yaml"], {"dvc.yaml": (DVC_YAML.encode(), edited.encode())})
    assert result == {"report": "its definition in dvc.yaml changed"}

    literal = DVC_YAML.replace("${customers}", "[us, uk, fr]")
    for other in ("[us, uk, fr, de]", "[fr, uk, us]"):  # an item added (not a stage here), the order
        more = literal.replace("[us, uk, fr]", other)
        assert diff(["dvc.yaml"], {"dvc.yaml": (literal.encode(), more.encode())}) == {}
    dicts = DVC_YAML.replace("${customers}", "{us: 1, uk: 2, fr: 3}")
    result = diff(["dvc.yaml"], {"dvc.yaml": (dicts.encode(), dicts.replace("uk: 2", "uk: 5").encode())})
    assert result == {"train@uk": "its foreach item in dvc.yaml changed", "report": "downstream of train@uk"}
    body = literal.replace("python train.py", "python train.py --fast")
    result = diff(["dvc.yaml"], {"dvc.yaml": (literal.encode(), body.encode())})
    assert [a for a in result if a.startswith("train@")] == [f"train@{n}" for n in ITEMS]
    assert diff(["dvc.yaml"], {"dvc.yaml": (None, DVC_YAML.encode())})["prepare"] == "a new pipeline"


def test_dvc_lock_entries_mark_their_stages() -> None:
    head = lock(*ALL, train_uk="2")
    assert diff(["dvc.lock"], {"dvc.lock": (LOCK, head)}) == {
        "train@uk": "its dvc.lock entry changed",
        "report": "downstream of train@uk",
    }
    missing = lock(*[a for a in ALL if a != "prepare"])
    never = diff([], {"dvc.lock": (missing, missing)})
    assert list(never) == ALL and never["prepare"] == NEVER_RUN  # and everything below it
    assert diff([], {"dvc.lock": (LOCK, LOCK)}) == {}
    assert list(diff([], {"dvc.lock": (None, None)})) == ALL  # no dvc.lock committed


def test_always_frozen_pointers_and_uncached_outputs() -> None:
    tracked = (TrackedData("data.dvc", ("data",)),)
    base = repo(
        stage("fetch", [], ["data/api.json"], always_changed=True),
        stage("use", ["data/api.json"], ["model"]),
        stage("frozen", ["data/raw"], ["frozen.out"], frozen=True),
        stage("after_frozen", ["frozen.out"], ["x"]),
        stage("metrics", ["model"], ["metrics.json"], uncached=("metrics.json",)),
    )
    facts_ = RepoFacts(base.pipelines, tracked)
    assert changed_stages(facts_, [], {}) == {
        "fetch": ALWAYS,
        "use": "downstream of fetch",
        "metrics": "downstream of use",
    }
    moved = changed_stages(facts_, ["data.dvc", "metrics.json"], {})
    assert moved == {
        "fetch": ALWAYS,
        "use": "data.dvc",  # the pointer tracking what it reads
        "metrics": "metrics.json (its output, committed to Git)",
    }  # and a frozen stage never runs, nor passes anything on
    assert downstream(facts_, {"frozen": "x"}) == {}


def test_needed_reads_locks_always_and_definitions_only_when_they_changed() -> None:
    assert needed(facts(), ["items/us.csv"]) == ("dvc.lock",)
    assert needed(facts(), ["params.yaml"]) == ("dvc.lock", "dvc.yaml", "params.yaml")
    assert needed(facts(), ["dvc.yaml"]) == ("dvc.lock", "dvc.yaml", "params.yaml")


def test_unparseable_and_python_params_compare_as_changed() -> None:
    pipeline = PipelineFacts("dvc.yaml", (stage("a", ["x"], ["y"], params=(("params.py", ("LR",)),)),))
    facts_ = RepoFacts((pipeline,))
    assert changed_stages(facts_, ["params.py"], {"params.py": (b"LR = 1\n", b"LR = 1\n")}) == {
        "a": "params.py (not comparable by value)"
    }
    pipeline = PipelineFacts("dvc.yaml", (stage("a", ["x"], ["y"], params=(("p.toml", ("a.b",)),)),))
    facts_ = RepoFacts((pipeline,))
    same = changed_stages(facts_, ["p.toml"], {"p.toml": (b"[a]\nb = 1\nc = 2\n", b"[a]\nb = 1\nc = 3\n")})
    assert same == {}
    assert changed_stages(facts_, ["p.toml"], {"p.toml": (b"[a]\nb = 1\n", b"[a\n")}) == {
        "a": "p.toml (not comparable by value)"
    }
