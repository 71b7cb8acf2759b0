"""Reading real CSV, Parquet and JSON Lines files, and every way a file can be unreadable."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_gitops.data.read import DataError, csv_lines, data_files, detect_format, read_many, read_table


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_reads_all_three_formats_to_the_same_columns(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id,name\n1,x\n2,y\n")
    write(tmp_path / "a.jsonl", '{"id": 1, "name": "x"}\n{"id": 2, "name": "y"}\n')
    pq.write_table(pa.table({"id": [1, 2], "name": ["x", "y"]}), tmp_path / "a.parquet")
    for name in ("a.csv", "a.jsonl", "a.parquet"):
        table = read_table(tmp_path / name)
        assert table.to_pydict() == {"id": [1, 2], "name": ["x", "y"]}, name


def test_string_columns_keep_leading_zeros(tmp_path: Path) -> None:
    path = write(tmp_path / "z.csv", "zip\n01234\n00001\n")
    assert read_table(path).column("zip").to_pylist() == [1234, 1]
    assert read_table(path, string_columns=["zip"]).column("zip").to_pylist() == ["01234", "00001"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("junk.csv", bytes(range(256)) * 4, "binary content (NUL byte at offset 0)"),
        ("latin.csv", "name\ncaf\xe9\n".encode("latin-1"), "not UTF-8 text"),
        ("text.parquet", "a,b\n1,2\n", "not a Parquet file (no PAR1 magic bytes); it holds text"),
        ("bad.jsonl", "{not json\n", "not a readable JSON Lines file"),
        ("array.jsonl", "[1, 2, 3]\n", "not a readable JSON Lines file"),
        ("ragged.csv", "a,b\n1,2,3\n", "not a readable CSV file"),
        ("data.xlsx", "a\n", "cannot tell the format from the extension '.xlsx'"),
    ],
)
def test_unreadable_files_give_one_clear_line(
    tmp_path: Path, name: str, content: str | bytes, expected: str
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(DataError) as info:
        read_table(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_parquet_named_csv_is_recognised(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1]}), tmp_path / "data.csv")
    with pytest.raises(DataError, match="looks like a Parquet file, not CSV"):
        read_table(tmp_path / "data.csv")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        data_files(tmp_path / "nope.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds no \.csv"):
        data_files(tmp_path / "empty")


def test_directory_is_read_in_name_order_skipping_hidden_and_dvc_files(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    write(logs / "b.csv", "x\n2\n")
    write(logs / "a.csv", "x\n1\n")
    write(logs / "sub" / "c.csv", "x\n3\n")
    write(logs / ".hidden.csv", "x\n9\n")
    write(logs / "notes.md", "# hi\n")
    files = data_files(logs)
    assert [p.name for p in files] == ["a.csv", "b.csv", "c.csv"]
    assert read_many(files).column("x").to_pylist() == [1, 2, 3]


def test_declared_format_wins_over_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "data.txt", '{"a": 1}\n')
    assert detect_format(path, "jsonl") == "jsonl"
    assert read_table(path, "jsonl").column("a").to_pylist() == [1]


def test_csv_line_numbers_follow_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    plain = write(tmp_path / "plain.csv", "a\n1\n2\n3\n")
    assert csv_lines(plain, [1, 3], 3) == {1: 2, 3: 4}
    tricky = write(tmp_path / "tricky.csv", 'a,b\n1,"two\nlines"\n\n2,x\n3,y\n')
    table = read_table(tricky)
    assert table.num_rows == 3
    assert csv_lines(tricky, [1, 2, 3], table.num_rows) == {1: 2, 2: 5, 3: 6}


def test_header_only_csv_has_zero_rows(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "h.csv", "a,b\n"))
    assert table.num_rows == 0
    assert table.column_names == ["a", "b"]


def test_csv_column_that_widens_after_the_first_block_is_read_whole(tmp_path: Path) -> None:
    """Streaming fixes types from the first 1 MiB block; a float after 2.5 MB of integers must not fail."""
    path = tmp_path / "wide.csv"
    lines = ["x,y", *(f"{i},a" for i in range(300_000)), "1.5,b"]
    path.write_text("\n".join(lines) + "\n")
    table = read_table(path)
    assert table.num_rows == 300_001
    assert str(table.schema.field("x").type) == "double"
    assert table.column("x")[-1].as_py() == 1.5
