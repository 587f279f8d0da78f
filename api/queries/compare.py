"""Period comparison of query rows: year on year (同比) and month on month (环比).

Each row of ``/v1/emissions`` or ``/v1/energy`` is set beside the *same bucket* one calendar
year or one calendar month earlier, in the park's local calendar (the buckets of a day and
longer are the park's local days, months and years, clause 9.1 a): the day 2025-03-10 is
compared with 2024-03-10 (yoy) or 2025-02-10 (mom), the month 2025-03 with 2024-03 or 2025-02,
the hour 2025-03-10 09:00 with 2025-02-10 09:00. A bucket whose earlier counterpart does not
exist in the calendar (31 March a month earlier, 29 February a year earlier) has none: nothing
is moved to a neighbouring day. The change is the row's figure less the earlier one, and in per
cent of the earlier one's magnitude (null when the earlier figure is zero or absent).

Pure functions: the query routes read both periods with the same query machinery.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo


class Compare(StrEnum):
    YOY = "yoy"  # year on year, 同比
    MOM = "mom"  # month on month, 环比


def _target(local: datetime, compare: Compare) -> tuple[int, int]:
    if compare is Compare.YOY:
        return local.year - 1, local.month
    if local.month == 1:
        return local.year - 1, 12
    return local.year, local.month - 1


class OutOfCalendarError(ValueError):
    """The earlier period falls before the first year the calendar has (year 1)."""


def earlier(instant: datetime, zone: ZoneInfo, compare: Compare) -> datetime | None:
    """The instant one local calendar year or month before ``instant``, at the same local day
    and time; None when that day does not exist (31 March -> 31 February) or is before year 1."""
    try:
        local = instant.astimezone(zone)
        year, month = _target(local, compare)
        return local.replace(year=year, month=month).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def earlier_bound(instant: datetime, zone: ZoneInfo, compare: Compare) -> datetime:
    """As ``earlier``, for the ends of a range: a day past the month's end is clamped to it, so
    the earlier range is never empty where the request's is not. ``OutOfCalendarError`` before
    year 1."""
    try:
        local = instant.astimezone(zone)
        year, month = _target(local, compare)
        day = min(local.day, calendar.monthrange(year, month)[1])
        return local.replace(year=year, month=month, day=day).astimezone(UTC)
    except (ValueError, OverflowError) as e:
        raise OutOfCalendarError(f"no period a {compare.name.lower()} before {instant}") from e


@dataclass(frozen=True, slots=True)
class Change:
    absolute: Decimal | None  # current - earlier
    percent: Decimal | None  # absolute / |earlier| x 100, to 2 places


def change(current: Decimal | None, before: Decimal | None) -> Change:
    """The change from ``before`` to ``current``; no figure where either is missing, and no
    percentage of a zero."""
    if current is None or before is None:
        return Change(None, None)
    absolute = current - before
    if before == 0:
        return Change(absolute, None)
    return Change(absolute, round(absolute / abs(before) * 100, 2))
