"""Instants of readings: the range a reading's time may take, and its ISO 8601 text in UTC.

A time on the wire is RFC 3339 section 5.6 (ISO 8601 profile): ``date-fullyear`` is exactly four
digits, so instants from 0001-01-01 to 9999-12-31 UTC have a text and a Python ``datetime``.
An offset of up to ±23:59 moves a local 9999-12-31 or 0001-01-01 across that edge, so a
well-formed text can name an instant outside it: such an instant is refused before anything
formats or stores it (reason ``TIMESTAMP_OUT_OF_RANGE``, quarantined with its raw text, never
dropped: GB 17167 clause 8.4 as the rest of validation). Well inside that, a hard sanity bound
of ± ``years`` around now (default 100) refuses clock garbage before the live FUTURE_TIMESTAMP
and TOO_OLD rules judge a reading.

Pure: no I/O, no numpy (the edge gateway, which installs without numpy, shares this).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MS_PER_DAY = 86_400_000
_ONE_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1)  # naive UTC: plain calendar arithmetic
_AWARE_EPOCH = _EPOCH.replace(tzinfo=UTC)
MIN_MS = (datetime(1, 1, 1) - _EPOCH) // _ONE_MS
"""0001-01-01T00:00:00.000Z, the first instant with a four-digit year."""
MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999_000) - _EPOCH) // _ONE_MS
"""9999-12-31T23:59:59.999Z, the last instant with a four-digit year."""
# The mean Gregorian year: 146,097 days per 400 years.
YEAR_MS = 146_097 * MS_PER_DAY // 400
DEFAULT_BOUND_YEARS = 100
# ISO 8601 expanded years: a sign and five or more digits (what ``iso_utc`` writes beyond 9999).
EXPANDED_YEAR = re.compile(r"^[+-][0-9]{5,}-")


class TimestampOutOfRangeError(ValueError):
    """A well-formed time outside the accepted bounds (reason ``TIMESTAMP_OUT_OF_RANGE``)."""


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """The instants a reading may carry, both ends included (UTC epoch ms)."""

    lo_ms: int
    hi_ms: int

    @classmethod
    def around(cls, now_ms: int, years: int = DEFAULT_BOUND_YEARS) -> TimeBounds:
        """± ``years`` mean Gregorian years around ``now_ms``, within the four-digit years."""
        span = years * YEAR_MS
        return cls(max(MIN_MS, now_ms - span), min(MAX_MS, now_ms + span))

    def __contains__(self, ms: int) -> bool:
        return self.lo_ms <= ms <= self.hi_ms

    def check(self, ms: int, text: str) -> int:
        """``ms`` when inside; otherwise TimestampOutOfRangeError naming ``text`` and the range."""
        if self.lo_ms <= ms <= self.hi_ms:
            return ms
        raise TimestampOutOfRangeError(
            f"ts {text!r} is {iso_utc(ms)}, outside the accepted range "
            f"{iso_utc(self.lo_ms)} .. {iso_utc(self.hi_ms)}"
        )


REPRESENTABLE = TimeBounds(MIN_MS, MAX_MS)
"""Every instant with a four-digit year: the bound when nothing narrower applies."""


def parse_ms(text: str) -> int:
    """ISO 8601 with an explicit offset -> UTC epoch ms, unbounded (any offset up to ±23:59
    of years 0001-9999 gives years 0000-10000 in UTC). ValueError for a text that is not such a
    time or has no offset (a naive time is ambiguous); TimestampOutOfRangeError for an expanded
    year, which is beyond 0001-9999 by its form."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        if EXPANDED_YEAR.match(text):
            raise TimestampOutOfRangeError(
                f"ts {text!r} has a year beyond 0001-9999 (expanded representation)"
            ) from None
        raise
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    # Aware subtraction works on both sides of year 1 and 9999, where astimezone() overflows.
    return (moment - _AWARE_EPOCH) // _ONE_MS


def iso_utc(ms: int, *, millis: bool = True) -> str:
    """``ms`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (``millis=False``: whole seconds, truncated).

    Never raises: a year 0001-9999 is written with four digits (RFC 3339 ``date-fullyear``,
    also below 1000, where strftime writes fewer); any other year in ISO 8601's expanded form,
    a sign and at least six digits as ECMAScript's ``Date.prototype.toISOString`` writes it.
    """
    if MIN_MS <= ms <= MAX_MS:
        text = (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
    else:
        text = calendar_iso(ms)
    return (text if millis else text[:-4]) + "Z"


def calendar_iso(ms: int) -> str:
    """``ms`` as ``YYYY-MM-DDTHH:MM:SS.mmm`` (no zone designator) by integer arithmetic on the
    proleptic Gregorian calendar, for any integer: four-digit years 0001-9999, else expanded.

    Days to civil date as in H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"
    (``civil_from_days``), in floor division, so negative days need no special case.
    """
    days, rest = divmod(ms, MS_PER_DAY)
    z = days + 719_468  # days from 0000-03-01, the start of a 400-year era
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    sign = "" if 1 <= year <= 9999 else "-" if year < 0 else "+"
    head = f"{sign}{abs(year):0{4 if not sign else 6}d}"
    return f"{head}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
