"""Report files never carry a formula from data (CSV/formula injection): a text cell that
starts with = + - @ is written as text, quoted, in XLSX and in CSV."""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook

from api.reports.render import csv_zip, xlsx
from api.reports.tables import Table

EVIL = ('=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)")
TABLE = Table("notes", ("note", "value"), tuple((text, 1.5) for text in EVIL))


def test_xlsx_text_that_looks_like_a_formula_stays_text() -> None:
    sheet = load_workbook(io.BytesIO(xlsx([TABLE])))["notes"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.data_type for c in cells] == ["s"] * len(EVIL)
    assert [c.value for c in cells] == ["'" + text for text in EVIL]
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == [1.5] * len(EVIL)


def test_csv_text_that_looks_like_a_formula_is_quoted() -> None:
    with zipfile.ZipFile(io.BytesIO(csv_zip([TABLE]))) as archive:
        lines = archive.read("notes.csv").decode().splitlines()[1:]
    assert all(line.startswith(("'", "\"'")) for line in lines), lines
