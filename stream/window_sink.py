"""The worker's window flush: due windows computed, stored and handed on for the topic.

Wiring only: which windows are due is ``stream.windows``, their figures are read by
``store.windows`` and converted by ``accounting`` (``EmissionCalculator``), the results are
written by ``store.windows.upsert_windows`` and encoded by ``contracts.windows``. The store's
synchronous queries run in a worker thread on the flush's own connection; while the database is
down it retries and keeps the due windows, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from accounting.gwp import GwpSet
from accounting.meter import HOUR_MS
from accounting.overrides import FactorSet, factor_sets, packaged_factors
from accounting.window_co2e import EmissionCalculator
from accounting.window_plan import WindowPlan
from accounting.windows import WindowResult, WindowResults
from contracts.windows import encode_windows, window_texts
from store.factors import load_overrides, overrides_version
from store.registry import FactorContext, Meter
from store.windows import read_window_sums, uncounted_intervals, upsert_windows
from stream.registry import RegistryCache
from stream.windows import WindowTracker

log = logging.getLogger(__name__)
DEFAULT_CONTEXT = FactorContext()  # an enterprise not (yet) in the registry's park join


class WindowComputer:
    """Due windows -> CO2e results, from the stored readings, the registry and the factors in
    force: the one computation of the stream worker and of ``parkcarbon recompute``.

    The factors are the packaged catalogue plus the park's ``factor_override`` versions
    (``accounting.overrides``), reloaded when ``max(override_id)`` moves, which is checked
    before every computation: a window computed after a version was added uses it. A meter of
    an enterprise with versions of its own is computed with that enterprise's set, every other
    meter with the park's.
    """

    def __init__(self, *, gwp_set: GwpSet, plan: WindowPlan | None = None) -> None:
        self._gwp_set = gwp_set
        # Which fine windows are stored (``accounting.window_plan``); None: every one asked.
        self.plan = plan
        self._calculators: dict[tuple[FactorContext, str | None], EmissionCalculator] = {}
        self._factors_version: int | None = None
        self.factors: FactorSet = packaged_factors()
        self.enterprise_factors: dict[str, FactorSet] = {}

    def refresh_factors(self, conn: psycopg.Connection[Any]) -> bool:
        """Reload the park's factor versions if they changed; returns whether they did."""
        version = overrides_version(conn)
        if version == self._factors_version:
            return False
        factors, by_enterprise = factor_sets(load_overrides(conn))
        refused = set(factors.refused)
        for ent_set in by_enterprise.values():
            refused.update(ent_set.refused)
        for override_id, why in sorted(refused):
            log.warning("factor override %d not applied: %s", override_id, why)
        self.factors = factors
        self.enterprise_factors = by_enterprise
        self._calculators.clear()  # their cached factors are the old versions'
        self._factors_version = version
        log.info(
            "emission factors loaded: %d park versions, %d enterprises with their own",
            len(factors.applied),
            len(by_enterprise),
        )
        return True

    def _calculator(self, context: FactorContext, enterprise_id: str) -> EmissionCalculator:
        own = enterprise_id if enterprise_id in self.enterprise_factors else None
        key = (context, own)
        if key not in self._calculators:
            factors = self.factors if own is None else self.enterprise_factors[own]
            self._calculators[key] = EmissionCalculator(
                region=context.region,
                timezone=context.timezone,
                grid_level=context.grid_level,
                gwp_set=self._gwp_set,
                catalogue=factors.catalogue,
                parameters=factors.parameters,
                warn=log.warning,
            )
        return self._calculators[key]

    def _calculator_index(
        self,
        meter: Meter | None,
        contexts: dict[str, FactorContext],
        chosen: list[EmissionCalculator],
    ) -> int:
        """Where the calculator of ``meter``'s enterprise is in ``chosen`` (added if new); -1
        for a meter no longer in the registry."""
        if meter is None:
            return -1
        context = contexts.get(meter.enterprise_id, DEFAULT_CONTEXT)
        calculator = self._calculator(context, meter.enterprise_id)
        for k, known in enumerate(chosen):
            if known is calculator:
                return k
        chosen.append(calculator)
        return len(chosen) - 1

    def compute(
        self,
        conn: psycopg.Connection[Any],
        due: Sequence[tuple[str, int, int]],
        meters: dict[str, Meter],
        contexts: dict[str, FactorContext],
    ) -> WindowResults:
        """The results of ``(meter, width_s, start_ms)`` windows; a meter not in ``meters``
        (retired since) is left out: its windows stay as last computed. So is a fine window
        the plan does not materialise (only intervals longer than its bound overlap it)."""
        self.refresh_factors(conn)
        sums = read_window_sums(conn, due, self.plan)
        # Windows grouped by the calculator of their meter's enterprise (a park has one
        # calculator unless enterprises have factor versions of their own); -1: retired meter.
        ids: dict[str, int] = {}
        meter_of = np.fromiter(
            (ids.setdefault(m, len(ids)) for m in sums.meter_id), dtype=np.intp, count=len(sums)
        )
        calculators: list[EmissionCalculator] = []
        calculator_of_meter = np.array(
            [self._calculator_index(meters.get(m), contexts, calculators) for m in ids],
            dtype=np.intp,
        )
        calculator_of = calculator_of_meter[meter_of] if len(sums) else meter_of
        parts = []
        for k, calculator in enumerate(calculators):
            mine = np.flatnonzero(calculator_of == k)
            parts.append(
                calculator.results(sums.select(mine) if len(mine) < len(sums) else sums, meters)
            )
        return WindowResults.concat(parts)


class WindowSink:
    def __init__(
        self,
        database_url: str,
        registry: RegistryCache,
        *,
        gwp_set: GwpSet,
        max_wait_ms: int,
        plan: WindowPlan | None = None,
    ) -> None:
        self._url = database_url
        self._registry = registry
        self._conn: psycopg.Connection[Any] | None = None
        plan = plan or WindowPlan()
        self.computer = WindowComputer(gwp_set=gwp_set, plan=plan)
        self._recomputing = 0  # flushes left to upsert without trying a plain COPY first
        self.tracker = WindowTracker(max_wait_ms=max_wait_ms, plan=plan)
        # The sink agent and the timer both flush; one connection serves one flush at a time.
        self._lock = asyncio.Lock()

    def touch(self, intervals: Sequence[tuple[str, int, int]], now_ms: int) -> None:
        """Mark the windows that ``(meter, start_ms, end_ms)`` stretches of intervals overlap.

        A meter's accepted readings chain (each interval starts where the previous one
        ended), so the intake hands over one stretch per meter, not one interval per reading.
        """
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
            try:
                rows = await asyncio.to_thread(self._uncounted, lookback_s, settle_s)
            except psycopg.OperationalError as exc:
                # The next round (or the next worker) looks again: nothing is lost by waiting.
                log.warning("database unavailable for the window reconcile (%s)", exc)
                self._conn = None
                return 0
        for meter_id, start_ms, end_ms in rows:
            self.tracker.touch(meter_id, start_ms, end_ms, now_ms)
        return len(rows)

    def _uncounted(self, lookback_s: int, settle_s: float) -> list[tuple[str, int, int]]:
        self._conn = self._connect()
        return uncounted_intervals(self._conn, lookback_s=lookback_s, settle_s=settle_s)

    async def flush(self, now_ms: int) -> Flushed:
        """Compute and store every due window; returns their results and topic messages."""
        async with self._lock:
            return await self._flush(now_ms)

    async def _flush(self, now_ms: int) -> Flushed:
        due = self.tracker.due(now_ms)
        if not due:
            return Flushed(0, [], [])
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(self._compute, due)
            except psycopg.OperationalError as exc:
                log.warning("database unavailable for windows (%s); retrying", exc)
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
            # Thousands of windows per query: JIT compiling it costs more than it saves, and
            # the aggregate must not spill to disk.
            self._conn.execute("SET jit = off")
            self._conn.execute("SET work_mem = '64MB'")
        return self._conn

    def _compute(self, due: list[tuple[str, int, int]]) -> Flushed:
        self._conn = self._connect()
        results = self.computer.compute(
            self._conn, due, self._registry.meters, self._registry.contexts
        )
        # After a flush that recomputed stored windows, the next few go the upsert way at once.
        texts = window_texts(results)  # the table's and the topic's text alike
        if upsert_windows(self._conn, results, optimistic=self._recomputing == 0, texts=texts):
            self._recomputing = 0
        else:
            self._recomputing = 10 if self._recomputing == 0 else self._recomputing - 1
        # Encoded here, in the thread, beside the intake running on the event loop; the
        # deviation rules read hour windows only, the few made objects of.
        return Flushed(
            len(results),
            results.rows(results.width_s * 1000 == HOUR_MS),
            list(encode_windows(results)),
        )


@dataclass(frozen=True, slots=True)
class Flushed:
    computed: int  # windows computed and stored
    hourly: list[WindowResult]  # the hour windows among them, for the deviation rules
    messages: list[tuple[bytes, bytes]]  # ``emissions.windows`` (key, value)
