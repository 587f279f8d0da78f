"""The next evaluation of an obligation (6.6, 9.2): an evaluation's date plus the obligation's
frequency in months, on the month's last day where the month is shorter."""

from __future__ import annotations

from datetime import date

import pytest

from api.obligations.rules import months_after


@pytest.mark.parametrize(
    ("day", "months", "due"),
    [
        (date(2031, 2, 15), 12, date(2032, 2, 15)),
        (date(2031, 1, 31), 1, date(2031, 2, 28)),
        (date(2032, 1, 31), 1, date(2032, 2, 29)),  # a leap year
        (date(2031, 11, 30), 3, date(2032, 2, 29)),
        (date(2031, 12, 1), 1, date(2032, 1, 1)),
        (date(2031, 6, 30), 120, date(2041, 6, 30)),
    ],
)
def test_the_next_evaluation_is_the_frequency_later(day: date, months: int, due: date) -> None:
    assert months_after(day, months) == due
