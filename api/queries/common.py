"""What every query shares: tenancy of the enterprise filter, pagination, decimal output."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import Request

from api.errors import ApiError
from api.keys import Principal

# Numbers leave the API as decimal strings: sums are taken in PostgreSQL and rounded as numeric,
# so no binary float reaches the client (tCO2e to 6 places = 1 g).
PLACES = 6


def dec(value: Decimal | float | None, places: int = PLACES) -> str | None:
    if value is None:
        return None
    return str(round(Decimal(value), places))


def enterprises_for(who: Principal, requested: list[str] | None) -> list[str] | None:
    """The enterprise filter to apply: an enterprise key is confined to its own enterprise, and
    naming another one is 404 (as if it did not exist). None means every enterprise."""
    if who.enterprise_id is None:
        return requested or None
    others = [e for e in requested or [] if e != who.enterprise_id]
    if others:
        raise ApiError(404, f"no enterprise {others[0]!r}")
    return [who.enterprise_id]


def next_link(request: Request, *, offset: int, limit: int, more: bool) -> str | None:
    if not more:
        return None
    return str(request.url.include_query_params(offset=offset + limit, limit=limit))


def page(items: list[Any], limit: int) -> tuple[list[Any], bool]:
    """Rows fetched with ``limit + 1``: the page and whether another follows."""
    return items[:limit], len(items) > limit


# The hour in progress has no hour window yet: the worker writes it when the hour closes. Until
# then its 1-minute windows stand in for it, so "today" and a target's "to date" include the
# current hour. A minute counts only while its hour has no hour window for the meter (never
# twice), and only minutes of the last two UTC hours are looked at (the hour just closed may
# wait a little for its hour window). Hours are UTC-aligned, whatever the session's time zone.
MINUTES_SINCE = (
    "date_bin('1 hour', now(), timestamptz '2000-01-01 00:00:00+00') - interval '1 hour'"
)
# SQL over a window aliased ``x``: a 1-minute window of an hour without its hour window (yet).
MINUTE_OF_HOUR_IN_PROGRESS = f"""(x.width_s = 60 AND x.window_start >= {MINUTES_SINCE}
      AND NOT EXISTS (SELECT 1 FROM emission_window h
                      WHERE h.meter_id = x.meter_id AND h.width_s = 3600
                        AND h.window_start = date_bin('1 hour', x.window_start,
                                                      timestamptz '2000-01-01 00:00:00+00')))"""  # noqa: S608 - constants only
