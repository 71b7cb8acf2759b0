"""The YAML scalar editor changes one value and not one other byte.

Golden cases reproduce the file shapes GitOps bots broke (see each case's ``edit.json``); the property
test throws random documents, dumped in many styles, at it.
"""

from __future__ import annotations

import copy
import difflib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from mlops_gitops.delivery.yamledit import YamlEditError, get_scalar, set_scalar
from mlops_gitops.errors import UsageError

GOLDEN = Path(__file__).parent / "yamledit_golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def _read(path: Path) -> str:
    # Bytes, not read_text: keep CRLF and the BOM exactly as stored.
    return path.read_bytes().decode("utf-8")


def _changed_lines(before: str, after: str) -> list[str]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    return [ln for ln in difflib.unified_diff(a, b, n=0) if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]


def _load_all(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=True).load_all(text))


@pytest.mark.parametrize("case", CASES)
def test_golden_edit_changes_only_the_scalar(case: str) -> None:
    src = _read(GOLDEN / case / "input.yaml")
    expected = _read(GOLDEN / case / "expected.yaml")
    edit = json.loads((GOLDEN / case / "edit.json").read_text(encoding="utf-8"))

    out = set_scalar(src, edit["path"], edit["value"], edit["document"])

    assert out == expected
    changed = _changed_lines(src, out)
    assert len(changed) == 2 * edit["changed_lines"], "".join(changed)
    assert get_scalar(out, edit["path"], edit["document"]) == edit["value"]
    # Setting the value that is already there is a no-op, so reruns of promote never churn.
    assert set_scalar(out, edit["path"], edit["value"], edit["document"]) == out


def test_golden_cases_cover_every_reported_bot_bug() -> None:
    reported = " ".join(
        json.loads((GOLDEN / c / "edit.json").read_text(encoding="utf-8")).get("reported_in", "")
        for c in CASES
    )
    for issue in ("flux2#1441", "#528", "#616", "flux2#4435", "#1283", "#884"):
        assert issue in reported


def test_numeric_looking_tag_is_quoted_so_helm_reads_a_string() -> None:
    out = set_scalar("image:\n  tag: v1\n", "image.tag", "1.10")
    assert out == 'image:\n  tag: "1.10"\n'
    assert _load_all(out)[0]["image"]["tag"] == "1.10"


@pytest.mark.parametrize(
    "value", ["yes", "on", "null", "~", "0o17", "2024-01-01", "-", "*a", "&a", "!x", "@x", ""]
)
def test_values_that_would_change_type_or_syntax_are_quoted(value: str) -> None:
    out = set_scalar("a: x  # keep\nb: 2\n", "a", value)
    assert out.endswith("  # keep\nb: 2\n")
    assert _load_all(out)[0] == {"a": value, "b": 2}


def test_single_and_double_quoted_values_keep_their_quotes_and_escape() -> None:
    assert set_scalar("a: 'x'\n", "a", "it's") == "a: 'it''s'\n"
    assert set_scalar('a: "x"\n', "a", 'say "hi"\\') == 'a: "say \\"hi\\"\\\\"\n'
    assert set_scalar('a: "x"\n', "a", "tab\there\nnew") == 'a: "tab\\there\\nnew"\n'
    # A single-quoted scalar cannot hold a line break readably: it becomes double-quoted.
    assert set_scalar("a: 'x'\n", "a", "l1\nl2") == 'a: "l1\\nl2"\n'


def test_literal_block_keeps_style_indentation_and_header_comment() -> None:
    src = "spec:\n  script: |  # run me\n      echo a\n      echo b\n  next: 1\n"
    out = set_scalar(src, "spec.script", "echo c\necho d\necho e\n")
    assert out == "spec:\n  script: |  # run me\n      echo c\n      echo d\n      echo e\n  next: 1\n"


def test_block_chomping_follows_the_value() -> None:
    src = "a: |\n  x\nb: 1\n"
    assert set_scalar(src, "a", "y") == "a: |-\n  y\nb: 1\n"
    assert _load_all(set_scalar(src, "a", "y\n\n"))[0] == {"a": "y\n\n", "b": 1}


def test_block_with_leading_spaces_gets_an_indentation_indicator() -> None:
    out = set_scalar("k:\n  a: |\n    x\n  b: 1\n", "k.a", "  indented\nnot\n")
    assert _load_all(out)[0] == {"k": {"a": "  indented\nnot\n", "b": 1}}
    assert out.endswith("  b: 1\n") and "|" in out


def test_folded_block_reads_back_exactly() -> None:
    src = "a: >\n  old text\n  folded\nb: 1\n"
    value = "one long line that must stay one line\nsecond paragraph\n\n  indented\nlast\n"
    out = set_scalar(src, "a", value)
    assert out.startswith("a: >\n")
    assert _load_all(out)[0] == {"a": value, "b": 1}


def test_set_through_anchor_changes_aliases_too_but_not_their_text() -> None:
    src = "base: &tag v1\nother: *tag\n"
    out = set_scalar(src, "base", "v2")
    assert out == "base: &tag v2\nother: *tag\n"
    assert get_scalar(out, "other") == "v2"


def test_multi_document_index_counts_documents() -> None:
    src = "# head\n---\na: 1\n---\na: 2\n...\n---\na: 3\n"
    assert set_scalar(src, "a", "x", document=2) == "# head\n---\na: 1\n---\na: 2\n...\n---\na: x\n"
    assert get_scalar(src, "a", document=1) == "2"
    assert get_scalar(src, "a", document=3) is None


def test_get_scalar_reads_values_and_reports_absence() -> None:
    src = 'spec:\n  containers:\n    - image: "r/a:1"\n  empty:\n  nul: null\nm:\n  "x.y": z\n'
    assert get_scalar(src, "spec.containers.0.image") == "r/a:1"
    assert get_scalar(src, "spec.empty") == ""
    assert get_scalar(src, "spec.nul") == "null"
    assert get_scalar(src, 'm."x.y"') == "z"
    assert get_scalar(src, "spec.containers.1.image") is None
    assert get_scalar(src, "spec.missing.deeper") is None


def test_yaml_edit_error_is_a_usage_error() -> None:
    assert issubclass(YamlEditError, UsageError)
    assert YamlEditError("x").exit_code == 2


@pytest.mark.parametrize(
    ("src", "path", "message"),
    [
        (
            "spec:\n  predictor:\n    x: 1\n",
            "spec.predictor.model.storageUri",
            "spec.predictor.model.storageUri: no key 'model' in the mapping 'spec.predictor' at line 3",
        ),
        ("a:\n  - 1\n  - 2\n", "a.5", "index 5 out of range: the sequence 'a' at line 2 has 2 items"),
        ("a:\n  b: 1\n", "a", "a: is a mapping, not a scalar"),
        ("a: [1]\n", "a", "is a sequence, not a scalar"),
        ("a: &x {b: 1}\nc: *x\n", "c.b", "'c' is an alias (*x); edit the anchored node at line 1 instead"),
        ("a: &x 1\nc: *x\n", "c", "the value is an alias (*x); edit the anchored value at line 1"),
        ("a: 1\n", "a.b", "'a' is a scalar, not a mapping or sequence"),
        ("a: [1, 2\nb: 1\n", "a", "<yaml>:2:2: invalid YAML"),
        ("a: b: c\n", "a", "<yaml>:1:5: invalid YAML"),
        ("a: 1\n", "a..b", "empty key"),
        ("a: 1\na: 2\n", "a", "key 'a' appears 2 times"),
        ("base: &b {tag: v1}\napp:\n  <<: *b\n", "app.tag", "a merge key '<<' may define it"),
        ("a: 1\n", "a", None),
    ],
)
def test_errors_name_path_and_line(src: str, path: str, message: str | None) -> None:
    if message is None:
        with pytest.raises(YamlEditError, match="no document 1"):
            set_scalar(src, path, "v", document=1)
        return
    with pytest.raises(YamlEditError) as info:
        set_scalar(src, path, "v")
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_error_names_the_source_file() -> None:
    with pytest.raises(YamlEditError, match=r"^deploy/isvc\.yaml:2:3: spec\.x: no key 'x'"):
        set_scalar("spec:\n  y: 1\n", "spec.x", "v", source="deploy/isvc.yaml")


# -- property test ----------------------------------------------------------------------------------

_TRICKY = [
    "1.10",
    "yes",
    "no",
    "null",
    "",
    " ",
    "~",
    "a: b",
    "#x",
    "x #y",
    "- x",
    "{a}",
    "[1]",
    "it's",
    'a "q"',
    "line1\nline2\n",
    "line1\nline2",
    "\ttab",
    "ü🚀",
    "2024-01-01",
    "0x1F",
    "=",
    "\\",
    "trailing ",
    "@at",
    "x" * 120,
    "a\n\nb\n\n",
    "  lead\nx\n",
    "\n\nstart",
    "%percent",
    "`tick",
    "?q",
    ":c",
    "|",
    ">",
]
_values = st.one_of(st.sampled_from(_TRICKY), st.text(max_size=30))
_keys = st.one_of(
    st.text(alphabet="abcxyz-_./ 0123456789", min_size=1, max_size=8),
    st.sampled_from(["image", "tag", "1", "a.b"]),
)
_leaf = st.one_of(
    _values,
    st.integers(-1000, 1000),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_tree = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4), st.dictionaries(_keys, children, min_size=1, max_size=4)
    ),
    max_leaves=12,
)


def _styled(data: Any, draw: Any) -> Any:
    """Wrap ``data`` in ruamel's round-trip types with randomly chosen styles."""
    if isinstance(data, dict):
        out: Any = CommentedMap((k, _styled(v, draw)) for k, v in data.items())
        if draw(st.integers(0, 4)) == 0:
            out.fa.set_flow_style()
        else:
            for k in data:
                if draw(st.integers(0, 2)) == 0:
                    out.yaml_add_eol_comment(
                        draw(st.sampled_from(["# note", "#\ttab: x", "# ü 'q' \"d\""])), k
                    )
        return out
    if isinstance(data, list):
        out = CommentedSeq(_styled(v, draw) for v in data)
        if draw(st.integers(0, 4)) == 0:
            out.fa.set_flow_style()
        return out
    if isinstance(data, str):
        kind = draw(st.integers(0, 5))
        printable = all(c == "\n" or c.isprintable() for c in data) and "\n" in data
        if kind == 1:
            return DoubleQuotedScalarString(data)
        if kind == 2 and "\n" not in data and data.isprintable():
            return SingleQuotedScalarString(data)
        if kind == 3 and printable and not data.startswith((" ", "\n")) and data.strip():
            return LiteralScalarString(data)
        if kind == 4 and printable and not data.startswith((" ", "\n")) and data.strip() and "  " not in data:
            return FoldedScalarString(data)
    return data


def _scalar_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() if isinstance(k, str) for p in _scalar_paths(v, (*prefix, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _scalar_paths(v, (*prefix, i))]
    return [prefix] if prefix else []


def _path_text(path: tuple[Any, ...]) -> str:
    parts = []
    for seg in path:
        if isinstance(seg, int):
            parts.append(str(seg))
        elif any(c in seg for c in ".\"'") or seg != seg.strip():
            parts.append('"' + seg.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            parts.append(seg)
    return ".".join(parts)


def _yaml_lines(text: str) -> list[str]:
    # Split where YAML 1.2 breaks lines (not at NEL, LS or PS, which str.splitlines also splits on).
    return re.split(r"(?<=\n)|(?<=\r)(?!\n)", text)


def _node_lines(text: str, path: tuple[Any, ...]) -> tuple[int, int]:
    """Lines (0-based) an edit of the scalar at ``path`` may touch: from its key (or the item before
    it, for an empty list item, whose mark points at the next token) to its end."""
    node = YAML(typ="safe", pure=True).compose(text)
    first = 0
    for seg in path:
        if isinstance(seg, int):
            first = node.value[seg - 1].end_mark.line if seg else node.start_mark.line
            node = node.value[seg]
        else:
            key, node = next((k, v) for k, v in node.value if k.value == seg)
            first = key.start_mark.line
    return min(first, node.start_mark.line), node.end_mark.line


def test_random_documents_change_only_the_target() -> None:
    """Random documents, random scalar paths: the edit changes exactly the target's lines, or is
    refused in one line. Refusals return early; they are counted so they stay a minority."""
    from collections import Counter

    outcomes: Counter[str] = Counter()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        data=_tree.filter(lambda d: isinstance(d, (dict, list)) and _scalar_paths(d)),
        draw=st.data(),
        value=_values,
    )
    def edit(data: Any, draw: Any, value: str) -> None:
        yaml = YAML()
        mapping_indent = draw.draw(st.sampled_from([2, 4]))
        yaml.indent(mapping=mapping_indent, sequence=mapping_indent + 2, offset=mapping_indent)
        yaml.explicit_start = draw.draw(st.booleans())
        yaml.width = 4096
        buf = io.StringIO()
        yaml.dump(_styled(data, draw.draw), buf)
        header = draw.draw(st.sampled_from(["", "# generated\n", "# a\n\n"]))
        src = header + buf.getvalue()
        if draw.draw(st.booleans()):
            src = src.replace("\n", "\r\n")
        try:
            before = _load_all(src)[0]
        except YAMLError:
            assume(False)  # ruamel's emitter occasionally writes what its own parser rejects (`{a: ?q}`)
        paths = _scalar_paths(before)  # from what was written: `[?q]` reads back as a mapping
        assume(paths)
        path = draw.draw(st.sampled_from(paths))
        try:
            out = set_scalar(src, _path_text(path), value)
        except YamlEditError:
            # Allowed only where no spelling can hold the value at that place; never a crash.
            outcomes["refused"] += 1
            return
        outcomes["edited"] += 1

        expected = copy.deepcopy(before)
        target = expected
        for seg in path[:-1]:
            target = target[seg]
        target[path[-1]] = value
        assert _load_all(out)[0] == expected
        assert get_scalar(out, _path_text(path)) == value

        first, last = _node_lines(src, path)
        a, b = _yaml_lines(src), _yaml_lines(out)
        tail = len(a) - last - 1
        assert a[:first] == b[:first], (src, out)
        assert a[len(a) - tail :] == b[len(b) - tail :], (src, out)

    edit()
    assert outcomes["refused"] < outcomes["edited"], outcomes


@pytest.mark.parametrize(
    ("src", "path", "value", "expected"),
    [
        ("a: !!str 1\n", "a", "2.5", "a: !!str 2.5\n"),
        ("%YAML 1.1\n---\na: x\n", "a", "on", '%YAML 1.1\n---\na: "on"\n'),
        ("l:\n  -   # c\n  - b\n", "l.0", "v", "l:\n  - v   # c\n  - b\n"),
        ("? complex\n:\n", "complex", "w", "? complex\n: w\n"),
        ("a: this is\n  multi line plain\nb: 1\n", "a", "short", "a: short\nb: 1\n"),
        ("a: |+\n  x\n\nb: 1\n", "a", "z\n\n\n", "a: |+\n  z\n\n\nb: 1\n"),
        ("s:\n- |\n  x\n- y\n", "s.0", "new\n", "s:\n- |\n  new\n- y\n"),
        ("a: |\nb: 1\n", "a", "text\n", "a: |\n  text\nb: 1\n"),
    ],
)
def test_edge_shapes(src: str, path: str, value: str, expected: str) -> None:
    out = set_scalar(src, path, value)
    assert out == expected
    assert get_scalar(out, path) == value
