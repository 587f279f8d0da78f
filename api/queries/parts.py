"""Stored windows summed per bucket, group *and* the dimensions a derived figure needs (park,
carrier, source category, the meter's factor series), for figures that are not plain sums: energy
in tce (``energy``) and market-based tCO2e (``market``). One ``emissions.query`` reads them, so
the day and month rollups serve long ranges; year buckets are read as local months, so a factor
or coefficient version that starts on a month's first day is applied exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from api.errors import ApiError
from api.queries import emissions
from api.queries.enums import Bucket, GroupBy

# Rows read before the figures are derived: beyond this a query is refused with a request to
# narrow it rather than holding an unbounded result in memory.
MAX_ROWS = 200_000
DETAIL = (GroupBy.PARK, GroupBy.CARRIER, GroupBy.SOURCE_CATEGORY, GroupBy.FACTOR_KEY)


@dataclass(frozen=True, slots=True)
class Park:
    timezone: str
    region: str
    tce_electricity_convention: str


@dataclass(frozen=True, slots=True)
class Part:
    """One park's carrier, source category and meter factor series in one bucket and group."""

    bucket_start: datetime
    bucket_end: datetime
    group: tuple[str | None, ...]  # the values of the requested group_by dimensions
    park_id: str
    park: Park
    carrier: str
    source_category: str
    factor_key: str | None
    day: date  # the park-local day (or month's first day) whose versions apply
    activity: float  # in the carrier's canonical unit (one unit per carrier)
    tco2e: Decimal
    windows: int


async def parks(conn: AsyncConnection[Any]) -> dict[str, Park]:
    cur = await conn.execute(
        "SELECT park_id, timezone, region, tce_electricity_convention FROM park"
    )
    return {str(p): Park(str(tz), str(r), str(c)) for p, tz, r, c in await cur.fetchall()}


def _year(instant: datetime, tz: str) -> tuple[datetime, datetime]:
    local = instant.astimezone(ZoneInfo(tz))
    start = datetime(local.year, 1, 1, tzinfo=ZoneInfo(tz))
    return start.astimezone(UTC), start.replace(year=local.year + 1).astimezone(UTC)


async def parts(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    group_by: list[GroupBy],
    filters: emissions.Filters,
) -> list[Part]:
    """The parts of every bucket and group in [start, end), in no particular order."""
    if GroupBy.GAS in group_by:
        raise ApiError(422, "this figure is not split by gas: group_by=gas is for tCO2e only")
    dims = [*group_by, *(g for g in DETAIL if g not in group_by)]
    found = await emissions.query(
        conn,
        start=start,
        end=end,
        bucket=Bucket.MONTH if bucket is Bucket.YEAR else bucket,
        group_by=dims,
        filters=filters,
        limit=MAX_ROWS + 1,
        offset=0,
    )
    if len(found) > MAX_ROWS:
        raise ApiError(422, f"more than {MAX_ROWS} rows to derive: narrow the query")
    info = await parks(conn)
    at = {g: dims.index(g) for g in DETAIL}
    n = len(dims)
    out = []
    for row in found:
        keys = row[2 : 2 + n]
        park = info[keys[at[GroupBy.PARK]]]
        b_start, b_end = row[0], row[1]
        if bucket is Bucket.YEAR:
            b_start, b_end = _year(b_start, park.timezone)
        activity = row[2 + n] or {}
        out.append(
            Part(
                bucket_start=b_start,
                bucket_end=b_end,
                group=tuple(keys[: len(group_by)]),
                park_id=keys[at[GroupBy.PARK]],
                park=park,
                carrier=keys[at[GroupBy.CARRIER]],
                source_category=keys[at[GroupBy.SOURCE_CATEGORY]],
                factor_key=keys[at[GroupBy.FACTOR_KEY]],
                day=row[0].astimezone(ZoneInfo(park.timezone)).date(),
                activity=sum(float(v) for v in activity.values()),
                tco2e=Decimal(row[3 + n] or 0),
                windows=int(row[-1] or 0),
            )
        )
    return out
