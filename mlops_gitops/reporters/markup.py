"""Markdown escaping for text that comes from the repository or its data (metric and param names,
file names, commit subjects, data values): the one place such text is made safe to embed.

Whoever can push a commit, or feed the data, writes that text; the bot posts it in its own name, so
posted as it is it would act. ``@org/team`` notifies a team. ``closes #12`` (any of GitHub's closing
keywords before ``#12``, ``owner/repo#12`` or an issue URL) closes the issue when a pull request
whose body says it merges, or when a commit message saying it lands on the default branch (and a
squash merge builds that message from the raw body, where code spans mean nothing). ``#12`` and
``owner/repo#12`` alone put a cross-reference on that issue. Raw HTML renders (``<img src=x
onerror=...>``, ``<details>``, ``<a href>``), and ``[text](url)`` and ``![x](url)`` make links and
images. Each function takes such text for one place it lands:

- :func:`text`: prose on one line (a commit subject in the lineage, a note, a reason), which may start
  a line (in an alert, after ``> ``) without starting a heading, a list or a setext underline;
- :func:`cell`: a Markdown table cell (the same: pipes are kept inside the cell);
- :func:`code`: an inline code span (names and paths, shown verbatim and never closed early), in a
  table cell or, with ``table=False``, anywhere else (where ``\\|`` would show its backslash);
- :func:`message`: our own wording that marks commands and names as code with backticks
  (``run `dvc fetch` ``) around text from the repository (paths, a parser's error): the backtick
  pairs become code spans, the rest :func:`text`, so neither shows a stray backslash or backtick;
- :func:`html`: text inside our own HTML (a ``<summary>``), where Markdown is not read;
- :func:`plain`: a title or a commit message, which are not Markdown but in which GitHub still finds
  mentions, references and closing keywords;
- :func:`defang`: what they all share: mentions, issue references and closing keywords made inert.

Our own wording (headings, verdicts, the hidden ``<!-- mlops-gitops:... -->`` markers) never goes
through them, so it is never changed.
"""

from __future__ import annotations

import re

# U+2060 WORD JOINER: invisible, not whitespace, and no line break at it. GitHub makes a mention only
# of ``@`` directly followed by a login character, an issue reference only of ``#`` (or ``GH-``)
# directly followed by a digit, and closes an issue only for a closing keyword spelled as one word,
# so a joiner after the ``@`` or ``#`` or inside the keyword breaks each of them, while the reader
# still sees ``@acme/ml-team`` and ``closes #12`` (and removing the joiners gives the text back).
# Not an HTML entity (``@&#8203;``): entities show as typed inside code spans and in commit messages,
# which are not HTML; and not only code spans: commit messages and squash merges ignore them.
JOINER = "\u2060"

_MENTION = re.compile(r"@(?=[\w-])")  # @user, @org/team (user@host is broken too: harmless)
_REFERENCE = re.compile(r"#(?=\d)|(?<![A-Za-z0-9_])gh(?=-\d)", re.IGNORECASE)  # #12, o/r#12, GH-12
# A closing keyword as a word, followed (through spaces, line breaks, colons, Markdown punctuation) by
# what GitHub would read as an issue: #12, GH-12, owner/repo#12, or an issue URL. The keyword alone
# ("fixed seed", a feature named "close") is left alone, so names copied from a report stay as they were.
_KEYWORD = re.compile(
    r"(?<![A-Za-z0-9_])(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?![A-Za-z0-9_])"
    # Bounded owner/repo (GitHub's own limits are 39 and 100) so that no text makes this slow.
    r"(?=\W*(?:#|gh-\d|\w[\w.-]{0,99}/[\w.-]{1,100}#|https?:|www\.|github\.com/))",
    re.IGNORECASE,
)
_LINE_BREAKS = re.compile(r"[\r\n]")
_PIPE = re.compile(r"(\\*)\|")
# What makes a line a block of its own when text starts it: an ATX heading (#), a list item (-, +,
# "1." or "1)"), a setext underline or thematic break (=, -). "*" and ">" are escaped everywhere.
_BLOCK_START = re.compile(r"^[ \t]*(?:(#{1,6}|[=+-])(?=[ \t=+-]|$)|(\d{1,9})([.)])(?=[ \t]|$))")
# Markdown's marks, escaped wherever they are; "_" only where it can open or close emphasis (an "_"
# between two letters or digits never does, so names such as per_class.csv stay as they are).
_MARKUP = re.compile(r"[\\`*~\[|]|_(?![A-Za-z0-9])|(?<![A-Za-z0-9])_")
_CODE_SPAN = re.compile(r"`([^`]+)`")
# Where GitHub starts a link of its own in plain text (an address with a scheme, or www.): a joiner
# before the character that completes the start keeps it text.
_AUTOLINK = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z][A-Za-z0-9+.-]{0,30}:/|www\.)", re.IGNORECASE)


def _escape_pipe(match: re.Match[str]) -> str:
    # GitHub reads any backslash right before a pipe as escaping it; renderers that count backslashes
    # would read an even run as escaped backslashes and split the cell: a joiner keeps the run apart.
    return match.group(1) + (JOINER if match.group(1) else "") + "\\|"


def defang(value: str) -> str:
    """``value`` with every mention, issue reference and closing keyword made inert by a
    :data:`JOINER`; nothing else changes. Idempotent, so safe to apply again to a whole body."""
    value = _KEYWORD.sub(lambda m: m.group(1)[0] + JOINER + m.group(1)[1:], value)
    value = _REFERENCE.sub(lambda m: m.group(0) + JOINER, value)
    return _MENTION.sub("@" + JOINER, value)


def text(value: str) -> str:
    """Prose on one line: :func:`defang`, no HTML (``<``, ``>`` and ``&``, so no entity spells an
    ``@`` either), no link or image (``[`` escaped, and a bare ``https://`` or ``www.`` address is not
    made a link: GitHub would read it raw, backslashes and all), no code span (backticks escaped), no
    emphasis or strikethrough (``*``, ``_``, ``~`` escaped), no line or table break, and nothing that
    would make the line a heading, a list item or an underline when it starts one. Spaces at either
    end are dropped (they show as nothing, and would keep ``*...*`` around it from being emphasis).
    It reads as it was written: every escape is a backslash GitHub removes, an entity it shows as
    the character, or an invisible :data:`JOINER`."""
    return _escape(value, start=True).strip(" \t")


def _escape(value: str, *, start: bool) -> str:
    value = _AUTOLINK.sub(
        lambda m: m.group(0)[:-1] + JOINER + m.group(0)[-1], _LINE_BREAKS.sub(" ", defang(value))
    )
    value = _MARKUP.sub(lambda m: "\\" + m.group(0), value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BLOCK_START.sub(_escape_block_start, value, count=1) if start else value


def _escape_block_start(match: re.Match[str]) -> str:
    lead = match.group(0)[: match.start(1 if match.group(1) else 2) - match.start(0)]
    if match.group(1):
        return f"{lead}\\{match.group(1)}"  # one backslash before the first mark is enough
    return f"{lead}{match.group(2)}\\{match.group(3)}"


def message(value: str, *, table: bool = True) -> str:
    """One of our messages on one line, where a pair of backticks marks a command or a name as code
    (``neither the cache nor the remote holds it; `dvc fetch` it``) and the rest may quote the
    repository (a path, a parser's error): each backtick pair becomes a :func:`code` span, the rest
    :func:`text`. Without this, :func:`text` would escape the backticks and they would show."""
    value = _LINE_BREAKS.sub(" ", value).strip(" \t")
    out: list[str] = []
    last = 0
    for m in _CODE_SPAN.finditer(value):
        out.append(_escape(value[last : m.start()], start=not out))
        out.append(code(m.group(1), table=table))
        last = m.end()
    out.append(_escape(value[last:], start=not out))
    return "".join(out)


def html(value: str) -> str:
    """Text inside our own HTML, such as ``<details><summary>TEXT</summary>``: an HTML block, where
    GitHub reads no Markdown (a backslash would show) but still reads tags, entities and mentions. So:
    :func:`defang`, ``&``, ``<``, ``>`` and ``"`` as entities, one line."""
    value = _LINE_BREAKS.sub(" ", defang(value))
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def plain(value: str) -> str:
    """A pull request or issue title, or a line of a commit message: not Markdown (GitHub shows its
    ``<`` and ``[`` as typed), but mentions, references and closing keywords still count there."""
    return _LINE_BREAKS.sub(" ", defang(value))


def cell(value: str) -> str:
    """Text inside a table cell or a line: :func:`text`, whose pipes never split the row."""
    return text(value)


def code(value: str, *, table: bool = True) -> str:
    """Inline code showing ``value`` verbatim (HTML and Markdown are not read inside a code span):
    the fence is one backtick longer than any run of backticks in it, so it cannot be closed early;
    line breaks become spaces, and :func:`defang` applies (the raw text, backticks and all, may become
    a commit message). In a table (``table``, the default) pipes are escaped, which GitHub shows as
    ``|`` there; anywhere else a backslash in a code span shows, so they are left as they are."""
    body = _LINE_BREAKS.sub(" ", defang(value))
    if table:
        body = _PIPE.sub(_escape_pipe, body)
    if not body:
        return "` `"
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    fence = "`" * (longest + 1)
    # A value starting or ending with a backtick, or with a space at both ends (CommonMark strips one
    # from each side then), needs the padding.
    pad = " " if longest or (body[0] == " " == body[-1] and body.strip()) else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def span(value: str) -> str:
    """:func:`code` outside a table: in a list, an alert, a caption or a heading."""
    return code(value, table=False)
