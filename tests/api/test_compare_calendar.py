"""The comparison calendar (同比 / 环比): the same bucket one local year or month earlier, no
neighbouring day in place of a missing one, and the change in per cent of the earlier figure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from api.queries.compare import Change, Compare, OutOfCalendarError, change, earlier, earlier_bound

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_local_day_is_compared_with_the_same_local_day_a_year_and_a_month_earlier() -> None:
    # local 10 March 2025 00:00 in Shanghai is 9 March 16:00 UTC: the shift is in local time
    day = at("2025-03-10T00:00:00+08:00")
    assert earlier(day, SHANGHAI, Compare.YOY) == at("2024-03-10T00:00:00+08:00")
    assert earlier(day, SHANGHAI, Compare.MOM) == at("2025-02-10T00:00:00+08:00")


def test_january_compared_month_on_month_is_the_previous_years_december() -> None:
    assert earlier(at("2025-01-01T00:00:00+08:00"), SHANGHAI, Compare.MOM) == at(
        "2024-12-01T00:00:00+08:00"
    )


def test_a_day_missing_from_the_earlier_month_has_no_counterpart() -> None:
    assert earlier(at("2025-03-31T00:00:00+08:00"), SHANGHAI, Compare.MOM) is None
    assert earlier(at("2024-02-29T00:00:00+08:00"), SHANGHAI, Compare.YOY) is None


def test_range_ends_are_clamped_to_the_month_so_the_earlier_range_is_never_empty() -> None:
    assert earlier_bound(at("2025-03-31T00:00:00+08:00"), SHANGHAI, Compare.MOM) == at(
        "2025-02-28T00:00:00+08:00"
    )
    assert earlier_bound(at("2024-02-29T12:00:00+08:00"), SHANGHAI, Compare.YOY) == at(
        "2023-02-28T12:00:00+08:00"
    )


def test_local_midnight_stays_local_midnight_across_a_daylight_saving_change() -> None:
    # 1 April 2025 00:00 EDT (-04:00) a month earlier is 1 March 00:00 EST (-05:00)
    assert earlier(at("2025-04-01T00:00:00-04:00"), NEW_YORK, Compare.MOM) == at(
        "2025-03-01T00:00:00-05:00"
    )


def test_the_change_is_absolute_and_in_per_cent_of_the_earlier_magnitude() -> None:
    assert change(Decimal("2.6"), Decimal("2.9")) == Change(Decimal("-0.3"), Decimal("-10.34"))
    assert change(Decimal("1"), Decimal("0.25")) == Change(Decimal("0.75"), Decimal("300.00"))
    # a removal (negative) that shrinks: the change is positive, against its magnitude
    assert change(Decimal("-1"), Decimal("-2")) == Change(Decimal("1"), Decimal("50.00"))


def test_no_percentage_of_zero_and_no_change_without_both_figures() -> None:
    assert change(Decimal("1.5"), Decimal("0")) == Change(Decimal("1.5"), None)
    assert change(Decimal("1.5"), None) == Change(None, None)
    assert change(None, Decimal("1")) == Change(None, None)


def test_a_period_before_year_one_is_out_of_the_calendar() -> None:
    first = datetime(1, 1, 1, 12, tzinfo=UTC)
    assert earlier(first, SHANGHAI, Compare.YOY) is None
    with pytest.raises(OutOfCalendarError):
        earlier_bound(first, SHANGHAI, Compare.MOM)
