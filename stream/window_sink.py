"""Computes due windows from stored readings, writes them, and hands them on for the topic.

Runs the synchronous store queries in a worker thread on its own connection; while the
database is down it retries and keeps the due windows, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from accounting.gwp import GwpSet
from store.windows import WindowKey, WindowResult, upsert_windows, window_sums
from stream.emissions import EmissionCalculator
from stream.records import ValidBatch, ms_to_iso
from stream.registry import RegistryCache
from stream.windows import WindowTracker

log = logging.getLogger(__name__)


class WindowSink:
    def __init__(
        self, database_url: str, registry: RegistryCache, *, gwp_set: GwpSet, max_wait_ms: int
    ) -> None:
        self._url = database_url
        self._registry = registry
        self._gwp_set = gwp_set
        self._conn: psycopg.Connection[Any] | None = None
        self._calculators: dict[str, EmissionCalculator] = {}
        self.tracker = WindowTracker(max_wait_ms=max_wait_ms)
        # The sink agent and the timer both flush; one connection serves one flush at a time.
        self._lock = asyncio.Lock()

    def touch(
        self,
        batches: Sequence[ValidBatch],
        now_ms: int,
        intervals: Sequence[tuple[str, int, int]] = (),
    ) -> None:
        """Mark the windows of new readings, and of ``(meter, start_ms, end_ms)`` intervals."""
        # A meter's accepted readings chain: each interval starts where the previous one ended.
        # Touching each contiguous run once marks the same windows as touching every interval.
        runs: dict[str, list[list[int]]] = {}
        for batch in batches:
            for r in batch.readings:
                if r.interval_start_ms is None:
                    continue
                mine = runs.setdefault(r.meter_id, [])
                if mine and mine[-1][0] <= r.interval_start_ms <= mine[-1][1]:
                    mine[-1][1] = max(mine[-1][1], r.ts_ms)
                else:
                    mine.append([r.interval_start_ms, r.ts_ms])
        for meter_id, spans in runs.items():
            for start_ms, end_ms in spans:
                self.tracker.touch(meter_id, start_ms, end_ms, now_ms)
        for meter_id, start_ms, end_ms in intervals:
            self.tracker.touch(meter_id, start_ms, end_ms, now_ms)

    async def reconcile(self, now_ms: int, *, lookback_s: int = 6 * 3600) -> int:
        """Touch the windows of recently stored readings that no window has counted yet.

        A worker that dies loses its pending windows; whichever worker runs this next finds the
        readings stored after their hour window was last computed, and queues them again. Only
        hours that ended longer ago than the silent-meter wait count: a window still open or
        still waiting is not missing.
        """
        settle_s = self.tracker.max_wait_ms / 1000 + 60
        async with self._lock:
            rows = await asyncio.to_thread(self._uncounted, lookback_s, settle_s)
        for meter_id, start_ms, end_ms in rows:
            self.tracker.touch(meter_id, start_ms, end_ms, now_ms)
        return len(rows)

    def _uncounted(self, lookback_s: int, settle_s: float) -> list[tuple[str, int, int]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
        rows = self._conn.execute(
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

    async def flush(self, now_ms: int) -> list[WindowResult]:
        """Compute and store every due window; returns their results."""
        async with self._lock:
            return await self._flush(now_ms)

    async def _flush(self, now_ms: int) -> list[WindowResult]:
        due = self.tracker.due(now_ms)
        if not due:
            return []
        keys = [WindowKey(m, w, datetime.fromtimestamp(s / 1000, UTC)) for m, w, s in due]
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(self._compute, keys)
            except psycopg.OperationalError as exc:
                log.warning("database unavailable for windows (%s); retrying", exc)
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _calculator(self, region: str) -> EmissionCalculator:
        if region not in self._calculators:
            self._calculators[region] = EmissionCalculator(region=region, gwp_set=self._gwp_set)
        return self._calculators[region]

    def _compute(self, keys: list[WindowKey]) -> list[WindowResult]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
        results = []
        for sums in window_sums(self._conn, keys):
            meter = self._registry.meters.get(sums.key.meter_id)
            if meter is None:  # retired since: its windows stay as last computed
                continue
            region = self._registry.regions.get(meter.enterprise_id, "CN")
            results.append(self._calculator(region).result(sums, meter))
        upsert_windows(self._conn, results)
        return results


# Thousands of meters share each window's start and end: format each instant once.
_iso = functools.lru_cache(maxsize=4096)(ms_to_iso)


def encode_window(r: WindowResult) -> bytes:
    """An ``emissions.windows`` message (keyed by meter id)."""
    return orjson.dumps(
        {
            "v": 1,
            "meter_id": r.key.meter_id,
            "enterprise_id": r.enterprise_id,
            "source_category": r.source_category,
            "iso_category": r.iso_category,
            "width_s": r.key.width_s,
            "window_start": _iso(int(r.key.window_start.timestamp() * 1000)),
            "window_end": _iso(int(r.window_end.timestamp() * 1000)),
            "activity": r.activity,
            "activity_unit": r.activity_unit,
            "gases_t": r.gases,
            "tco2e": r.tco2e,
            "gwp_set": r.gwp_set,
            "factor_versions": list(r.factor_versions),
            "completeness": r.completeness,
            "flags": r.flags,
            "interpolated": r.interpolated,
        }
    )
