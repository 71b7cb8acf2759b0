"""GitHub Actions ``paths`` filter semantics, so `mlops-gitops changed` agrees with ``on.push.paths``.

The same patterns are written into the training workflow's ``on.push.paths`` and evaluated here for
pull requests, so both must say the same thing about a file. GitHub's filter syntax is not fnmatch
nor gitignore:

- ``*`` matches any run of characters except ``/``; ``**`` matches any run including ``/``, and
  ``**/`` may match no directory at all (``**/README.md`` matches ``README.md``);
- ``?`` and ``+`` are quantifiers on the PRECEDING character (``*.jsx?`` matches ``a.js`` and
  ``a.jsx``; ``file+.txt`` matches ``fileee.txt``);
- ``[...]`` is a character class of listed characters and ranges; ``\\`` escapes the next character;
- a pattern starting with ``!`` excludes what earlier patterns included, and a later positive pattern
  can include it again: the last pattern that matches a path decides.

Matching is case-sensitive and on the whole path, relative to the repository root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Pattern:
    text: str
    negated: bool
    regex: re.Pattern[str]


def _translate(glob: str) -> str:
    out: list[str] = []
    i = 0
    n = len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                i += 2
                if glob.startswith("/", i):
                    # "**/" may stand for no directory at all.
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c in "?+":
            # A quantifier on the preceding atom; at the very start GitHub ignores it.
            if out:
                out.append(c)
        elif c == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : end]
                members = re.sub(r"([\\\]^])", r"\\\1", body)
                out.append(f"[{members}]" if body else re.escape("[]"))
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def compile_pattern(text: str) -> Pattern:
    negated = text.startswith("!")
    body = text[1:] if negated else text
    try:
        regex = re.compile(rf"(?s:{_translate(body)})\Z")
    except re.error:
        # A malformed class or quantifier: match the text literally rather than fail the run.
        regex = re.compile(re.escape(body) + r"\Z")
    return Pattern(text, negated, regex)


def matches(path: str, patterns: Sequence[str]) -> bool:
    """Would a change to ``path`` trigger a workflow whose ``paths`` filter is ``patterns``?"""
    included = False
    for text in patterns:
        pattern = compile_pattern(text)
        if pattern.negated:
            if included and pattern.regex.match(path):
                included = False
        elif not included and pattern.regex.match(path):
            included = True
    return included


def matching(paths: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """The subset of ``paths`` that the filter selects, in input order."""
    return [p for p in paths if matches(p, patterns)]
