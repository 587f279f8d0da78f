"""The period a report covers, in the park's local calendar (clause 6.3.1: accounting at least
yearly; a month or any span of days for interim reviews, 9.5).

``2026`` is the local year, ``2026-03`` the local month, and ``from``/``to`` (inclusive) any span
of days. Bounds are local dates; turning them into instants is the caller's job, in the park's
time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

# A report reads one aggregate row per enterprise, source and day: bounded so one request stays
# a few thousand rows. Ten years covers any baseline-to-target comparison a review needs.
MAX_DAYS = 3660

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodKind(StrEnum):
    YEAR = "year"
    MONTH = "month"
    RANGE = "range"


class ReportPeriodError(ValueError):
    """A period that cannot be read or is out of bounds; the message says what is accepted."""


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """Local dates [start, end): ``end`` is exclusive, ``last`` the last day included."""

    kind: PeriodKind
    start: date
    end: date
    label: str

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def months(self) -> tuple[date, ...]:
        """First days of the local months the period touches, in order."""
        first, out = self.start.replace(day=1), []
        while first < self.end:
            out.append(first)
            first = next_month(first)
        return tuple(out)

    def year_before(self) -> ReportPeriod:
        """The same span one year earlier (29 February falls back to the 28th)."""
        return ReportPeriod(
            self.kind, _minus_year(self.start), _minus_year(self.end), f"{self.label} - 1 year"
        )


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _minus_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def parse_period(text: str) -> ReportPeriod:
    """``YYYY`` (a local year) or ``YYYY-MM`` (a local month), years 1990..2100."""
    text = text.strip()
    if (m := _YEAR.match(text) or _MONTH.match(text)) and not 1990 <= int(m.group(1)) <= 2100:
        raise ReportPeriodError(f"period {text!r}: the year must be 1990..2100")
    if m := _YEAR.match(text):
        year = int(m.group(1))
        return _checked(ReportPeriod(PeriodKind.YEAR, date(year, 1, 1), date(year + 1, 1, 1), text))
    if m := _MONTH.match(text):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ReportPeriodError(f"period {text!r}: month {month} is not 01..12")
        start = date(year, month, 1)
        return _checked(ReportPeriod(PeriodKind.MONTH, start, next_month(start), text))
    raise ReportPeriodError(
        f"period {text!r} is neither a year (2026) nor a month (2026-03); "
        "for another span give from and to dates instead"
    )


def period_between(first: date, last: date) -> ReportPeriod:
    """The local days ``first`` to ``last``, both included."""
    if last < first:
        raise ReportPeriodError(f"to {last} is before from {first}")
    label = f"{first.isoformat()}..{last.isoformat()}"
    return _checked(ReportPeriod(PeriodKind.RANGE, first, last + timedelta(days=1), label))


def _checked(period: ReportPeriod) -> ReportPeriod:
    if period.start.year < 1990 or period.end.year > 2101:
        raise ReportPeriodError(f"period {period.label} is outside 1990..2100")
    if period.days > MAX_DAYS:
        raise ReportPeriodError(f"period {period.label} is longer than {MAX_DAYS} days")
    return period
