"""``GET /v1/emissions`` from stored windows (clauses 6.3.1, 9.1 a): sums per bucket and group.

Windows are those *starting* in [from, to); a bucket of a day or longer is the park's local day,
month or year (``park.timezone``), so a park-wide key over parks in several time zones gets each
park's buckets apart. Activity is summed per unit (never across units); grouped by gas, the
measure is each gas's mass in tonnes, and tCO2e (a sum over gases) is not split.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from api.queries.enums import BUCKETS, Bucket, GroupBy

_COLUMN: dict[GroupBy, str] = {
    GroupBy.PARK: "e.park_id",
    GroupBy.ENTERPRISE: "w.enterprise_id",
    GroupBy.SITE: "m.site_id",
    GroupBy.METER: "w.meter_id",
    GroupBy.SOURCE_CATEGORY: "w.source_category",
    GroupBy.ISO_CATEGORY: "w.iso_category",
    GroupBy.GAS: "g.gas",
}
_UTC_STEP = (
    "date_bin(%(step)s::interval, w.window_start, timestamptz '2000-01-01 00:00:00+00')",
    "date_bin(%(step)s::interval, w.window_start, timestamptz '2000-01-01 00:00:00+00')"
    " + %(step)s::interval",
)
_LOCAL = (
    "date_trunc(%(unit)s, w.window_start AT TIME ZONE p.timezone) AT TIME ZONE p.timezone",
    "(date_trunc(%(unit)s, w.window_start AT TIME ZONE p.timezone) + %(step)s::interval)"
    " AT TIME ZONE p.timezone",
)
_MEASURES = (
    "sum(w.activity) AS activity, sum(w.tco2e) AS tco2e, NULL::float8 AS mass,"
    " sum(w.readings_present) AS present, sum(w.readings_expected) AS expected, count(*) AS n"
)
_GAS_MEASURES = (
    "NULL::float8 AS activity, NULL::float8 AS tco2e, sum(g.t::float8) AS mass,"
    " sum(w.readings_present) AS present, sum(w.readings_expected) AS expected, count(*) AS n"
)
_TEMPLATE = """
WITH base AS (
  SELECT {start} AS bucket_start, {end} AS bucket_end, {groups}
         CASE WHEN {by_gas} THEN 't' ELSE w.activity_unit END AS unit, {measures}
  FROM emission_window w
  JOIN meter m ON m.meter_id = w.meter_id
  JOIN enterprise e ON e.enterprise_id = w.enterprise_id
  JOIN park p ON p.park_id = e.park_id
  {gas_join}
  WHERE w.width_s = %(width)s AND w.window_start >= %(from)s AND w.window_start < %(to)s
    AND (%(parks)s::text[] IS NULL OR e.park_id = ANY(%(parks)s))
    AND (%(enterprises)s::text[] IS NULL OR w.enterprise_id = ANY(%(enterprises)s))
    AND (%(sites)s::text[] IS NULL OR m.site_id = ANY(%(sites)s))
    AND (%(meters)s::text[] IS NULL OR w.meter_id = ANY(%(meters)s))
    AND (%(categories)s::text[] IS NULL OR w.source_category = ANY(%(categories)s))
  GROUP BY {positions}
)
SELECT bucket_start, bucket_end, {keys}
       jsonb_object_agg(unit, round(activity::numeric, 6)) FILTER (WHERE activity IS NOT NULL),
       round(sum(tco2e)::numeric, 6), round(sum(mass)::numeric, 6),
       round((sum(present) / nullif(sum(expected), 0))::numeric, 4), sum(n)
FROM base
GROUP BY bucket_start, bucket_end {comma_keys}
ORDER BY bucket_start, bucket_end {comma_keys_nulls}
LIMIT %(limit)s OFFSET %(offset)s
"""


@dataclass(frozen=True, slots=True)
class Filters:
    parks: list[str] | None
    enterprises: list[str] | None
    sites: list[str] | None
    meters: list[str] | None
    categories: list[str] | None


def _statement(bucket: Bucket, group_by: list[GroupBy]) -> sql.Composed:
    by_gas = GroupBy.GAS in group_by
    start, end = _UTC_STEP if BUCKETS[bucket][2] is None else _LOCAL
    keys = [f"k{i}" for i in range(len(group_by))]
    positions = ", ".join(str(i) for i in range(1, len(group_by) + 4))
    # Every fragment below is one of the constants above: nothing from the request is spliced.
    return sql.SQL(_TEMPLATE).format(
        start=sql.SQL(start),
        end=sql.SQL(end),
        groups=sql.SQL("".join(f"{_COLUMN[g]} AS k{i}, " for i, g in enumerate(group_by))),
        by_gas=sql.SQL("true" if by_gas else "false"),
        measures=sql.SQL(_GAS_MEASURES if by_gas else _MEASURES),
        gas_join=sql.SQL(
            "CROSS JOIN LATERAL jsonb_each_text(w.gases) AS g(gas, t)" if by_gas else ""
        ),
        positions=sql.SQL(positions),
        keys=sql.SQL("".join(f"{k}, " for k in keys)),
        comma_keys=sql.SQL("".join(f", {k}" for k in keys)),
        comma_keys_nulls=sql.SQL("".join(f", {k} NULLS FIRST" for k in keys)),
    )


async def query(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    group_by: list[GroupBy],
    filters: Filters,
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    """Rows (bucket_start, bucket_end, *group keys, activity by unit, tco2e, mass, completeness,
    windows), ordered by bucket and group keys; ``limit`` rows from ``offset``."""
    width, step, unit = BUCKETS[bucket]
    params = {
        "width": width,
        "step": step,
        "unit": unit,
        "from": start,
        "to": end,
        "parks": filters.parks,
        "enterprises": filters.enterprises,
        "sites": filters.sites,
        "meters": filters.meters,
        "categories": filters.categories,
        "limit": limit,
        "offset": offset,
    }
    cur = await conn.execute(_statement(bucket, group_by), params)
    return list(await cur.fetchall())
