"""Activity records from a CSV or XLSX file: one record per row under a header row whose
column names are the fields of ``POST /v1/activity-records`` (``replaces_meters`` separated by
``;``). Strict: the file is stored whole or not at all. Every row is checked; if any row fails,
nothing is stored and each row's result says why it failed, or that it was valid."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook

from api.errors import ApiError

CSV_TYPES = frozenset({"text/csv"})
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_ROWS = 1000

Row = tuple[int, dict[str, Any]]  # (row number in the file, cells by column name)


def parse(content_type: str, data: bytes) -> list[Row]:
    """The file's rows (row 1 is the header), empty cells left out; 415/422 if unreadable."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in CSV_TYPES:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(422, "the CSV file is not UTF-8 text") from None
        table = list(csv.reader(io.StringIO(text)))
    elif kind == XLSX_TYPE:
        table = _xlsx(data)
    else:
        raise ApiError(415, f"upload text/csv or {XLSX_TYPE}, not {content_type!r}")
    if not table or not any(c.strip() for c in table[0]):
        raise ApiError(422, "the file has no header row")
    header = [c.strip() for c in table[0]]
    if len(set(header)) != len(header):
        raise ApiError(422, f"the header names a column twice: {header}")
    rows: list[Row] = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # a blank line is no record
        if len(cells) > len(header):
            raise ApiError(422, f"row {number} has more cells than the header")
        values: dict[str, Any] = {
            name: cell.strip() for name, cell in zip(header, cells, strict=False) if cell.strip()
        }
        if "replaces_meters" in values:
            values["replaces_meters"] = [m.strip() for m in values["replaces_meters"].split(";")]
        rows.append((number, values))
    if not rows:
        raise ApiError(422, "the file has no rows under its header")
    if len(rows) > MAX_ROWS:
        raise ApiError(413, f"{len(rows)} rows; a file holds at most {MAX_ROWS}")
    return rows


def _xlsx(data: bytes) -> list[list[str]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ApiError(422, f"the file is not a readable XLSX workbook: {exc}") from None
    sheet = book.worksheets[0]
    table = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()  # a date cell; the time of day is not part of a period
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
