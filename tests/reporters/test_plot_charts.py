"""reporters.plots: DVC plots as Mermaid charts and Markdown tables, base beside head, on typed data
(no DVC here: ``tests/test_report_plots.py`` reads real repositories)."""

from __future__ import annotations

import json
import math
import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_gitops.errors import UsageError
from mlops_gitops.metrics.collect import Revision
from mlops_gitops.metrics.compare import Comparison, ParamRow
from mlops_gitops.metrics.plots import BASE, HEAD, Plot, Plots, Series, Side, safe_relative
from mlops_gitops.reporters import json as json_reporter
from mlops_gitops.reporters import markdown, plots, text
from mlops_gitops.reporters.plots import keep_indices, resample
from tests.inert import problems
from tests.mermaidcheck import mermaid_blocks

BASE_REV = Revision("main", "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "base")
HEAD_REV = Revision("feature", "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "head")
HOSTILE = 'Tune @acme/ml-team closes #12 <img src=x onerror=alert(1)> [x](https://evil.example) "q" `t` |'


def side(*series: Series) -> Side:
    return Side(tuple(series))


def roc(shift: float, n: int = 11, file: str = "roc.json") -> Series:
    xs = tuple(round(i / (n - 1), 6) for i in range(n))
    return Series(file, "tpr", xs, tuple(min(1.0, x**shift) for x in xs))


def line_plot(base: Side | None, head: Side | None, **extra: object) -> Plot:
    defaults: dict[str, object] = {"x": "fpr", "y": "tpr", "x_label": "fpr", "y_label": "tpr"}
    return Plot(
        **{"id": "ROC", "kind": "line", "template": "simple", "title": "ROC", **defaults, **extra},
        base=base,
        head=head,
    )  # type: ignore[arg-type]


def rendered(*items: Plot, url: str | None = None) -> str:
    out = plots.render(Plots(tuple(items)), "main (1111111)", "feature (2222222)", url)
    return out.lead + "\n".join(out.blocks)


def chart_lines(block: str, kind: str = "line") -> list[list[str]]:
    return [
        line.strip()[len(f"{kind} [") : -1].split(", ")
        for line in block.splitlines()
        if line.strip().startswith(f"{kind} [")
    ]


# --- resampling ---------------------------------------------------------------------------------------


def test_numeric_x_is_resampled_onto_one_grid_so_base_and_head_line_up() -> None:
    base = [(0.0, 0.0), (0.0, 0.5), (0.5, 0.8), (1.0, 1.0)]  # ROC: fpr repeats where tpr jumps
    head = [(0.0, 0.0), (0.25, 0.7), (1.0, 1.0)]
    grid, (b, h) = resample([base, head], limit=5)
    assert grid == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert len(b) == len(h) == 5
    assert b == pytest.approx([0.0, 0.65, 0.8, 0.9, 1.0])  # at fpr 0, its lowest point; between, interpolated
    assert h == pytest.approx([0.0, 0.7, 0.8, 0.9, 1.0])


def test_evenly_spaced_steps_are_kept_as_they_are() -> None:
    steps = [(float(i), 1 / (i + 1)) for i in range(40)]
    grid, (values,) = resample([steps])
    assert grid == [float(i) for i in range(40)] and values == [y for _, y in steps]


def test_a_side_covering_less_is_held_flat_beyond_its_range() -> None:
    grid, (short, long) = resample([[(0.0, 1.0), (1.0, 2.0)], [(0.0, 1.0), (2.0, 3.0)]], limit=3)
    assert grid == [0.0, 1.0, 2.0] and short == [1.0, 2.0, 2.0] and long == [1.0, 2.0, 3.0]


def test_a_spike_between_grid_points_is_kept() -> None:
    curve = [(i / 999, 0.0) for i in range(1000)]
    curve[500] = (500 / 999, 7.0)
    curve[501] = (501 / 999, -3.0)
    _, (values,) = resample([curve], limit=10)
    assert len(values) == 10 and max(values) == 7.0 and min(values) == -3.0


def test_keep_indices_keeps_ends_and_extremes() -> None:
    values = [math.sin(i / 10) for i in range(1000)]
    values[333] = 5.0
    kept = keep_indices(1000, [values], limit=20)
    assert len(kept) == 20 and kept == sorted(set(kept))
    assert {0, 999, 333, values.index(min(values))} <= set(kept)
    assert keep_indices(5, [[1, 2, 3, 4, 5]], limit=20) == [0, 1, 2, 3, 4]


FINITE = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
CURVE = st.lists(st.tuples(FINITE, FINITE), min_size=1, max_size=300)


@settings(max_examples=300, deadline=None)
@given(st.lists(CURVE, min_size=1, max_size=3), st.integers(min_value=2, max_value=120))
def test_resample_property_any_curves(curves: list[list[tuple[float, float]]], limit: int) -> None:
    if len({x for c in curves for x, _ in c}) < 2:
        with pytest.raises(ValueError):
            resample(curves, limit)
        return
    grid, values = resample(curves, limit)
    xs = [x for c in curves for x, _ in c]
    assert 2 <= len(grid) <= limit
    assert grid[0] == min(xs) and grid[-1] == max(xs)
    assert all(a < b for a, b in pairwise(grid))
    for curve, line in zip(curves, values, strict=True):
        ys = [y for _, y in curve]
        assert len(line) == len(grid)
        assert max(line) == max(ys) and min(line) == min(ys)  # the extremes survive
        assert all(min(ys) <= v <= max(ys) for v in line)  # and nothing overshoots them


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(FINITE, min_size=1, max_size=1), min_size=1, max_size=3).flatmap(
        lambda _: st.integers(min_value=1, max_value=2000).flatmap(
            lambda n: st.tuples(
                st.just(n), st.lists(st.lists(FINITE, min_size=n, max_size=n), min_size=1, max_size=3)
            )
        )
    ),
    st.integers(min_value=2, max_value=150),
)
def test_keep_indices_property(case: tuple[int, list[list[float]]], limit: int) -> None:
    n, series = case
    kept = keep_indices(n, series, limit)
    assert kept == sorted(set(kept)) and all(0 <= i < n for i in kept)
    assert len(kept) <= max(limit, 2 + 2 * len(series))
    if n <= limit:
        assert kept == list(range(n))
    assert kept[0] == 0 and kept[-1] == n - 1
    for values in series:
        assert max(values[i] for i in kept) == max(values) and min(values[i] for i in kept) == min(values)


# --- line charts ---------------------------------------------------------------------------------------


def test_line_chart_has_base_and_head_as_two_coloured_lines() -> None:
    body = rendered(line_plot(side(roc(1.0)), side(roc(0.5))))
    assert body.startswith("#### 🔄 ROC · changed\n\n")  # a plot that changed is drawn in the open
    assert "*grey: base `main (1111111)` · orange: head `feature (2222222)`* · `roc.json`" in body
    (block,) = mermaid_blocks(body)
    assert '"plotColorPalette": "#afb8c1, #e36209"' in block
    assert 'x-axis "fpr" 0 --> 1' in block
    base, head = chart_lines(block)
    assert base[:3] == ["0", "0.1", "0.2"] and head[-1] == "1"
    assert "<details>" not in body


def test_thousands_of_points_become_at_most_a_hundred() -> None:
    n = 5000
    big = Series(
        "loss.csv", "loss", tuple(str(i) for i in range(n)), tuple(str(1 / (i + 1)) for i in range(n))
    )
    body = rendered(line_plot(side(big), side(big), x="step", x_label="step", y="loss", y_label="loss"))
    (block,) = mermaid_blocks(body)
    assert all(len(line) == 100 for line in chart_lines(block))
    assert chart_lines(block)[0][0] == "1"  # the highest value, at the first step
    assert "⚪" in body and "unchanged" in body


def test_categorical_x_is_bars_base_beside_head_per_category_both_sides_have() -> None:
    """Categories have no order: a line through them would draw a trend that is not there."""
    base = Series("per_class.csv", "f1", ("setosa", "versicolor", "virginica"), ("1.0", "0.9375", "0.93"))
    head = Series(
        "per_class.csv", "f1", ("setosa", "versicolor", "virginica", "new"), ("1.0", "0.83", "0.84", "0.5")
    )
    plot = line_plot(side(base), side(head), x="class", x_label="class", y="f1", y_label="f1", template=None)
    body = rendered(plot)
    (block,) = mermaid_blocks(body)
    assert (
        'x-axis ["setosa: base", "setosa: head", "versicolor: base", "versicolor: head", '
        '"virginica: base", "virginica: head"]' in block
    )
    assert chart_lines(block) == []
    # Each side's bars in its own slots; below the axis (from zero) in the other side's: no bar at all.
    assert 'y-axis "f1" 0 --> 1.05' in block
    none = "-0.2625"
    assert chart_lines(block, "bar") == [
        ["1", none, "0.9375", none, "0.93", none],
        [none, "1", none, "0.83", none, "0.84"],
    ]
    assert "only at head, not drawn: `new`" in body


def test_bars_of_negative_values_grow_from_below_the_lowest() -> None:
    base = Series("delta.csv", "d", ("a", "b"), (-0.5, 0.25))
    head = Series("delta.csv", "d", ("a", "b"), (-0.25, 0.5))
    (block,) = mermaid_blocks(rendered(line_plot(side(base), side(head), x="k", x_label="k", y="d")))
    low = float(block.split('y-axis "tpr" ')[1].split(" -->")[0])
    assert low < -0.5
    (base_bars, head_bars) = chart_lines(block, "bar")
    none = base_bars[1]
    assert float(none) < low
    assert base_bars == ["-0.5", none, "0.25", none] and head_bars == [none, "-0.25", none, "0.5"]


def test_fewer_than_three_numeric_x_values_are_bars_not_a_line() -> None:
    base = Series("m.csv", "acc", (1, 2), (0.5, 0.6))
    head = Series("m.csv", "acc", (1, 2), (0.55, 0.7))
    (block,) = mermaid_blocks(rendered(line_plot(side(base), side(head), x="epoch", x_label="epoch")))
    assert chart_lines(block) == [] and len(chart_lines(block, "bar")) == 2
    assert 'x-axis ["1: base", "1: head", "2: base", "2: head"]' in block


def test_horizontal_bars_draw_the_category_from_y() -> None:
    head = Series("imp.json", "feature", ("0.5", "0.3"), ("petal", "sepal"))
    plot = line_plot(None, side(head), kind="bar", template="bar_horizontal", x="importance", y="feature")
    plot = Plot(**{**plot.__dict__, "x_label": "importance", "y_label": "feature"})
    (block,) = mermaid_blocks(rendered(plot))
    assert 'x-axis ["petal", "sepal"]' in block and 'y-axis "importance" 0 --> ' in block
    assert chart_lines(block, "bar") == [["0.5", "0.3"]]


def test_a_plot_on_one_side_shows_that_side_and_says_so() -> None:
    body = rendered(line_plot(None, side(roc(1.0))), line_plot(side(roc(1.0)), None, id="Gone", title="Gone"))
    assert "#### 🆕 ROC · only at head (new)\n" in body
    assert "*only at head; orange: head `feature (2222222)`*" in body
    assert "#### ➖ Gone · only at base (gone at head)\n" in body
    assert "*only at base; grey: base `main (1111111)`*" in body
    new, gone = mermaid_blocks(body)
    assert '"plotColorPalette": "#e36209"' in new and '"plotColorPalette": "#afb8c1"' in gone
    assert len(chart_lines(new)) == len(chart_lines(gone)) == 1


def test_unreadable_side_says_why_and_text_is_not_a_number() -> None:
    head = Series("m.csv", "acc", ("0", "1", "2"), ("0.5", "n/a", "0.7"))
    plot = line_plot(None, side(head), errors={BASE: "no such file: m.csv"}, x="step", x_label="step")
    body = rendered(plot)
    assert "#### ⚠️ ROC · one side only; not available at base\n" in body
    assert "*Not available at base (`main (1111111)`): no such file: m.csv*" in body
    assert "1 point(s) at head have no number to draw" in body
    nothing = rendered(line_plot(None, None, errors={BASE: "gone", HEAD: "gone"}))
    assert "⚠️ ROC · not available" in nothing and "No data at either revision" in nothing


def test_several_columns_and_files_get_a_chart_each() -> None:
    series = [Series(f, c, ("0", "1"), ("1", "2")) for f in ("train.json", "test.json") for c in ("a", "b")]
    body = rendered(line_plot(side(*series), side(*series), y="dvc_inferred_y_value", y_label="y"))
    blocks = mermaid_blocks(body)
    assert len(blocks) == 4
    assert 'title "ROC · a (train.json)"' in blocks[0] and 'y-axis "a"' in blocks[0]
    many = [Series("f.json", f"c{i}", ("0", "1"), ("1", "2")) for i in range(plots.MAX_CHARTS + 2)]
    body = rendered(line_plot(side(*many), side(*many)))
    assert len(mermaid_blocks(body)) == plots.MAX_CHARTS and "2 more series not drawn" in body


# --- confusion matrices -----------------------------------------------------------------------------------


def confusion(pairs: list[tuple[str, str]], x: str = "predicted", y: str = "actual") -> Series:
    return Series("cm.csv", y, tuple(p for _, p in pairs), tuple(a for a, _ in pairs))


def cm_plot(base: Side | None, head: Side | None, x: str = "predicted", template: str = "confusion") -> Plot:
    return Plot(
        "cm.csv",
        "confusion",
        template,
        "cm.csv",
        x=x,
        y="actual",
        x_label=x,
        y_label="actual",
        base=base,
        head=head,
    )


def test_confusion_matrix_counts_head_with_the_change_from_base() -> None:
    base = [("a", "a")] * 8 + [("a", "b")] * 2 + [("b", "b")] * 10
    head = [("a", "a")] * 9 + [("a", "b")] * 1 + [("b", "b")] * 9 + [("b", "a")] * 1
    body = rendered(cm_plot(side(confusion(base)), side(confusion(head))))
    assert "rows (actual): `actual` · columns (predicted): `predicted`" in body
    assert "| actual ↓ · predicted → | a | b |" in body
    assert "| **a** | **9** (+1) | 1 (-1) |" in body
    assert "| **b** | 1 (+1) | **9** (-1) |" in body
    assert "*Correct (diagonal): head 18 of 20 (90%) · base 18 of 20 (90%)*" in body
    assert problems(body) == []


def test_actual_goes_in_rows_whichever_axis_names_it() -> None:
    # DVC's get-started example: x is actual, y predicted.
    series = Series("cm.csv", "predicted", ("a", "a", "b"), ("a", "b", "b"))
    plot = Plot(
        "cm",
        "confusion",
        "confusion",
        "cm",
        x="actual",
        y="predicted",
        x_label="actual",
        y_label="predicted",
        head=side(series),
    )
    body = rendered(plot)
    assert "rows (actual): `actual` · columns (predicted): `predicted`" in body
    assert "| **a** | **1** | 1 |" in body and "| **b** | 0 | **1** |" in body
    assert "only at head `feature (2222222)`" in body


def test_normalized_confusion_adds_the_share_of_each_row() -> None:
    pairs = [("1", "1")] * 3 + [("1", "0")] + [("0", "0")] * 2
    body = rendered(cm_plot(None, side(confusion(pairs)), template="confusion_normalized"))
    assert "| **0** | **2** · 100% | 0 · 0% |" in body
    assert "| **1** | 1 · 25% | **3** · 75% |" in body


def test_a_huge_confusion_matrix_keeps_the_most_frequent_classes() -> None:
    pairs = [(f"c{i}", f"c{i}") for i in range(60) for _ in range(i + 1)]
    body = rendered(cm_plot(None, side(confusion(pairs))))
    assert f"{60 - plots.MAX_CLASSES} of 60 classes left out (the rarest)" in body
    assert "| **c59** |" in body and "| **c0** |" not in body


# --- images, links, hostile text -----------------------------------------------------------------------------


def test_images_are_listed_and_linked_to_the_run_artifact() -> None:
    png = Plot(
        "eval/importance.png",
        "image",
        None,
        "eval/importance.png",
        base=Side(digest="a"),
        head=Side(digest="b"),
    )
    url = "https://github.com/acme/ml/actions/runs/42/artifacts/7"
    body = rendered(png, url=url)
    assert f"**Images** (in [the workflow run's artifact]({url})):" in body
    assert "- `eval/importance.png`: changed" in body
    assert "not in this comment" in rendered(png)


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "https://e.example/a b", "https://e.example/a)[x](y", "ftp://e", 'https://e"'],
)
def test_an_artifact_url_that_could_break_the_link_is_refused(url: str) -> None:
    with pytest.raises(UsageError, match="--artifact-url"):
        plots.artifact_link(url)


def test_repository_text_in_plots_is_inert() -> None:
    series = Series(HOSTILE, HOSTILE, (HOSTILE, "b"), ("1", "2"))
    body = rendered(
        line_plot(side(series), side(series), title=HOSTILE, id=HOSTILE, x_label=HOSTILE, y_label=HOSTILE),
        cm_plot(side(Series(HOSTILE, "actual", (HOSTILE,), (HOSTILE,))), None),
        Plot(HOSTILE, "image", None, HOSTILE, head=Side(digest="x")),
        Plot("e", "line", None, "e", errors={BASE: HOSTILE}),
    )
    assert problems(body) == [], problems(body)
    assert "@\u2060acme" in body  # still readable, with a joiner


def test_image_paths_never_leave_the_images_folder() -> None:
    assert safe_relative("eval/a.png") == "eval/a.png"
    assert safe_relative("./eval/../a.png") == "a.png"
    for bad in ("../a.png", "/etc/a.png", "eval/../../a.png", "C:/a.png", "..\\a.png", "."):
        assert safe_relative(bad) is None, bad


# --- in the report -------------------------------------------------------------------------------------------


def comparison(*items: Plot, **extra: object) -> Comparison:
    return Comparison("demo", BASE_REV, HEAD_REV, [], [], [], plots=Plots(tuple(items)), **extra)  # type: ignore[arg-type]


def big_plot(i: int) -> Plot:
    n = 1000
    s = Series("f.csv", "y", tuple(range(n)), tuple(math.sin(k / (i + 3)) * 1000 + k for k in range(n)))
    return line_plot(
        side(s), side(Series("f.csv", "y", s.x, tuple(v + 1 for v in s.y))), id=f"p{i}", title=f"p{i}"
    )


def test_plots_are_dropped_last_first_with_a_note_before_any_table_is_cut() -> None:
    params = [ParamRow("params.yaml", f"p{i}", i, i + 1, "changed") for i in range(200)]
    c = comparison(*(big_plot(i) for i in range(40)), params=params)
    body = markdown.render(c)
    assert len(body) <= 65536
    kept = re.findall(r"#### 🔄 (p\d+) · changed\n", body)
    assert kept and kept == [f"p{i}" for i in range(len(kept))] and len(kept) < 40
    assert f"*{40 - len(kept)} plots left out to fit GitHub's comment limit;" in body
    assert "params left out" not in body and body.count("| `p") >= 200
    # Tables are cut only once every plot is gone.
    tiny = markdown.render(c, limit=3000)
    assert len(tiny) <= 3000 and "#### 🔄 p0" not in tiny
    assert "40 plots left out" in tiny and "params left out" in tiny


def test_no_plots_section_when_the_pipelines_declare_none() -> None:
    c = Comparison("demo", BASE_REV, HEAD_REV, [], [], [])
    assert "### Plots" not in markdown.render(c)
    assert json.loads(json_reporter.render(c))["plots"] is None
    assert "Plots" not in text.render(c, color=False)


def test_a_collection_failure_is_a_warning_in_every_format() -> None:
    c = Comparison("demo", BASE_REV, HEAD_REV, [], [], [], plots=Plots(error="DVC is not installed"))
    assert "> The plots could not be read: DVC is not installed" in markdown.render(c)
    assert "  not read: DVC is not installed" in text.render(c, color=False)
    assert json.loads(json_reporter.render(c))["plots"]["error"] == "DVC is not installed"
    sided = Plots(errors={BASE: "bad dvc.yaml"})
    assert "The plots at base (`main (1111111)`) could not be read: bad dvc.yaml" in markdown.render(
        Comparison("demo", BASE_REV, HEAD_REV, [], [], [], plots=sided)
    )


def test_text_and_json_carry_the_plots() -> None:
    c = comparison(line_plot(side(roc(1.0)), side(roc(0.5))), cm_plot(None, side(confusion([("a", "a")]))))
    out = text.render(c, color=False)
    assert "Plots (2):" in out and "  ROC  (line, simple)  changed" in out
    assert "  cm.csv  (confusion, confusion)  only at head (new)" in out
    data = json.loads(json_reporter.render(c))["plots"]
    roc_json = data["plots"][0]
    assert roc_json["status"] == "changed" and roc_json["base"]["series"][0]["x"][:2] == [0.0, 0.1]
    assert data["plots"][1]["base"] is None


def test_changed_plots_come_first_in_the_open_and_unchanged_ones_folded() -> None:
    same = line_plot(side(roc(1.0)), side(roc(1.0)), id="Same", title="Same")
    moved = line_plot(side(roc(1.0)), side(roc(0.5)), id="Moved", title="Moved")
    out = plots.render(Plots((same, moved)), "main", "feature")
    assert out.expanded == 1
    first, second = out.blocks
    assert first.startswith("#### 🔄 Moved · changed\n") and "<details>" not in first
    assert second.startswith("<details><summary>⚪ Same · unchanged</summary>\n")
    assert second.rstrip().endswith("</details>")
