"""Targets per calendar period (clause 6.2) prorated to a window, linearly in time.

A target is set for a year, a month or a day of the park's local calendar; a deviation rule
compares one window with the share of it that falls in the window. Linear in time is the
documented default; a park with a strong daily or seasonal load profile may later weight the
share by that profile instead (same inputs, a different weight per millisecond).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class PeriodKind(StrEnum):
    YEAR = "year"
    MONTH = "month"
    DAY = "day"


class PeriodError(ValueError):
    """A period that does not start on its calendar boundary, or an empty one."""


def period_end(kind: PeriodKind, start: date) -> date:
    """The exclusive end of the local calendar period of ``kind`` that begins on ``start``."""
    boundary = {
        PeriodKind.DAY: start,
        PeriodKind.MONTH: start.replace(day=1),
        PeriodKind.YEAR: date(start.year, 1, 1),
    }[kind]
    if start != boundary:
        raise PeriodError(f"a {kind} period cannot start on {start}")
    if kind is PeriodKind.DAY:
        return start + timedelta(days=1)
    if kind is PeriodKind.MONTH:
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


def period_bounds_ms(kind: PeriodKind, start: date, timezone: str) -> tuple[int, int]:
    """UTC epoch-ms bounds [start, end) of a period in ``timezone`` (a park's day is its own)."""
    zone = ZoneInfo(timezone)
    lo, hi = (
        (datetime.combine(d, time(), zone) - _EPOCH) // _MS
        for d in (start, period_end(kind, start))
    )
    return lo, hi


def prorate(
    amount: float, *, period_ms: tuple[int, int], window_start_ms: int, window_end_ms: int
) -> float:
    """The share of ``amount`` (over ``period_ms``) that falls in the window, by time.

    Only the overlap counts: a window straddling the period's edge gets its part inside, a
    window outside it gets 0.
    """
    lo, hi = period_ms
    if hi <= lo:
        raise PeriodError(f"empty period {lo}..{hi}")
    overlap = max(0, min(hi, window_end_ms) - max(lo, window_start_ms))
    return amount * overlap / (hi - lo)


def prorate_target(
    amount: float,
    *,
    period: PeriodKind,
    period_start: date,
    timezone: str,
    window_start_ms: int,
    window_end_ms: int,
) -> float:
    """A target of ``amount`` (tCO2e) for a local year, month or day, prorated to a window."""
    return prorate(
        amount,
        period_ms=period_bounds_ms(period, period_start, timezone),
        window_start_ms=window_start_ms,
        window_end_ms=window_end_ms,
    )
