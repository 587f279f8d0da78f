"""A report's tables as files: CSV (a zip with one ``<table>.csv`` per table) and XLSX (one sheet
per table). Numbers are written as numbers at full precision, never rounded for display.

Text cells come partly from users (meter names, comments, ticket text). A spreadsheet evaluates
a cell that starts with ``= + - @`` (or a tab or carriage return before one) as a formula, so
such text is written with a leading single quote (OWASP "CSV Injection"): it shows as text and
never runs. Only text is touched: a negative number is a number and stays one. The rule is
``accounting.spreadsheet.formula_safe`` (undone on import by ``restored``), shared with
backfill's reject files and the registers' XLSX files.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime
from enum import StrEnum

from openpyxl import Workbook  # openpyxl ships no type hints
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from accounting.spreadsheet import formula_safe
from api.reports.tables import Cell, Table


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


MEDIA_TYPES: dict[Format, str] = {
    Format.JSON: "application/json",
    Format.CSV: "application/zip",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.HTML: "text/html; charset=utf-8",
}
EXTENSIONS: dict[Format, str] = {
    Format.JSON: "json",
    Format.CSV: "csv.zip",
    Format.XLSX: "xlsx",
    Format.HTML: "html",
}
# A fixed time for the zip entries, so the same report gives the same bytes.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float):
        return repr(cell)  # the shortest text that reads back as the same float
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, datetime):
        return cell.isoformat()
    if isinstance(cell, str):
        return formula_safe(cell)
    return str(cell)


def csv_zip(tables: list[Table]) -> bytes:
    """A zip of UTF-8 CSV files, one per table, header row first; empty cells are nulls."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            text = io.StringIO()
            # CRLF (RFC 4180): the writer then quotes any cell holding a CR or an LF, so a
            # carriage return inside text cannot end a row early.
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(table.columns)
            writer.writerows([_text(c) for c in row] for row in table.rows)
            info = zipfile.ZipInfo(f"{table.name}.csv", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.getvalue().encode())
    return buffer.getvalue()


def _xlsx_cell(cell: Cell) -> Cell:
    # Excel has no time zones: an aware time is written as UTC text, so nothing is shifted.
    if isinstance(cell, datetime):
        return cell.isoformat()
    if isinstance(cell, str):
        # openpyxl stores a string starting with "=" as a formula; a control character (one XML
        # cannot hold, e.g. from a free-text comment) would make the whole file fail: shown as
        # U+FFFD instead, so a report of stored text always renders.
        return formula_safe(ILLEGAL_CHARACTERS_RE.sub("\ufffd", cell))
    return cell


def xlsx(tables: list[Table]) -> bytes:
    """A workbook with one sheet per table, a bold frozen header row and widened columns."""
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(table.name)
        sheet.append(list(table.columns))
        for row in table.rows:
            sheet.append([_xlsx_cell(c) for c in row])
        sheet.freeze_panes = "A2"
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for i, column in enumerate(table.columns, start=1):
            width = max([len(column), *(len(_text(r[i - 1])) for r in table.rows[:200])])
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(60, width + 2)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
