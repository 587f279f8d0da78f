"""Recompute stored CO2e windows of a period with the current registry and factors.

After a park factor version is added or a registry row corrected, the windows already stored
keep the figures they were computed with. ``recompute`` computes them again from the stored
readings with the stream worker's own computation (``stream.window_sink.WindowComputer``: the
same window sums, factors and upsert), chunk by chunk (a day of a group of meters), so a
recomputed window is exactly what the worker would write now. Idempotent: a second run writes
the same figures.

The windows of a chunk are those stored in it plus those its stored intervals touch (as the
worker's ``WindowTracker`` touches them), all four widths, clipped to the chunk's day (UTC);
the 1- and 5-minute ones only as the worker's window plan materialises them
(``accounting.window_plan``: not beyond the fine horizon, not for long intervals only).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from accounting.gwp import GwpSet
from accounting.window_plan import WindowPlan
from store.registry import Meter, all_meters, enterprise_contexts
from store.windows import upsert_windows
from stream.window_sink import WindowComputer
from stream.windows import WindowTracker

DAY_MS = 86_400_000
HOUR_S = 3600
# At most 1,848 windows per meter-day (1,440 + 288 + 96 + 24): ~46,000 windows per chunk.
METERS_PER_CHUNK = 25


class RecomputeError(ValueError):
    """The selection names nothing to recompute (unknown meter or enterprise, bad period)."""


@dataclass
class Summary:
    meters: int = 0
    days: int = 0
    windows: int = 0  # all widths
    by_width: dict[int, int] = field(default_factory=dict)
    # Totals of the hour windows (each reading counted once): before and after.
    tco2e_before: float = 0.0
    tco2e_after: float = 0.0
    changed: int = 0  # windows whose tCO2e moved


def select_meters(
    conn: psycopg.Connection[Any], meter_ids: Sequence[str], enterprise_id: str | None
) -> list[Meter]:
    """The registry's active meters named (all when none), of ``enterprise_id`` if given."""
    meters = {m.meter_id: m for m in all_meters(conn)}
    unknown = sorted(set(meter_ids) - meters.keys())
    if unknown:
        raise RecomputeError(f"not an active meter in the registry: {', '.join(unknown)}")
    chosen = [meters[m] for m in sorted(set(meter_ids))] if meter_ids else list(meters.values())
    if enterprise_id is not None:
        chosen = [m for m in chosen if m.enterprise_id == enterprise_id]
        if not chosen:
            raise RecomputeError(f"no active meter of enterprise {enterprise_id!r} selected")
    return sorted(chosen, key=lambda m: m.meter_id)


def _ms(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp() * 1000)


def _due(
    conn: psycopg.Connection[Any],
    meters: list[str],
    lo_ms: int,
    hi_ms: int,
    plan: WindowPlan,
    now_ms: int,
) -> tuple[list[tuple[str, int, int]], dict[tuple[str, int, int], float]]:
    """The chunk's windows, and the tCO2e stored for each of them so far."""
    lo, hi = datetime.fromtimestamp(lo_ms / 1000, UTC), datetime.fromtimestamp(hi_ms / 1000, UTC)
    tracker = WindowTracker(plan=plan)
    spans = conn.execute(
        """SELECT m, (extract(epoch FROM d.lo) * 1000)::bigint,
                  (extract(epoch FROM d.hi) * 1000)::bigint,
                  (extract(epoch FROM n.interval_start) * 1000)::bigint
           FROM unnest(%(m)s::text[]) m
           CROSS JOIN LATERAL (
               SELECT min(interval_start) AS lo, max(ts) AS hi FROM reading
               WHERE meter_id = m AND ts > %(lo)s AND ts <= %(hi)s AND quantity IS NOT NULL) d
           LEFT JOIN LATERAL (
               SELECT interval_start FROM reading
               WHERE meter_id = m AND ts > %(hi)s AND quantity IS NOT NULL
               ORDER BY ts LIMIT 1) n ON true""",
        {"m": meters, "lo": lo, "hi": hi},
    ).fetchall()
    for meter_id, start, end, next_start in spans:
        # A meter's stored intervals chain: one stretch covers every interval of the chunk, up
        # to the first one that ends after it.
        if next_start is not None and next_start < hi_ms:
            start = next_start if start is None else min(start, next_start)
            end = hi_ms
        if start is not None and end is not None:
            tracker.touch(str(meter_id), max(int(start), lo_ms), min(int(end), hi_ms), now_ms)
    stored = {
        (str(m), int(w), int(s)): float(t)
        for m, w, s, t in conn.execute(
            "SELECT meter_id, width_s, (extract(epoch FROM window_start) * 1000)::bigint, tco2e"
            " FROM emission_window WHERE meter_id = ANY(%s) AND window_start >= %s"
            " AND window_start < %s",
            (meters, lo, hi),
        ).fetchall()
    }
    keys = set(tracker.pending) | stored.keys()
    return sorted(keys), stored


def recompute(
    conn: psycopg.Connection[Any],
    *,
    first: date,
    last: date,
    meters: Sequence[Meter],
    gwp_set: GwpSet,
    on_chunk: Callable[[int], None] = lambda n: None,
    meters_per_chunk: int = METERS_PER_CHUNK,
    plan: WindowPlan | None = None,
) -> Summary:
    """Recompute and upsert every window of ``meters`` from ``first`` to ``last`` (UTC days,
    inclusive); ``on_chunk(n)`` after each chunk of ``n`` meter-days. ``plan``: the worker's
    window plan (its settings' ``fine_windows_*``; the defaults when None)."""
    if last < first:
        raise RecomputeError(f"--to {last} is before --from {first}")
    plan = plan or WindowPlan()
    now_ms = int(time.time() * 1000)
    computer = WindowComputer(gwp_set=gwp_set, plan=plan)
    by_id = {m.meter_id: m for m in meters}
    contexts = enterprise_contexts(conn)
    summary = Summary(meters=len(by_id), days=(last - first).days + 1)
    before: list[float] = []
    after: list[float] = []
    ids = sorted(by_id)
    day = first
    while day <= last:
        lo = _ms(day)
        for i in range(0, len(ids), meters_per_chunk):
            group = ids[i : i + meters_per_chunk]
            due, stored = _due(conn, group, lo, lo + DAY_MS, plan, now_ms)
            results = computer.compute(conn, due, by_id, contexts)
            upsert_windows(conn, results, optimistic=False)
            for r in results.rows():
                key = (r.key.meter_id, r.key.width_s, int(r.key.window_start.timestamp() * 1000))
                summary.windows += 1
                summary.by_width[r.key.width_s] = summary.by_width.get(r.key.width_s, 0) + 1
                old = stored.get(key)
                if old is None or not math.isclose(old, r.tco2e, rel_tol=1e-12, abs_tol=1e-15):
                    summary.changed += 1
                if r.key.width_s == HOUR_S:
                    before.append(old or 0.0)
                    after.append(r.tco2e)
            on_chunk(len(group))
        day += timedelta(days=1)
    summary.tco2e_before, summary.tco2e_after = math.fsum(before), math.fsum(after)
    return summary
