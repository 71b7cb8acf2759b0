"""dvc.lock read fast: the block YAML DVC writes, parsed line by line, or else by the YAML loader.

``report`` reads the dvc.lock of both revisions (data hashes, what DVC caches), and ruamel.yaml's
pure-Python loader takes about 12 ms for the 100 lines of a three-stage lock: a tenth of a report.
DVC writes its lock files with ruamel's block dumper, so they use a small part of YAML: mappings and
sequences by indentation (a sequence may sit at its key's indentation), plain and quoted one-line
scalars. :func:`load` parses exactly that part and gives up on anything else (flow collections,
anchors and aliases, tags, block scalars, comments, scalars over several lines, tabs, duplicate keys,
a directive, deep nesting, a scalar whose type is not plainly a string, an integer, a float, a
boolean or null), which :func:`mlops_gitops.adapters.datafiles.parse_file` then loads as before (the
alias-bomb guard included). Plain scalars are typed by ruamel's own resolver, as its loader types
them; ``tests/metrics/test_dvclock.py`` checks the two agree, on DVC's own lock files and on
generated ones.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from mlops_gitops.adapters.datafiles import parse_file

if TYPE_CHECKING:  # pragma: no cover
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

_MAX_DEPTH = 50  # far below the loader's own bound; anything deeper is the loader's business
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+")
_KEY = re.compile(r"[A-Za-z0-9_./@+](?:[A-Za-z0-9_./@+ -]*[A-Za-z0-9_./@+-])?")
_SINGLE = re.compile(r"'((?:[^']|'')*)'")
_DOUBLE = re.compile(r'"([^"\\]*)"')
# A plain scalar cannot start with an indicator; `-` and `+` may start a number.
_INDICATORS = frozenset("?:,[]{}#&*!|>'\"%@`")


class _GiveUp(Exception):
    """Not the part of YAML parsed here: the YAML loader reads the text instead."""


def load(text: bytes, path: str, where: str) -> object:
    """dvc.lock's content as the YAML loader gives it (``parse_file(text, path, where)``), faster
    when DVC wrote it."""
    try:
        return _document(text.decode("utf-8-sig"))
    except (_GiveUp, UnicodeDecodeError):
        return parse_file(text, path, where)


Line = tuple[int, str, int]  # (indentation, the rest of the line, its number)


def _document(text: str) -> object:
    if "\t" in text or "\r" in text:
        raise _GiveUp
    lines: list[Line] = []
    for number, raw in enumerate(text.split("\n")):
        line = raw.rstrip(" ")
        content = line.lstrip(" ")
        if not content:
            continue
        if content.startswith(("#", "---", "...", "%")) or not content.isprintable():
            raise _GiveUp
        lines.append((len(line) - len(content), content, number))
    if not lines or lines[0][0] != 0:
        raise _GiveUp
    value, end = _node(lines, 0, 0)
    if end != len(lines):
        raise _GiveUp
    return value


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _node(lines: list[Line], i: int, depth: int) -> tuple[object, int]:
    if depth > _MAX_DEPTH:
        raise _GiveUp
    indent, content, _ = lines[i]
    if _is_item(content):
        return _sequence(lines, i, indent, depth)
    return _mapping(lines, i, indent, depth)


def _mapping(lines: list[Line], i: int, indent: int, depth: int) -> tuple[dict[str, object], int]:
    found: dict[str, object] = {}
    while i < len(lines) and lines[i][0] == indent and not _is_item(lines[i][1]):
        key, rest = _split(lines[i][1])
        if key in found:
            raise _GiveUp  # the loader says what is wrong with a duplicate key
        if rest:
            found[key], i = _scalar_at(lines, i, rest, indent)
            continue
        i += 1
        if i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and _is_item(lines[i][1]))):
            found[key], i = _node(lines, i, depth + 1)
        else:
            found[key] = None
        if i < len(lines) and lines[i][0] > indent:
            raise _GiveUp  # a scalar continued on the next line, or stray indentation
    return found, i


def _sequence(lines: list[Line], i: int, indent: int, depth: int) -> tuple[list[object], int]:
    found: list[object] = []
    while i < len(lines) and lines[i][0] == indent and _is_item(lines[i][1]):
        content = lines[i][1][2:]
        if not content:  # `-` alone: null, or what the lines below it hold
            i += 1
            if i < len(lines) and lines[i][0] > indent:
                nested, i = _node(lines, i, depth + 1)
                found.append(nested)
            else:
                found.append(None)
            continue
        if _is_item(content) or _key_at(content):
            # `- - x` or `- key: value`: a sequence or mapping two columns further in (the list is ours).
            lines[i] = (indent + 2, content, lines[i][2])
            nested, i = _node(lines, i, depth + 1)
            found.append(nested)
            continue
        scalar, i = _scalar_at(lines, i, content, indent)
        found.append(scalar)
    return found, i


def _scalar_at(lines: list[Line], i: int, text: str, indent: int) -> tuple[object, int]:
    """The scalar ``text`` that starts line ``i``, with the lines that continue it (more indented,
    none blank in between: DVC's dumper wraps long plain scalars so), joined by spaces as YAML folds
    them; and the line after it."""
    pieces = [text]
    number = lines[i][2]
    quoted = text[0] in "'\""
    i += 1
    while i < len(lines) and lines[i][0] > indent:
        piece, at = lines[i][1], lines[i][2]
        if at != number + 1:
            raise _GiveUp  # a blank line between: a line break kept, not folded
        if not quoted and (piece[0] in _INDICATORS or piece[:2] == "- "):
            raise _GiveUp
        pieces.append(piece)
        number = at
        i += 1
    # Each line's leading and trailing spaces go, each line break becomes one space (YAML's folding).
    return _scalar(" ".join(pieces)), i


def _key_at(content: str) -> bool:
    return ": " in content or content.endswith(":")


def _split(content: str) -> tuple[str, str]:
    if content.endswith(":") and ": " not in content:
        key, rest = content[:-1], ""
    elif ": " in content:
        key, rest = content.split(": ", 1)
        rest = rest.lstrip(" ")
    else:
        raise _GiveUp
    if not _KEY.fullmatch(key) or _tag(key) != "str":
        raise _GiveUp  # a quoted or typed key (`1:`, `true:`): the loader's business
    return key, rest


def _scalar(text: str) -> object:
    if text in ("[]", "{}"):  # the dumper writes an empty list or mapping so
        return [] if text == "[]" else {}
    if text[0] == "'":
        single = _SINGLE.fullmatch(text)
        if single is None:
            raise _GiveUp
        return single.group(1).replace("''", "'")
    if text[0] == '"':
        double = _DOUBLE.fullmatch(text)
        if double is None:
            raise _GiveUp  # escapes
        return double.group(1)
    if text[0] in _INDICATORS or (text[0] == "-" and text[1:2] in ("", " ")):
        raise _GiveUp
    if " #" in text or ": " in text or text.endswith(":"):
        raise _GiveUp
    tag = _tag(text)
    if tag == "str":
        return text
    if tag == "int" and _INT.fullmatch(text):
        return int(text)
    if tag == "float" and _FLOAT.fullmatch(text):
        return float(text)
    if tag == "bool":
        return text in ("true", "True", "TRUE")
    if tag == "null" and text in ("~", "null", "Null", "NULL"):
        return None
    raise _GiveUp  # octal, hexadecimal, underscores, infinities, timestamps, merge keys...


def _tag(text: str) -> str:
    """The type ruamel's loader gives a plain scalar: ``str``, ``int``, ``float``, ``bool``..."""
    resolver, scalar = _resolver()
    return str(resolver.resolve(scalar, text, (True, False))).rsplit(":", 1)[-1]


@functools.cache
def _resolver() -> tuple[VersionedResolver, type[ScalarNode]]:
    """ruamel's resolver for YAML 1.2, as its loader uses it (no %YAML directive: given up on)."""
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver(), ScalarNode
