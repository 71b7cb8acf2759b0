"""metrics.plots: a project's DVC plots at two revisions, read through DVC's plots API (``collect``
without the project; ``tests/metrics/test_plots_git.py`` holds the plots read from Git to these).

``tests/test_report_plots.py`` checks the numbers against ``dvc plots diff --json`` on a get-started
shaped project and the bundled example; here, what happens around them: a side that lacks a file,
the work tree, the cache missing, YAML bombs, DVC not installed, and DVC imported only when needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GitRepo, write_plot_stage

from mlops_gitops.errors import YamlBombError
from mlops_gitops.metrics.collect import Revision, resolve_revision
from mlops_gitops.metrics.plots import BASE, HEAD, Plot, Plots, Side, collect, write_images

DVC = str(Path(sys.executable).with_name("dvc"))


def dvc(repo: GitRepo, *args: str) -> str:
    proc = subprocess.run([DVC, *args], cwd=repo.path, env=repo.env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def read(repo: GitRepo, base: str, head: str = "workspace") -> Plots:
    return collect(repo.path, resolve_revision(base, repo.path), resolve_revision(head, repo.path))


def plot(plots: Plots, plot_id: str) -> Plot:
    return next(p for p in plots.plots if p.id == plot_id)


BOMB = "\n".join(
    ["a0: &a0 [x]", *(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 11))]
)


@pytest.mark.slow
def test_sides_files_and_the_work_tree(repo: GitRepo) -> None:
    dvc(repo, "init", "-q")
    repo.write(
        "dvc.yaml",
        "plots:\n  - acc.csv:\n      x: epoch\n      y: acc\n  - late.json:\n      x: step\n      y: v\n"
        "  - cm.tsv:\n      template: confusion_normalized\n      x: pred\n      y: label\n",
    )
    repo.write("acc.csv", "epoch,acc\n0,0.5\n1,0.7\n")
    repo.write("cm.tsv", "label\tpred\ncat\tcat\ncat\tdog\n")
    base = repo.commit(message="base")
    repo.write("acc.csv", "epoch,acc\n0,0.5\n1,0.8\n2,0.9\n")
    repo.write("late.json", json.dumps({"points": [{"step": 0, "v": 1.5}, {"step": 1, "v": True}]}))
    plots = read(repo, base)
    assert not plots.error and not plots.errors
    acc = plot(plots, "acc.csv")
    assert acc.status == "changed" and acc.kind == "line" and (acc.x, acc.y) == ("epoch", "acc")
    assert acc.base is not None and acc.base.series[0].y == ("0.5", "0.7")  # CSV cells, as DVC has them
    assert acc.head is not None and acc.head.series[0].x == ("0", "1", "2")
    late = plot(plots, "late.json")
    assert late.base is None and BASE in late.errors and "late.json" in late.errors[BASE]
    assert late.head is not None and late.head.series[0].y == (1.5, True)  # JSON keeps its types
    assert late.status == "partial"  # defined at base but unreadable there: not "new"
    cm = plot(plots, "cm.tsv")
    assert (cm.kind, cm.template, cm.status) == ("confusion", "confusion_normalized", "unchanged")
    data = plots.to_json()
    assert data["plots"][0]["base"]["series"] == [
        {"file": "acc.csv", "field": "acc", "x": ["0", "1"], "y": ["0.5", "0.7"]}
    ]
    assert json.loads(json.dumps(data)) == data


@pytest.mark.slow
def test_a_plot_only_at_head_and_one_whose_cache_is_gone(repo: GitRepo) -> None:
    dvc(repo, "init", "-q")
    write_plot_stage(repo)
    dvc(repo, "repro", "-q")
    base = repo.commit(message="base")
    repo.write("params.yaml", "v: 3\n")
    dvc(repo, "repro", "-q")
    with (repo.path / "dvc.yaml").open("a") as fd:
        fd.write("  - new.csv:\n      x: a\n      y: b\n")
    repo.write("new.csv", "a,b\n1,2\n")
    head = repo.commit(message="head")
    plots = read(repo, base, head)
    p = plot(plots, "eval/p.csv")
    assert p.base is not None and p.head is not None and p.status == "changed"
    assert p.base.series[0].y == ("1", "2") and p.head.series[0].y == ("3", "2")
    new = plot(plots, "new.csv")
    assert new.status == "new" and new.base is None and not new.errors
    # Without the cache (and no remote), the base's data cannot be read: said, not raised.
    shutil.rmtree(repo.path / ".dvc" / "cache")
    gone = plot(read(repo, base, head), "eval/p.csv")
    assert gone.base is None and gone.head is None
    assert set(gone.errors) == {BASE, HEAD} and "\n" not in gone.errors[BASE]
    assert str(repo.path) not in gone.errors[BASE]  # no checkout path in the comment


@pytest.mark.slow
@pytest.mark.parametrize("where", ["base", "workspace"])
def test_a_yaml_bomb_in_plot_data_is_refused(repo: GitRepo, where: str) -> None:
    dvc(repo, "init", "-q")
    repo.write("dvc.yaml", "plots:\n  - p.yaml:\n      x: a\n      y: b\n")
    repo.write("p.yaml", BOMB if where == "base" else "- {a: 1, b: 2}\n")
    base = repo.commit(message="base")
    if where == "workspace":
        repo.write("p.yaml", BOMB)
    with pytest.raises(YamlBombError) as caught:
        read(repo, base)
    shown = f"p.yaml@{base[:7]}" if where == "base" else "p.yaml:"
    assert str(caught.value).startswith(shown), caught.value
    # DVC's table of parsers is as it was: the guard leaves nothing behind.
    from dvc.utils.serialize import PARSERS

    assert ".yaml" not in PARSERS or PARSERS[".yaml"].__name__ == "parse_yaml"


def test_without_dvc_the_plots_say_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "dvc.repo", None)  # `import dvc.repo` raises ImportError
    plots = collect(tmp_path, Revision("main", "1" * 40), Revision("workspace", None))
    assert plots.plots == () and plots.error is not None and "mlops-gitops[dvc]" in plots.error


@pytest.mark.slow
def test_dvc_is_imported_only_when_the_pipelines_declare_plots(repo: GitRepo) -> None:
    repo.write(
        "mlops.yaml", "version: 1\nproject: {name: p}\nstages:\n  s:\n    cmd: x\n    metrics: [m.json]\n"
    )
    repo.write("m.json", '{"a": 1}')
    base = repo.commit(message="base")
    # Twice: the first run reads the pipelines through DVC and memoises them (in .git), as a PR
    # check does only once; the second must then import DVC for nothing.
    code = (
        "import sys; from pathlib import Path\n"
        "from mlops_gitops.manifest.loader import load_manifest\n"
        "from mlops_gitops.reporting.evaluate import evaluate\n"
        "from mlops_gitops.pipeline.project import load_project\n"
        "root = Path('.').resolve()\n"
        f"c = evaluate(load_project(root, load_manifest(root / 'mlops.yaml')), {base!r}, plots=True)\n"
        "print(c.plots is None, any(m == 'dvc' or m.startswith('dvc.') for m in sys.modules))\n"
    )
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=repo.path, env=repo.env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False"]


def test_images_are_written_inside_the_folder_only(tmp_path: Path) -> None:
    def image(path: str) -> Plot:
        return Plot(
            path, "image", None, path, base=Side(digest="b", data=b"B"), head=Side(digest="h", data=b"H")
        )

    plots = Plots((image("eval/a.png"), image("../../escape.png"), image("/etc/x.png"), image("b.svg")))
    written = write_images(plots, tmp_path / "out")
    assert written == ["base/eval/a.png", "head/eval/a.png", "base/b.svg", "head/b.svg"]
    assert (tmp_path / "out/head/eval/a.png").read_bytes() == b"H"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.png", "a.png", "b.svg", "b.svg"]
    assert Plots((image("x.png"),)).images() == [(BASE, "x.png", b"B"), (HEAD, "x.png", b"H")]
