"""Data file rows: every problem names file, line and field; nothing is skipped."""

from __future__ import annotations

import pytest

from accounting.datafile import DataFileError, Evidence, parse_csv

COLUMNS = ("name", "value", "day", "evidence")


def _one(text: str) -> None:
    for rec in parse_csv(text, "x.csv", COLUMNS):
        rec.number("value")
        rec.day("day")
        rec.choice("evidence", Evidence)


def test_a_header_that_differs_is_rejected_with_expected_and_found_columns() -> None:
    with pytest.raises(DataFileError, match=r"x.csv:1: field '<header>'"):
        _one("name,value\nA,1\n")


def test_a_ragged_row_is_rejected() -> None:
    with pytest.raises(DataFileError, match=r"x.csv:2: field '<row>': wrong number"):
        _one("name,value,day,evidence\nA,1,2020-01-01,unverified,extra\n")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("A,abc,2020-01-01,unverified", r"x.csv:2: field 'value': 'abc' is not a number"),
        ("A,inf,2020-01-01,unverified", r"field 'value': 'inf' is not finite"),
        ("A,,2020-01-01,unverified", r"field 'value': is empty"),
        ("A,1,2020-13-01,unverified", r"field 'day': '2020-13-01' is not an ISO date"),
        ("A,1,2020-01-01,guessed", r"field 'evidence': 'guessed' is not one of: cross_checked"),
    ],
)
def test_bad_cells_name_file_line_and_field(row: str, message: str) -> None:
    with pytest.raises(DataFileError, match=message):
        _one(f"name,value,day,evidence\n{row}\n")
