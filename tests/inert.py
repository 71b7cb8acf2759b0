"""What "inert" means for text we send to GitHub, for the markup unit tests and the hostile end-to-end
tests: no mention, issue reference or closing keyword GitHub would act on in the raw text (a squash
merge or a commit message reads it raw), and, rendered as GitHub-flavoured Markdown, no HTML but our
own and no link or image."""

from __future__ import annotations

import re
from typing import Any

from mlops_gitops.reporters.markup import JOINER

# GitHub's own patterns, written from its documentation rather than from markup.py: a login or a team
# after "@"; "#12", "owner/repo#12", "GH-12"; a closing keyword, an optional colon, then an issue.
MENTION = re.compile(r"(?:^|[^A-Za-z0-9_])@[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9_.-]+)?")
REFERENCE = re.compile(r"(?:[\w.-]+/[\w.-]+)?#\d+|\bGH-\d+", re.IGNORECASE)
CLOSING = re.compile(
    r"\b(?:close|closes|closed|fix|fixes|fixed|resolve|resolves|resolved)\b\s*:?\s*"
    r"(?:#\d+|[\w.-]+/[\w.-]+#\d+|GH-\d+|https?://\S+)",
    re.IGNORECASE,
)

# Our own HTML: the hidden marker on the first line, and the <details> around long tables.
OURS = re.compile(
    r"<!-- mlops-gitops:[a-z-]+ [^<>]*-->\n?|<details><summary>[^<>]*</summary>\n?|</details>\n?"
)


def live(text: str) -> list[str]:
    """What GitHub would act on in ``text``, read raw: mentions, references, closing keywords."""
    return [m.group(0) for p in (MENTION, REFERENCE, CLOSING) for m in p.finditer(text)]


def _markdown() -> Any:
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # pragma: no cover - markdown-it-py comes with rich, which dvc needs
        return None
    return MarkdownIt("gfm-like").disable("linkify")


MARKDOWN = _markdown()


def _walk(tokens: list[Any]) -> list[Any]:
    out = []
    for token in tokens:
        out.append(token)
        out += _walk(token.children or [])
    return out


def rendered_problems(markdown: str) -> list[str]:
    """HTML that is not ours, links and images, in ``markdown`` rendered as GitHub-flavoured Markdown."""
    if MARKDOWN is None:  # pragma: no cover
        return []
    problems = []
    for token in _walk(MARKDOWN.parse(markdown)):
        if token.type in ("html_inline", "html_block") and OURS.sub("", token.content).strip():
            problems.append(f"HTML {token.content!r}")
        elif token.type in ("link_open", "image"):
            problems.append(f"{token.type} {token.attrs}")
    return problems


def visible(markdown: str) -> str:
    """The text a reader sees (text and code spans), joiners removed: what must still be readable."""
    if MARKDOWN is None:  # pragma: no cover
        return markdown.replace(JOINER, "")
    kinds = ("text", "code_inline", "code_block", "fence")
    return "".join(t.content for t in _walk(MARKDOWN.parse(markdown)) if t.type in kinds).replace(JOINER, "")


def problems(markdown: str) -> list[str]:
    """Everything wrong with a body we send: live text, foreign HTML, links, images."""
    return live(markdown) + rendered_problems(markdown)
