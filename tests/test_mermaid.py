"""Every Mermaid diagram the project shows must parse with Mermaid's own parser, as GitHub renders it.

All diagrams go to one Node process (``tests/mermaid/check.mjs``) per test worker: the ``verdicts``
fixture parses the whole table below at once and each test looks its diagram up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.reporters.markdown import chart
from tests import mermaidcheck
from tests.mermaidcheck import mermaid_blocks, parse_errors

README = Path(__file__).resolve().parents[1] / "README.md"


def xy(*lines: str) -> str:
    return "\n".join(["xychart-beta", *(f"    {line}" for line in lines)])


def chart_block(title: str, labels: list[str], values: list[float]) -> str:
    blocks = mermaid_blocks(chart(title, labels, values))
    assert len(blocks) == 1, blocks
    return blocks[0]


README_BLOCKS = mermaid_blocks(README.read_text(encoding="utf-8"))

TWO_LINES = xy(
    'title "accuracy: base vs head"',
    'x-axis ["a1b2c3d", "0f9e8d7", "head"]',
    'y-axis "accuracy" 0.8 --> 1',
    "line [0.91, 0.93, 0.95]",
    "line [0.90, 0.92, 0.97]",
)

BROKEN = {
    "unclosed line series": xy("x-axis [a, b]", "line [1, 2"),
    "flowchart arrow to nothing": "flowchart LR\n    a -->",
    "no diagram type": "this is not a diagram",
    "xychart word instead of number": xy("x-axis [a, b]", "line [1, two]"),
}

# The history charts the PR report draws: short SHAs then "head" on the x-axis, one metric's values.
SHAS = ["a1b2c3d", "0000000", "1234567", "1e10000", "deadbee"]
CHARTS: dict[str, tuple[str, list[str], list[float]]] = {
    "plain": ("accuracy", ["a1b2c3d", "head"], [0.9, 0.91]),
    "title with quotes, colon, brackets, unicode": (
        'say "hi": [x] {y} (eval/metrics.json) ünï ✓ 日本',
        [*SHAS, "head"],
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ),
    "title with markup characters": ("`code` <b>x</b> #1 & a\\b %% c; d", ["a1b2c3d", "head"], [1, 2]),
    "title with a leading space": (" f1 (metrics.json)", ["a1b2c3d", "head"], [1.0, 2.0]),
    "dotted key and file": ("metrics.per_class.cat.f1 (eval/metrics.json)", ["a1b2c3d", "head"], [0.5, 0.6]),
    "pattern gate title": ("per_class.*.f1 worst segment", ["a1b2c3d", "head"], [0.5, 0.6]),
    "negative values": ("loss", ["a1b2c3d", "0f9e8d7", "head"], [-3.5, -1.25, -0.001]),
    "crossing zero": ("delta", ["a1b2c3d", "head"], [-0.5, 0.25]),
    "flat series": ("flat", ["a1b2c3d", "0f9e8d7", "head"], [0.5, 0.5, 0.5]),
    "flat zero": ("zero", ["a1b2c3d", "head"], [0.0, 0.0]),
    "flat negative": ("neg", ["a1b2c3d", "head"], [-2.0, -2.0]),
    "integers": ("count", ["a1b2c3d", "head"], [3, 4]),
    "hundreds of thousands": ("rows", ["a1b2c3d", "head"], [123456.0, 150000.0]),
    "many decimals": ("auc", ["a1b2c3d", "head"], [0.123456789, 0.987654321]),
    "thousandths": ("lr", ["a1b2c3d", "head"], [0.001, 0.002]),
    "many commits": ("acc", [f"{i:07x}" for i in range(30)] + ["head"], [i / 31 for i in range(31)]),
    # A metric named by a hostile commit: markup, a mention, a closing keyword, a script tag.
    "hostile metric name": (
        'acc"] <img src=x onerror=alert(1)> @acme/ml closes #1 </script> %%{init: {}}%%',
        ["a1b2c3d", "head"],
        [0.5, 0.6],
    ),
}
# xychart-beta rejects scientific notation: these once failed, when charts wrote `:.6g` and repr().
CHARTS_SCIENTIFIC: dict[str, tuple[str, list[str], list[float]]] = {
    "millions (y-axis 1.22802e+06)": ("rows", ["a1b2c3d", "head"], [1234567.0, 1300000.0]),
    "negative millions": ("neg", ["a1b2c3d", "head"], [-2e6, -1e6]),
    "very large (1e+20)": ("big", ["a1b2c3d", "head"], [1.5e20, 2e20]),
    "very small (1.2e-05)": ("tiny", ["a1b2c3d", "head"], [1.23e-5, 1.5e-5]),
    "one small value in the line": ("lr", ["a1b2c3d", "head"], [1e-5, 0.5]),
    "learning rate 0.0001 (y-axis 9e-05)": ("lr", ["a1b2c3d", "head"], [0.0001, 0.0002]),
    "flat small value": ("eps", ["a1b2c3d", "head"], [5e-5, 5e-5]),
    "below a millionth": ("tiny", ["a1b2c3d", "head"], [1e-7, 3e-7]),
    "close large values": ("near", ["a1b2c3d", "head"], [123456.1, 123456.2]),
}

# What xychart-beta accepts, for whoever writes new charts: (diagram, parses?).
SYNTAX: dict[str, tuple[str, bool]] = {
    "several line series": (
        xy("x-axis [a, b, c]", "line [1, 2, 3]", "line [3, 2, 1]", "line [0, 0, 1]"),
        True,
    ),
    "bar and lines together": (xy("x-axis [a, b]", "bar [1, 2]", "line [2, 1]"), True),
    "numeric x-axis": (xy('x-axis "step" 0 --> 1', "line [0.1, 0.5, 0.9]"), True),
    "negative numbers everywhere": (
        xy('x-axis "t" -1 --> 1', 'y-axis "v" -0.5 --> -0.1', "line [-0.2, -0.3]"),
        True,
    ),
    "title with ' inside": (xy('title "it\'s"', "x-axis [a, b]", "line [1, 2]"), True),
    "title with #quot; entity": (xy('title "a #quot;b#quot;"', "x-axis [a, b]", "line [1, 2]"), True),
    'title with " inside': (xy('title "a "b" c"', "x-axis [a, b]", "line [1, 2]"), False),
    'title with \\" inside': (xy('title "a \\"b\\" c"', "x-axis [a, b]", "line [1, 2]"), False),
    "empty title": (xy('title ""', "x-axis [a, b]", "line [1, 2]"), False),
    "quoted label with a comma": (xy('x-axis ["a, b", "c"]', "line [1, 2]"), True),
    "quoted label with '": (xy('x-axis ["it\'s", "c"]', "line [1, 2]"), True),
    'quoted label with "': (xy('x-axis ["a"b", "c"]', "line [1, 2]"), False),
    "empty quoted label": (xy('x-axis ["", "c"]', "line [1, 2]"), False),
    "quoted label starting with %%": (xy('x-axis ["%% b", "c"]', "line [1, 2]"), False),
    "plot colours by directive": (
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#afb8c1, #e36209"}}}}%%\n'
        + xy("x-axis [a, b]", "line [1, 2]", "line [2, 1]"),
        True,
    ),
    "value 1e-05": (xy("x-axis [a, b]", "line [1e-05, 2]"), False),
    "value 1.5e+20": (xy("x-axis [a, b]", "line [1.5e+20, 2]"), False),
    "y-axis range 1e-05 --> 2e-05": (
        xy("x-axis [a, b]", 'y-axis "v" 1e-05 --> 2e-05', "line [1.5, 2]"),
        False,
    ),
    "value nan": (xy("x-axis [a, b]", "line [nan, 1]"), False),
}


def _plot_blocks() -> dict[str, str]:
    """The charts the report draws for DVC plots (reporters/plots.py), one per shape of data."""
    from mlops_gitops.metrics.plots import Plot, Plots, Series, Side
    from mlops_gitops.reporters import plots

    def line(
        name: str, base: list[tuple[object, object]] | None, head: list[tuple[object, object]] | None
    ) -> Plot:
        def side(points: list[tuple[object, object]] | None) -> Side | None:
            if points is None:
                return None
            return Side((Series("f.csv", "y", tuple(x for x, _ in points), tuple(y for _, y in points)),))  # type: ignore[misc]

        return Plot(
            name, "line", None, name, x="x", y="y", x_label="x", y_label="y", base=side(base), head=side(head)
        )

    roc = [(i / 10, (i / 10) ** 0.5) for i in range(11)]
    shapes = {
        "roc base and head": line("ROC", [(0.0, 0.0), (0.0, 0.4), *roc[1:]], roc),
        "only at head": line("new", None, roc),
        "5000 steps as CSV text": line("loss", None, [(str(i), str(1 / (i + 1))) for i in range(5000)]),
        "tiny x range": line("lr", [(1e-7, 1.0), (2e-7, 2.0)], [(1e-7, 1.5), (3e-7, 2.5)]),
        "huge values": line("rows", [(0, 1.5e20), (1, 2e20)], [(0, 1e-7), (1, -3e6)]),
        "negative x": line("t", [(-5, 1), (5, 2)], [(-2.5, 0), (7.5, 3)]),
        "categories": line(
            "per class", [("setosa", 1.0), ("virginica", 0.9)], [("setosa", 0.98), ("virginica", 0.91)]
        ),
        "one category": line("single", [("a", 1.0)], [("a", 2.0)]),
        "flat": line("flat", [(0, 0.5), (1, 0.5)], [(0, 0.5), (1, 0.5)]),
        "hostile categories": line(
            'acc"] <img src=x> @acme/ml closes #1 %%{init: {}}%%',
            [('say "hi": [x] {y}', 1), ("", 2), ("%%", 3), ("ünï ✓ 日本" * 10, 4)],
            [('say "hi": [x] {y}', 2), ("", 1), ("%%", 0), ("ünï ✓ 日本" * 10, 5)],
        ),
    }
    out: dict[str, str] = {}
    for name, plot in shapes.items():
        drawn = plots.render(Plots((plot,)), "main", "head")
        for i, block in enumerate(mermaid_blocks("".join(drawn.blocks))):
            out[f"{name} {i}"] = block
    return out


PLOT_BLOCKS = _plot_blocks()

DIAGRAMS: dict[str, str] = {
    **{f"readme {i}": block for i, block in enumerate(README_BLOCKS)},
    "two lines": TWO_LINES,
    **{f"broken {name}": text for name, text in BROKEN.items()},
    **{f"chart {name}": chart_block(*args) for name, args in {**CHARTS, **CHARTS_SCIENTIFIC}.items()},
    **{f"syntax {name}": text for name, (text, _) in SYNTAX.items()},
    **{f"plot {name}": text for name, text in PLOT_BLOCKS.items()},
}


@pytest.fixture(scope="module")
def verdicts() -> dict[str, str | None]:
    names = list(DIAGRAMS)
    return dict(zip(names, parse_errors([DIAGRAMS[n] for n in names]), strict=True))


def test_readme_has_mermaid() -> None:
    assert README_BLOCKS, "README.md has no ```mermaid block: test (a) would pass vacuously"


@pytest.mark.parametrize("i", range(len(README_BLOCKS)))
def test_readme_diagram_parses(verdicts: dict[str, str | None], i: int) -> None:
    assert verdicts[f"readme {i}"] is None, f"{verdicts[f'readme {i}']}\n\n{README_BLOCKS[i]}"


def test_xychart_with_two_lines_parses(verdicts: dict[str, str | None]) -> None:
    assert verdicts["two lines"] is None, verdicts["two lines"]


@pytest.mark.parametrize("name", BROKEN)
def test_broken_diagram_is_reported(verdicts: dict[str, str | None], name: str) -> None:
    error = verdicts[f"broken {name}"]
    assert error, f"mermaid.parse accepted a broken diagram:\n{BROKEN[name]}"
    assert "\n" not in error


@pytest.mark.parametrize(
    "name",
    [*CHARTS, *CHARTS_SCIENTIFIC],
)
def test_history_chart_parses(verdicts: dict[str, str | None], name: str) -> None:
    error = verdicts[f"chart {name}"]
    assert error is None, f"{error}\n\n{DIAGRAMS[f'chart {name}']}"


def test_every_plot_shape_draws_a_chart() -> None:
    assert {name.rsplit(" ", 1)[0] for name in PLOT_BLOCKS} >= {"roc base and head", "5000 steps as CSV text"}
    assert len(PLOT_BLOCKS) == 10


@pytest.mark.parametrize("name", PLOT_BLOCKS)
def test_plot_chart_parses(verdicts: dict[str, str | None], name: str) -> None:
    error = verdicts[f"plot {name}"]
    assert error is None, f"{error}\n\n{PLOT_BLOCKS[name]}"


def test_hostile_chart_title_is_inert() -> None:
    block = chart_block(*CHARTS["hostile metric name"])
    title = block.splitlines()[1]
    assert "<" not in title and ">" not in title and '"]' not in title
    assert "@acme" not in title and "closes #1" not in title  # joiners break mention and keyword


@pytest.mark.parametrize("name", SYNTAX)
def test_xychart_syntax(verdicts: dict[str, str | None], name: str) -> None:
    text, parses = SYNTAX[name]
    error = verdicts[f"syntax {name}"]
    assert (error is None) == parses, (
        f"expected {'a parse' if parses else 'an error'}, got {error!r}\n\n{text}"
    )


def test_missing_node_modules_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mermaidcheck, "HARNESS_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="make test"):
        parse_errors(["flowchart LR\n    a --> b"])


def test_no_diagrams_starts_no_node() -> None:
    assert parse_errors([]) == []


def test_mermaid_blocks() -> None:
    text = "\n".join(
        [
            "# t",
            "```python",
            "x = 1",
            "```",
            "```mermaid",
            "flowchart LR",
            "    a --> b",
            "```",
            "  ~~~~ mermaid",
            "  pie",
            '    "a": 1',
            "  ```",
            "  ~~~~",
            "````mermaid",
            "```",
            "````",
            "```mermaid",
            "xychart-beta",
        ]
    )
    assert mermaid_blocks(text) == [
        "flowchart LR\n    a --> b",
        'pie\n  "a": 1\n```',
        "```",
        "xychart-beta",
    ]
    assert mermaid_blocks("```mermaidx\na\n```\n") == []


def test_chart_numbers_are_plain_and_keep_their_size() -> None:
    from mlops_gitops.reporters import mermaid

    assert mermaid.number(1e-7) == "0.0000001"
    assert mermaid.number(1.5e20) == "150000000000000000000"
    assert mermaid.number(-0.0) == "0"
    low, high = mermaid.axis_range([123456.1, 123456.2])
    assert low != high
    block = chart_block("tiny", ["a1b2c3d", "head"], [1e-7, 3e-7])
    assert "line [0.0000001, 0.0000003]" in block
