"""Data quality (clauses 8.4, 9.1 c): completeness from hour windows, quarantined readings by
reason, and calibration due dates from the registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from api.queries.enums import CALIBRATION_DUE_SOON_DAYS

# Meters in scope: installed before the range ends and not retired before it starts.
_METERS = """
SELECT m.meter_id, m.enterprise_id, m.status, m.calibration_due,
       (now() AT TIME ZONE p.timezone)::date AS today,
       q.present, q.expected, coalesce(q.windows, 0), coalesce(r.rejects, '{}'::jsonb)
FROM meter m
JOIN enterprise e ON e.enterprise_id = m.enterprise_id
JOIN park p ON p.park_id = e.park_id
LEFT JOIN LATERAL (
  SELECT sum(w.readings_present) AS present, sum(w.readings_expected) AS expected,
         count(*) AS windows
  FROM emission_window w
  WHERE w.meter_id = m.meter_id AND w.width_s = 3600
    AND w.window_start >= %(from)s AND w.window_start < %(to)s) q ON true
LEFT JOIN LATERAL (
  SELECT jsonb_object_agg(reason, n) AS rejects FROM (
    SELECT rr.reason, count(*) AS n FROM rejected_reading rr
    WHERE rr.meter_id = m.meter_id AND rr.rejected_at >= %(from)s AND rr.rejected_at < %(to)s
    GROUP BY rr.reason) x) r ON true
WHERE m.installed_at < %(to)s AND (m.retired_at IS NULL OR m.retired_at > %(from)s)
  AND (%(enterprises)s::text[] IS NULL OR m.enterprise_id = ANY(%(enterprises)s))
  AND (%(meters)s::text[] IS NULL OR m.meter_id = ANY(%(meters)s))
ORDER BY m.meter_id
LIMIT %(limit)s OFFSET %(offset)s
"""
_ENTERPRISES = """
SELECT m.enterprise_id, count(*),
       sum(q.present) / nullif(sum(q.expected), 0),
       count(*) FILTER (WHERE m.calibration_due < (now() AT TIME ZONE p.timezone)::date),
       count(*) FILTER (WHERE m.calibration_due >= (now() AT TIME ZONE p.timezone)::date
                          AND m.calibration_due < (now() AT TIME ZONE p.timezone)::date
                              + %(soon)s)
FROM meter m
JOIN enterprise e ON e.enterprise_id = m.enterprise_id
JOIN park p ON p.park_id = e.park_id
LEFT JOIN LATERAL (
  SELECT sum(w.readings_present) AS present, sum(w.readings_expected) AS expected
  FROM emission_window w
  WHERE w.meter_id = m.meter_id AND w.width_s = 3600
    AND w.window_start >= %(from)s AND w.window_start < %(to)s) q ON true
WHERE m.installed_at < %(to)s AND (m.retired_at IS NULL OR m.retired_at > %(from)s)
  AND (%(enterprises)s::text[] IS NULL OR m.enterprise_id = ANY(%(enterprises)s))
  AND (%(meters)s::text[] IS NULL OR m.meter_id = ANY(%(meters)s))
GROUP BY m.enterprise_id
ORDER BY m.enterprise_id
"""
_REJECTS = """
SELECT coalesce(m.enterprise_id, ''), rr.reason, count(*)
FROM rejected_reading rr
LEFT JOIN meter m ON m.meter_id = rr.meter_id
WHERE rr.rejected_at >= %(from)s AND rr.rejected_at < %(to)s
  AND (%(enterprises)s::text[] IS NULL OR m.enterprise_id = ANY(%(enterprises)s))
  AND (%(meters)s::text[] IS NULL OR rr.meter_id = ANY(%(meters)s))
GROUP BY 1, 2
ORDER BY 1, 2
"""


def _params(
    start: datetime, end: datetime, enterprises: list[str] | None, meters: list[str] | None
) -> dict[str, Any]:
    return {
        "from": start,
        "to": end,
        "enterprises": enterprises,
        "meters": meters,
        "soon": CALIBRATION_DUE_SOON_DAYS,
    }


async def meter_rows(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    enterprises: list[str] | None,
    meters: list[str] | None,
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    params = _params(start, end, enterprises, meters) | {"limit": limit, "offset": offset}
    cur = await conn.execute(_METERS, params)
    return list(await cur.fetchall())


async def enterprise_rows(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    enterprises: list[str] | None,
    meters: list[str] | None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(per-enterprise completeness and calibration counts, rejects per (enterprise, reason));
    rejects of readings naming no registered meter have the enterprise ''."""
    params = _params(start, end, enterprises, meters)
    summary = await (await conn.execute(_ENTERPRISES, params)).fetchall()
    rejects = await (await conn.execute(_REJECTS, params)).fetchall()
    return list(summary), list(rejects)
