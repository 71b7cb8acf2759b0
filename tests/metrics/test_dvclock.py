"""metrics.dvclock: dvc.lock parsed line by line gives what the YAML loader gives, or leaves it to it.

The fast path must never give another answer than ``load_safe``: on lock files DVC itself writes (it
must also be taken there, or it saves nothing), on anything ruamel's dumper writes as DVC dumps its
locks, and on YAML outside the part it parses (where it must give up).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GitRepo
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_gitops.adapters.datafiles import parse_file
from mlops_gitops.errors import MetricsFileError, YamlBombError
from mlops_gitops.metrics import dvclock


def loaded(text: str) -> object:
    """What the YAML loader makes of it (the way dvc.lock was read before)."""
    return parse_file(text.encode(), "dvc.lock", "HEAD")


def fast(text: str) -> object:
    """The line parser alone; raises dvclock._GiveUp where the loader takes over."""
    return dvclock._document(text)


def dumped(data: object) -> str:
    """``data`` as DVC writes dvc.lock (dvc.utils.serialize._yaml: round-trip YAML, block style)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


@pytest.mark.slow
def test_the_lock_files_dvc_writes_take_the_fast_path(repo: GitRepo) -> None:
    dvc = str(Path(sys.executable).with_name("dvc"))

    def run(*args: str) -> None:
        proc = subprocess.run([dvc, *args], cwd=repo.path, env=repo.env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr

    run("init", "-q")
    repo.write(
        "params.yaml",
        "train:\n  lr: 1.0e-05\n  layers: [64, 32]\n  name: 'yes'\n  flag: true\n  none: null\n"
        "  note: 'a: b # c'\n  nested: {deep: {x: -3}}\n  when: '2024-01-02'\nsplits: [a, b]\n",
    )
    long_cmd = "python -c \"import os, sys; os.makedirs('out', exist_ok=True)\" " + " ".join(
        f"--option-{i} value-{i}" for i in range(12)
    )
    repo.write(
        "dvc.yaml",
        "stages:\n"
        f"  train:\n    cmd: {long_cmd}\n    params: [train]\n    outs: [out]\n"
        "  split:\n    foreach: ${splits}\n    do:\n      cmd: echo ${item} > ${item}.txt\n"
        "      params: [splits]\n      outs: ['${item}.txt']\n",
    )
    run("repro", "-q")
    text = (repo.path / "dvc.lock").read_text()
    # DVC's dumper wraps the long command over lines: a scalar continued, no key on the line.
    assert any(line.startswith("      ") and ": " not in line for line in text.splitlines())
    assert fast(text) == loaded(text)
    assert dvclock.load(text.encode(), "dvc.lock", "HEAD") == loaded(text)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(
        [
            "yes",
            "No",
            "on",
            "0x1F",
            "0o17",
            "1_000",
            "007",
            "2024-01-02",
            ".inf",
            "1e5",
            "12.dir",
            "~",
            "=",
            "<<",
            "a: b",
            "a #b",
            "#x",
            "-x",
            "- x",
            "'q'",
            '"q"',
            "x" * 120,
            "a b " * 30,
        ]
    ),
)
KEYS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_./-]{0,12}", fullmatch=True), st.sampled_from(["1", "true", "x y"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)


# Values as params files hold them: names, paths, commands, numbers of every form, words YAML types.
PLAIN_TEXT = st.text(alphabet=st.sampled_from("abcxyzABC0123456789 _-./:#'\"@,=+eE"), max_size=40)
PARAM_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    PLAIN_TEXT,
    st.sampled_from(
        ["yes", "no", "1e-5", "1.0e-05", "0.0", "-0", "+1", "12.dir", "True", "NULL", "~", "a" * 90]
    ),
)
NAMES = st.from_regex(r"[a-z][a-z0-9_.-]{0,10}( [a-z]{1,5})?", fullmatch=True)
PARAMS = st.recursive(
    PARAM_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(NAMES, inner, max_size=4)),
    max_leaves=25,
)


def lock_of(params: object) -> str:
    return dumped({"schema": "2.0", "stages": {"s": {"cmd": "x", "params": {"params.yaml": params}}}})


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, VALUES, min_size=1, max_size=5))
def test_anything_dumped_as_dvc_dumps_reads_as_the_loader_reads_it(data: dict[str, object]) -> None:
    text = lock_of(data)
    assert dvclock.load(text.encode(), "dvc.lock", "HEAD") == loaded(text)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(NAMES, PARAMS, min_size=1, max_size=6))
def test_params_as_projects_write_them_read_as_the_loader_reads_them(data: dict[str, object]) -> None:
    text = lock_of(data)
    try:
        got = fast(text)
    except dvclock._GiveUp:
        return  # the loader reads it: covered above
    assert got == loaded(text)


def test_most_params_as_projects_write_them_take_the_fast_path() -> None:
    """Not a path that is merely safe: the examples above mostly go through it."""
    taken = 0

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(NAMES, PARAMS, min_size=1, max_size=6))
    def count(data: dict[str, object]) -> None:
        nonlocal taken
        try:
            fast(lock_of(data))
        except dvclock._GiveUp:
            return
        taken += 1

    count()
    assert taken >= 100, taken


def test_the_fast_path_is_taken_for_plain_locks() -> None:
    text = dumped(
        {
            "schema": "2.0",
            "stages": {
                "train": {
                    "cmd": ["python a.py", "python b.py " + "--flag " * 20],
                    "deps": [{"path": "data/x.csv", "hash": "md5", "md5": "1234abcd" * 4, "size": 10}],
                    "params": {"params.yaml": {"lr": 0.001, "epochs": 3, "name": "net", "on": False}},
                    "outs": [{"path": "model", "hash": "md5", "md5": "0" * 28 + "a.dir", "nfiles": 2}],
                }
            },
        }
    )
    assert fast(text) == loaded(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: yes\n",  # YAML 1.2: a string
        "a: 0x1F\n",
        "a: 1_000\n",
        "a: 007\n",
        "a: 2024-01-02\n",
        "a: .inf\n",
        "a: b # c\n",
        "a: [1, 2]\n",
        "a: {b: 1}\n",
        "a: &x 1\nb: *x\n",
        "a: 1\na: 2\n",
        "a: b\n\n  c\n",
        "a: b\n  c\n",
        "1: x\n",
        "'a': b\n",
        "a:\tb\n",
        "a: b\r\nc: d\r\n",
        "\ufeffa: b\n",
        "a: -\n",
        "a: - b\n",
        "- - a\n",
        "a: |\n  b\n",
        "a: 'b\n  c'\n",
        "%YAML 1.1\n---\na: yes\n",
        "a:\n- b\n- c: d\n  e: f\n",
        "a:\n  b:\n  c: 1\n",
        "x:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(60)),
        "a: 'it''s'\n",
        'a: "b\\tc"\n',
        "",
        "# only a comment\n",
    ],
)
def test_odd_yaml_is_read_as_the_loader_reads_it_or_refused_alike(text: str) -> None:
    try:
        expected = loaded(text)
    except (MetricsFileError, YamlBombError) as exc:  # refused: refused alike, in the same words
        with pytest.raises(type(exc)) as caught:
            dvclock.load(text.encode(), "dvc.lock", "HEAD")
        assert str(caught.value) == str(exc)
        return
    assert dvclock.load(text.encode(), "dvc.lock", "HEAD") == expected


def test_an_alias_bomb_is_refused_by_the_guard() -> None:
    bomb = "a0: &a0 [x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 11)
    )
    with pytest.raises(YamlBombError):
        dvclock.load(bomb.encode(), "dvc.lock", "HEAD")
