"""The durable store-and-forward buffer: SQLite in WAL mode, one row per batch, oldest first.

``put`` returns only after the batch is committed with ``synchronous=FULL``, so it survives a
kill -9 and a power cut. Concurrent puts share one commit (group commit): a commit starts at
most every ``commit_interval_ms`` (at once when the previous one is older), and the puts that
arrive meanwhile wait for the next one, so a thousand devices polling each second cost about
a hundred fsyncs, not a thousand. All SQLite calls run on one worker thread so the event loop
never blocks on disk.

Full policy. The size bound counts payload bytes (and optionally readings). The default,
``drop_oldest``, deletes the oldest batches to make room: the newest readings are what the
operators watch, and a cumulative register's next reading still carries the energy of a gap, so
losing the oldest loses resolution, not energy. ``refuse_newest`` keeps the oldest instead (for
sites that must keep a contiguous history). Either way every dropped batch is counted in
``gateway_buffer_dropped_*_total`` and the first drop of an episode is logged as a warning.

The buffer also keeps each source's sequence high-water mark, updated in the same transaction
as the batch, so a restarted gateway never reuses a ``seq`` (``next_seq``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from ingest.config import BufferConfig, FullPolicy
from ingest.metrics import GatewayMetrics
from stream.records import WIRE_VERSION, ReadingBatch, ms_to_iso

log = logging.getLogger(__name__)
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_key TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seq_high_water (
    source_key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"""


def encode_payload(batch: ReadingBatch) -> bytes:
    """``stream.records.encode_batch``, byte for byte (tests/ingest/test_buffer.py checks it),
    formatting each distinct timestamp once: a poll cycle's readings share one."""
    iso: dict[int, str] = {}
    readings = []
    for r in batch.readings:
        ts = iso.get(r.ts_ms)
        if ts is None:
            ts = iso[r.ts_ms] = ms_to_iso(r.ts_ms)
        value = r.value
        readings.append(
            {
                "meter_id": r.meter_id,
                "ts": ts,
                "value": None if math.isnan(value) else value,
                "unit": r.unit,
                "seq": r.seq,
                "quality": r.quality.value,
            }
        )
    return orjson.dumps(
        {
            "v": WIRE_VERSION,
            "source": batch.source.value,
            "gateway_id": batch.gateway_id,
            "source_key": batch.source_key,
            "readings": readings,
        }
    )


@dataclass(frozen=True, slots=True)
class StoredBatch:
    id: int
    source_key: str
    readings: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Written:
    dropped_batches: int
    dropped_readings: int


class ReadingBuffer:
    """A ``ReadingSink`` that makes each batch durable before ``put`` returns."""

    def __init__(self, config: BufferConfig, metrics: GatewayMetrics) -> None:
        self._config = config
        self._metrics = metrics
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="buffer")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[ReadingBatch, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._batches = self._readings = self._bytes = 0
        self._full = False
        self._next_commit = 0.0  # loop time before which no commit starts (group commit)
        self.changed = asyncio.Event()  # set after every commit; the forwarder waits on it

    async def open(self) -> ReadingBuffer:
        await self._run(self._open)
        self._publish()
        log.info(
            "buffer open at %s: %d batches, %d readings waiting",
            self._config.path,
            self._batches,
            self._readings,
        )
        return self

    def _open(self) -> None:
        self._config.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._config.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # durable at commit, also across a power cut
        conn.executescript(_SCHEMA)
        row = conn.execute(
            "SELECT count(*), coalesce(sum(readings), 0), coalesce(sum(bytes), 0) FROM batches"
        ).fetchone()
        self._batches, self._readings, self._bytes = row
        self._conn = conn

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def depth(self) -> tuple[int, int, int]:
        """(batches, readings, payload bytes) waiting to be forwarded."""
        return self._batches, self._readings, self._bytes

    async def put(self, batch: ReadingBatch) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((batch, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._commit_pending())
        # Each put waits on its own future: a collector cancelled mid-put cancels only that
        # future; its batch is already queued and is committed with the others all the same.
        await future

    async def _commit_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            wait = self._next_commit - loop.time()
            if wait > 0:  # the previous commit was a moment ago: let more puts join this one
                await asyncio.sleep(wait)
            self._next_commit = loop.time() + self._config.commit_interval_ms / 1000
            items, self._pending = self._pending, []
            try:
                written: _Written = await self._run(self._write, [b for b, _ in items])
            except Exception as exc:  # disk full, I/O error: every waiting put fails loudly
                log.exception("buffer write of %d batches failed", len(items))
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self._account(written)
            for _, future in items:
                if not future.done():
                    future.set_result(None)
            self.changed.set()

    def _write(self, batches: list[ReadingBatch]) -> _Written:
        assert self._conn is not None
        conn, now_ms = self._conn, int(time.time() * 1000)
        dropped_batches = dropped_readings = 0
        refuse = self._config.full_policy is FullPolicy.REFUSE_NEWEST
        rows: list[tuple[str, int, int, int, bytes]] = []
        high_water: dict[str, int] = {}  # each source's highest seq among the stored batches
        conn.execute("BEGIN IMMEDIATE")
        try:
            for batch in batches:
                payload = encode_payload(batch)
                n = len(batch.readings)
                if refuse and self._over(len(payload), n):
                    dropped_batches, dropped_readings = dropped_batches + 1, dropped_readings + n
                    continue
                key = batch.source_key
                rows.append((key, now_ms, n, len(payload), payload))
                self._batches, self._readings = self._batches + 1, self._readings + n
                self._bytes += len(payload)
                if batch.readings:
                    seq = max(r.seq for r in batch.readings)
                    if seq > high_water.get(key, -1):
                        high_water[key] = seq
            conn.executemany(  # in put order: ids (the forwarding order) follow it
                "INSERT INTO batches (source_key, created_ms, readings, bytes, payload)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO seq_high_water (source_key, seq) VALUES (?, ?)"
                " ON CONFLICT (source_key) DO UPDATE SET seq = max(seq, excluded.seq)",
                high_water.items(),
            )
            while self._config.full_policy is FullPolicy.DROP_OLDEST and self._over(0, 0):
                gone = conn.execute(
                    "DELETE FROM batches WHERE id = (SELECT min(id) FROM batches)"
                    " RETURNING readings, bytes"
                ).fetchone()
                if gone is None:
                    break
                self._batches, self._readings = self._batches - 1, self._readings - gone[0]
                self._bytes -= gone[1]
                dropped_batches, dropped_readings = dropped_batches + 1, dropped_readings + gone[0]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            self._recount()
            raise
        return _Written(dropped_batches, dropped_readings)

    def _over(self, extra_bytes: int, extra_readings: int) -> bool:
        limit = self._config.max_readings
        return self._bytes + extra_bytes > self._config.max_bytes or (
            limit is not None and self._readings + extra_readings > limit
        )

    def _recount(self) -> None:
        assert self._conn is not None
        row = self._conn.execute(
            "SELECT count(*), coalesce(sum(readings), 0), coalesce(sum(bytes), 0) FROM batches"
        ).fetchone()
        self._batches, self._readings, self._bytes = row

    def _account(self, written: _Written) -> None:
        if written.dropped_batches:
            self._metrics.inc("gateway_buffer_dropped_batches_total", written.dropped_batches)
            self._metrics.inc("gateway_buffer_dropped_readings_total", written.dropped_readings)
            if not self._full:
                log.warning(
                    "buffer FULL (%d bytes, limit %d): policy %s, dropping batches",
                    self._bytes,
                    self._config.max_bytes,
                    self._config.full_policy.value,
                )
            self._full = True
        elif self._full and not self._over(0, 0):
            self._full = False
            log.info("buffer no longer full: %d batches waiting", self._batches)
        self._publish()

    def _publish(self) -> None:
        self._metrics.set("gateway_buffer_batches", self._batches)
        self._metrics.set("gateway_buffer_readings", self._readings)
        self._metrics.set("gateway_buffer_bytes", self._bytes)
        self._metrics.set("gateway_buffer_full", 1.0 if self._full else 0.0)

    async def next_seq(self, source_key: str) -> int:
        """The first seq a (re)started source may use: one past every seq ever stored."""
        row = await self._run(
            self._query_one, "SELECT seq FROM seq_high_water WHERE source_key = ?", (source_key,)
        )
        return 0 if row is None else int(row[0]) + 1

    def _query_one(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...] | None:
        assert self._conn is not None
        row: tuple[Any, ...] | None = self._conn.execute(sql, args).fetchone()
        return row

    async def peek(self, limit: int) -> list[StoredBatch]:
        """The oldest ``limit`` batches, in the order they were stored."""
        return await self._run(self._peek, limit)

    def _peek(self, limit: int) -> list[StoredBatch]:
        assert self._conn is not None
        rows = self._conn.execute(
            "SELECT id, source_key, readings, payload FROM batches ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [StoredBatch(int(i), str(k), int(n), bytes(p)) for i, k, n, p in rows]

    async def delete(self, ids: list[int]) -> None:
        """Forget batches Kafka has acknowledged (ids already dropped are ignored)."""
        if ids:
            await self._run(self._delete, ids)
            self._publish()

    def _delete(self, ids: list[int]) -> None:
        assert self._conn is not None
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for readings, size in conn.execute(
                    f"DELETE FROM batches WHERE id IN ({marks}) RETURNING readings, bytes",  # noqa: S608
                    chunk,
                ).fetchall():
                    self._batches, self._readings = self._batches - 1, self._readings - readings
                    self._bytes -= size
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            self._recount()
            raise

    async def oldest_age_s(self) -> float:
        # The first stored batch (by id: the primary key, no scan) is the oldest waiting one.
        row = await self._run(
            self._query_one, "SELECT created_ms FROM batches ORDER BY id LIMIT 1", ()
        )
        oldest = row[0] if row else None
        return 0.0 if not isinstance(oldest, int) else max(0.0, time.time() - oldest / 1000)

    async def close(self) -> None:
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)
