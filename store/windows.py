"""Window figures from stored readings, and the upsert of window results.

A window's activity is the sum, over the intervals that overlap it, of each interval's quantity
times the share of the interval inside the window (a delta spanning windows is split in
proportion to time, clause 6.3.1 activity data). Computing from the ``reading`` table, which
holds each reading once, makes a window's figures independent of how often its readings were
delivered: replays, restarts and late readings all end in the same totals.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from store.staging import copy_upsert_sync


@dataclass(frozen=True, slots=True)
class WindowKey:
    meter_id: str
    width_s: int
    window_start: datetime


@dataclass(frozen=True, slots=True)
class WindowSums:
    key: WindowKey
    quantity: float  # the meter's unit times its multiplier
    readings_present: float  # each interval counts by the share of it inside the window
    flags: int
    interpolated: bool


_SUMS = """
WITH k AS (
    SELECT * FROM unnest(%(meters)s::text[], %(widths)s::int[], %(starts)s::timestamptz[])
        AS k(meter_id, width_s, window_start)
)
SELECT k.meter_id, k.width_s, k.window_start,
       coalesce(sum(r.quantity * r.overlap / r.duration), 0),
       coalesce(sum(r.overlap / r.duration), 0),
       coalesce(bit_or(r.flags), 0),
       coalesce(bool_or(r.overlap < r.duration), false)
FROM k
LEFT JOIN LATERAL (
    SELECT quantity, flags,
           extract(epoch FROM least(ts, k.window_start + make_interval(secs => k.width_s))
                            - greatest(interval_start, k.window_start)) AS overlap,
           extract(epoch FROM ts - interval_start) AS duration
    FROM reading
    WHERE meter_id = k.meter_id
      AND ts > k.window_start
      AND interval_start < k.window_start + make_interval(secs => k.width_s)
      AND quantity IS NOT NULL
) r ON true
GROUP BY k.meter_id, k.width_s, k.window_start
"""


def window_sums(conn: psycopg.Connection[Any], keys: Sequence[WindowKey]) -> list[WindowSums]:
    """Activity and coverage of each window, from the readings stored so far."""
    if not keys:
        return []
    rows = conn.execute(
        _SUMS,
        {
            "meters": [k.meter_id for k in keys],
            "widths": [k.width_s for k in keys],
            "starts": [k.window_start for k in keys],
        },
    ).fetchall()
    return [
        WindowSums(WindowKey(m, w, s), float(q), float(p), int(f), bool(i))
        for m, w, s, q, p, f, i in rows
    ]


@dataclass(frozen=True, slots=True)
class WindowResult:
    key: WindowKey
    window_end: datetime
    enterprise_id: str
    source_category: str
    iso_category: str | None
    activity: float
    activity_unit: str
    gases: dict[str, float]
    tco2e: float
    gwp_set: str | None
    factor_versions: tuple[str, ...]
    readings_present: float
    readings_expected: float
    completeness: float
    flags: int
    interpolated: bool


WINDOW_COLUMNS = (
    "meter_id, width_s, window_start, window_end, enterprise_id, source_category, iso_category, "
    "activity, activity_unit, gases, tco2e, gwp_set, factor_versions, readings_present, "
    "readings_expected, completeness, flags, interpolated"
)
WINDOW_UPSERT = f"""
INSERT INTO emission_window ({WINDOW_COLUMNS}, computed_at)
SELECT {WINDOW_COLUMNS}, now() FROM emission_window_stage
ON CONFLICT (meter_id, width_s, window_start) DO UPDATE SET
    window_end = EXCLUDED.window_end, enterprise_id = EXCLUDED.enterprise_id,
    source_category = EXCLUDED.source_category, iso_category = EXCLUDED.iso_category,
    activity = EXCLUDED.activity, activity_unit = EXCLUDED.activity_unit,
    gases = EXCLUDED.gases, tco2e = EXCLUDED.tco2e, gwp_set = EXCLUDED.gwp_set,
    factor_versions = EXCLUDED.factor_versions, readings_present = EXCLUDED.readings_present,
    readings_expected = EXCLUDED.readings_expected, completeness = EXCLUDED.completeness,
    flags = EXCLUDED.flags, interpolated = EXCLUDED.interpolated, computed_at = now()
"""  # noqa: S608 - constant column list


@functools.lru_cache(maxsize=1024)
def _text_array(items: tuple[str, ...]) -> str:
    """A text[] literal for COPY: thousands of windows share a few factor-version tuples, and
    psycopg's list dumper per row was a third of the upsert's time."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in items)
    return "{" + ",".join(quoted) + "}"


def upsert_windows(conn: psycopg.Connection[Any], results: Sequence[WindowResult]) -> None:
    """Write window results; a recomputed window replaces its earlier figures."""
    if not results:
        return
    rows = [
        (
            r.key.meter_id,
            r.key.width_s,
            r.key.window_start,
            r.window_end,
            r.enterprise_id,
            r.source_category,
            r.iso_category,
            r.activity,
            r.activity_unit,
            orjson.dumps(r.gases).decode(),
            r.tco2e,
            r.gwp_set,
            _text_array(tuple(r.factor_versions)),
            r.readings_present,
            r.readings_expected,
            r.completeness,
            r.flags,
            r.interpolated,
        )
        for r in results
    ]
    copy_upsert_sync(conn, "emission_window", WINDOW_COLUMNS, WINDOW_UPSERT, rows=rows)
