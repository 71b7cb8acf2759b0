"""mlops_gitops.adapters.yamlsafe: hostile YAML (recursive aliases, alias bombs, deep nesting) is refused in one
line, quickly and in bounded memory; everything else loads exactly as plain ruamel.yaml loads it."""

from __future__ import annotations

import io
import math
import re
import sys
import time
import tracemalloc
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mlops_gitops.adapters.yamlsafe import (
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    YamlBombError,
    guard,
    load_roundtrip,
    load_safe,
)
from mlops_gitops.errors import EXIT_BAD_INPUT, UsageError

LOADERS = [load_safe, load_roundtrip]
CHECKS = [load_safe, load_roundtrip, guard]
ONE_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<message>[^\n]+)$")


def refused(check: Any, text: str, source: str = "f.yaml") -> tuple[str, float]:
    """The one-line refusal ``check`` gives for ``text``, and the CPU seconds it took (CPU, so a
    loaded machine does not fail the bound)."""
    start = time.process_time()
    with pytest.raises(YamlBombError) as info:
        check(text, source)
    return str(info.value), time.process_time() - start


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["l0: &l0 lol"]
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def dvc_yaml(stages: int = 14) -> str:
    """A typical hand-written dvc.yaml of ~200 lines, without aliases."""
    lines = ["stages:"]
    for i in range(stages):
        lines += [
            f"  stage_{i}:",
            f"    cmd: python src/stage_{i}.py --config params.yaml --out data/stage_{i}",
            "    deps:",
            f"      - src/stage_{i}.py",
            f"      - data/stage_{i - 1 if i else 'raw'}",
            "    params:",
            f"      - stage_{i}.lr",
            f"      - stage_{i}.epochs",
            "    outs:",
            f"      - data/stage_{i}",
            "    metrics:",
            f"      - metrics/stage_{i}.json:",
            "          cache: false",
            "",
        ]
    return "\n".join(lines) + "\n"


def ci_with_anchors(jobs: int = 30) -> str:
    """A CI/Helm-style file that leans on anchors, aliases and merge keys, as real ones do."""
    lines = [
        "defaults: &defaults",
        "  runs-on: ubuntu-latest",
        "  timeout: 30",
        "  env: &env",
        "    PYTHONUNBUFFERED: '1'",
        "    LANG: C.UTF-8",
        "  steps: &steps",
        "    - checkout",
        "    - setup-python",
        "    - install",
        "extra: &extra {retries: 2, cache: true}",
        "jobs:",
    ]
    for i in range(jobs):
        lines += [
            f"  job_{i}:  # job {i}",
            "    <<: [*defaults, *extra]" if i % 2 else "    <<: *defaults",
            f"    name: job {i}",
            "    env:",
            "      <<: *env",
            f"      JOB: '{i}'",
            "    steps: *steps",
        ]
    return "\n".join(lines) + "\n"


def nested(depth: int, kind: str = "seq") -> str:
    if kind == "seq":
        return "[" * depth + "]" * depth
    return "{a: " * depth + "1" + "}" * depth


def dump_rt(doc: Any) -> str:
    out = io.StringIO()
    YAML(typ="rt").dump(doc, out)
    return out.getvalue()


# --- recursive aliases -------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize(
    ("text", "where", "name"),
    [
        ("name: demo\nstages:\n  a: &a [*a]\n", "3:10", "a"),
        ("x: 1\nb: &b\n  c: *b\n", "3:6", "b"),
        ("a: &a\n  - 1\n  - - - *a\n", "3:9", "a"),
        ("a: &a {k: [1, {j: *a}]}\n", "1:19", "a"),
        ("? &k [*k]\n: v\n", "1:7", "k"),
    ],
    ids=["sequence", "mapping", "deep-in-sequence", "deep-in-mapping", "key"],
)
def test_recursive_alias_is_one_located_line(check: Any, text: str, where: str, name: str) -> None:
    message, seconds = refused(check, text, "mlops.yaml")
    assert message == f"mlops.yaml:{where}: recursive alias *{name} (a YAML alias may not contain itself)"
    assert seconds < 1


def test_refusal_is_a_usage_error_with_exit_code_2() -> None:
    with pytest.raises(UsageError) as info:
        load_safe("a: &a [*a]\n", "params.yaml")
    assert isinstance(info.value, YamlBombError)
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert info.value.lines() == ["params.yaml:1:8: recursive alias *a (a YAML alias may not contain itself)"]


def test_an_anchor_redefined_inside_itself_is_recursive() -> None:
    # The alias names the most recent anchor of that name, which is still open here.
    with pytest.warns(Warning, match="duplicate anchor"):
        message, _ = refused(load_safe, "a: &x [1]\nb: &x [*x]\n")
    assert message.startswith("f.yaml:2:8: recursive alias *x")


def test_a_source_with_a_line_break_still_gives_one_line() -> None:
    message, _ = refused(load_safe, "a: &a [*a]\n", "odd\nname.yaml")
    assert "\n" not in message


# --- alias bombs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
def test_billion_laughs_is_refused_fast_in_bounded_memory(check: Any) -> None:
    text = billion_laughs()  # 9 levels of 9 aliases: 9**9 (~387 million) leaves when expanded
    tracemalloc.start()
    try:
        message, seconds = refused(check, text, "params.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ONE_LINE.match(message), message
    assert message == (
        'params.yaml:7:10: aliases expand to more than 100,000 nodes (a "billion laughs" document); '
        "refusing to load it"
    )
    assert seconds < 1
    assert peak < 50 * 1024 * 1024


def test_the_bomb_is_refused_before_anything_is_constructed() -> None:
    from ruamel.yaml.constructor import BaseConstructor

    with mock.patch.object(BaseConstructor, "construct_document", side_effect=AssertionError):
        for check in LOADERS:
            refused(check, billion_laughs())
            refused(check, "a: &a [*a]\n")


def test_a_wide_bomb_is_refused_at_the_alias_that_crosses_the_cap() -> None:
    # One anchored list of 1,000 scalars (1,001 nodes), then aliases to it, one per line.
    size = 1_001
    fits = MAX_EXPANDED_NODES // size
    text = (
        "big: &big [" + ", ".join(["x"] * 1_000) + "]\n" + "".join(f"k{i}: *big\n" for i in range(fits + 1))
    )
    message, _ = refused(load_safe, text)
    assert message.startswith(f"f.yaml:{fits + 2}:{len(f'k{fits}: ') + 1}: aliases expand to more than")
    legit = "big: &big [" + ", ".join(["x"] * 1_000) + "]\n" + "".join(f"k{i}: *big\n" for i in range(fits))
    assert len(load_safe(legit, "f.yaml")) == fits + 1


def test_a_bomb_built_from_merge_keys_is_refused() -> None:
    # Each level merges the previous one nine times: ruamel copies the merged pairs each time.
    lines = ["m0: &m0 {a: 1, b: 2, c: 3}"]
    for level in range(1, 9):
        merges = ", ".join([f"*m{level - 1}"] * 9)
        lines.append(f"m{level}: &m{level} {{<<: [{merges}], k{level}: {level}}}")
    message, seconds = refused(load_safe, "\n".join(lines) + "\n")
    assert "aliases expand to more than 100,000 nodes" in message
    assert seconds < 1


def test_every_document_of_a_stream_is_guarded() -> None:
    text = "a: 1\n---\n" + billion_laughs()
    message, _ = refused(guard, text)
    assert message.startswith("f.yaml:9:10: aliases expand")


# --- deep nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("kind", ["seq", "map"])
def test_ten_thousand_nested_collections_give_one_line(loader: Any, kind: str) -> None:
    message, seconds = refused(loader, nested(10_000, kind))
    # The first node past the bound: the 101st "[", or the key of the 100th "{a: ".
    col = MAX_DEPTH + 1 if kind == "seq" else 4 * (MAX_DEPTH - 1) + 2
    assert message == f"f.yaml:1:{col}: nesting deeper than {MAX_DEPTH} levels; refusing to load it"
    # ruamel's scanner looks up to 1,024 characters ahead for a flow key, checking each open level:
    # a fixed ~0.3-0.6 s here whatever the length of the file (it is the same for plain ruamel).
    assert seconds < 3


@pytest.mark.parametrize("loader", LOADERS)
def test_deep_block_nesting_gives_one_line(loader: Any) -> None:
    text = "".join(" " * i + f"k{i}:\n" for i in range(300)) + " " * 300 + "leaf\n"
    message, seconds = refused(loader, text)
    # Line n holds the key of the n-th nested mapping, one level below it: line 100's is the 101st.
    assert (
        message
        == f"f.yaml:{MAX_DEPTH}:{MAX_DEPTH}: nesting deeper than {MAX_DEPTH} levels; refusing to load it"
    )
    assert seconds < 1


@pytest.mark.parametrize("loader", LOADERS)
def test_nesting_up_to_the_bound_loads(loader: Any) -> None:
    # Depth counts every node on the path, the scalars too: n nested "[" are n levels, n nested
    # "{a: " are n + 1 (the innermost key and value sit one level below their mapping).
    for kind, fits in (("seq", MAX_DEPTH), ("map", MAX_DEPTH - 1)):
        text = nested(fits, kind)
        assert loader(text, "f.yaml") == YAML(typ="safe", pure=True).load(text)
        refused(loader, nested(fits + 1, kind))


@pytest.mark.parametrize("check", CHECKS)
def test_aliases_that_nest_too_deep_are_refused(check: Any) -> None:
    half = MAX_DEPTH // 2
    text = f"a: &a {nested(half)}\nb: {'[' * half}*a{']' * half}\n"
    message, _ = refused(check, text)
    assert message == (
        f"f.yaml:2:{4 + half}: alias *a nests the document deeper than {MAX_DEPTH} levels; refusing to load it"
    )
    fits = f"a: &a {nested(half)}\nb: {'[' * (half - 2)}*a{']' * (half - 2)}\n"
    load_safe(fits, "f.yaml")


def test_a_caller_already_deep_in_the_stack_gets_one_line_not_recursion_error() -> None:
    limit = sys.getrecursionlimit()
    # 150 frames to spare, where ruamel needs three or four a level for 90 levels.
    sys.setrecursionlimit(_stack_depth() + 150)
    try:
        message, _ = refused(load_roundtrip, nested(90, "map"))
    finally:
        sys.setrecursionlimit(limit)
    assert message == "f.yaml: nesting too deep for the YAML loader; refusing to load it"


def _stack_depth() -> int:
    depth, frame = 0, sys._getframe()
    while frame.f_back is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


# --- legitimate YAML is untouched ----------------------------------------------------------------

LEGIT = {
    "scalar-alias": "a: &v 3\nb: *v\nc: [*v, *v]\n",
    "shared-list": "a: &l [1, 2, {x: y}]\nb: *l\nc: {d: *l}\n",
    "merge": "base: &base {x: 1, y: 2}\nd:\n  <<: *base\n  y: 3\n",
    "merge-list": "a: &a {x: 1}\nb: &b {y: 2, x: 0}\nc:\n  <<: [*a, *b]\n  z: 3\n",
    "nested-merge": "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n",
    "alias-as-key": "k: &k name\n? *k\n: value\n",
    "anchor-reused-after": "a: &x [1]\nb: *x\nc: &x [2]\nd: *x\n",
    "star-in-strings": "cmd: 'ls *.csv'\nglob: \"data/*\"\nplain: a*b\n",
    "ci": ci_with_anchors(),
    "dvc": dvc_yaml(),
}


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
@pytest.mark.parametrize("text", LEGIT.values(), ids=LEGIT.keys())
def test_legitimate_yaml_loads_exactly_as_ruamel_safe_does(text: str) -> None:
    guard(text, "f.yaml")
    assert load_safe(text, "f.yaml") == YAML(typ="safe", pure=True).load(text)


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
@pytest.mark.parametrize("text", LEGIT.values(), ids=LEGIT.keys())
def test_legitimate_yaml_loads_exactly_as_ruamel_roundtrip_does(text: str) -> None:
    ours, theirs = load_roundtrip(text, "f.yaml"), YAML(typ="rt").load(text)
    assert type(ours) is type(theirs)
    assert ours == theirs
    assert dump_rt(ours) == dump_rt(theirs)  # anchors, merges and comments survive
    first = next(iter(ours))
    assert ours.lc.key(first) == theirs.lc.key(first)


def test_roundtrip_keeps_positions_for_error_messages() -> None:
    doc = load_roundtrip("a: 1\nstages:\n  train:\n    cmd: python train.py\n", "dvc.yaml")
    assert doc["stages"].lc.key("train") == (2, 2)
    assert doc["stages"]["train"].lc.value("cmd") == (3, 9)


def test_aliases_well_under_the_cap_load() -> None:
    # ~90,000 expanded nodes: the whole first levels of the billion laughs, 9**5 leaves.
    text = billion_laughs(levels=5)
    assert math.prod([9] * 5) == len(_leaves(load_safe(text, "f.yaml")["l5"]))


def _leaves(data: Any) -> list[Any]:
    out, todo = [], [data]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
        else:
            out.append(item)
    return out


@pytest.mark.parametrize("check", CHECKS)
def test_yaml_errors_are_still_ruamels_own(check: Any) -> None:
    for text in ("a: [1, 2, *x\n", "a: *undefined\n", "a: b: *c\n", "a: 1\n---\nb: *x\n"):
        with pytest.raises(YAMLError):
            check(text, "f.yaml")


def test_guard_leaves_text_without_aliases_to_the_downstream_parser() -> None:
    # No "*", no alias, nothing to guard: syntax errors are the downstream parser's to report.
    guard("a: [1, 2\n", "f.yaml")
    guard(nested(10_000), "f.yaml")
    with pytest.raises(YAMLError):
        load_safe("a: [1, 2\n", "f.yaml")


def test_load_refuses_a_second_document_as_ruamel_does() -> None:
    with pytest.raises(YAMLError, match="expected a single document"):
        load_safe("a: 1\n---\nb: 2\n", "f.yaml")


def test_empty_text_loads_as_none() -> None:
    assert load_safe("", "f.yaml") is None
    assert load_roundtrip("", "f.yaml") is None
    guard("", "f.yaml")


# --- property: no aliases, no difference ---------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["*", "*a", "&a", "<<", "a: *b", "yes", "null", "1e3", "~", ""])
)
plain_data = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=40,
)


def _dump(data: Any, *, aliases: bool) -> str:
    yaml = YAML(typ="safe", pure=True)
    if not aliases:
        yaml.representer.ignore_aliases = lambda _data: True
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _outcome(load: Any, text: str) -> tuple[str, Any]:
    """What loading gives: the data (as its repr: a round-trip ``TaggedScalar`` compares by identity),
    or that it was refused. ruamel's dumper is not perfect (it writes ``[?#]``, which no parser takes):
    where ruamel refuses the text, the guard may refuse it first, as a bomb, at the alias the broken
    syntax put inside its own anchor; either way nothing is loaded."""
    try:
        return "data", repr(load(text))
    except (YAMLError, YamlBombError):
        return "refused", None


@settings(max_examples=200, deadline=None)
@given(plain_data)
def test_plain_data_loads_as_ruamel_loads_it(data: Any) -> None:
    text = _dump(data, aliases=False)
    assert _outcome(lambda t: load_safe(t, "f.yaml"), text) == _outcome(
        YAML(typ="safe", pure=True).load, text
    )
    assert _outcome(lambda t: load_roundtrip(t, "f.yaml"), text) == _outcome(YAML(typ="rt").load, text)


@settings(max_examples=100, deadline=None)
@given(plain_data.filter(lambda d: isinstance(d, (list, dict))))
def test_shared_data_dumped_with_aliases_loads_as_ruamel_loads_it(shared: Any) -> None:
    text = _dump({"a": shared, "b": shared, "c": [shared, {"d": shared}]}, aliases=True)
    assert "*id" in text
    assert _outcome(lambda t: load_safe(t, "f.yaml"), text) == _outcome(
        YAML(typ="safe", pure=True).load, text
    )
    assert _outcome(lambda t: load_roundtrip(t, "f.yaml"), text) == _outcome(YAML(typ="rt").load, text)
    if _outcome(YAML(typ="safe", pure=True).load, text)[0] == "data":
        guard(text, "f.yaml")


# What the guard costs on ordinary files is measured in benchmarks/bench_yamlsafe.py, not timed here.
