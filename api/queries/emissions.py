"""``GET /v1/emissions`` from stored windows (clauses 6.3.1, 9.1 a): sums per bucket and group.

Windows are those *starting* in [from, to); a bucket of a day or longer is the park's local day,
month or year (``park.timezone``), so a park-wide key over parks in several time zones gets each
park's buckets apart. Activity is summed per unit (never across units); grouped by gas, the
measure is each gas's mass in tonnes, and tCO2e (a sum over gases) is not split.

Buckets of a day and longer read the daily rollup ``emission_day`` (migration 0012, kept equal to
the sums of the hour windows by triggers) for every local day wholly inside [from, to), and the
hour windows only for the partial days at either end: a year for 1,000 meters is 365,000 day rows
instead of 8.76 million hour windows, with the same figures (``windows`` still counts hours).
Month and year buckets go one step further: every local month wholly inside [from, to) in every
park's time zone is read from ``emission_month`` (migration 0013, kept equal to the sums of the
day rows by triggers), so a year is 12 rows a meter; only the partial months at the ends are
read as days (and their partial days as hours). The hour in progress, which has no hour window
until it closes, is read from its 1-minute windows (``common.MINUTE_OF_HOUR_IN_PROGRESS``), so
today's figures include it; ``windows`` then counts those minutes too.

Totals count by the boundary rule (docs/boundary.md, migration 0022): sub-meters and meters
outside the boundary are left out, exports netted. The rollups stay per meter as measured and
the rule is applied when reading them, through the views ``counted_window``, ``counted_day``
and ``counted_month``; ``detail`` reads the tables themselves (every meter as measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from api.queries.common import MINUTE_OF_HOUR_IN_PROGRESS, MINUTES_SINCE
from api.queries.enums import BUCKETS, Bucket, GroupBy

# Group columns over the windows (``w``) and over the day sums (also ``w``, gas a column).
_COLUMN: dict[GroupBy, str] = {
    GroupBy.PARK: "e.park_id",
    GroupBy.ENTERPRISE: "w.enterprise_id",
    GroupBy.SITE: "m.site_id",
    GroupBy.METER: "w.meter_id",
    GroupBy.SOURCE_CATEGORY: "w.source_category",
    GroupBy.ISO_CATEGORY: "w.iso_category",
    GroupBy.GAS: "g.gas",
    GroupBy.CARRIER: "m.carrier",
    GroupBy.FACTOR_KEY: "m.factor_key",
}
_DAY_COLUMN = {**_COLUMN, GroupBy.GAS: "w.gas"}
_GAS_JOIN = "CROSS JOIN LATERAL jsonb_each_text(w.gases) AS g(gas, t)"
_UNIT = "CASE WHEN {by_gas} THEN 't' ELSE w.activity_unit END AS unit"
# Measures (activity, tco2e, mass, present, expected, n) of an hour window and of a day row; a
# day row carries, per gas, the hour windows with that gas and their readings (0012).
_HOUR = (
    "sum(w.activity) AS activity, sum(w.tco2e) AS tco2e, NULL::float8 AS mass,"
    " sum(w.readings_present) AS present, sum(w.readings_expected) AS expected, count(*) AS n"
)
_HOUR_GAS = (
    "NULL::float8 AS activity, NULL::float8 AS tco2e, sum(g.t::float8) AS mass,"
    " sum(w.readings_present) AS present, sum(w.readings_expected) AS expected, count(*) AS n"
)
_DAY = (
    "sum(d.activity) AS activity, sum(d.tco2e) AS tco2e, NULL::float8 AS mass,"
    " sum(d.readings_present) AS present, sum(d.readings_expected) AS expected,"
    " sum(d.windows) AS n"
)
_DAY_GAS = (
    "NULL::float8 AS activity, NULL::float8 AS tco2e, sum(g.t::float8) AS mass,"
    " sum((d.gas_windows -> g.gas ->> 1)::float8) AS present,"
    " sum((d.gas_windows -> g.gas ->> 2)::float8) AS expected,"
    " sum((d.gas_windows -> g.gas ->> 0)::bigint) AS n"
)
# A month row as it is: one row per meter, month and key already (the outer level sums them).
_MONTH = (
    "d.activity, d.tco2e, NULL::float8, d.readings_present, d.readings_expected, d.windows::bigint"
)
_MONTH_GAS = (
    "NULL::float8, NULL::float8, g.t::float8, (d.gas_windows -> g.gas ->> 1)::float8,"
    " (d.gas_windows -> g.gas ->> 2)::float8, (d.gas_windows -> g.gas ->> 0)::bigint"
)
_FILTERS = """
    AND (%(parks)s::text[] IS NULL OR e.park_id = ANY(%(parks)s))
    AND (%(enterprises)s::text[] IS NULL OR w.enterprise_id = ANY(%(enterprises)s))
    AND (%(sites)s::text[] IS NULL OR m.site_id = ANY(%(sites)s))
    AND (%(meters)s::text[] IS NULL OR w.meter_id = ANY(%(meters)s))
    AND (%(categories)s::text[] IS NULL OR w.source_category = ANY(%(categories)s))"""
_TAIL = """
SELECT bucket_start, bucket_end, {keys}
       jsonb_object_agg(unit, round(activity::numeric, 6)) FILTER (WHERE activity IS NOT NULL),
       round(sum(tco2e)::numeric, 6), round(sum(mass)::numeric, 6),
       round((sum(present) / nullif(sum(expected), 0))::numeric, 4), sum(n)
FROM base
GROUP BY bucket_start, bucket_end {comma_keys}
ORDER BY bucket_start, bucket_end {comma_keys_nulls}
LIMIT %(limit)s OFFSET %(offset)s
"""
# Sub-day buckets: fixed UTC steps over the windows of the bucket's width.
_STEPS = f"""
WITH base AS (
  SELECT date_bin(%(step)s::interval, w.window_start, timestamptz '2000-01-01 00:00:00+00')
           AS bucket_start,
         date_bin(%(step)s::interval, w.window_start, timestamptz '2000-01-01 00:00:00+00')
           + %(step)s::interval AS bucket_end,
         {{groups}} {_UNIT}, {{hour}}
  FROM {{window}} w
  JOIN meter m ON m.meter_id = w.meter_id
  JOIN enterprise e ON e.enterprise_id = w.enterprise_id
  JOIN park p ON p.park_id = e.park_id
  {{gas_join}}
  WHERE w.width_s = %(width)s AND w.window_start >= %(from)s AND w.window_start < %(to)s
  {_FILTERS}
  GROUP BY {{positions}}
)"""  # noqa: S608 - only this module's constant fragments
# Local buckets. Per park: the whole local days [first_day, end_day) inside [from, to), read
# from emission_day, and the UTC spans before and after them, read from the hour windows (both
# spans empty when from and to are local midnights). Rows are first summed per time zone and
# local bucket start, then per bucket instant (two zone names may share one).
_LOCAL = f"""
WITH spans AS (
  SELECT park_id, tz, first_day, greatest(end_day, first_day) AS end_day
  FROM (
    SELECT p.park_id, p.timezone AS tz,
           -- the first local midnight at or after from, the last at or before to
           (date_trunc('day', (%(from)s AT TIME ZONE p.timezone) - interval '1 microsecond')
            + interval '1 day')::date AS first_day,
           date_trunc('day', %(to)s AT TIME ZONE p.timezone)::date AS end_day
    FROM park p
    WHERE %(parks)s::text[] IS NULL OR p.park_id = ANY(%(parks)s)
  ) AS d
), edges AS (
  SELECT park_id, tz, %(from)s::timestamptz AS lo,
         least(first_day::timestamp AT TIME ZONE tz, %(to)s) AS hi FROM spans
  UNION ALL
  SELECT park_id, tz, greatest(end_day::timestamp AT TIME ZONE tz, %(from)s), %(to)s FROM spans
), core AS (
  -- days whole in every park's range
  SELECT max(first_day) AS core_lo, min(end_day) AS core_hi FROM spans
), bounds AS (
  -- and the local months whole inside those days (none for day buckets, or when no park):
  -- [mo_lo, mo_hi), read from emission_month; an empty span sits at the margin's start
  SELECT core_lo, core_hi,
         CASE WHEN coalesce(%(unit)s <> 'day' AND hi > lo, false) THEN lo ELSE fallback END
           AS mo_lo,
         CASE WHEN coalesce(%(unit)s <> 'day' AND hi > lo, false) THEN hi ELSE fallback END
           AS mo_hi
  FROM (
    SELECT core_lo, core_hi,
           (date_trunc('month', (core_lo - 1)::timestamp) + interval '1 month')::date AS lo,
           date_trunc('month', core_hi::timestamp)::date AS hi,
           (%(from)s AT TIME ZONE 'UTC')::date - 1 AS fallback
    FROM core
  ) AS c
), local_rows AS (
  SELECT s.tz, w.local_start, {{day_groups}} {_UNIT},
         sum(w.activity) AS activity, sum(w.tco2e) AS tco2e, sum(w.mass) AS mass,
         sum(w.present) AS present, sum(w.expected) AS expected, sum(w.n) AS n
  FROM (
    -- Summed per meter and local bucket before any join (a year is 365 rows a meter). Days
    -- whole in every park's range lose their date; the few whole in only some parks' (other
    -- time zones) keep it for the test below.
    SELECT d.meter_id, d.enterprise_id, d.source_category, d.iso_category, d.activity_unit,
           {{gas_column}} date_trunc(%(unit)s, d.day::timestamp) AS local_start,
           CASE WHEN d.day >= (SELECT core_lo FROM bounds) AND d.day < (SELECT core_hi FROM bounds)
                THEN NULL ELSE d.day END AS edge_day,
           {{day}}
    FROM {{day_table}} d
    {{day_gas_join}}
    -- any zone's local date is within a day of UTC's: the days of [from, to) and a margin,
    -- less the days of the whole months read below
    WHERE (d.day >= (%(from)s AT TIME ZONE 'UTC')::date - 1
           AND d.day < (SELECT mo_lo FROM bounds))
       OR (d.day >= (SELECT mo_hi FROM bounds)
           AND d.day <= (%(to)s AT TIME ZONE 'UTC')::date + 1)
    GROUP BY {{day_positions}}
    UNION ALL
    -- local months whole in every park's range: one row per meter and month
    SELECT d.meter_id, d.enterprise_id, d.source_category, d.iso_category, d.activity_unit,
           {{gas_column}} date_trunc(%(unit)s, d.month::timestamp), NULL::date, {{month}}
    FROM {{month_table}} d
    {{day_gas_join}}
    WHERE d.month >= (SELECT mo_lo FROM bounds) AND d.month < (SELECT mo_hi FROM bounds)
  ) AS w
  JOIN meter m ON m.meter_id = w.meter_id
  JOIN enterprise e ON e.enterprise_id = w.enterprise_id
  JOIN spans s ON s.park_id = e.park_id
  WHERE (w.edge_day IS NULL OR (w.edge_day >= s.first_day AND w.edge_day < s.end_day))
  {_FILTERS}
  GROUP BY {{positions}}
  UNION ALL
  SELECT s.tz, date_trunc(%(unit)s, w.window_start AT TIME ZONE s.tz), {{groups}} {_UNIT},
         {{hour}}
  FROM edges s
  JOIN enterprise e ON e.park_id = s.park_id
  CROSS JOIN LATERAL (
    SELECT * FROM {{window}} x
    WHERE x.enterprise_id = e.enterprise_id AND x.width_s = 3600
      AND x.window_start >= s.lo AND x.window_start < s.hi
    OFFSET 0  -- kept apart: an index range per enterprise and edge, never a scan of all hours
  ) AS w
  JOIN meter m ON m.meter_id = w.meter_id
  {{gas_join}}
  WHERE true {_FILTERS}
  GROUP BY {{positions}}
  UNION ALL
  -- the hour in progress, from its 1-minute windows (no hour window yet: common.py)
  SELECT s.tz, date_trunc(%(unit)s, w.window_start AT TIME ZONE s.tz), {{groups}} {_UNIT},
         {{hour}}
  FROM spans s
  JOIN enterprise e ON e.park_id = s.park_id
  CROSS JOIN LATERAL (
    SELECT * FROM {{window}} x
    WHERE x.enterprise_id = e.enterprise_id AND x.width_s = 60
      AND x.window_start >= greatest(%(from)s::timestamptz, {MINUTES_SINCE})
      AND x.window_start < %(to)s AND {MINUTE_OF_HOUR_IN_PROGRESS}
    OFFSET 0  -- an index range per enterprise, as for the edges
  ) AS w
  JOIN meter m ON m.meter_id = w.meter_id
  {{gas_join}}
  WHERE true {_FILTERS}
  GROUP BY {{positions}}
), base AS (
  SELECT local_start AT TIME ZONE tz AS bucket_start,
         (local_start + %(step)s::interval) AT TIME ZONE tz AS bucket_end, {{keys}} unit,
         sum(activity) AS activity, sum(tco2e) AS tco2e, sum(mass) AS mass,
         sum(present) AS present, sum(expected) AS expected, sum(n) AS n
  FROM local_rows
  GROUP BY {{positions}}
)"""  # noqa: S608 - only this module's constant fragments


_SETTINGS = "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"


@dataclass(frozen=True, slots=True)
class Filters:
    parks: list[str] | None
    enterprises: list[str] | None
    sites: list[str] | None
    meters: list[str] | None
    categories: list[str] | None


# Totals read the windows as the boundary rule counts them (views of migration 0022: root
# meters in the boundary, exports netted); ``detail`` reads every meter's windows as measured.
_TABLES = {
    False: ("counted_window", "counted_day", "counted_month"),
    True: ("emission_window", "emission_day", "emission_month"),
}


def _statement(bucket: Bucket, group_by: list[GroupBy], *, detail: bool) -> sql.Composed:
    by_gas = GroupBy.GAS in group_by
    window, day_table, month_table = _TABLES[detail]
    keys = [f"k{i}" for i in range(len(group_by))]
    head = _STEPS if BUCKETS[bucket][2] is None else _LOCAL
    # Every fragment below is one of the constants above: nothing from the request is spliced.
    return sql.SQL(head + _TAIL).format(
        window=sql.Identifier(window),
        day_table=sql.Identifier(day_table),
        month_table=sql.Identifier(month_table),
        groups=sql.SQL("".join(f"{_COLUMN[g]} AS k{i}, " for i, g in enumerate(group_by))),
        day_groups=sql.SQL("".join(f"{_DAY_COLUMN[g]} AS k{i}, " for i, g in enumerate(group_by))),
        gas_column=sql.SQL("g.gas, " if by_gas else ""),
        day_gas_join=sql.SQL(_GAS_JOIN.replace("w.", "d.") if by_gas else ""),
        day_positions=sql.SQL(", ".join(str(i) for i in range(1, 8 + by_gas))),
        by_gas=sql.SQL("true" if by_gas else "false"),
        hour=sql.SQL(_HOUR_GAS if by_gas else _HOUR),
        day=sql.SQL(_DAY_GAS if by_gas else _DAY),
        month=sql.SQL(_MONTH_GAS if by_gas else _MONTH),
        gas_join=sql.SQL(_GAS_JOIN if by_gas else ""),
        positions=sql.SQL(", ".join(str(i) for i in range(1, len(group_by) + 4))),
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
    detail: bool = False,
) -> list[tuple[Any, ...]]:
    """Rows (bucket_start, bucket_end, *group keys, activity by unit, tco2e, mass, completeness,
    windows), ordered by bucket and group keys; ``limit`` rows from ``offset``. Counted figures
    (docs/boundary.md), or with ``detail`` every meter's as measured."""
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
    async with conn.transaction():
        # For this statement only: JIT compiling would cost more than the query (its estimates
        # are high, its rows few), and the per-meter sums of a year hash in memory.
        await conn.execute(_SETTINGS)
        cur = await conn.execute(_statement(bucket, group_by, detail=detail), params)
        return list(await cur.fetchall())
