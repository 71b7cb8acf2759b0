"""Typed results of data validation and their JSON form. Pure: no pyarrow.

``validate-data`` writes a :class:`ValidationReport` as JSON inside the pipeline; ``report`` reads it
back from a revision (where a pull request may have written anything), so :meth:`ValidationReport.
from_json` takes untrusted data: a value of the wrong shape makes a report that fails with a reason,
never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict, TypeVar, cast

from mlops_gitops.adapters.jsontypes import JSONValue

T = TypeVar("T")


class _ExampleRow(TypedDict):
    row: int  # 1-based data row
    value: JSONValue


class Example(_ExampleRow, total=False):
    """A failing value: its row, the value, and for CSV the 1-based file line."""

    line: int


# The JSON `validate-data` writes and `report` reads back.
class CheckResultJSON(TypedDict):
    check: str
    column: str | None
    passed: bool
    bad_rows: int
    message: str
    examples: list[Example]


class FileResultJSON(TypedDict):
    path: str
    format: str
    rows: int
    passed: bool
    checks: list[CheckResultJSON]
    segments: dict[str, dict[str, int]]


class _ValidationReportFiles(TypedDict):
    passed: bool
    files: list[FileResultJSON]


class ValidationReportJSON(_ValidationReportFiles, total=False):
    error: str


@dataclass
class CheckResult:
    """One check of one column (or of the whole file when ``column`` is None)."""

    check: str
    column: str | None
    passed: bool
    bad_rows: int = 0
    message: str = ""
    examples: list[Example] = field(default_factory=list)

    @property
    def first_line(self) -> int | None:
        return next((line for e in self.examples if isinstance(line := e.get("line"), int)), None)

    def describe(self, path: str) -> str:
        """``data/iris.csv: range on sepal_length: 3 bad rows (values outside [0, 10])``."""
        column = f" on {self.column}" if self.column else ""
        detail = f"{self.bad_rows} bad row{'' if self.bad_rows == 1 else 's'}"
        if self.message:
            detail += f" ({self.message})"
        return f"{path}: {self.check}{column}: {detail}"

    def to_json(self) -> CheckResultJSON:
        return {
            "check": self.check,
            "column": self.column,
            "passed": self.passed,
            "bad_rows": self.bad_rows,
            "message": self.message,
            "examples": self.examples,
        }


@dataclass
class FileResult:
    path: str
    format: str
    rows: int
    checks: list[CheckResult]
    segments: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> FileResultJSON:
        return {
            "path": self.path,
            "format": self.format,
            "rows": self.rows,
            "passed": self.passed,
            "checks": [c.to_json() for c in self.checks],
            "segments": self.segments,
        }


@dataclass
class ValidationReport:
    """Every file ``validate-data`` checked; ``error`` when the report itself could not be read."""

    files: list[FileResult]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(f.passed for f in self.files)

    @property
    def failures(self) -> list[str]:
        """One description per failing check, or the error."""
        out = [c.describe(f.path) for f in self.files for c in f.failures]
        if self.error:
            out.insert(0, self.error)
        elif not out and not self.passed:
            out.append("data validation failed")
        return out

    def to_json(self) -> ValidationReportJSON:
        data: ValidationReportJSON = {"passed": self.passed, "files": [f.to_json() for f in self.files]}
        if self.error:
            data["error"] = self.error
        return data

    @classmethod
    def from_json(cls, data: object, source: str) -> ValidationReport:
        """Read what ``validate-data`` wrote; anything malformed fails the report, naming ``source``."""
        try:
            return cls(files=[_file(f) for f in _list(data, "files")])
        except _Malformed as exc:
            return cls(files=[], error=f"{source} is not a validation report written by mlops-gitops ({exc})")


class _Malformed(ValueError):
    pass


def _list(data: object, key: str) -> list[object]:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise _Malformed(f"'{key}' is not a list")
    return list(data[key])


def _typed(data: Mapping[str, object], key: str, kind: type[T]) -> T:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _Malformed(f"'{key}' has the wrong type")
    return value


def _optional(data: Mapping[str, object], key: str, kind: type[T]) -> T | None:
    return None if data.get(key) is None else _typed(data, key, kind)


def _file(data: object) -> FileResult:
    if not isinstance(data, dict):
        raise _Malformed("a file entry is not a mapping")
    segments = data.get("segments") or {}
    if not isinstance(segments, dict) or not all(
        isinstance(v, dict) and all(isinstance(n, int) for n in v.values()) for v in segments.values()
    ):
        raise _Malformed("'segments' has the wrong shape")
    return FileResult(
        path=_typed(data, "path", str),
        format=_optional(data, "format", str) or "",
        rows=_typed(data, "rows", int),
        checks=[_check(c) for c in _list(data, "checks")],
        segments={str(k): {str(n): c for n, c in v.items()} for k, v in segments.items()},
    )


def _check(data: object) -> CheckResult:
    if not isinstance(data, dict):
        raise _Malformed("a check entry is not a mapping")
    examples = data.get("examples") or []
    if not isinstance(examples, list) or not all(isinstance(e, dict) for e in examples):
        raise _Malformed("'examples' is not a list of mappings")
    return CheckResult(
        check=_typed(data, "check", str),
        column=_optional(data, "column", str),
        passed=_typed(data, "passed", bool),
        bad_rows=_typed(data, "bad_rows", int),
        message=_optional(data, "message", str) or "",
        # Examples are only ever shown (as JSON, or in a sentence), never computed with: one of
        # another shape is shown as written rather than refused, so only "a mapping" is checked.
        examples=[cast(Example, dict(e)) for e in examples],
    )
