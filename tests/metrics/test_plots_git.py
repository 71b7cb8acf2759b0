"""metrics.plotgit: the plots read from Git without DVC are the plots DVC reads.

Each test builds a real Git + DVC repository and compares ``collect(..., project)`` (from Git: the
pipeline facts, git cat-file, DVC's converters) with ``collect(...)`` (through DVC's plots
API, which ``tests/test_report_plots.py`` checks against ``dvc plots diff --json``) field by field,
errors included; and that DVC is asked exactly when only DVC can tell.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    GOVERNED,
    GitRepo,
    both,
    dvc,
    governed_commits,
    project_of,
    put,
    report_json_importing,
    write_plot_stage,
)

from mlops_gitops.adapters.resources import examples_dir
from mlops_gitops.errors import YamlBombError
from mlops_gitops.metrics import plotgit
from mlops_gitops.metrics.collect import Reader, resolve_revision
from mlops_gitops.metrics.plots import DVC, GIT, collect
from mlops_gitops.pipeline import fingerprint as fp
from mlops_gitops.pipeline.project import record_of
from mlops_gitops.pipeline.record import RECORD_FILE, render

pytestmark = pytest.mark.slow


# Every shape of definition and data DVC's matching handles differently: a stage plot with a
# template, JSON nested in objects, images, several y files (x duplicated), several y columns of one
# file, x from another file, different x and y fields, files of different lengths, y inferred, a
# missing field, data without records, empty files, ragged CSV, a BOM, YAML's own types, an id both
# a top-level plot and a stage output, a plot in a folder, a file the base lacks.
DVC_YAML = """\
stages:
  train:
    cmd: echo
    plots:
      - logs/loss.tsv:
          cache: false
          template: smooth
          x: step
          y: loss
          title: Loss
      - logs/acc.json:
          cache: false
      - logs/img.png:
          cache: false
      - shared.csv:
          cache: false
          y: b
plots:
  - ROC:
      template: simple
      x: fpr
      y:
        roc/train.json: tpr
        roc/test.json: tpr
  - Multi:
      x: step
      y:
        logs/loss.tsv: [loss, val_loss]
  - XFrom:
      x: {other.csv: epoch}
      y: {main.csv: acc}
  - XDiff:
      x: {a.csv: ta, b.csv: tb}
      y: {a.csv: va, b.csv: vb}
  - Lengths:
      x: {short.csv: e}
      y: {main.csv: acc}
  - listy.csv:
      y: [p, q]
      x_label: XX
      y_label: YY
  - infer.yaml
  - nested.json:
      x: s
      y: v
  - nofield.csv:
      y: nope
  - scalars.json:
      y: a
  - empty.csv
  - headeronly.csv
  - ragged.csv
  - bom.csv:
      x: a
      y: b
  - dates.yaml:
      x: d
      y: v
  - cm.csv:
      template: confusion_normalized
      x: actual
      y: predicted
  - shared.csv:
      x: a
  - logs/img.png
  - dir/deep.csv:
      template: bar_horizontal
      x: v
      y: k
  - emptyjson.json
  - list.json
  - odd.txt
  - bad.json
  - late.json:
      x: step
      y: v
"""


def files(shift: str) -> dict[str, bytes]:
    """The data at one revision: ``shift`` changes some of it, the rest stays byte for byte."""
    text = {
        "logs/loss.tsv": f"step\tloss\tval_loss\n0\t1.0\t1.1\n1\t0.5\t0.6\n2\t0.2\t0.3{shift}\n",
        "logs/acc.json": f'{{"acc": [{{"step": 0, "acc": 0.5}}, {{"step": 1, "acc": 0.7{shift}}}]}}',
        "shared.csv": f"a,b\n1,2\n3,4{shift}\n",
        "roc/train.json": f'{{"roc": [{{"fpr": 0, "tpr": 0}}, {{"fpr": 0.5, "tpr": 0.8{shift}}}, {{"fpr": 1, "tpr": 1}}]}}',
        "roc/test.json": '[{"fpr": 0, "tpr": 0}, {"fpr": 1, "tpr": 1}]',
        "other.csv": "epoch\n0\n1\n2\n",
        "main.csv": f"acc\n0.1\n0.2\n0.3{shift}\n",
        "a.csv": "ta,va\n0,1\n1,2\n",
        "b.csv": f"tb,vb\n5,6\n6,7{shift}\n",
        "short.csv": "e\n0\n",
        "listy.csv": f"p,q,r\n1,2,3\n4,5,6{shift}\n",
        "infer.yaml": f"- {{x: 1, y: 2}}\n- {{x: 2, y: 3{shift}}}\n",
        "nested.json": f'{{"outer": {{"pts": [{{"s": 1}}, {{"s": 2}}], "vals": [{{"v": 10}}, {{"v": 2{shift}}}]}}, "k": 3}}',
        "nofield.csv": "a,b\n1,2\n",
        "scalars.json": f'{{"a": 1, "b": 2{shift}}}',
        "empty.csv": "",
        "headeronly.csv": "a,b\n",
        "ragged.csv": "a,b\n1,2\n3,4,5\n",
        "dates.yaml": f"- {{d: 2024-01-02, v: yes}}\n- {{d: 2024-01-03, v: 0x1F}}\n- {{d: x, v: 1e3{shift}}}\n",
        "cm.csv": f"actual,predicted\ncat,dog\ndog,dog\ncat,cat{shift}\n",
        "dir/deep.csv": f"k,v\nx,1\ny,2{shift}\n",
        "emptyjson.json": "{}",
        "list.json": "[1, 2, 3]",
        "odd.txt": "not a plot\n",
        "bad.json": '{"a": ',
    }
    data = {path: body.encode() for path, body in text.items()}
    data["logs/img.png"] = b"\x89PNG\r\n\x1a\n" + shift.encode() * 3
    data["bom.csv"] = b"\xef\xbb\xbfa,b\n1,2" + shift.encode() + b"\r\n"
    if shift:
        data["late.json"] = json.dumps({"points": [{"step": 0, "v": 1.5}, {"step": 1, "v": True}]}).encode()
    return data


@pytest.fixture
def shapes(repo: GitRepo) -> tuple[GitRepo, str, str]:
    base, head = governed_commits(repo, DVC_YAML, files(""), files("9"))
    put(repo, files("7"))  # the work tree differs from both
    return repo, base, head


def test_every_shape_equals_dvc_between_commits_and_against_the_work_tree(
    shapes: tuple[GitRepo, str, str],
) -> None:
    repo, base, head = shapes
    for b, h in ((base, head), (base, "workspace"), (head, "workspace"), (head, head)):
        ours, theirs = both(repo, b, h)
        assert (ours.read_by, ours.why_dvc) == (GIT, ""), ours.why_dvc
        assert theirs.read_by == DVC
        assert ours.to_json() == theirs.to_json(), (b, h)
        assert ours.images() == theirs.images()
    ours, _ = both(repo, base, head)
    got = {p.id: p for p in ours.plots}
    # Not trivially equal: numbers, inferred fields, errors and statuses are all there.
    assert got["XDiff"].x == "dvc_inferred_x_value" and got["Multi"].y == "dvc_inferred_y_value"
    assert got["ROC"].status == "changed" and got["XFrom"].head is not None
    assert "same length" in got["Lengths"].errors["head"]
    assert "Could not find provided field ('nope')" in got["nofield.csv"].errors["base"]
    assert "JSON file structure is corrupted" in got["bad.json"].errors["base"]
    assert "file type error" in got["odd.txt"].errors["base"]
    assert got["late.json"].status == "partial" and "no such file" in got["late.json"].errors["base"]
    assert {"dvc.yaml::shared.csv", "shared.csv"} <= set(got) and got["logs/img.png"].kind == "image"


def test_pipelines_in_folders(repo: GitRepo) -> None:
    dvc(repo, "init", "-q")
    repo.write("mlops.yaml", "version: 1\nproject: {name: p}\npipelines: [dvc.yaml, sub/dvc.yaml]\n")
    repo.write("dvc.yaml", "plots:\n  - top.csv:\n      x: a\n      y: b\n")
    repo.write(
        "sub/dvc.yaml",
        "stages:\n  s:\n    cmd: echo\n    wdir: work\n    plots:\n      - out/p.json:\n          cache: false\n"
        "plots:\n  - Named:\n      x: {../top.csv: a}\n      y: {data/q.csv: c, ../top.csv: b}\n  - data/q.csv:\n      y: c\n",
    )
    repo.write("top.csv", "a,b\n1,2\n2,3\n")
    repo.write("sub/data/q.csv", "c\n5\n6\n")
    repo.write("sub/work/out/p.json", json.dumps([{"x": 1, "y": 0.5}]))
    base = repo.commit(message="base")
    repo.write("top.csv", "a,b\n1,2\n2,4\n")
    repo.write("sub/work/out/p.json", json.dumps([{"x": 1, "y": 0.7}]))
    ours, theirs = both(repo, base)
    assert ours.read_by == GIT and ours.to_json() == theirs.to_json()
    assert {p.id for p in ours.plots} == {"top.csv", "Named", "sub/data/q.csv", "sub/work/out/p.json"}


def test_a_commit_that_resolves_differently_is_read_from_its_record_or_by_dvc(repo: GitRepo) -> None:
    dvc(repo, "init", "-q")
    repo.write("mlops.yaml", GOVERNED)
    repo.write("dvc.yaml", "plots:\n  - a.csv:\n      x: x\n      y: y\n")
    repo.write("a.csv", "x,y\n0,1\n")
    unrecorded = repo.commit(message="base without a record")
    (repo.path / RECORD_FILE).parent.mkdir(exist_ok=True)
    (repo.path / RECORD_FILE).write_text(render(record_of(project_of(repo))))
    recorded = repo.commit(message="base with its record, as generate writes it")
    with (repo.path / "dvc.yaml").open("a") as fd:  # the pull request adds a plot
        fd.write("  - b.csv:\n      y: v\n")
    repo.write("b.csv", "v\n3\n4\n")
    (repo.path / ".git" / "mlops-gitops-facts.json").unlink(missing_ok=True)  # no memo of the base's
    ours, theirs = both(repo, unrecorded)
    assert ours.read_by == DVC and "resolve differently" in ours.why_dvc
    ours, theirs = both(repo, recorded)
    assert ours.read_by == GIT and ours.to_json() == theirs.to_json()
    assert [(p.id, p.status) for p in ours.plots] == [("a.csv", "unchanged"), ("b.csv", "new")]


def test_what_only_dvc_can_tell_goes_to_dvc(repo: GitRepo) -> None:
    dvc(repo, "init", "-q")
    repo.write("mlops.yaml", GOVERNED)
    write_plot_stage(repo)
    first = repo.commit(message="before the first run: no dvc.lock, no plot data")
    dvc(repo, "repro", "-q")
    base = repo.commit(message="base")
    repo.write("params.yaml", "v: 3\n")
    dvc(repo, "repro", "-q")
    # The work tree has eval/ on disk, but the base's is in DVC's cache only.
    ours, theirs = both(repo, base)
    assert ours.read_by == DVC and ours.why_dvc.startswith("eval/p.csv is in DVC's cache only")
    assert ours.to_json() == theirs.to_json()
    # Before the first run nothing records eval/: the file is missing there, as DVC says too.
    ours, theirs = both(repo, first)
    assert ours.read_by == GIT and ours.to_json() == theirs.to_json()
    assert ours.plots[0].status == "partial" and "no such file" in ours.plots[0].errors["base"]


def test_a_folder_of_plots_goes_to_dvc(repo: GitRepo) -> None:
    dvc(repo, "init", "-q")
    repo.write("mlops.yaml", GOVERNED)
    repo.write("dvc.yaml", "plots:\n  - curves:\n      x: x\n      y: y\n")
    repo.write("curves/a.csv", "x,y\n0,1\n")
    repo.write("curves/b.csv", "x,y\n0,2\n")
    base = repo.commit(message="base")
    ours, _ = both(repo, base)
    assert ours.read_by == DVC and "folder" in ours.why_dvc
    assert {p.id for p in ours.plots} == {"curves/a.csv", "curves/b.csv"}  # DVC lists the folder


@pytest.mark.parametrize("where", ["base", "workspace"])
def test_a_yaml_bomb_in_plot_data_read_from_git_is_refused(repo: GitRepo, where: str) -> None:
    bomb = "\n".join(
        ["a0: &a0 [x]", *(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 11))]
    )
    dvc(repo, "init", "-q")
    repo.write("mlops.yaml", GOVERNED)
    repo.write("dvc.yaml", "plots:\n  - p.yaml:\n      x: a\n      y: b\n")
    repo.write("p.yaml", bomb if where == "base" else "- {a: 1, b: 2}\n")
    base = repo.commit(message="base")
    if where == "workspace":
        repo.write("p.yaml", bomb)
    b, h = resolve_revision(base, repo.path), resolve_revision("workspace", repo.path)
    with pytest.raises(YamlBombError) as caught:
        collect(repo.path, b, h, project_of(repo))
    shown = f"p.yaml@{base[:7]}" if where == "base" else "p.yaml:"
    assert str(caught.value).startswith(shown), caught.value


def test_a_file_unchanged_between_the_revisions_is_parsed_once(
    shapes: tuple[GitRepo, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base, head = shapes
    parsed: list[str] = []
    original = plotgit.parse

    def counting(path: str, blob: bytes, shown: str) -> object:
        parsed.append(path)
        return original(path, blob, shown)

    monkeypatch.setattr(plotgit, "parse", counting)
    ours = collect(
        repo.path, resolve_revision(base, repo.path), resolve_revision(head, repo.path), project_of(repo)
    )
    assert ours.read_by == GIT
    assert parsed.count("roc/test.json") == 1 and parsed.count("other.csv") == 1  # the same at both
    assert parsed.count("main.csv") == 2  # changed: read at each


def test_a_commit_taken_as_the_work_tree_fingerprints_as_it(shapes: tuple[GitRepo, str, str]) -> None:
    """The shortcut that skips the fingerprint claims what the fingerprint would say."""
    repo, _, head = shapes
    project = project_of(repo)
    reader = Reader(repo.path)
    rev = resolve_revision(head, repo.path)
    (listed,) = plotgit.listings(reader, [head])
    tree = plotgit.RevisionTree(reader, rev, listed)
    assert tree.listing == project.listed
    assert plotgit._same_as_work_tree(project, tree)
    dvcfiles = [p for p in tree.listing if p.endswith("dvc.yaml")]
    assert fp.fingerprint(repo.path, dvcfiles, None, tree.listing, tree=tree) == project.fingerprint


def test_report_json_with_plots_in_git_does_not_import_dvc_repo(shapes: tuple[GitRepo, str, str]) -> None:
    repo, base, head = shapes
    heavy = ("dvc.repo", "dvc.render.match", "dvc_render")
    # Twice: the first run resolves the pipelines through DVC and memoises them, as a PR check does
    # once (a generated project commits its record instead); the second must not import DVC's
    # repository machinery (only its cheap plot converters, plotmatch's lazy imports).
    report_json_importing(repo, base, head, heavy)
    out, imported = report_json_importing(repo, base, head, heavy)
    assert imported == []
    plots = json.loads(out)["plots"]
    assert plots["error"] is None and len(plots["plots"]) > 20


def test_the_constants_kept_as_data_are_dvc_renders() -> None:
    from dvc_render.image import ImageRenderer
    from dvc_render.vega_templates import TEMPLATES

    from mlops_gitops.metrics import plotmatch

    assert plotmatch.IMAGE_EXTENSIONS == ImageRenderer.EXTENSIONS
    assert {t.DEFAULT_NAME for t in TEMPLATES} == plotmatch.BUILTIN_TEMPLATES


def test_the_bundled_example_is_read_from_git(tmp_path: Path) -> None:
    """The case report is timed on (benchmarks/bench_report.py): examples/iris as init adopts it,
    trained at two commits; its confusion matrix and per-class plot are in Git (`cache: false`)."""
    root = tmp_path / "iris"
    shutil.copytree(examples_dir() / "iris", root, ignore=shutil.ignore_patterns("__pycache__"))
    repo = GitRepo(root)

    def run(*args: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", *args], cwd=root, env=repo.env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr

    run("mlops_gitops", "init", "--yes")
    repo.commit(message="adopt")
    run("dvc", "repro", "-q")
    base = repo.commit(message="train")
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.05"))
    run("dvc", "repro", "-q")
    head = repo.commit(message="weaker regularisation")
    for b, h in ((base, head), (base, "workspace")):
        ours, theirs = both(repo, b, h)
        assert ours.read_by == GIT, ours.why_dvc
        assert ours.to_json() == theirs.to_json()
    assert [(p.id, p.status) for p in ours.plots] == [
        ("plots/confusion.csv", "changed"),
        ("plots/per_class.csv", "changed"),
    ]
