"""``GET /v1/energy``: energy consumption in tonnes of standard coal equivalent (GB/T 2589-2020).

The same stored windows, buckets, groups, filters and tenancy as ``GET /v1/emissions``: the
activity of each energy carrier is summed per bucket, group, park and carrier in PostgreSQL
(``emissions.query``, so the day and month rollups serve long ranges), then converted with the
coefficient version in force on the local day (or local month: coefficient versions span whole
months, ``accounting.energy``) under the park's ``tce_electricity_convention``. Year buckets
are read as months and summed here, so a version change inside a year is applied exactly.
Water, outputs, fugitive gases and sinks are not energy and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from accounting.carriers import Carrier
from accounting.categories import SourceCategory
from accounting.energy import ElectricityConvention, EnergySums, EnergyTotal, energy_carriers
from accounting.report import ACTIVITY_ONLY
from api.errors import ApiError
from api.queries import emissions
from api.queries.enums import Bucket, GroupBy

# Rows read before conversion (per park, carrier and bucket): beyond this a query is refused
# with a request to narrow it rather than holding an unbounded result in memory.
MAX_ROWS = 200_000
# Output and water meters, and sinks (removals, whatever their meter measures), use no energy.
NOT_ENERGY = frozenset({ACTIVITY_ONLY, SourceCategory.GREEN_SPACE_SINK.value})


@dataclass(frozen=True, slots=True)
class ParkEnergy:
    timezone: str
    convention: ElectricityConvention


@dataclass
class EnergyRow:
    bucket_start: datetime
    bucket_end: datetime
    group: tuple[str | None, ...]
    sums: EnergySums
    windows: int = 0

    def total(self) -> EnergyTotal:
        return self.sums.total()


async def parks(conn: AsyncConnection[Any]) -> dict[str, ParkEnergy]:
    cur = await conn.execute("SELECT park_id, timezone, tce_electricity_convention FROM park")
    return {
        str(p): ParkEnergy(str(tz), ElectricityConvention(str(c)))
        for p, tz, c in await cur.fetchall()
    }


def _year(instant: datetime, tz: str) -> tuple[datetime, datetime]:
    local = instant.astimezone(ZoneInfo(tz))
    start = datetime(local.year, 1, 1, tzinfo=ZoneInfo(tz))
    return start.astimezone(UTC), start.replace(year=local.year + 1).astimezone(UTC)


async def rows(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    group_by: list[GroupBy],
    filters: emissions.Filters,
    whole: bool = False,
) -> list[EnergyRow]:
    """Energy rows per bucket and group, in the order of ``GET /v1/emissions``; ``whole``: one
    row per group over all of [start, end) (the buckets only pick coefficient versions)."""
    if GroupBy.GAS in group_by:
        raise ApiError(422, "energy is not split by gas: group_by=gas is for /v1/emissions")
    inner = Bucket.MONTH if bucket is Bucket.YEAR else bucket
    extra = [
        g for g in (GroupBy.PARK, GroupBy.CARRIER, GroupBy.SOURCE_CATEGORY) if g not in group_by
    ]
    dims = [*group_by, *extra]
    found = await emissions.query(
        conn,
        start=start,
        end=end,
        bucket=inner,
        group_by=dims,
        filters=filters,
        limit=MAX_ROWS + 1,
        offset=0,
    )
    if len(found) > MAX_ROWS:
        raise ApiError(422, f"more than {MAX_ROWS} park/carrier buckets: narrow the query")
    info = await parks(conn)
    park_at, carrier_at = dims.index(GroupBy.PARK), dims.index(GroupBy.CARRIER)
    category_at = dims.index(GroupBy.SOURCE_CATEGORY)
    n = len(dims)
    out: dict[tuple[Any, ...], EnergyRow] = {}
    for row in found:
        keys = row[2 : 2 + n]
        carrier = Carrier(keys[carrier_at])
        if carrier not in energy_carriers() or keys[category_at] in NOT_ENERGY:
            continue
        park = info[keys[park_at]]
        b_start, b_end = row[0], row[1]
        if bucket is Bucket.YEAR:
            b_start, b_end = _year(b_start, park.timezone)
        day = row[0].astimezone(ZoneInfo(park.timezone)).date()
        group = tuple(keys[: len(group_by)])
        if whole:
            b_start, b_end = start, end
        key = (b_start, b_end, group)
        if key not in out:
            out[key] = EnergyRow(b_start, b_end, group, EnergySums(park.convention))
        target = out[key]
        activity = row[2 + n] or {}
        for value in activity.values():  # one carrier: its canonical unit only
            target.sums.add(carrier, float(value), day, park.convention)
        target.windows += int(row[-1] or 0)
    return sorted(out.values(), key=_order)


def _order(r: EnergyRow) -> tuple[Any, ...]:
    # bucket, then group keys with nulls first, as /v1/emissions orders its rows
    return (r.bucket_start, r.bucket_end, *((k is not None, k or "") for k in r.group))
