"""Period queries behind the inventory and review reports (clauses 6.3.1, 9.5).

Every query reads hourly windows (``width_s = 3600``, as ``emission_daily`` does): each width
holds the same activity again, so summing one width only counts each reading once. Local days
are the park's (``park.timezone``); bounds are local midnights turned into instants by the
database. ``enterprise_id`` None reads the whole park.

Which windows count is decided in one place, ``_WHERE`` (used by every window query here, and
so by ``window_groups``): the scope's park or enterprise and local days, and the scope's
``excluded`` meters over their intervals (the meters a confirmed activity record replaces,
``store.activity.replaced_meters``), so nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection

from accounting.factor_rows import MARKET_INSTRUMENTS
from accounting.reasons import Reason
from accounting.report import ACTIVITY_ONLY, WindowGroup
from accounting.report_compare import BaselineSpec, TargetSpec
from store.activity import ReplacedMeter

WIDTH_S = 3600

# Windows of the park (or one enterprise) in [start, end) local days; shared by every query.
# The windows as the boundary counts them (docs/boundary.md, migration 0022): sub-meters and
# meters outside the boundary left out, exports netted.
_FROM = "FROM counted_window w JOIN enterprise e ON e.enterprise_id = w.enterprise_id"
_METER = "LEFT JOIN meter m ON m.meter_id = w.meter_id"
_WHERE = """
WHERE w.width_s = 3600
  AND e.park_id = %(park)s
  AND (%(enterprise)s::text IS NULL OR w.enterprise_id = %(enterprise)s)
  AND w.window_start >= (%(start)s::date::timestamp AT TIME ZONE %(tz)s)
  AND w.window_start < (%(end)s::date::timestamp AT TIME ZONE %(tz)s)
  AND NOT EXISTS (
      SELECT 1 FROM unnest(%(ex_meter)s::text[], %(ex_from)s::timestamptz[],
                           %(ex_to)s::timestamptz[]) AS x (meter_id, lo, hi)
      WHERE x.meter_id = w.meter_id AND w.window_start >= x.lo AND w.window_start < x.hi)
"""
_KEYS = """w.enterprise_id, w.source_category, w.iso_category, m.carrier, w.activity_unit,
       w.gwp_set, (w.window_start AT TIME ZONE %(tz)s)::date,
       (w.window_start AT TIME ZONE 'UTC')::date, w.factor_versions"""
_GROUPS = f"""
SELECT {_KEYS},
       sum(w.activity), sum(w.tco2e), sum(w.readings_present), sum(w.readings_expected), count(*),
       count(*) FILTER (WHERE w.interpolated OR w.flags & %(interp)s <> 0),
       coalesce(sum(w.tco2e) FILTER (WHERE w.interpolated OR w.flags & %(interp)s <> 0), 0),
       count(*) FILTER (WHERE cardinality(w.factor_versions) = 0 AND w.activity > 0
                          AND w.source_category <> %(activity_only)s),
       coalesce(sum(w.activity) FILTER (WHERE m.factor_key = ANY(%(instruments)s)), 0)
{_FROM}
{_METER}{_WHERE}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""
_GASES = f"""
SELECT {_KEYS}, g.key, sum(g.value::float8)
{_FROM}
CROSS JOIN LATERAL jsonb_each_text(w.gases) g
{_METER}{_WHERE}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
"""
_VERSIONS = f"""
SELECT v, w.source_category, w.activity_unit, count(*), sum(w.activity), sum(w.tco2e),
       min(w.window_start), max(w.window_end)
{_FROM}
CROSS JOIN LATERAL unnest(w.factor_versions) v
{_METER}{_WHERE}
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
_MONTHLY = f"""
SELECT date_trunc('month', w.window_start AT TIME ZONE %(tz)s)::date, sum(w.tco2e)
{_FROM}
{_METER}{_WHERE}
  AND w.source_category NOT IN ('green_space_sink', 'activity_only')
GROUP BY 1 ORDER BY 1
"""
# A reading's own time when it has one; a message that never parsed has only its arrival.
_REJECTS = """
SELECT r.reason, count(*)
FROM rejected_reading r
JOIN meter m ON m.meter_id = r.meter_id
JOIN enterprise e ON e.enterprise_id = m.enterprise_id
WHERE e.park_id = %(park)s
  AND (%(enterprise)s::text IS NULL OR m.enterprise_id = %(enterprise)s)
  AND coalesce(r.ts, r.rejected_at) >= (%(start)s::date::timestamp AT TIME ZONE %(tz)s)
  AND coalesce(r.ts, r.rejected_at) < (%(end)s::date::timestamp AT TIME ZONE %(tz)s)
GROUP BY 1 ORDER BY 2 DESC, 1
"""
# Readings the registry expects over the period: each counted meter's time in service / its
# interval.
_EXPECTED = """
SELECT m.enterprise_id, count(*), coalesce(sum(greatest(0, extract(epoch FROM
           least(coalesce(m.retired_at, 'infinity'), now(), b.hi) - greatest(m.installed_at, b.lo)
       )) / m.expected_interval_s), 0)
FROM meter m
JOIN enterprise e ON e.enterprise_id = m.enterprise_id
-- the meters the totals count, as their windows' completeness does
JOIN meter_count_basis c ON c.meter_id = m.meter_id AND c.weight <> 0
CROSS JOIN LATERAL (SELECT %(start)s::date::timestamp AT TIME ZONE %(tz)s AS lo,
                           %(end)s::date::timestamp AT TIME ZONE %(tz)s AS hi) b
WHERE e.park_id = %(park)s
  AND (%(enterprise)s::text IS NULL OR m.enterprise_id = %(enterprise)s)
  AND m.source_category <> 'activity_only'
GROUP BY 1 ORDER BY 1
"""
_TARGETS = """
SELECT target_id, subject_kind, subject_id, period_kind, period_start, period_end, method,
       absolute_tco2e, intensity, intensity_unit
FROM target
WHERE ((subject_kind = 'park' AND subject_id = %(park)s AND %(enterprise)s::text IS NULL)
       OR (subject_kind = 'enterprise' AND subject_id IN (
            SELECT enterprise_id FROM enterprise WHERE park_id = %(park)s
              AND (%(enterprise)s::text IS NULL OR enterprise_id = %(enterprise)s))))
  AND period_end > %(start)s AND period_start < %(end)s
ORDER BY subject_kind DESC, subject_id, period_start, period_kind, method
"""
_BASELINES = """
SELECT baseline_id, subject_kind, subject_id, method, base_year, period_kind, value_tco2e,
       factor_versions, reason IS NOT NULL, effective
FROM baseline b
WHERE ((subject_kind = 'park' AND subject_id = %(park)s AND %(enterprise)s::text IS NULL)
       OR (subject_kind = 'enterprise' AND subject_id IN (
            SELECT enterprise_id FROM enterprise WHERE park_id = %(park)s
              AND (%(enterprise)s::text IS NULL OR enterprise_id = %(enterprise)s))))
  AND NOT EXISTS (SELECT 1 FROM baseline r WHERE r.recalculated_from = b.baseline_id)
ORDER BY subject_kind DESC, subject_id
"""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a report reads: one park's windows, or one enterprise's, over local days."""

    park_id: str
    timezone: str
    enterprise_id: str | None
    start: date
    end: date  # exclusive
    # Meters whose windows do not count over an interval (replaced by activity records).
    excluded: tuple[ReplacedMeter, ...] = ()

    def params(self) -> dict[str, Any]:
        return {
            "ex_meter": [x.meter_id for x in self.excluded],
            "ex_from": [x.starts_at for x in self.excluded],
            "ex_to": [x.ends_at for x in self.excluded],
            "park": self.park_id,
            "tz": self.timezone,
            "enterprise": self.enterprise_id,
            "start": self.start,
            "end": self.end,
            "interp": int(Reason.INTERPOLATED),
            "activity_only": ACTIVITY_ONLY,
            "instruments": sorted(MARKET_INSTRUMENTS),
        }


@dataclass(frozen=True, slots=True)
class VersionUse:
    version: str
    source_category: str
    activity_unit: str
    windows: int
    activity: float
    tco2e: float
    first_window: datetime
    last_window_end: datetime


@dataclass(frozen=True, slots=True)
class MeterCoverage:
    enterprise_id: str
    meters: int
    readings_expected: float  # by the registry: each meter's time in service / its interval


async def window_groups(conn: AsyncConnection[Any], *, scope: Scope) -> list[WindowGroup]:
    """Hourly windows summed per enterprise, source, carrier, unit, factor versions, local day
    and UTC day, with their gases: the one selection of the windows that count (``_WHERE``)."""
    params = scope.params()
    gases: dict[tuple[Any, ...], dict[str, float]] = {}
    for row in await (await conn.execute(_GASES, params)).fetchall():
        gases.setdefault(_key(row[:9]), {})[row[9]] = float(row[10])
    out = []
    for row in await (await conn.execute(_GROUPS, params)).fetchall():
        ent, cat, iso, carrier, unit, gwp_set, local_day, utc_day, versions = row[:9]
        act, tco2e, present, expected, windows, interp, interp_t, unfactored, covered = row[9:]
        out.append(
            WindowGroup(
                enterprise_id=ent,
                source_category=cat,
                iso_category=iso,
                carrier=carrier,
                activity_unit=unit,
                gwp_set=gwp_set,
                local_day=local_day,
                utc_day=utc_day,
                activity=float(act),
                tco2e=float(tco2e),
                gases=gases.get(_key(row[:9]), {}),
                readings_present=float(present),
                readings_expected=float(expected),
                windows=int(windows),
                interpolated_windows=int(interp),
                interpolated_tco2e=float(interp_t),
                unfactored_windows=int(unfactored),
                contractual_activity=float(covered),
                factor_versions=tuple(versions or ()),
            )
        )
    return out


def _key(row: Any) -> tuple[Any, ...]:
    """A group's key, hashable: the factor versions array as a tuple."""
    return (*row[:8], tuple(row[8] or ()))


async def version_uses(conn: AsyncConnection[Any], *, scope: Scope) -> list[VersionUse]:
    """Each emission-factor version the period's windows used, with what it was applied to."""
    rows = await (await conn.execute(_VERSIONS, scope.params())).fetchall()
    return [
        VersionUse(r[0], r[1], r[2], int(r[3]), float(r[4]), float(r[5]), r[6], r[7]) for r in rows
    ]


async def monthly_tco2e(conn: AsyncConnection[Any], *, scope: Scope) -> list[tuple[date, float]]:
    """Gross location-based tCO2e per local month (sinks and activity-only meters left out)."""
    rows = await (await conn.execute(_MONTHLY, scope.params())).fetchall()
    return [(r[0], float(r[1])) for r in rows]


async def rejects_by_reason(conn: AsyncConnection[Any], *, scope: Scope) -> list[tuple[str, int]]:
    """Quarantined readings of the scope's meters per reason (clause 8.4)."""
    rows = await (await conn.execute(_REJECTS, scope.params())).fetchall()
    return [(r[0], int(r[1])) for r in rows]


async def meter_coverage(conn: AsyncConnection[Any], *, scope: Scope) -> list[MeterCoverage]:
    rows = await (await conn.execute(_EXPECTED, scope.params())).fetchall()
    return [MeterCoverage(r[0], int(r[1]), float(r[2])) for r in rows]


async def targets(conn: AsyncConnection[Any], *, scope: Scope) -> list[TargetSpec]:
    """Park and enterprise targets whose period overlaps the scope's (clause 6.2)."""
    rows = await (await conn.execute(_TARGETS, scope.params())).fetchall()
    return [TargetSpec(*r) for r in rows]


async def baselines(conn: AsyncConnection[Any], *, scope: Scope) -> list[BaselineSpec]:
    """The current baseline (head of its restatement chain, 6.5) of the park and enterprises."""
    rows = await (await conn.execute(_BASELINES, scope.params())).fetchall()
    return [
        BaselineSpec(r[0], r[1], r[2], r[3], r[4], r[5], float(r[6]), tuple(r[7]), r[8], r[9])
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class ParkInfo:
    park_id: str
    name: str
    timezone: str
    region: str
    enterprises: dict[str, str]  # id -> name
    tce_electricity_convention: str = "equal_value"  # GB/T 2589-2020, migration 0016


async def park_info(
    conn: AsyncConnection[Any], *, park_id: str | None, enterprise_id: str | None
) -> ParkInfo | None:
    """The park named, or the enterprise's park, or the only park; None if it cannot be told."""
    if enterprise_id is not None:
        found = await (
            await conn.execute(
                "SELECT park_id FROM enterprise WHERE enterprise_id = %s", (enterprise_id,)
            )
        ).fetchone()
        if found is None or (park_id is not None and found[0] != park_id):
            return None
        park_id = found[0]
    if park_id is None:
        ids = await (await conn.execute("SELECT park_id FROM park LIMIT 2")).fetchall()
        if len(ids) != 1:
            return None
        park_id = ids[0][0]
    row = await (
        await conn.execute(
            "SELECT park_id, name, timezone, region, tce_electricity_convention FROM park"
            " WHERE park_id = %s",
            (park_id,),
        )
    ).fetchone()
    if row is None:
        return None
    names = await (
        await conn.execute(
            "SELECT enterprise_id, name FROM enterprise WHERE park_id = %s ORDER BY 1", (park_id,)
        )
    ).fetchall()
    return ParkInfo(row[0], row[1], row[2], row[3], {e: n for e, n in names}, row[4])
