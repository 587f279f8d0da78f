"""Reference implementations of ``store.windows``, the plain way, for tests to compare against.

``reference_window_sums`` aggregates in SQL what ``read_window_sums`` reads in bulk and sums in
numpy; ``upsert_by_row`` lets psycopg dump each value through its adapters where
``upsert_windows`` builds the COPY text itself. Same statement, same stage: only the encoding
differs, which is what the comparisons check.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg

from accounting.windows import WindowKey, WindowResult, WindowSums
from store.staging import copy_upsert_sync
from store.windows import WINDOW_UPSERT

# The order of the row tuples below (the upsert selects the stage's columns by name).
_ROW_COLUMNS = (
    "meter_id, width_s, window_start, window_end, enterprise_id, source_category, iso_category, "
    "activity, activity_unit, gases, tco2e, gwp_set, factor_versions, readings_present, "
    "readings_expected, completeness, flags, interpolated"
)

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


def reference_window_sums(
    conn: psycopg.Connection[Any], keys: Sequence[WindowKey]
) -> list[WindowSums]:
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


@functools.lru_cache(maxsize=1024)
def _text_array(items: tuple[str, ...]) -> str:
    """A text[] literal for COPY: thousands of windows share a few factor-version tuples, and
    psycopg's list dumper per row was a third of the upsert's time."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in items)
    return "{" + ",".join(quoted) + "}"


def upsert_by_row(conn: psycopg.Connection[Any], results: Sequence[WindowResult]) -> None:
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
    copy_upsert_sync(conn, "emission_window", _ROW_COLUMNS, WINDOW_UPSERT, rows=rows)
