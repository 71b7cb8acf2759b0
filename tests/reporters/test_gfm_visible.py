"""Text from the repository is escaped once, correctly, in every Markdown construct the reports use:
rendered as GitHub renders a comment (a GFM renderer, ``tests/gfm.py``), each construct shows the text
as it was written, with no stray backslash or backtick, and our messages' code shows as code."""

from __future__ import annotations

import random

import pytest

from mlops_gitops.metrics.collect import Revision
from mlops_gitops.metrics.compare import Comparison
from mlops_gitops.metrics.plots import BASE, Plot, Plots
from mlops_gitops.reporters import markdown, plots
from mlops_gitops.reporters.markup import JOINER, cell, code, html, message, span, text
from tests.gfm import render, seen

BASE_REV = Revision("main", "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "base")
HEAD_REV = Revision("feature", "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "head")

PIECES = [
    *("@", "acme", "/", "ml-team", "#", "12", "GH-", "closes", "Fixes:", ":", " ", "  ", "\t", "\n", "\r"),
    *("<", ">", "&", "&#64;", "&amp;", "[", "]", "(", ")", "!", "`", "``", "```", "|", "\\", "\\|", "\\\\"),
    *("*", "**", "_", "__", "~", "~~", "-", "---", "+", "=", "==", "1.", "2)", "# ", "## ", ">", "    "),
    *("<details>", "</summary>", "<img src=x onerror=alert(1)>", "[x](https://evil.example)", "![t](u)"),
    *("www.example.com", "https://e.example/a_b", "a@b.example", "%%", "$x$", "ünï ✓ 日本", JOINER),
]


def hostile(count: int, seed: int = 24) -> list[str]:
    """Strings made of the pieces that make Markdown act, in any order: a fixed sample, so a failure
    names its input, and one Node process renders them all."""
    rng = random.Random(seed)
    out = ["", " ", "x", "# heading", "- item", "1. item", "---", "===", "> quote", "    code", "*em* _em_"]
    out += ["a|b", "a\\|b", "`run` it", "``a`b``", "~~gone~~", "<b>bold</b>", "&lt;", "[!WARNING]"]
    while len(out) < count:
        out.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 10))))
    return out


RAW = hostile(150)

# Each construct: how a value is put in it, and the CSS selector of the element that shows it.
CONSTRUCTS = {
    "table cell": (lambda v: f"| h |\n| --- |\n| {cell(v)} |\n", "td"),
    "code span in a table": (lambda v: f"| h |\n| --- |\n| {code(v)} |\n", "td code"),
    "alert": (lambda v: f"> [!WARNING]\n> {text(v)}\n", ".markdown-alert > p:not(.markdown-alert-title)"),
    "code span in an alert": (lambda v: f"> [!NOTE]\n> at {span(v)} then\n", ".markdown-alert code"),
    "details summary": (
        lambda v: f"<details><summary>{html(v)}</summary>\n\nbody\n\n</details>\n",
        "summary",
    ),
    "heading": (lambda v: f"#### {text(v)}\n", "h4"),
    "list item": (lambda v: f"- Head: {text(v)}\n", "li"),
    "code span in a list": (lambda v: f"- Read from: {span(v)}\n", "li code"),
    "emphasis": (lambda v: f"*Not available at base: {text(v)}, so not compared*\n", "em"),
}
EXPECTED = {
    "heading": lambda v: v,
    "list item": lambda v: f"Head: {v}",
    "emphasis": lambda v: f"Not available at base: {v.strip()}, so not compared",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[list[str]]]:
    cases = [(make(v), selector) for make, selector in CONSTRUCTS.values() for v in RAW]
    out = iter(render(cases))
    return {name: [next(out).texts for _ in RAW] for name in CONSTRUCTS}


@pytest.mark.parametrize("construct", CONSTRUCTS)
def test_each_construct_shows_the_text_as_written(
    rendered: dict[str, list[list[str]]], construct: str
) -> None:
    wrong = []
    for raw, texts in zip(RAW, rendered[construct], strict=True):
        want = seen(EXPECTED.get(construct, lambda v: v)(raw))
        got = seen("".join(texts))
        if got != want:
            wrong.append(f"{raw!r}: shows {got!r}, not {want!r} (from {CONSTRUCTS[construct][0](raw)!r})")
    assert not wrong, "\n".join(wrong[:10])


def test_our_messages_show_their_code_as_code_and_quoted_text_as_it_is() -> None:
    reason = "tracked by DVC, but neither the cache nor the remote holds it at main (a_b *c*); `dvc fetch` it"
    cases = [
        (f"> [!WARNING]\n> {message(reason, table=False)}\n", ".markdown-alert"),
        (f"> [!WARNING]\n> {message(reason, table=False)}\n", ".markdown-alert code"),
        (f"| h |\n| --- |\n| {message('cannot read `a|b.json`: bad')} |\n", "td"),
        (f"| h |\n| --- |\n| {message('cannot read `a|b.json`: bad')} |\n", "td code"),
    ]
    alert, alert_code, cell_text, cell_code = (r.texts for r in render(cases))
    assert seen(alert[0]) == "Warning " + seen(reason.replace("`", ""))
    assert alert_code == ["dvc fetch"]
    assert seen(cell_text[0]) == "cannot read a|b.json: bad" and cell_code == ["a|b.json"]


def test_the_reports_not_available_warning_shows_dvc_fetch_as_code() -> None:
    """The issue's example: backticks inside the "Not available" warning showed escaped."""
    why = "tracked by DVC, but neither the cache nor the remote holds it at main (1111111) (gone); `dvc fetch` it"
    c = Comparison(
        "demo", BASE_REV, HEAD_REV, ["eval/m|x.json"], [], [], unavailable={"base": {"eval/m|x.json": why}}
    )
    body = markdown.render(c)
    (warning, codes) = (
        r.texts for r in render([(body, ".markdown-alert-warning"), (body, ".markdown-alert code")])
    )
    assert len(warning) == 1 and "`" not in warning[0] and "\\" not in warning[0]
    assert "eval/m|x.json at base (main (1111111)): tracked by DVC" in seen(warning[0])
    assert codes == ["eval/m|x.json", "main (1111111)", "dvc fetch"]


def test_a_plot_that_could_not_be_read_says_why_with_its_code() -> None:
    plot = Plot("p.csv", "line", None, "p.csv", errors={BASE: "no `x` column in p.csv"})
    drawn = plots.render(Plots((plot,), errors={BASE: "`dvc.yaml` at base: bad"}), "main", "feature")
    body = drawn.lead + "\n".join(drawn.blocks)
    (visible,) = (r.texts for r in render([(body, "body")]))
    assert "`" not in visible[0] and "\\" not in visible[0]
    assert "The plots at base (main) could not be read: dvc.yaml at base: bad" in seen(visible[0])
    assert "Not available at base (main): no x column in p.csv" in seen(visible[0])


def test_a_whole_report_shows_no_escape_characters() -> None:
    from tests.reporters.test_reporters import example

    body = markdown.render(example(), note="A *note* with `code` and a_b | c")
    (visible,) = (r.texts for r in render([(body, "body")]))
    assert "\\" not in visible[0]
    assert "A *note* with `code` and a_b | c" in seen(visible[0])  # a note is the caller's text, verbatim
