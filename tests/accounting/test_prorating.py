"""Targets per local calendar period prorated to windows, linearly in time (clause 6.2)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from accounting.prorating import (
    PeriodError,
    PeriodKind,
    period_bounds_ms,
    period_end,
    prorate,
    prorate_target,
)

SHANGHAI = "Asia/Shanghai"  # UTC+8, no daylight saving


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 1000


def test_a_leap_year_target_of_366_t_gives_one_96th_tonne_per_quarter_hour() -> None:
    # 366 t over 366 days = 1 t/day; 15 min = 1/96 day.
    start = ms(2024, 3, 1, 0, 0)
    share = prorate_target(
        366.0,
        period=PeriodKind.YEAR,
        period_start=date(2024, 1, 1),
        timezone=SHANGHAI,
        window_start_ms=start,
        window_end_ms=start + 900_000,
    )
    assert share == pytest.approx(1 / 96, rel=1e-12)


def test_a_february_2024_target_is_spread_over_its_29_days() -> None:
    # 2.9 t over 29 days = 0.1 t/day; one hour = 0.1 / 24 t.
    start = ms(2024, 2, 10, 3, 0)
    share = prorate_target(
        2.9,
        period=PeriodKind.MONTH,
        period_start=date(2024, 2, 1),
        timezone=SHANGHAI,
        window_start_ms=start,
        window_end_ms=start + 3_600_000,
    )
    assert share == pytest.approx(0.1 / 24, rel=1e-12)


def test_a_window_straddling_local_midnight_gets_only_its_part_inside_the_day() -> None:
    # The park's 2024-06-10 starts at 2024-06-09T16:00Z; the window 15:30Z-16:30Z has 30 min in it.
    share = prorate_target(
        24.0,
        period=PeriodKind.DAY,
        period_start=date(2024, 6, 10),
        timezone=SHANGHAI,
        window_start_ms=ms(2024, 6, 9, 15, 30),
        window_end_ms=ms(2024, 6, 9, 16, 30),
    )
    assert share == pytest.approx(0.5, rel=1e-12)


def test_a_window_outside_the_period_gets_nothing() -> None:
    assert prorate(10.0, period_ms=(0, 1000), window_start_ms=1000, window_end_ms=2000) == 0.0


def test_local_periods_have_their_calendar_lengths_in_utc_milliseconds() -> None:
    lo, hi = period_bounds_ms(PeriodKind.DAY, date(2024, 6, 10), SHANGHAI)
    assert (lo, hi) == (ms(2024, 6, 9, 16, 0), ms(2024, 6, 10, 16, 0))
    year = period_bounds_ms(PeriodKind.YEAR, date(2023, 1, 1), SHANGHAI)
    assert year[1] - year[0] == 365 * 86_400_000
    assert period_end(PeriodKind.MONTH, date(2024, 12, 1)) == date(2025, 1, 1)


def test_a_period_that_does_not_start_on_its_boundary_is_refused() -> None:
    with pytest.raises(PeriodError, match="a month period cannot start on 2024-02-10"):
        period_end(PeriodKind.MONTH, date(2024, 2, 10))
    with pytest.raises(PeriodError, match="a year period cannot start"):
        period_end(PeriodKind.YEAR, date(2024, 2, 1))
    with pytest.raises(PeriodError, match="empty period"):
        prorate(1.0, period_ms=(5, 5), window_start_ms=0, window_end_ms=10)
