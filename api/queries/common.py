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
