"""Reading the packaged CSV data files, with errors that name file, line and field.

Every data file of the domain (factor catalogue, GWP table, conversion parameters, regions)
carries its source in each row (clause 7.3 documented information); a malformed row must stop
the load with a message a data steward can act on, never be skipped.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from importlib import resources
from typing import TypeVar

E = TypeVar("E", bound=Enum)


class Evidence(StrEnum):
    """How well a data row's value was checked against public sources."""

    CROSS_CHECKED = "cross_checked"  # two or more independent sources agree
    SINGLE_SOURCE = "single_source"  # one public source seen; not cross-checked
    UNVERIFIED = "unverified"  # recalled or given; no source seen: verify before relying on it


class DataFileError(ValueError):
    """A data file row that cannot be used; the message names file, line and field."""

    def __init__(self, filename: str, line: int, field: str, problem: str) -> None:
        self.filename = filename
        self.line = line
        self.field = field
        self.problem = problem
        super().__init__(f"{filename}:{line}: field '{field}': {problem}")


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV row with typed accessors that raise ``DataFileError`` on bad values."""

    filename: str
    line: int
    values: Mapping[str, str]

    def fail(self, field: str, problem: str) -> DataFileError:
        return DataFileError(self.filename, self.line, field, problem)

    def text(self, field: str) -> str:
        value = self.values.get(field, "").strip()
        if not value:
            raise self.fail(field, "is empty")
        return value

    def optional_text(self, field: str) -> str:
        return self.values.get(field, "").strip()

    def number(self, field: str) -> float:
        raw = self.text(field)
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(field, f"{raw!r} is not a number") from None
        if not math.isfinite(value):
            raise self.fail(field, f"{raw!r} is not finite")
        return value

    def day(self, field: str) -> date:
        raw = self.text(field)
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise self.fail(field, f"{raw!r} is not an ISO date (YYYY-MM-DD)") from None

    def optional_day(self, field: str) -> date | None:
        return self.day(field) if self.optional_text(field) else None

    def choice(self, field: str, kind: type[E]) -> E:
        raw = self.text(field)
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in kind)
            raise self.fail(field, f"{raw!r} is not one of: {allowed}") from None


def parse_csv(text: str, filename: str, columns: Sequence[str]) -> Iterator[Record]:
    """Yield the rows of ``text``, after checking its header is exactly ``columns``."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if list(header) != list(columns):
        raise DataFileError(
            filename, 1, "<header>", f"expected columns {list(columns)}, found {list(header)}"
        )
    for row in reader:
        # DictReader puts surplus cells under the key None; a ragged row is a data error.
        if None in row or any(value is None for value in row.values()):
            raise DataFileError(filename, reader.line_num, "<row>", "wrong number of cells")
        yield Record(filename, reader.line_num, row)


def package_text(filename: str) -> str:
    """Text of a data file shipped in ``accounting/data`` (the only I/O this package does)."""
    return resources.files("accounting").joinpath("data", filename).read_text(encoding="utf-8")
