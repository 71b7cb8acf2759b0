"""Read CSV, Parquet and JSON Lines files into pyarrow tables.

pyarrow reads all three formats into typed columns with its own multi-threaded C++ readers, without
pandas and without copying the data into Python objects; the checks and drift statistics then run on
those columns with ``pyarrow.compute`` and numpy. Every way a file can be unreadable (missing, empty,
binary junk named ``.csv``, a CSV named ``.parquet``, broken JSON) becomes one :class:`DataError`
line naming the file, never a traceback.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from mlops_gitops.errors import DataError

FORMATS = ("csv", "parquet", "jsonl")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_PARQUET_MAGIC = b"PAR1"
_SNIFF_BYTES = 64 * 1024


def detect_format(path: str | Path, declared: str | None = None) -> str:
    """The format to read ``path`` with: the declared one, else the one its extension names."""
    if declared:
        if declared not in FORMATS:
            raise DataError(f"{path}: unknown format '{declared}' (use one of {', '.join(FORMATS)})")
        return declared
    suffix = Path(path).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise DataError(
        f"{path}: cannot tell the format from the extension '{suffix or '(none)'}'; "
        f"name it .csv, .parquet or .jsonl, or set format: csv|parquet|jsonl"
    )


def data_files(path: str | Path, declared: str | None = None) -> list[Path]:
    """``path`` itself, or the data files directly or deeper inside it, sorted (hidden files skipped)."""
    root = Path(path)
    if root.is_dir():
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name.endswith(".dvc"):
                    continue
                if declared or Path(name).suffix.lower() in EXTENSIONS:
                    found.append(Path(dirpath) / name)
        if not found:
            raise DataError(f"{path}: directory holds no .csv, .parquet or .jsonl files")
        return found
    if not root.exists():
        raise DataError(f"{path}: no such file or directory")
    return [root]


def read_table(path: str | Path, fmt: str | None = None, string_columns: Iterable[str] = ()) -> pa.Table:
    """Read one file. ``string_columns`` (CSV only) keep their text as written, so "00123" stays a
    string instead of becoming the number 123 and losing what a pattern check would look at."""
    file = Path(path)
    fmt = detect_format(file, fmt)
    try:
        size = file.stat().st_size
        with file.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a {fmt} file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    if size == 0:
        raise DataError(f"{path}: the file is empty (no header, no rows)")

    import pyarrow.lib

    try:
        if fmt == "parquet":
            return _read_parquet(file, head)
        _check_text(file, fmt, head)
        if fmt == "csv":
            return _read_csv(file, set(string_columns))
        return _read_jsonl(file)
    except DataError:
        raise
    except (pyarrow.lib.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable {_NAMES[fmt]} file: {_one_line(exc)}") from None


_NAMES = {"csv": "CSV", "parquet": "Parquet", "jsonl": "JSON Lines"}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _check_text(path: Path, fmt: str, head: bytes) -> None:
    if head.startswith(_PARQUET_MAGIC):
        raise DataError(
            f"{path}: looks like a Parquet file, not {_NAMES[fmt]}; rename it .parquet or set format"
        )
    if b"\x00" in head:
        offset = head.index(b"\x00")
        raise DataError(
            f"{path}: binary content (NUL byte at offset {offset}), not a {_NAMES[fmt]} text file"
        )
    try:
        # Cut at the last newline so a multi-byte character split by the sniff window is not blamed.
        cut = head if len(head) < _SNIFF_BYTES else head[: head.rfind(b"\n") + 1 or len(head)]
        cut.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (invalid byte at offset {exc.start}); is it really {_NAMES[fmt]}?"
        ) from None


def _read_parquet(path: Path, head: bytes) -> pa.Table:
    import pyarrow.parquet as pq

    if not head.startswith(_PARQUET_MAGIC):
        kind = "text" if b"\x00" not in head[:4096] else "binary data"
        raise DataError(f"{path}: not a Parquet file (no PAR1 magic bytes); it holds {kind}")
    table: pa.Table = pq.read_table(path, use_threads=True)
    return table


def _read_csv(path: Path, string_columns: set[str]) -> pa.Table:
    """Streamed in 1 MiB blocks: half the peak memory of reading the file at once, for the same time.
    A streamed read fixes each column's type from the first block, so a column that turns out wider
    later (integers, then a 1.5) fails there; the whole-file reader, which widens types across
    blocks, then reads it instead."""
    import pyarrow.csv as pcsv
    import pyarrow.lib

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    convert = pcsv.ConvertOptions(column_types=dict.fromkeys(string_columns, pa.string()))
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=True, block_size=1 << 20),
            parse_options=parse,
            convert_options=convert,
        )
        streamed: pa.Table = reader.read_all()
        return streamed
    except pyarrow.lib.ArrowInvalid:
        pass
    table: pa.Table = pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(use_threads=True, block_size=8 << 20),
        parse_options=parse,
        convert_options=convert,
    )
    return table


def _read_jsonl(path: Path) -> pa.Table:
    import pyarrow.json as pjson

    table: pa.Table = pjson.read_json(path, read_options=pjson.ReadOptions(use_threads=True))
    return table


def read_many(paths: list[Path], fmt: str | None = None) -> pa.Table:
    """Several files of the same columns as one table (columns missing in a file become null)."""
    tables = [read_table(p, fmt) for p in paths]
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{paths[0].parent}: files have incompatible columns: {_one_line(exc)}") from None


def csv_lines(path: str | Path, rows: list[int], total_rows: int) -> dict[int, int]:
    """File line numbers (1-based) of the given 1-based data rows of a CSV file with one header line.

    When the file has exactly one line per row (the usual case), this is ``row + 1`` and costs one
    pass of ``bytes.count``; otherwise (quoted newlines, blank lines) it walks the file with the csv
    module, but only up to the last row asked for.
    """
    if not rows:
        return {}
    newlines = 0
    last = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    lines = newlines + (1 if last not in (b"\n", b"") else 0)
    if lines == total_rows + 1:
        return {row: row + 1 for row in rows}
    wanted = set(rows)
    result: dict[int, int] = {}
    with open(path, encoding="utf-8", errors="replace", newline="") as text:
        reader = csv.reader(text, delimiter="\t" if str(path).lower().endswith(".tsv") else ",")
        start = 1
        data_row = -1  # the header is row 0
        for record in reader:
            if record:
                data_row += 1
                if data_row in wanted:
                    result[data_row] = start
                    if len(result) == len(wanted):
                        break
            start = reader.line_num + 1
    return result
