"""Computes due windows from stored readings, writes them, and hands them on for the topic.

Runs the synchronous store queries in a worker thread on its own connection; while the
database is down it retries and keeps the due windows, so nothing is skipped.

The ``emissions.windows`` messages it sends follow ``contracts.windows``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import psycopg
from numpy.typing import NDArray

from accounting.gwp import GwpSet
from accounting.intervals import keyed_window_sums
from accounting.overrides import FactorSet, factor_sets, packaged_factors
from accounting.window_plan import WindowPlan
from contracts.records import ms_to_iso
from contracts.windows import MAX_WINDOWS_PER_MESSAGE, windows_message
from store.factors import load_overrides, overrides_version
from store.registry import FactorContext, Meter
from store.staging import copy_upsert_sync
from store.windows import WINDOW_COLUMNS, WINDOW_UPSERT, WindowKey, WindowResult, WindowSums
from stream.emissions import EmissionCalculator
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
            )
        return self._calculators[key]

    def compute(
        self,
        conn: psycopg.Connection[Any],
        due: Sequence[tuple[str, int, int]],
        meters: dict[str, Meter],
        contexts: dict[str, FactorContext],
    ) -> list[WindowResult]:
        """The results of ``(meter, width_s, start_ms)`` windows; a meter not in ``meters``
        (retired since) is left out: its windows stay as last computed. So is a fine window
        the plan does not materialise (only intervals longer than its bound overlap it)."""
        self.refresh_factors(conn)
        results = []
        for sums in window_sums(conn, due, self.plan):
            meter = meters.get(sums.key.meter_id)
            if meter is None:
                continue
            context = contexts.get(meter.enterprise_id, DEFAULT_CONTEXT)
            results.append(self._calculator(context, meter.enterprise_id).result(sums, meter))
        return results


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
            rows = await asyncio.to_thread(self._uncounted, lookback_s, settle_s)
        for meter_id, start_ms, end_ms in rows:
            self.tracker.touch(meter_id, start_ms, end_ms, now_ms)
        return len(rows)

    def _uncounted(self, lookback_s: int, settle_s: float) -> list[tuple[str, int, int]]:
        self._conn = self._connect()
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

    async def flush(self, now_ms: int) -> Flushed:
        """Compute and store every due window; returns their results and topic messages."""
        async with self._lock:
            return await self._flush(now_ms)

    async def _flush(self, now_ms: int) -> Flushed:
        due = self.tracker.due(now_ms)
        if not due:
            return Flushed([], [])
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
        if upsert_windows(self._conn, results, optimistic=self._recomputing == 0):
            self._recomputing = 0
        else:
            self._recomputing = 10 if self._recomputing == 0 else self._recomputing - 1
        # Encoded here, in the thread, beside the intake running on the event loop.
        return Flushed(results, list(encode_windows(results)))


@dataclass(frozen=True, slots=True)
class Flushed:
    results: list[WindowResult]
    messages: list[tuple[bytes, bytes]]  # ``emissions.windows`` (key, value)


# The stored intervals of each meter that overlap [lo, hi): its due windows' span. A meter's
# intervals chain without overlapping (each starts at the previous accepted reading, accepted
# times strictly increase), so they are the intervals ending inside the span plus the first
# one ending at or after its end: no scan runs on through the meter's later readings (the
# whole rest of its history when a late reading reopens an old window).
_INTERVALS = """
COPY (
WITH m AS (
    SELECT m.meter_id, m.idx, to_timestamp(m.lo_ms / 1000.0) AS lo,
           to_timestamp(m.hi_ms / 1000.0) AS hi
    FROM unnest(%(meters)s::text[], %(lo)s::bigint[], %(hi)s::bigint[])
        WITH ORDINALITY AS m(meter_id, lo_ms, hi_ms, idx)
)
SELECT m.idx - 1, (extract(epoch FROM x.interval_start) * 1000)::bigint,
       (extract(epoch FROM x.ts) * 1000)::bigint, x.quantity, x.flags
FROM m CROSS JOIN LATERAL (
    (SELECT interval_start, ts, quantity, flags FROM reading
     WHERE meter_id = m.meter_id AND ts > m.lo AND ts < m.hi)
    UNION ALL
    (SELECT interval_start, ts, quantity, flags FROM reading
     WHERE meter_id = m.meter_id AND ts >= m.hi
     ORDER BY ts LIMIT 1)
) x
WHERE x.quantity IS NOT NULL AND x.interval_start IS NOT NULL AND x.interval_start < m.hi
) TO STDOUT (FORMAT BINARY)
"""
# Binary COPY rows of (bigint, bigint, bigint, double, integer), none NULL: a fixed layout
# numpy reads in place (an hour window's flush returns an hour of every meter's intervals:
# hundreds of thousands of rows, too many to make Python objects of).
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("len_group", ">i4"),
        ("group", ">i8"),
        ("len_start", ">i4"),
        ("start", ">i8"),
        ("len_end", ">i4"),
        ("end", ">i8"),
        ("len_quantity", ">i4"),
        ("quantity", ">f8"),
        ("len_flags", ">i4"),
        ("flags", ">i4"),
    ]
)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = 19  # signature (11), flags (4), header extension length (4, zero)
_COPY_TRAILER = b"\xff\xff"


def _binary_rows(data: bytes) -> np.ndarray[Any, np.dtype[np.void]]:
    body = len(data) - _COPY_HEADER - len(_COPY_TRAILER)
    if (
        not data.startswith(_COPY_SIGNATURE)
        or data[15:19] != b"\x00\x00\x00\x00"
        or not data.endswith(_COPY_TRAILER)
        or body % _ROW.itemsize
    ):
        raise ValueError("unexpected binary COPY layout")
    rows = np.frombuffer(data, dtype=_ROW, offset=_COPY_HEADER, count=body // _ROW.itemsize)
    lengths = (8, 8, 8, 8, 4)
    if not (rows["fields"] == 5).all() or any(
        not (rows[f"len_{name}"] == size).all()
        for name, size in zip(("group", "start", "end", "quantity", "flags"), lengths, strict=True)
    ):
        raise ValueError("unexpected binary COPY layout")
    return rows


def _text_array_literal(values: Sequence[str]) -> str:
    """A text[] literal (a parameter psycopg need not dump element by element)."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + '","'.join(quoted) + '"}'


def _int_array_literal(values: NDArray[np.int64]) -> str:
    return "{" + ",".join(map(str, values.tolist())) + "}"


def window_sums(
    conn: psycopg.Connection[Any],
    due: Sequence[tuple[str, int, int]],
    plan: WindowPlan | None = None,
) -> list[WindowSums]:
    """Activity and coverage of each ``(meter, width_s, start_ms)`` window, from the readings
    stored so far: the figures of ``store.windows.window_sums``, in bulk. With a ``plan``, the
    fine windows it does not keep are left out (``WindowPlan.keep``).

    The database returns each stored interval once per flush (it used to aggregate each
    reading once per window it overlaps, four widths over); ``accounting.intervals`` sums the
    shares per window.
    """
    if not due:
        return []
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
        "meters": _text_array_literal(list(index)),
        "lo": _int_array_literal(lo),
        "hi": _int_array_literal(hi),
    }
    with conn.cursor() as cur, cur.copy(_INTERVALS, params) as copy:
        data = b"".join(bytes(chunk) for chunk in copy)
    rows = _binary_rows(data)
    group = rows["group"].astype(np.int64)
    start = rows["start"].astype(np.int64)
    end = rows["end"].astype(np.int64)
    quantity = rows["quantity"].astype(np.float64)
    flags = rows["flags"].astype(np.uint32)
    order = np.lexsort((end, group))
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
    return [
        WindowSums(WindowKey(m, w, _utc(s)), q, p, f, i)
        for (m, w, s), q, p, f, i, k in zip(
            due,
            sums.quantity.tolist(),
            sums.present.tolist(),
            sums.flags.view(np.int32).tolist(),  # a signed integer column
            sums.interpolated.tolist(),
            keep.tolist(),
            strict=True,
        )
        if k
    ]


@functools.lru_cache(maxsize=4096)
def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


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


_copy_cached = functools.lru_cache(maxsize=4096)(_copy_text)


def _opt(value: str | None) -> str:
    return "\\N" if value is None else _copy_cached(value)


@functools.lru_cache(maxsize=1024)
def _text_array(items: tuple[str, ...]) -> str:
    """A text[] literal, escaped for COPY: thousands of windows share a few version tuples."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in items)
    return _copy_text("{" + ",".join(quoted) + "}")


def _window_line(r: WindowResult) -> str:
    key = r.key
    return "\t".join(
        (
            _copy_cached(key.meter_id),
            str(key.width_s),
            ms_to_iso(int(key.window_start.timestamp() * 1000)),
            ms_to_iso(int(r.window_end.timestamp() * 1000)),
            _copy_cached(r.enterprise_id),
            _copy_cached(r.source_category),
            _opt(r.iso_category),
            repr(float(r.activity)),
            _copy_cached(r.activity_unit),
            _copy_text(orjson.dumps(r.gases).decode()),
            repr(float(r.tco2e)),
            _opt(r.gwp_set),
            _text_array(tuple(r.factor_versions)),
            repr(float(r.readings_present)),
            repr(float(r.readings_expected)),
            repr(float(r.completeness)),
            str(r.flags),
            "t" if r.interpolated else "f",
        )
    )


def upsert_windows(
    conn: psycopg.Connection[Any], results: Sequence[WindowResult], *, optimistic: bool = True
) -> bool:
    """Write window results (a recomputed window replaces its earlier figures).

    Same statement as ``store.windows.upsert_windows``, but the COPY data is built as text in
    one piece: psycopg's ``write_row`` dumps every value of every row through its adapters.
    ``optimistic``: most windows are computed once, when complete, so COPY goes straight into
    the table first; if one of them is there already, that is rolled back and the batch is
    upserted. Returns whether the straight COPY did it.
    """
    if not results:
        return True
    data = "".join([_window_line(r) + "\n" for r in results])
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


def _window_item(r: WindowResult) -> dict[str, Any]:
    return {
        "meter_id": r.key.meter_id,
        "enterprise_id": r.enterprise_id,
        "source_category": r.source_category,
        "iso_category": r.iso_category,
        "width_s": r.key.width_s,
        "window_start": ms_to_iso(int(r.key.window_start.timestamp() * 1000)),
        "window_end": ms_to_iso(int(r.window_end.timestamp() * 1000)),
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


def encode_windows(
    results: Sequence[WindowResult], *, max_per_message: int = MAX_WINDOWS_PER_MESSAGE
) -> Iterator[tuple[bytes, bytes]]:
    """``emissions.windows`` messages ``(key, value)``: one per enterprise (and chunk)."""
    by_enterprise: dict[str, list[WindowResult]] = {}
    for r in results:
        by_enterprise.setdefault(r.enterprise_id, []).append(r)
    for enterprise_id, mine in by_enterprise.items():
        for i in range(0, len(mine), max_per_message):
            items = [_window_item(r) for r in mine[i : i + max_per_message]]
            yield enterprise_id.encode(), windows_message(enterprise_id, items)
