"""Property: whatever a user writes in mlops.yaml, loading gives a Manifest or located errors, never a crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_gitops.errors import ManifestError
from mlops_gitops.manifest import load_manifest_text
from tests.manifest.test_loader import GOOD

KEYS = [
    "version",
    "project",
    "name",
    "stages",
    "cmd",
    "deps",
    "outs",
    "metrics",
    "gates",
    "metric",
    "min",
    "max",
    "regression",
    "deploy",
    "environments",
    "after",
    "cloud",
    "provider",
    "runners",
    "triggers",
    "schedule",
    "foreach",
    "do",
    "matrix",
    "data",
    "checks",
    "columns",
    "monitoring",
    "x",
    "☃",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["higher", "lower", "aws", "none", "0 3 * * *", "{model_hash}", "*"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children, max_size=4),
    ),
    max_leaves=20,
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            found += paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found += paths(v, (*prefix, i))
    return found


def check(text: str) -> None:
    try:
        load_manifest_text(text)
    except ManifestError as exc:
        for line in exc.lines():
            assert line.startswith("mlops.yaml"), line
            assert "\n" not in line


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_manifests_never_crash(data: st.DataObject) -> None:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load(GOOD)
    where = data.draw(st.sampled_from(paths(doc)))
    replacement = data.draw(values)
    if not where:
        doc = replacement
    else:
        parent = doc
        for part in where[:-1]:
            parent = parent[part]
        parent[where[-1]] = replacement
    # JSON is valid YAML, and it lets any value (including NaN) through to the loader.
    check(json.dumps(doc, default=str))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab:- {}[]'\"#&*!|>\n\t1.", "version: 1\n", "stages:\n", "  "]), max_size=40)
)
def test_random_text_never_crashes(pieces: list[str]) -> None:
    check("".join(pieces))
