"""Each data check over real tables: what fails, how many rows, which rows are shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_gitops.data.checks import duplicate_mask, run_checks, string_columns
from mlops_gitops.data.read import read_table
from mlops_gitops.manifest.loader import data_check_of


def check_csv(tmp_path: Path, text: str, spec: dict[str, Any], name: str = "d.csv") -> dict[str, Any]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    check = data_check_of({"path": name, **spec})
    return run_checks(read_table(path, string_columns=string_columns(check)), check, name, "csv").to_json()


def failing(result: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(c["check"], c["column"]): c for c in result["checks"] if not c["passed"]}


def rows(check: dict[str, Any]) -> list[int]:
    return [e["row"] for e in check["examples"]]


def test_clean_data_passes_every_check(tmp_path: Path) -> None:
    spec = {
        "min_rows": 2,
        "max_rows": 10,
        "unique": ["id", "day"],
        "segments": ["region"],
        "columns": {
            "id": {"type": "int", "unique": True, "not_null": True, "min": 1},
            "day": {"type": "datetime"},
            "score": {"type": "float", "min": 0, "max": 1},
            "region": {"type": "string", "allowed": ["eu", "us"], "not_empty": True},
            "ok": {"type": "bool"},
            "code": {"pattern": "[A-Z]{2}-\\d+"},
        },
    }
    text = (
        "id,day,score,region,ok,code\n1,2024-01-01,0.5,eu,true,AB-1\n2,2024-01-02T10:00:00,1,us,false,CD-22\n"
    )
    result = check_csv(tmp_path, text, spec)
    assert result["passed"], failing(result)
    assert result["rows"] == 2
    assert result["segments"] == {"region": {"eu": 1, "us": 1}}


def test_each_kind_of_bad_data_is_reported_with_rows_and_values(tmp_path: Path) -> None:
    spec = {
        "columns": {
            "id": {"type": "int", "unique": True},
            "age": {"type": "int", "min": 0, "max": 120},
            "name": {"type": "string", "not_null": True, "not_empty": True},
            "colour": {"allowed": ["red", "blue"]},
            "email": {"pattern": "[^@]+@[^@]+"},
            "when": {"type": "datetime"},
            "flag": {"type": "bool"},
        }
    }
    text = (
        "id,age,name,colour,email,when,flag\n"
        "1,30,Ann,red,a@x.org,2024-01-01,true\n"
        "2,-1,,blue,nope,2024-02-30,yes\n"
        "2,abc, ,green,b@y.org,yesterday,maybe\n"
        "4,121,Dan,red,c@z.org,2024-01-03,0\n"
    )
    bad = failing(check_csv(tmp_path, text, spec))
    assert rows(bad["unique", "id"]) == [2, 3]
    assert bad["type", "age"]["bad_rows"] == 1
    assert bad["type", "age"]["examples"] == [{"row": 3, "value": "abc"}]
    # the type check owns "abc"; the range check reports only numbers out of range
    assert [(e["row"], e["value"]) for e in bad["range", "age"]["examples"]] == [(2, "-1"), (4, "121")]
    assert rows(bad["not_empty", "name"]) == [2, 3]
    assert ("not_null", "name") not in bad  # an empty string is a value in a string column
    assert [(e["row"], e["value"]) for e in bad["allowed", "colour"]["examples"]] == [(3, "green")]
    assert rows(bad["pattern", "email"]) == [2]
    assert [(e["row"], e["value"]) for e in bad["type", "when"]["examples"]] == [
        (2, "2024-02-30"),
        (3, "yesterday"),
    ]
    assert [(e["row"], e["value"]) for e in bad["type", "flag"]["examples"]] == [(3, "maybe")]


def test_missing_columns_and_row_bounds(tmp_path: Path) -> None:
    spec = {
        "min_rows": 5,
        "unique": ["a", "gone"],
        "segments": ["regoin"],
        "columns": {"a": {}, "b": {"type": "int"}, "optional": {"required": False, "type": "int"}},
    }
    bad = failing(check_csv(tmp_path, "a,region\n1,eu\n", spec))
    assert bad["rows", None]["message"] == "1 rows, fewer than min_rows 5"
    assert bad["required", "b"]["message"] == "column is missing"
    assert "optional" not in {c for _, c in bad}
    assert bad["unique_combination", "a, gone"]["message"] == "column gone is missing"
    assert bad["segment", "regoin"]["message"] == "segment column is missing; did you mean 'region'?"
    too_many = failing(check_csv(tmp_path, "a\n1\n2\n3\n", {"max_rows": 2}))
    assert too_many["rows", None]["message"] == "3 rows, more than max_rows 2"


def test_combination_uniqueness_shows_the_repeated_combination(tmp_path: Path) -> None:
    text = "user,day,v\nu1,1,a\nu1,2,b\nu2,1,c\nu1,1,d\n"
    bad = failing(check_csv(tmp_path, text, {"unique": ["user", "day"]}))
    check = bad["unique_combination", "user, day"]
    assert check["bad_rows"] == 2
    assert [(e["row"], e["value"]) for e in check["examples"]] == [
        (1, {"user": "u1", "day": 1}),
        (4, {"user": "u1", "day": 1}),
    ]


def test_duplicate_mask_matches_a_plain_python_count() -> None:
    a = pa.array([1, 2, None, 1, None, 3, 2])
    assert duplicate_mask([a]).tolist() == [True, True, False, True, False, False, True]
    b = pa.array(["x", "x", None, "y", None, "x", "x"])
    # nulls count as a value inside a combination: (None, None) repeats
    assert duplicate_mask([a, b]).tolist() == [False, True, True, False, True, False, True]


def test_huge_values_and_big_integers(tmp_path: Path) -> None:
    text = "x,n\n1e308,99999999999999999999999\n-1e308,1\n1.5,18446744073709551616\n"
    bad = failing(
        check_csv(tmp_path, text, {"columns": {"x": {"type": "float", "max": 1e307}, "n": {"type": "int"}}})
    )
    assert [(e["row"], e["value"]) for e in bad["range", "x"]["examples"]] == [(1, 1e308)]
    assert ("type", "n") not in bad  # read as float64, but every value is integral


def test_nan_and_infinity_are_json_safe_and_out_of_range(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([0.5, float("nan"), float("inf")])})
    result = run_checks(
        table,
        data_check_of({"path": "p", "columns": {"x": {"min": 0, "max": 1, "not_null": True}}}),
        "p",
        "parquet",
    )
    bad = failing(result.to_json())
    assert [(e["row"], e["value"]) for e in bad["range", "x"]["examples"]] == [(2, "nan"), (3, "inf")]
    assert rows(bad["not_null", "x"]) == [2]


def test_unicode_column_names_and_values(tmp_path: Path) -> None:
    text = "größe,città,名前\n1.5,Zürich,太郎\n-2,Köln,\n"
    spec = {"columns": {"größe": {"min": 0}, "città": {"allowed": ["Zürich"]}, "名前": {"not_empty": True}}}
    bad = failing(check_csv(tmp_path, text, spec))
    assert rows(bad["range", "größe"]) == [2]
    assert bad["allowed", "città"]["examples"][0]["value"] == "Köln"
    assert rows(bad["not_empty", "名前"]) == [2]


def test_typed_formats_check_the_stored_type(tmp_path: Path) -> None:
    pq.write_table(pa.table({"s": [1, 2], "i": [1.0, 2.5], "b": [1, 3]}), tmp_path / "t.parquet")
    table = read_table(tmp_path / "t.parquet")
    spec = {"columns": {"s": {"type": "string"}, "i": {"type": "int"}, "b": {"type": "bool"}}}
    bad = failing(run_checks(table, data_check_of({"path": "t", **spec}), "t", "parquet").to_json())
    assert bad["type", "s"]["bad_rows"] == 2
    assert rows(bad["type", "i"]) == [2]
    assert rows(bad["type", "b"]) == [2]


def test_look_around_patterns_fall_back_to_python_re(tmp_path: Path) -> None:
    bad = failing(
        check_csv(tmp_path, "p\nabc1\nabc\n", {"columns": {"p": {"pattern": "(?=.*\\d)[a-z0-9]+"}}})
    )
    assert rows(bad["pattern", "p"]) == [2]


def test_examples_are_limited_but_count_is_complete(tmp_path: Path) -> None:
    text = "v\n" + "".join(f"{-i}\n" for i in range(1, 101))
    check = failing(check_csv(tmp_path, text, {"columns": {"v": {"min": 0}}}))["range", "v"]
    assert check["bad_rows"] == 100
    assert rows(check) == [1, 2, 3, 4, 5]


def test_segments_cap_many_values() -> None:
    table = pa.table({"s": [f"v{i % 80}" for i in range(800)]})
    result = run_checks(table, data_check_of({"path": "p", "segments": ["s"]}), "p", "parquet")
    counts = result.segments["s"]
    assert len(counts) == 51
    assert counts["(other 30 values)"] == 300
    assert sum(counts.values()) == 800


# --- no input ever makes a traceback ---------------------------------------------------------------

cells = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
)
column_specs = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["int", "float", "number", "string", "bool", "datetime"]),
        "required": st.booleans(),
        "not_null": st.booleans(),
        "not_empty": st.booleans(),
        "unique": st.booleans(),
        "min": st.floats(-10, 10),
        "max": st.floats(-10, 10),
        "allowed": st.lists(
            st.one_of(st.integers(-3, 3), st.text(max_size=3), st.booleans()), min_size=1, max_size=4
        ),
        "pattern": st.sampled_from(["a+", "\\d{2}", "(?=x).*", ".*"]),
    },
)


def test_random_tables_and_checks_never_crash(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Random tables and checks: a report or one refusal line, never a traceback. Refused inputs
    return early; they are counted so the property keeps testing the checks, not the refusals."""
    import csv
    import json
    from collections import Counter

    from mlops_gitops.data.read import DataError

    outcomes: Counter[str] = Counter()

    @settings(max_examples=60, deadline=None)
    @given(
        data=st.lists(st.tuples(cells, cells, cells), max_size=12),
        specs=st.dictionaries(st.sampled_from(["a", "b", "c", "zz"]), column_specs, max_size=4),
        unique=st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True),
        min_rows=st.integers(0, 5),
    )
    def check(
        data: list[tuple[Any, Any, Any]], specs: dict[str, dict[str, Any]], unique: list[str], min_rows: int
    ) -> None:
        spec = data_check_of(
            {"path": "r.csv", "columns": specs, "unique": unique, "min_rows": min_rows, "segments": ["a"]}
        )
        path = tmp_path_factory.mktemp("h") / "r.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["a", "b", "c"])
            writer.writerows(["" if v is None else v for v in row] for row in data)
        try:
            table = read_table(path, string_columns=string_columns(spec))
        except DataError:
            outcomes["refused"] += 1  # e.g. a cell of line breaks only: one line, never a traceback
            return
        outcomes["checked"] += 1
        result = run_checks(table, spec, "r.csv", "csv").to_json()
        json.dumps(result, allow_nan=False)
        assert result["rows"] == len(data)
        for item in result["checks"]:
            assert item["passed"] == (item["bad_rows"] == 0 and not item["message"])
            assert all(1 <= e["row"] <= len(data) for e in item["examples"])

    check()
    assert outcomes["refused"] < outcomes["checked"], outcomes
