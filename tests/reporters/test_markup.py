"""reporters.markup: text from the repository made inert (no mention, reference, closing keyword, HTML,
link or image) yet still readable, for any input. ``tests/inert.py`` says what inert means."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_gitops.delivery import promotion
from mlops_gitops.reporters import drift, markdown, mermaid
from mlops_gitops.reporters.markup import JOINER, cell, code, defang, html, plain, text
from tests.inert import MARKDOWN, live, problems, rendered_problems, visible

J = JOINER
SUBJECT = "Tune @acme/ml-team closes #12 <img src=x onerror=alert(1)> [x](https://evil.example)"
KEYWORDS = ["close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"]
ISSUES = ["#12", "acme/models#12", "GH-12", "https://github.com/acme/models/issues/12"]

# Pieces an attacker would combine, and any other characters between them.
PIECES = [
    *("@", "acme", "/", "ml-team", "org/repo", "#", "12", "GH-", "gh-7", "https://github.com/a/b/issues/"),
    *("closes", "Fixes", "RESOLVED", "close", "fix", "Resolves:", ":", " ", "  ", "\t", "\n", "\r"),
    *("<", ">", "&", "&#64;", "&#35;", "&lt;", "[", "]", "(", ")", "!", "`", "``", "```", "|", "\\"),
    *("*", "_", "~", "-->", "<!--", "<details>", "<img src=x onerror=alert(1)>", "<a href='https://e'>"),
    *("[x](https://evil.example)", "![t](https://tracker)", J, "\u200b"),
]
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
HOSTILE = st.lists(st.one_of(st.sampled_from(PIECES), st.text(CHARS, max_size=4)), max_size=24).map("".join)
needs_markdown = pytest.mark.skipif(MARKDOWN is None, reason="markdown-it-py is not installed")


def squeeze(value: str) -> str:
    """Compare what a reader sees: no whitespace, joiners or emphasis marks (which Markdown may eat)."""
    return re.sub(r"[\s*_~]", "", value.replace(J, ""))


def test_the_hostile_subject_reads_the_same_and_does_nothing() -> None:
    # No link either: "[" escaped, and the bare address kept from GitHub's own autolinking.
    assert text(SUBJECT) == (
        f"Tune @{J}acme/ml-team c{J}loses #{J}12 &lt;img src=x onerror=alert(1)&gt; "
        f"\\[x](https:{J}//evil.example)"
    )
    assert (
        code(SUBJECT)
        == f"`Tune @{J}acme/ml-team c{J}loses #{J}12 <img src=x onerror=alert(1)> [x](https://evil.example)`"
    )
    assert (
        plain(SUBJECT)
        == f"Tune @{J}acme/ml-team c{J}loses #{J}12 <img src=x onerror=alert(1)> [x](https://evil.example)"
    )
    for out in (f"- Head: {text(SUBJECT)}", f"| {cell(SUBJECT)} | {code(SUBJECT)} |"):
        assert problems(out) == [], out
    assert SUBJECT in visible(f"- Head: {text(SUBJECT)}")


@pytest.mark.parametrize("keyword", KEYWORDS)
@pytest.mark.parametrize("issue", ISSUES)
def test_every_closing_keyword_in_every_spelling_is_broken(keyword: str, issue: str) -> None:
    for word in (keyword, keyword.title(), keyword.upper()):
        for sep in (" ", ": ", " : ", "  ", ":"):
            raw = f"Merge {word}{sep}{issue} now"
            for out in (text(raw), code(raw), plain(raw), defang(raw)):
                assert live(out) == [], (raw, out)
            assert plain(raw).replace(J, "") == raw


@pytest.mark.parametrize(
    "words", ["close", "closed form", "fixed seed", "resolve time", "Close price 12", "a fix for #"]
)
def test_a_keyword_not_before_an_issue_is_left_alone(words: str) -> None:
    """A feature named ``close`` copied from a report must still be the name in the data."""
    assert defang(words) == words


@pytest.mark.parametrize(
    "raw",
    [
        "@acme",
        "@acme/ml-team",
        "(@bob)",
        "cc:@bob",
        "x @-y",
        "@Bob_",
        "user@example.com",
        "acme/models@abc1234",
    ],
)
def test_mentions_are_broken(raw: str) -> None:
    for out in (text(raw), code(raw), plain(raw)):
        assert live(out) == [] and "@" + J in out, out


@needs_markdown
def test_an_entity_cannot_spell_a_mention_or_a_tag() -> None:
    out = text("&#64;acme/ml-team &#35;12 &lt;img src=x&gt;")
    assert problems(f"x {out}") == []
    assert visible(f"x {out}") == "x &#64;acme/ml-team &#35;12 &lt;img src=x&gt;"


@needs_markdown
def test_html_is_escaped_in_prose_and_verbatim_in_code() -> None:
    assert text("<details><summary>x</summary>") == "&lt;details&gt;&lt;summary&gt;x&lt;/summary&gt;"
    assert code("<img src=x>") == "`<img src=x>`"
    assert problems(f"| {code('<img src=x>')} |") == []
    assert visible(f"x {code('<img src=x>')}") == "x <img src=x>"


@needs_markdown
@pytest.mark.parametrize("raw", ["a``<img src=x>``b", "`<img src=x>`", "``", "a```b", "`", " ` "])
def test_code_cannot_be_closed_early(raw: str) -> None:
    """The old fence (two backticks for any backtick) ended at the value's own double backtick."""
    out = code(raw)
    assert rendered_problems(f"x {out} y") == [], out
    assert squeeze(visible(f"x {out} y")) == squeeze(f"x {raw} y")


@needs_markdown
@pytest.mark.parametrize("raw", ["a|b", "a\\|b", "a\\\\|b", "a\nb|c\rd", "|", "\\"])
def test_a_cell_stays_one_cell(raw: str) -> None:
    table = f"| h | i |\n| --- | --- |\n| {cell(raw)} | {code(raw)} |\n"
    cells = [t for t in MARKDOWN.parse(table) if t.type == "td_open"]
    assert len(cells) == 2, table
    assert squeeze(visible(table)) == squeeze("hi" + raw + raw), "both show the value as it is"


def test_our_markers_and_wording_are_unchanged() -> None:
    identity = promotion.ModelIdentity("iris-clf", "m.pkl", "a" * 32, "f" * 40)
    ours = [
        markdown.marker("iris"),
        drift.marker("demo"),
        promotion.full_marker("iris", "staging", identity),
        markdown.STALE_LOCK,
        "✅ **Pass**: all 3 gates passed · 12 metrics: 1 improved, 11 unchanged",
        "<details><summary>Unchanged metrics (3)</summary>",
        "| Metric | Base | Head | Change | Change % | Gate |",
    ]
    for line in ours:
        assert defang(line) == line


def test_mermaid_titles_are_inert_and_still_parse() -> None:
    """A metric name becomes a chart title in the report, and so in the promotion PR's raw body."""
    from tests import mermaidcheck

    title = mermaid.text('closes #12 @acme/ml-team <img src=x> "q" #35;')
    assert live(title) == [] and "<" not in title and '"' not in title
    if not (mermaidcheck.HARNESS_DIR / "node_modules" / "mermaid").is_dir():
        pytest.skip("the Mermaid harness is not installed (npm ci --prefix tests/mermaid)")
    (block,) = mermaidcheck.mermaid_blocks(markdown.chart(f"{SUBJECT} (m.json)", ["a1b2c3d", "head"], [1, 2]))
    assert mermaidcheck.parse_errors([block]) == [None], block


# --- properties -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_text_and_cell_are_inert_for_any_input(raw: str) -> None:
    for out in (text(raw), cell(raw)):
        assert live(out) == [], out
        assert "<" not in out and ">" not in out
        assert "\n" not in out and "\r" not in out
        assert not re.search(r"(?<!\\)(?:\\\\)*\|", out), "a pipe that would end the cell"
        assert not re.search(r"&(?!amp;|lt;|gt;)", out), "an entity from the input"
        if MARKDOWN is not None:
            assert rendered_problems(f"x {out}") == [], out
            assert squeeze(visible(f"x {out}")) == squeeze(f"x {raw}")


@needs_markdown
@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_code_is_inert_verbatim_and_one_cell_for_any_input(raw: str) -> None:
    out = code(raw)
    assert live(out) == [], out
    assert "\n" not in out and "\r" not in out
    table = f"| h |\n| --- |\n| {out} |\n"
    tokens = MARKDOWN.parse(table)
    assert [t.type for t in tokens].count("td_open") == 1, table
    assert rendered_problems(table) == [], out
    spans = [c for t in tokens if t.children for c in t.children if c.type == "code_inline"]
    assert len(spans) == 1, table
    assert squeeze(spans[0].content.replace("\\|", "|")) == squeeze(raw)


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_html_is_inert_inside_our_summary_for_any_input(raw: str) -> None:
    """Plot titles go into ``<details><summary>``: an HTML block, where Markdown is not read."""
    out = html(raw)
    assert live(out) == [], out
    assert "<" not in out and ">" not in out and "\n" not in out and "\r" not in out
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;)", out), "an entity from the input"
    if MARKDOWN is not None:
        body = f"<details><summary>{out}</summary>\n\nx\n\n</details>\n"
        assert rendered_problems(body) == [], body


def test_html_escapes_what_html_reads_and_nothing_else() -> None:
    assert (
        html('a <b> & "c" [d](e) `f` @g #1\nh') == f"a &lt;b&gt; &amp; &quot;c&quot; [d](e) `f` @{J}g #{J}1 h"
    )


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_plain_and_defang_are_inert_lossless_and_idempotent(raw: str) -> None:
    once = defang(raw)
    assert defang(once) == once
    assert once.replace(J, "") == raw.replace(J, "")
    assert live(once) == [], once
    out = plain(raw)
    assert live(out) == [] and "\n" not in out and "\r" not in out
    assert out.replace(J, "") == re.sub(r"[\r\n]", " ", raw).replace(J, "")


@pytest.mark.parametrize(
    "raw", ["fix " + "-" * 200_000, "fix-" * 50_000, "closes " + " " * 200_000 + "x", "fix " + "a" * 200_000]
)
def test_no_text_makes_it_slow(raw: str) -> None:
    """A commit subject or a data value is anyone's: the patterns must stay linear in its length."""
    import time

    start = time.process_time()
    text(raw), code(raw), plain(raw)
    assert time.process_time() - start < 2.0
