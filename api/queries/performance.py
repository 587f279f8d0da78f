"""Intensity per enterprise (clauses 3.3.10, 6.4) and progress against targets and baselines
(clauses 6.2, 6.5), from hour windows as the boundary rule counts them (docs/boundary.md:
``counted_window``, migration 0022); a meter's own target reads the meter as measured."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from api.queries.common import MINUTE_OF_HOUR_IN_PROGRESS as IN_PROGRESS

# Output meters (carriers production_output, output_value) carry the denominators.
_INTENSITY = """
SELECT w.enterprise_id,
       round(sum(w.tco2e)::numeric, 6),
       round((sum(w.activity) FILTER (WHERE m.carrier = 'production_output'))::numeric, 6),
       round((sum(w.activity) FILTER (WHERE m.carrier = 'output_value'))::numeric, 6)
FROM counted_window w
JOIN meter m ON m.meter_id = w.meter_id
WHERE w.width_s = 3600 AND w.window_start >= %(from)s AND w.window_start < %(to)s
  AND (%(enterprises)s::text[] IS NULL OR w.enterprise_id = ANY(%(enterprises)s))
GROUP BY w.enterprise_id
ORDER BY w.enterprise_id
LIMIT %(limit)s OFFSET %(offset)s
"""


async def intensity_rows(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    enterprises: list[str] | None,
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    """(enterprise, tCO2e, t product, 10^4 CNY) per enterprise with windows in [start, end)."""
    params = {
        "from": start,
        "to": end,
        "enterprises": enterprises,
        "limit": limit,
        "offset": offset,
    }
    cur = await conn.execute(_INTENSITY, params)
    return list(await cur.fetchall())


# A target's subject resolves to its park (for the local calendar) and its enterprise (for
# tenancy; none for a park target). Actuals run from the period's local start to as_of, the
# hour in progress included (its 1-minute windows until its hour window is written).
_PROGRESS = f"""
SELECT t.target_id, t.subject_kind, t.subject_id, t.period_kind, t.period_start, t.period_end,
       t.absolute_tco2e, t.intensity, t.intensity_unit, p.timezone,
       t.period_start::timestamp AT TIME ZONE p.timezone AS start_at,
       t.period_end::timestamp AT TIME ZONE p.timezone AS end_at,
       round(coalesce(a.tco2e, 0)::numeric, 6), round(a.output::numeric, 6),
       bl.baseline_id, bl.method, bl.period_kind, bl.value_tco2e
FROM target t
LEFT JOIN park pp ON t.subject_kind = 'park' AND pp.park_id = t.subject_id
LEFT JOIN enterprise ee ON t.subject_kind = 'enterprise' AND ee.enterprise_id = t.subject_id
LEFT JOIN meter mm ON t.subject_kind = 'meter' AND mm.meter_id = t.subject_id
LEFT JOIN enterprise me ON me.enterprise_id = mm.enterprise_id
JOIN park p ON p.park_id = coalesce(pp.park_id, ee.park_id, me.park_id)
CROSS JOIN LATERAL (
  SELECT sum(w.tco2e) AS tco2e,
         sum(w.activity) FILTER (WHERE m2.carrier = CASE t.intensity_unit
             WHEN 't product' THEN 'production_output' ELSE 'output_value' END) AS output
  FROM (
    -- a park's or enterprise's total counts by the boundary rule; a meter's target is on the
    -- meter as measured, whatever its place in the hierarchy
    SELECT x.meter_id, x.enterprise_id, x.window_start, x.tco2e, x.activity
    FROM counted_window x
    WHERE t.subject_kind <> 'meter' AND (x.width_s = 3600 OR {IN_PROGRESS})
    UNION ALL
    SELECT x.meter_id, x.enterprise_id, x.window_start, x.tco2e, x.activity
    FROM emission_window x
    WHERE t.subject_kind = 'meter' AND x.meter_id = t.subject_id
      AND (x.width_s = 3600 OR {IN_PROGRESS})
  ) w
  JOIN meter m2 ON m2.meter_id = w.meter_id
  JOIN enterprise e2 ON e2.enterprise_id = w.enterprise_id
  WHERE w.window_start >= t.period_start::timestamp AT TIME ZONE p.timezone
    AND w.window_start < least(%(as_of)s, t.period_end::timestamp AT TIME ZONE p.timezone)
    AND CASE t.subject_kind WHEN 'park' THEN e2.park_id = t.subject_id
                            WHEN 'enterprise' THEN w.enterprise_id = t.subject_id
                            ELSE w.meter_id = t.subject_id END
) a
LEFT JOIN LATERAL (
  SELECT b.baseline_id, b.method, b.period_kind, b.value_tco2e FROM baseline b
  WHERE b.subject_kind = t.subject_kind AND b.subject_id = t.subject_id
    AND NOT EXISTS (SELECT 1 FROM baseline r WHERE r.recalculated_from = b.baseline_id)
  ORDER BY b.baseline_id DESC LIMIT 1
) bl ON true
WHERE t.method = 'location_based'
  AND (%(as_of)s AT TIME ZONE p.timezone)::date >= t.period_start
  AND (%(as_of)s AT TIME ZONE p.timezone)::date < t.period_end
  AND (%(enterprises)s::text[] IS NULL
       OR coalesce(ee.enterprise_id, mm.enterprise_id) = ANY(%(enterprises)s))
  AND (%(subject_kind)s::text IS NULL OR t.subject_kind = %(subject_kind)s)
  AND (%(subject_id)s::text IS NULL OR t.subject_id = %(subject_id)s)
ORDER BY t.subject_kind, t.subject_id, t.period_kind, t.period_start, t.target_id
LIMIT %(limit)s OFFSET %(offset)s
"""  # noqa: S608 - only constant fragments; every value is a parameter


async def progress_rows(
    conn: AsyncConnection[Any],
    *,
    as_of: datetime,
    enterprises: list[str] | None,
    subject_kind: str | None,
    subject_id: str | None,
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    params = {
        "as_of": as_of,
        "enterprises": enterprises,
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "limit": limit,
        "offset": offset,
    }
    cur = await conn.execute(_PROGRESS, params)
    return list(await cur.fetchall())
