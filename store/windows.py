"""The ``emission_window`` table's one writer, and the stored readings a window's figures come from.

A window's activity is the sum, over the intervals that overlap it, of each interval's quantity
times the share of the interval inside the window (a delta spanning windows is split in
proportion to time, clause 6.3.1 activity data). Computing from the ``reading`` table, which
holds each reading once, makes a window's figures independent of how often its readings were
delivered: replays, restarts and late readings all end in the same totals. The database returns
each stored interval once per flush (a bytea of big-endian values per column, read in place by
numpy); ``accounting.intervals.keyed_window_sums`` sums the shares per window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray

from accounting.intervals import keyed_window_sums
from accounting.window_plan import WindowPlan
from accounting.windows import ResultTerms, WindowResults, WindowSumColumns
from contracts.windows import WindowTexts, window_texts
from store.staging import copy_upsert_sync, text_array_literal

# The columns a (meter, day) group of windows shares come first (one text per group).
WINDOW_COLUMNS = (
    "meter_id, enterprise_id, source_category, iso_category, activity_unit, gwp_set, "
    "factor_versions, width_s, window_start, window_end, activity, gases, tco2e, "
    "readings_present, readings_expected, completeness, flags, interpolated"
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


def uncounted_intervals(
    conn: psycopg.Connection[Any], *, lookback_s: int, settle_s: float
) -> list[tuple[str, int, int]]:
    """``(meter, interval start ms, end ms)`` of the readings stored in the last
    ``lookback_s`` whose hour window ended more than ``settle_s`` (plus the hour) ago and was
    last computed before they arrived: windows a worker that died never computed."""
    rows = conn.execute(
        """SELECT r.meter_id, (extract(epoch FROM r.interval_start) * 1000)::bigint,
                  (extract(epoch FROM r.ts) * 1000)::bigint
           FROM reading r
           WHERE r.received_at > now() - make_interval(secs => %s)
             AND r.interval_start IS NOT NULL
             AND date_bin('1 hour', r.ts - interval '1 millisecond', timestamptz 'epoch')
                 < now() - interval '1 hour' - make_interval(secs => %s)
             AND NOT EXISTS (
                 SELECT 1 FROM emission_window w
                 WHERE w.meter_id = r.meter_id AND w.width_s = 3600
                   AND w.window_start = date_bin('1 hour', r.ts - interval '1 millisecond',
                                                 timestamptz 'epoch')
                   AND w.computed_at >= r.received_at)""",
        (lookback_s, settle_s),
    ).fetchall()
    return [(str(m), int(s), int(e)) for m, s, e in rows]


# The stored intervals of each meter that overlap [lo, hi): its due windows' span. A meter's
# intervals chain without overlapping (each starts at the previous accepted reading, accepted
# times strictly increase), so they are the intervals ending inside the span plus the first
# one ending at or after its end: no scan runs on through the meter's later readings (the
# whole rest of its history when a late reading reopens an old window).
# Each column comes back as one bytea of big-endian values (``int8send`` etc.), which numpy
# reads in place: an hour window's flush returns an hour of every meter's intervals, hundreds
# of thousands of rows, too many to make Python objects of (or to take as one COPY message
# each). The aggregates of one query level receive the rows in the same order, so the n-th
# value of each column belongs to the same interval.
_INTERVALS = """
WITH m AS (
    SELECT m.meter_id, m.idx, to_timestamp(m.lo_ms / 1000.0) AS lo,
           to_timestamp(m.hi_ms / 1000.0) AS hi
    FROM unnest(%(meters)s::text[], %(lo)s::bigint[], %(hi)s::bigint[])
        WITH ORDINALITY AS m(meter_id, lo_ms, hi_ms, idx)
)
SELECT string_agg(int8send(m.idx - 1), ''),
       string_agg(int8send((extract(epoch FROM x.interval_start) * 1000)::bigint), ''),
       string_agg(int8send((extract(epoch FROM x.ts) * 1000)::bigint), ''),
       string_agg(float8send(x.quantity), ''),
       string_agg(int4send(x.flags), ''),
       count(*)
FROM m CROSS JOIN LATERAL (
    (SELECT interval_start, ts, quantity, flags FROM reading
     WHERE meter_id = m.meter_id AND ts > m.lo AND ts < m.hi)
    UNION ALL
    (SELECT interval_start, ts, quantity, flags FROM reading
     WHERE meter_id = m.meter_id AND ts >= m.hi
     ORDER BY ts LIMIT 1)
) x
WHERE x.quantity IS NOT NULL AND x.interval_start IS NOT NULL AND x.interval_start < m.hi
"""
_COLUMN_TYPES = (">i8", ">i8", ">i8", ">f8", ">i4")


def interval_columns(row: Sequence[Any]) -> tuple[NDArray[Any], ...]:
    """The interval query's columns (group, start, end, quantity, flags) from its one row of
    ``bytea`` aggregates and count; ``ValueError`` unless each holds exactly ``count`` values."""
    *packed, count = row
    if count == 0:
        return tuple(np.zeros(0, dtype=t) for t in _COLUMN_TYPES)
    columns = []
    for data, kind in zip(packed, _COLUMN_TYPES, strict=True):
        if data is None or len(data) != count * np.dtype(kind).itemsize:
            raise ValueError("interval columns of unequal length (a NULL or a cut-off value)")
        columns.append(np.frombuffer(data, dtype=kind))
    return tuple(columns)


def _int_array_literal(values: NDArray[np.int64]) -> str:
    return "{" + ",".join(map(str, values.tolist())) + "}"


def read_window_sums(
    conn: psycopg.Connection[Any],
    due: Sequence[tuple[str, int, int]],
    plan: WindowPlan | None = None,
) -> WindowSumColumns:
    """Activity and coverage of each ``(meter, width_s, start_ms)`` window, from the readings
    stored so far, in bulk. With a ``plan``, the
    fine windows it does not keep are left out (``WindowPlan.keep``).

    The database returns each stored interval once per flush (it used to aggregate each
    reading once per window it overlaps, four widths over); ``accounting.intervals`` sums the
    shares per window.
    """
    if not due:
        return WindowSumColumns.of([])
    index: dict[str, int] = {}
    window_group = np.fromiter(
        (index.setdefault(m, len(index)) for m, _, _ in due), dtype=np.int64, count=len(due)
    )
    width_ms = np.fromiter((w for _, w, _ in due), dtype=np.int64, count=len(due)) * 1000
    window_start = np.fromiter((s for _, _, s in due), dtype=np.int64, count=len(due))
    window_end = window_start + width_ms
    lo = np.full(len(index), np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(len(index), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(lo, window_group, window_start)
    np.maximum.at(hi, window_group, window_end)
    params = {
        "meters": text_array_literal(list(index)),
        "lo": _int_array_literal(lo),
        "hi": _int_array_literal(hi),
    }
    with conn.cursor(binary=True) as cur:
        found = cur.execute(_INTERVALS, params).fetchone()
    packed = interval_columns(found if found is not None else (None,) * 5 + (0,))
    group, start, end = (c.astype(np.int64) for c in packed[:3])
    quantity = packed[3].astype(np.float64)
    flags = packed[4].astype(np.uint32)
    # The rows come meter by meter in time order (one index scan each); sorted only if not.
    step_group, step_end = np.diff(group), np.diff(end)
    ordered = bool(((step_group > 0) | ((step_group == 0) & (step_end >= 0))).all())
    order: NDArray[np.intp] | slice = slice(None) if ordered else np.lexsort((end, group))
    sums = keyed_window_sums(
        group[order],
        start[order],
        end[order],
        quantity[order],
        flags[order],
        window_group,
        window_start,
        window_end,
    )
    keep = (
        np.ones(len(due), dtype=np.bool_)
        if plan is None
        else plan.keep(width_ms // 1000, sums.shortest_ms)
    )
    columns = WindowSumColumns(
        [m for m, _, _ in due],
        width_ms // 1000,
        window_start,
        sums.quantity,
        sums.present,
        sums.flags.view(np.int32).astype(np.int64),  # a signed integer column
        sums.interpolated,
    )
    return columns if keep.all() else columns.select(np.flatnonzero(keep))


def _copy_text(value: str) -> str:
    """Escape for COPY's text format (backslash, tab, newline, carriage return)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _opt(value: str | None) -> str:
    return "\\N" if value is None else _copy_text(value)


def _text_array(items: tuple[str, ...]) -> str:
    """A text[] literal, escaped for COPY."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in items)
    return _copy_text("{" + ",".join(quoted) + "}")


def _terms_text(t: ResultTerms) -> str:
    """The columns of :data:`WINDOW_COLUMNS` a (meter, day) group of windows shares."""
    return "\t".join(
        (
            _copy_text(t.meter_id),
            _copy_text(t.enterprise_id),
            _copy_text(t.source_category),
            _opt(t.iso_category),
            _copy_text(t.activity_unit),
            _opt(t.gwp_set),
            _text_array(t.factor_versions),
        )
    )


def window_copy_text(results: WindowResults, texts: WindowTexts | None = None) -> str:
    """COPY text (columns :data:`WINDOW_COLUMNS`) of every window, a column at a time."""
    if not len(results):
        return ""
    x = texts or window_texts(results)
    shared = [_terms_text(t) for t in results.shared]
    lines = map(
        "\t".join,
        zip(
            map(shared.__getitem__, results.terms.tolist()),
            x.width_s,
            x.window_start,
            x.window_end,
            x.activity,
            # JSON of gas names and numbers: nothing in it COPY would need escaped.
            x.gases,
            x.tco2e,
            x.readings_present,
            x.readings_expected,
            x.completeness,
            x.flags,
            x.interpolated,
            strict=True,
        ),
    )
    return "\n".join(lines) + "\n"


def upsert_windows(
    conn: psycopg.Connection[Any],
    results: WindowResults,
    *,
    optimistic: bool = True,
    texts: WindowTexts | None = None,
) -> bool:
    """Write window results (a recomputed window replaces its earlier figures).

    The COPY data is built as text in one piece: psycopg's ``write_row`` dumps every value of
    every row through its adapters.
    ``optimistic``: most windows are computed once, when complete, so COPY goes straight into
    the table first; if one of them is there already, that is rolled back and the batch is
    upserted. Returns whether the straight COPY did it.
    """
    if not len(results):
        return True
    data = window_copy_text(results, texts)
    if optimistic:
        try:
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY emission_window ({WINDOW_COLUMNS}) FROM STDIN") as copy,
            ):
                copy.write(data)
            return True
        except psycopg.errors.UniqueViolation:
            pass
    copy_upsert_sync(conn, "emission_window", WINDOW_COLUMNS, WINDOW_UPSERT, text=data)
    return False
