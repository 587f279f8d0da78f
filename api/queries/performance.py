"""Intensity per enterprise (clauses 3.3.10, 6.4) and progress against targets and baselines
(clauses 6.2, 6.5), from hour windows as the boundary rule counts them (docs/boundary.md:
``counted_window``, migration 0022); a meter's own target reads the meter as measured."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

from accounting.targets import all_met
from api.queries import present
from api.queries.common import MINUTE_OF_HOUR_IN_PROGRESS as IN_PROGRESS
from api.queries.common import dec

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
  AND (%(target_id)s::bigint IS NULL OR t.target_id = %(target_id)s)
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
    target_id: int | None = None,
) -> list[tuple[Any, ...]]:
    """Targets whose local period contains ``as_of``, with tCO2e and output to date and the
    subject's current baseline; ``progress_item`` turns a row into its figures."""
    params = {
        "as_of": as_of,
        "enterprises": enterprises,
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "target_id": target_id,
        "limit": limit,
        "offset": offset,
    }
    cur = await conn.execute(_PROGRESS, params)
    return list(await cur.fetchall())


def progress_item(row: tuple[Any, ...], moment: datetime) -> dict[str, Any]:
    """One target's progress at ``moment`` from a ``progress_rows`` row (clauses 6.2, 6.5):
    each limit it sets with its own verdict, and the share of its current baseline projected.
    ``/v1/progress`` and the objectives register (``/v1/objectives``) both read it here."""
    (tid, kind, sid, pkind, pstart, pend, absolute, intensity, iunit, tz, start_at, end_at) = row[
        :12
    ]
    tco2e, output, bl_id, bl_method, bl_kind, bl_value = row[12:]
    elapsed = Decimal(str(min(1.0, max(0.0, (moment - start_at) / (end_at - start_at)))))
    abs_part = None if absolute is None else present.absolute(absolute, tco2e, elapsed)
    baseline = None
    if bl_id is not None:
        share = None
        if abs_part and abs_part["projected"] and bl_kind == pkind and bl_value > 0:
            share = dec(Decimal(abs_part["projected"]["value"]) / Decimal(str(bl_value)))
        baseline = {
            "baseline_id": bl_id,
            "method": bl_method,
            "period_kind": bl_kind,
            "value": {"value": dec(bl_value), "unit": f"tCO2e/{bl_kind}"},
            "projected_share": share,
        }
    int_part = None if intensity is None else present.intensity(intensity, iunit, tco2e, output)
    parts = {"absolute": abs_part, "intensity": int_part}
    set_limits = {name: part for name, part in parts.items() if part is not None}
    return {
        "target_id": tid,
        "subject_kind": kind,
        "subject_id": sid,
        "period_kind": pkind,
        "period_start": pstart,
        "period_end": pend,
        "timezone": tz,
        "elapsed_share": dec(elapsed),
        "absolute": abs_part,
        "intensity": int_part,
        # A target with both limits is met only when both are (clause 6.2).
        "on_track": all_met(part["on_track"] for part in set_limits.values()),
        "limits_off_track": [
            name for name, part in set_limits.items() if part["on_track"] is False
        ],
        "baseline": baseline,
    }
