"""Byte-minimal editing of one scalar in a YAML file.

GitOps bots that load a YAML file, change a value and dump it again rewrite the whole file: comments
move, indentation shifts, block scalars collapse, ``---`` disappears, blank lines pile up. Here the
parser is used only to *find* the scalar; the new value is spliced into the original string, and
everything else stays byte-identical. The result is re-parsed and compared event by event with the
original before it is returned, so a wrong splice is an error, never a silently corrupted file.

Paths are dotted: ``spec.predictor.model.storageUri``, list items by index
(``spec.containers.0.image``), keys containing dots quoted (``metadata.annotations."example.com/x"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops_gitops.errors import YamlEditError

if TYPE_CHECKING:  # pragma: no cover
    from ruamel.yaml import YAML
    from ruamel.yaml.events import Event

__all__ = ["YamlEditError", "get_scalar", "set_scalar"]


_STR = "tag:yaml.org,2002:str"
# Characters YAML allows unescaped in a document (YAML 1.2 c-printable minus the BOM).
_PRINTABLE = re.compile("[\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*")
_BLOCK_HEADER = re.compile(r"[|>](?:[1-9][-+]?|[-+][1-9]?)?")
_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class _Node:
    kind: str  # "scalar" | "map" | "seq" | "alias"
    event: int  # index of the node's (start) event in the stream
    start: int
    end: int
    line: int  # 1-based
    col: int  # 1-based
    anchor: str | None = None
    tag: str | None = None
    value: str = ""
    style: str | None = None
    flow: bool = False
    items: list[_Node] = field(default_factory=list)
    pairs: list[tuple[_Node, _Node]] = field(default_factory=list)
    target: _Node | None = None  # what an alias refers to


@dataclass
class _Doc:
    root: _Node | None
    version: tuple[int, int] | None


def _where(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def _fail(source: str, line: int | None, col: int | None, path: str, message: str) -> YamlEditError:
    where = source
    if line is not None:
        where += f":{line}"
        if col is not None:
            where += f":{col}"
    prefix = f"{where}: {path}: " if path else f"{where}: "
    return YamlEditError(prefix + message)


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    # The pure-Python parser: its marks are character offsets into the string we splice.
    return YAML(typ="safe", pure=True)


def _events(text: str, source: str) -> list[Event]:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    from mlops_gitops.adapters.yamlsafe import guard

    try:
        # The edit never expands aliases, but what reads the file after us (Argo CD, Flux, Helm)
        # does: a deployment file whose aliases recurse or explode is refused before it is touched.
        guard(text, source)
        return list(_yaml().parse(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        if mark is None:
            raise _fail(source, None, None, "", f"invalid YAML: {problem}") from None
        raise _fail(source, mark.line + 1, mark.column + 1, "", f"invalid YAML: {problem}") from None
    except ReaderError as exc:
        line, col = _where(text, exc.position)
        raise _fail(
            source, line, col, "", f"invalid YAML: unacceptable character {exc.character!r}"
        ) from None
    except YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise _fail(source, None, None, "", f"invalid YAML: {first}") from None


def _tag(ev: Event) -> str | None:
    tag = getattr(ev, "tag", None)
    return None if tag is None else str(tag)


def _build(events: list[Event], text: str, source: str) -> list[_Doc]:
    """Turn the event stream into documents of light nodes that keep aliases visible."""
    from ruamel.yaml import events as ev_mod

    docs: list[_Doc] = []
    anchors: dict[str, _Node] = {}
    stack: list[tuple[_Node, list[_Node]]] = []  # open collections and, for maps, their pending key
    root: list[_Node] = []
    version: tuple[int, int] | None = None

    def node_for(i: int, ev: Event, kind: str) -> _Node:
        start = ev.start_mark.index
        return _Node(
            kind=kind,
            event=i,
            start=start,
            end=ev.end_mark.index,
            line=ev.start_mark.line + 1,
            col=ev.start_mark.column + 1,
            anchor=getattr(ev, "anchor", None) if kind != "alias" else None,
            tag=_tag(ev),
        )

    def attach(node: _Node) -> None:
        if not stack:
            root.append(node)
            return
        parent, pending = stack[-1]
        if parent.kind == "seq":
            parent.items.append(node)
        elif pending:
            parent.pairs.append((pending.pop(), node))
        else:
            pending.append(node)

    for i, ev in enumerate(events):
        if isinstance(ev, ev_mod.DocumentStartEvent):
            root = []
            anchors = {}
            version = tuple(ev.version) if ev.version else None
        elif isinstance(ev, ev_mod.DocumentEndEvent):
            docs.append(_Doc(root[0] if root else None, version))
        elif isinstance(ev, ev_mod.AliasEvent):
            node = node_for(i, ev, "alias")
            node.anchor = ev.anchor
            node.target = anchors.get(ev.anchor)
            if node.target is None:
                raise _fail(
                    source, node.line, node.col, "", f"invalid YAML: alias *{ev.anchor} has no anchor"
                )
            attach(node)
        elif isinstance(ev, ev_mod.ScalarEvent):
            node = node_for(i, ev, "scalar")
            node.value = ev.value
            node.style = ev.style or None
            if node.anchor:
                anchors[node.anchor] = node
            attach(node)
        elif isinstance(ev, (ev_mod.MappingStartEvent, ev_mod.SequenceStartEvent)):
            kind = "map" if isinstance(ev, ev_mod.MappingStartEvent) else "seq"
            node = node_for(i, ev, kind)
            node.flow = bool(ev.flow_style)
            if node.anchor:
                anchors[node.anchor] = node
            attach(node)
            stack.append((node, []))
        elif isinstance(ev, (ev_mod.MappingEndEvent, ev_mod.SequenceEndEvent)):
            node, _ = stack.pop()
            node.end = ev.end_mark.index
    return docs


# -- paths ------------------------------------------------------------------------------------------


def _split_path(path: str) -> list[str]:
    segs: list[str] = []
    i, n = 0, len(path)
    if not path:
        raise YamlEditError("empty YAML path")
    while True:
        if i < n and path[i] in "\"'":
            quote, i, buf = path[i], i + 1, []
            while True:
                if i >= n:
                    raise YamlEditError(f"{path}: unterminated quote in YAML path")
                ch = path[i]
                if quote == '"' and ch == "\\" and i + 1 < n:
                    buf.append(path[i + 1])
                    i += 2
                elif ch == quote:
                    if quote == "'" and path[i + 1 : i + 2] == "'":
                        buf.append("'")
                        i += 2
                    else:
                        i += 1
                        break
                else:
                    buf.append(ch)
                    i += 1
            segs.append("".join(buf))
            if i < n and path[i] != ".":
                raise YamlEditError(f"{path}: expected '.' after quoted key in YAML path")
        else:
            j = path.find(".", i)
            j = n if j < 0 else j
            seg = path[i:j]
            if not seg:
                raise YamlEditError(f"{path}: empty key in YAML path")
            segs.append(seg)
            i = j
        if i >= n:
            return segs
        i += 1  # the dot
        if i >= n:
            raise YamlEditError(f"{path}: YAML path ends with '.'")


def _fmt_path(segs: list[str]) -> str:
    return ".".join(f'"{s}"' if "." in s else s for s in segs) or "(document root)"


def _through_alias(node: _Node, follow: bool, source: str, path: str, subject: str, what: str) -> _Node:
    """The node an alias stands for; refused when editing, since the edit belongs at the anchor."""
    assert node.target is not None
    if not follow:
        raise _fail(
            source,
            node.line,
            node.col,
            path,
            f"{subject} an alias (*{node.anchor}); edit the anchored {what} at line {node.target.line} instead",
        )
    return node.target


def _describe(node: _Node) -> str:
    return {
        "map": "a mapping",
        "seq": "a sequence",
        "scalar": "a scalar",
        "alias": f"an alias (*{node.anchor})",
    }[node.kind]


class _Missing(Exception):
    def __init__(self, message: str, node: _Node) -> None:
        super().__init__(message)
        self.node = node


def _locate(doc: _Doc, segs: list[str], path: str, source: str, follow_alias: bool) -> _Node:
    """Walk ``segs`` from the document root; raise _Missing when a key/index is absent."""
    node = doc.root
    if node is None:
        raise _Missing("the document is empty", _Node("scalar", 0, 0, 0, 1, 1))
    for depth, seg in enumerate(segs):
        here = _fmt_path(segs[:depth])
        if node.kind == "alias":
            node = _through_alias(node, follow_alias, source, path, f"'{here}' is", "node")
        if node.kind == "map":
            hits = [v for k, v in node.pairs if k.kind == "scalar" and k.value == seg]
            if len(hits) > 1:
                raise _fail(source, node.line, node.col, path, f"key '{seg}' appears {len(hits)} times")
            if not hits:
                merge = any(k.kind == "scalar" and k.value == "<<" for k, _ in node.pairs)
                extra = " (a merge key '<<' may define it; edit the merged mapping instead)" if merge else ""
                raise _Missing(f"no key '{seg}' in the mapping '{here}' at line {node.line}{extra}", node)
            node = hits[0]
        elif node.kind == "seq":
            if not seg.isdigit():
                raise _fail(
                    source, node.line, node.col, path, f"'{here}' is a sequence; '{seg}' is not an index"
                )
            index = int(seg)
            if index >= len(node.items):
                raise _Missing(
                    f"index {index} out of range: the sequence '{here}' at line {node.line} "
                    f"has {len(node.items)} items",
                    node,
                )
            node = node.items[index]
        else:
            raise _fail(
                source,
                node.line,
                node.col,
                path,
                f"'{here}' is {_describe(node)}, not a mapping or sequence, so it has no key '{seg}'",
            )
    if node.kind == "alias":
        node = _through_alias(node, follow_alias, source, path, "the value is", "value")
    return node


def _document(docs: list[_Doc], document: int, path: str, source: str) -> _Doc | None:
    if document < 0:
        raise YamlEditError(f"{source}: {path}: document index must be >= 0, got {document}")
    return docs[document] if document < len(docs) else None


# -- public API -------------------------------------------------------------------------------------


def get_scalar(text: str, path: str, document: int = 0, *, source: str = "<yaml>") -> str | None:
    """The string value of the scalar at ``path`` (aliases followed), or None when it is absent.

    An empty value (``tag:``) reads as ``""`` and ``tag: null`` as ``"null"``: the text as written,
    so comparing it with the value ``set_scalar`` would write tells whether an edit is needed.
    """
    segs = _split_path(path)
    docs = _build(_events(text, source), text, source)
    doc = _document(docs, document, path, source)
    if doc is None:
        return None
    try:
        node = _locate(doc, segs, path, source, follow_alias=True)
    except _Missing:
        return None
    if node.kind != "scalar":
        raise _fail(source, node.line, node.col, path, f"is {_describe(node)}, not a scalar")
    return node.value


def set_scalar(text: str, path: str, value: str, document: int = 0, *, source: str = "<yaml>") -> str:
    """Return ``text`` with only the bytes of the scalar at ``path`` replaced by ``value``.

    The scalar keeps its style where the value allows it (plain, single- or double-quoted, literal or
    folded block); a plain scalar whose new value would not read back as that string (``1.10``,
    ``yes``, ``a: b``, ``""``) is double-quoted. ``source`` only names the file in error messages.
    """
    if not isinstance(value, str):
        raise YamlEditError(f"{source}: {path}: the new value must be a string, got {type(value).__name__}")
    segs = _split_path(path)
    events = _events(text, source)
    docs = _build(events, text, source)
    doc = _document(docs, document, path, source)
    if doc is None:
        raise YamlEditError(f"{source}: {path}: no document {document} (the file has {len(docs)})")
    try:
        node = _locate(doc, segs, path, source, follow_alias=False)
    except _Missing as exc:
        raise _fail(source, exc.node.line, exc.node.col, path, str(exc)) from None
    if node.kind != "scalar":
        raise _fail(
            source, node.line, node.col, path, f"is {_describe(node)}, not a scalar; give the path of a value"
        )
    explicit_tag = node.tag is not None
    if node.value == value and (explicit_tag or _reads_as_str(node.value, node.style)):
        return text

    for start, end, replacement in _candidates(text, doc, node, value):
        new_text = text[:start] + replacement + text[end:]
        if _verify(events, new_text, node.event, value):
            return new_text
    raise _fail(
        source,
        node.line,
        node.col,
        path,
        f"cannot write {_short(value)} here without changing other data; edit this value by hand",
    )


def _short(value: str) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


# -- rendering --------------------------------------------------------------------------------------


def _plain_spellable(value: str) -> bool:
    """Could ``value`` be a one-line plain scalar at all (the parse check decides the context)."""
    if not value or value != value.strip(" \t") or any(c in value for c in "\r\n\x85\u2028\u2029\ufeff"):
        return False
    return bool(_PRINTABLE.fullmatch(value))


def _plain_is_str(value: str) -> bool:
    """True when ``value`` written plain reads back as that string under YAML 1.1 and 1.2.

    Kubernetes and Helm read YAML 1.1 (``yes``/``on`` are booleans), ruamel reads 1.2 by default;
    a plain value must be a string to both.
    """
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    if not _plain_spellable(value):
        return False
    for version in ((1, 1), (1, 2)):
        tag = VersionedResolver(version=version).resolve(ScalarNode, value, (True, False))
        if str(tag) != _STR:
            return False
    return True


def _reads_as_str(value: str, style: str | None) -> bool:
    return style is not None or _plain_is_str(value)


_ESCAPES = {
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
    "\ufeff": "\\uFEFF",
}


def _double(value: str) -> str:
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _PRINTABLE.fullmatch(ch) and ch not in "\t\n\r":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02X}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    return '"' + "".join(out) + '"'


def _single_ok(value: str) -> bool:
    return bool(_PRINTABLE.fullmatch(value)) and not any(c in value for c in "\n\r\x85\u2028\u2029\ufeff")


def _single(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quoted(value: str) -> list[str]:
    """Quoted renderings in order of preference: double unless the value is full of ``"`` or ``\\``."""
    if _single_ok(value) and ('"' in value or "\\" in value):
        return [_single(value), _double(value)]
    return [_double(value)]


def _skip_props(text: str, pos: int, end: int) -> int:
    """Skip an anchor and/or tag (and the space, line breaks or comments after them) before a scalar."""
    while pos < end and text[pos] in "&!":
        while pos < end and text[pos] not in " \t\r\n":
            pos += 1
        while pos < end:
            if text[pos] in " \t\r\n":
                pos += 1
            elif text[pos] == "#":
                while pos < end and text[pos] not in "\r\n":
                    pos += 1
            else:
                break
    return pos


def _skip_to_indicator(text: str, pos: int, indicators: str) -> int | None:
    """From ``pos``, skip blanks and comments; return the index after the indicator found, if any."""
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch in " \t\r\n":
            pos += 1
        elif ch == "#":
            while pos < n and text[pos] not in "\r\n":
                pos += 1
        elif ch in indicators:
            return pos + 1
        else:
            return None
    return None


def _parent_of(doc: _Doc, node: _Node) -> tuple[_Node | None, _Node | None]:
    """The collection holding ``node`` and the node just before it there (its key, or previous item)."""

    def walk(cur: _Node) -> Iterator[tuple[_Node, _Node | None, _Node]]:
        if cur.kind == "map":
            for k, v in cur.pairs:
                yield cur, k, v
                yield from walk(k)
                yield from walk(v)
        elif cur.kind == "seq":
            prev: _Node | None = None
            for item in cur.items:
                yield cur, prev, item
                yield from walk(item)
                prev = item

    if doc.root is None:
        return None, None
    for parent, before, child in walk(doc.root):
        if child is node:
            return parent, before
    return None, None


def _candidates(text: str, doc: _Doc, node: _Node, value: str) -> Iterator[tuple[int, int, str]]:
    start = _skip_props(text, node.start, node.end)
    end = node.end
    # With an explicit tag (`!!str 1`) the tag, not the spelling, decides the type.
    plain = _plain_spellable(value) if node.tag is not None else _plain_is_str(value)
    if node.style in ("|", ">"):
        yield from _block_candidates(text, node, start, value)
        for q in _quoted(value):
            yield start, _block_span_end(text, start, node.end), q
        return
    if start >= end:  # an empty (null) value: insert after the ':' or '-' that introduces it
        if start > node.start:  # only an anchor or tag was written: put the value after it
            sep = "" if text[start - 1 : start] in (" ", "\t") else " "
            at = start
        else:
            parent, before = _parent_of(doc, node)
            if parent is None:
                found = None
            elif parent.kind == "map":
                found = _skip_to_indicator(text, before.end if before else parent.start, ":")
            else:
                found = _skip_to_indicator(text, before.end if before else parent.start, "-[,")
            if found is None:
                return
            at, sep = found, " "
        if plain:
            yield at, at, sep + value
        for q in _quoted(value):
            yield at, at, sep + q
        return
    if node.style is None and plain:
        yield start, end, value
    if node.style == "'" and _single_ok(value):
        yield start, end, _single(value)
    if node.style == '"':
        yield start, end, _double(value)
    else:
        for q in _quoted(value):
            yield start, end, q


def _line_end(text: str, pos: int) -> int:
    m = _BREAK.search(text, pos)
    return m.start() if m else len(text)


def _block_span_end(text: str, start: int, event_end: int) -> int:
    """End of a block scalar's last non-blank content line (its header line if it has no content)."""
    header_end = _line_end(text, start)
    region = text[header_end:event_end]
    stripped = region.rstrip(" \t\r\n")
    if not stripped.strip():
        return header_end
    return header_end + len(stripped)


def _block_candidates(text: str, node: _Node, start: int, value: str) -> Iterator[tuple[int, int, str]]:
    header = _BLOCK_HEADER.match(text, start)
    if header is None:
        return
    header_end_chars = header.end()
    line_end = _line_end(text, start)
    header_rest = text[header_end_chars:line_end]
    brk = _BREAK.match(text, line_end)
    nl = brk.group(0) if brk else "\n"
    span_end = _block_span_end(text, start, node.end)
    trailing_breaks = len(_BREAK.findall(text[span_end : node.end]))

    content = [ln for ln in _BREAK.split(text[line_end:span_end])[1:] if ln.strip(" \t")]
    if content:
        indent = min(len(ln) - len(ln.lstrip(" ")) for ln in content)
    else:
        line_start = text.rfind("\n", 0, start) + 1
        lead = re.match(r"[ -]*", text[line_start:start])
        indent = (len(lead.group(0)) if lead else 0) + 2
    line_start = text.rfind("\n", 0, start) + 1
    line_indent = len(text[line_start:start]) - len(text[line_start:start].lstrip(" "))

    if not _PRINTABLE.fullmatch(value) or any(c in value for c in "\r\x85\u2028\u2029\ufeff"):
        return
    body = value.rstrip("\n")
    t = len(value) - len(body)
    if not body and t:
        return
    extra = 0
    if t == 0:
        chomp = "-"
    elif t == 1 and trailing_breaks >= 1:
        chomp = ""
    else:
        chomp, extra = "+", t - trailing_breaks
        if extra < 0:
            return

    styles = [text[start]] + (["|"] if text[start] == ">" else [])
    for style in styles:
        lines = _literal_lines(body) if style == "|" else _folded_lines(body)
        pad = " " * indent
        rendered = nl.join([""] + [pad + ln if ln else "" for ln in lines]) + nl * extra
        needs_indicator = _needs_indent_indicator(lines)
        if not needs_indicator:
            yield start, span_end, style + chomp + header_rest + rendered
        else:
            guesses = [indent - line_indent] + [m for m in range(1, 10) if m != indent - line_indent]
            for m in guesses:
                if 1 <= m <= 9:
                    yield start, span_end, f"{style}{m}{chomp}{header_rest}{rendered}"


def _needs_indent_indicator(lines: list[str]) -> bool:
    """A parser guesses a block's indentation from its first non-blank line; say when it would guess wrong."""
    for ln in lines:
        if ln.strip(" "):
            return ln.startswith(" ")
        if ln:  # spaces only, before any text: longer than the indentation it is an error
            return True
    return False


def _literal_lines(body: str) -> list[str]:
    return body.split("\n") if body else []


def _folded_lines(body: str) -> list[str]:
    """Lines that a folded (``>``) scalar reads back as ``body``.

    A single line break between two lines that do not start with white space folds into a space, so
    such a break is written as an empty line; breaks next to indented lines are kept as they are.
    """
    if not body:
        return []
    parts = body.split("\n")
    out: list[str] = []
    i = 0
    while i < len(parts) and parts[i] == "":
        out.append("")
        i += 1
    prev = parts[i]
    out.append(prev)
    i += 1
    while i < len(parts):
        k = 1
        while parts[i] == "":
            k += 1
            i += 1
        nxt = parts[i]
        spaced = prev[:1] in (" ", "\t") or nxt[:1] in (" ", "\t")
        out.extend([""] * (k - 1 if spaced else k))
        out.append(nxt)
        prev = nxt
        i += 1
    return out


# -- verification -----------------------------------------------------------------------------------


def _event_key(ev: Event) -> tuple[object, ...]:
    from ruamel.yaml import events as e

    # By exact class, as the names were compared before: a subclass is another kind of event.
    name = type(ev).__name__
    if type(ev) is e.ScalarEvent:
        return (name, ev.anchor, _tag(ev), tuple(ev.implicit), ev.value, ev.style or None)
    if type(ev) is e.MappingStartEvent or type(ev) is e.SequenceStartEvent:
        return (name, ev.anchor, _tag(ev), ev.implicit, bool(ev.flow_style))
    if type(ev) is e.AliasEvent:
        return (name, ev.anchor)
    if type(ev) is e.DocumentStartEvent:
        return (name, ev.explicit, ev.version, ev.tags)
    if type(ev) is e.DocumentEndEvent:
        return (name, ev.explicit)
    return (name,)


def _verify(old: list[Event], new_text: str, target: int, value: str) -> bool:
    """True when ``new_text`` parses to the same events as before except the target's value."""
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import NodeEvent, ScalarEvent

    try:
        new = list(_yaml().parse(new_text))
    except YAMLError:  # a candidate spelling that does not parse is rejected
        return False
    if len(new) != len(old):
        return False
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        if i != target:
            if _event_key(a) != _event_key(b):
                return False
            continue
        if (
            type(b) is not ScalarEvent
            or b.value != value
            or not isinstance(a, NodeEvent)  # the target is the scalar the edit found: always one
            or b.anchor != a.anchor
            or _tag(b) != _tag(a)
        ):
            return False
        if _tag(b) is None and not _reads_as_str(b.value, b.style or None):
            return False
    return True
