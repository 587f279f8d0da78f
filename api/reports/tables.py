"""A report as named tables: the shape of the CSV files and of the XLSX sheets.

Every list in a report becomes a table of its own (one row per item, one column per field);
scalars and totals go to ``summary`` as (item, value) rows; a mapping becomes a two-column
table. The JSON report and the tables hold the same numbers: they are the same objects.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

Cell = str | int | float | bool | date | datetime | None


@dataclass(frozen=True, slots=True)
class Table:
    name: str  # a file or sheet name: [a-z_], at most 31 characters
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _columns(item_type: Any) -> tuple[str, ...]:
    if dataclasses.is_dataclass(item_type):
        return tuple(f.name for f in dataclasses.fields(item_type))
    if isinstance(item_type, type) and issubclass(item_type, BaseModel):
        return tuple(item_type.model_fields)
    return ("value",)


def _cell(value: Any) -> Cell:
    if value is None or isinstance(value, str | int | float | bool | date | datetime):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _row(item: Any, columns: tuple[str, ...]) -> tuple[Cell, ...]:
    if columns == ("value",):
        return (_cell(item),)
    return tuple(_cell(getattr(item, c)) for c in columns)


def tables(report: BaseModel) -> list[Table]:
    """The report's tables, ``summary`` first, then in the order of the report's fields."""
    summary: list[tuple[Cell, ...]] = []
    out: list[Table] = []
    _collect(report, "", summary, out)
    return [Table("summary", ("item", "value"), tuple(summary)), *out]


def _collect(
    model: BaseModel, prefix: str, summary: list[tuple[Cell, ...]], out: list[Table]
) -> None:
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        key = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            _collect(value, f"{key}.", summary, out)
        elif isinstance(value, dict):
            rows = tuple((_cell(k), _cell(v)) for k, v in value.items())
            out.append(Table(_sheet(key), ("key", "value"), rows))
        elif isinstance(value, list) and _is_str_list(info.annotation):
            summary.extend((key, _cell(v)) for v in value)
        elif isinstance(value, list):
            columns = _columns(typing.get_args(info.annotation)[0])
            out.append(Table(_sheet(key), columns, tuple(_row(v, columns) for v in value)))
        else:
            summary.append((key, _cell(value)))


def _is_str_list(annotation: Any) -> bool:
    return typing.get_args(annotation) == (str,)


def _sheet(key: str) -> str:
    return key.replace(".", "_")[:31]
