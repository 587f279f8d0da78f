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

A write that fails (a full disk, an I/O error) stores none of its batches and every ``put``
waiting on it raises ``BufferWriteError``: ``put`` either stores its batch or raises. The
counters behind the size bound change only after COMMIT and are recounted from the table after
any failed write, so a failed write never leaves bytes in them that are not on disk (those
phantom bytes would make ``drop_oldest`` delete real batches). SQLite may already have rolled
the transaction back itself (SQLITE_FULL, SQLITE_IOERR), so ROLLBACK runs only inside one. The
first failure of an episode is logged as an error, the first success after it as a warning;
``gateway_buffer_write_errors_total`` counts the batches refused meanwhile.

A batch the forwarder can never deliver (larger than Kafka accepts even alone, or refused by the
broker as such) is moved to the ``dead_batches`` table with its reason (``bury``), so forwarding
goes on with the next one; ``dead`` lists them and ``requeue`` puts them back once the cause
is fixed (the table is plain SQLite: ``sqlite3 BUFFER 'SELECT id, reason FROM dead_batches'``).

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

from contracts.records import WIRE_VERSION, ReadingBatch, ms_to_iso
from ingest.config import BufferConfig, FullPolicy
from ingest.metrics import GatewayMetrics

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
CREATE TABLE IF NOT EXISTS dead_batches (
    id INTEGER PRIMARY KEY,
    source_key TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    dead_ms INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seq_high_water (
    source_key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"""


def encode_payload(batch: ReadingBatch) -> bytes:
    """``contracts.records.encode_batch``, byte for byte (tests/ingest/test_buffer.py checks it),
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
class DeadBatch:
    """A batch moved aside because it can never be delivered as it is."""

    id: int
    source_key: str
    created_ms: int
    dead_ms: int
    readings: int
    bytes: int
    reason: str


class BufferWriteError(Exception):
    """The batch was not stored (disk full, I/O error): nothing of it is in the buffer."""


@dataclass(frozen=True, slots=True)
class _Depth:
    batches: int
    readings: int
    bytes: int


@dataclass(frozen=True, slots=True)
class _Written:
    dropped_batches: int
    dropped_readings: int
    depth: _Depth


_COUNT_SQL = "SELECT count(*), coalesce(sum(readings), 0), coalesce(sum(bytes), 0) FROM batches"


class ReadingBuffer:
    """A ``ReadingSink`` that makes each batch durable before ``put`` returns.

    ``on_connect`` is called with the SQLite connection once it is open (on the buffer's
    thread), e.g. to set ``PRAGMA max_page_count`` to model a small disk.
    """

    def __init__(
        self,
        config: BufferConfig,
        metrics: GatewayMetrics,
        *,
        on_connect: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._on_connect = on_connect
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="buffer")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[ReadingBatch, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._depth = _Depth(0, 0, 0)
        self._stale = False  # a failed write could not recount: recount before the next one
        self._dead = 0
        self._full = False
        self._failing = 0  # batches refused since the current write failure episode began
        self._next_commit = 0.0  # loop time before which no commit starts (group commit)
        self.changed = asyncio.Event()  # set after every commit; the forwarder waits on it

    async def open(self) -> ReadingBuffer:
        await self._run(self._open)
        self._publish()
        log.info(
            "buffer open at %s: %d batches, %d readings waiting, %d dead",
            self._config.path,
            self._depth.batches,
            self._depth.readings,
            self._dead,
        )
        return self

    def _open(self) -> None:
        self._config.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._config.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # durable at commit, also across a power cut
        conn.executescript(_SCHEMA)
        if self._on_connect is not None:
            self._on_connect(conn)
        self._conn = conn
        self._recount()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def depth(self) -> tuple[int, int, int]:
        """(batches, readings, payload bytes) waiting to be forwarded."""
        d = self._depth
        return d.batches, d.readings, d.bytes

    async def put(self, batch: ReadingBatch) -> None:
        """Return once ``batch`` is durable, or raise ``BufferWriteError`` (nothing stored)."""
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
                self._write_failed(exc, items)
                continue
            self._account(written)
            for _, future in items:
                if not future.done():
                    future.set_result(None)
            self.changed.set()

    def _write_failed(
        self, exc: Exception, items: list[tuple[ReadingBatch, asyncio.Future[None]]]
    ) -> None:
        readings = sum(len(b.readings) for b, _ in items)
        self._metrics.inc("gateway_buffer_write_errors_total", len(items))
        self._metrics.inc("gateway_buffer_write_error_readings_total", readings)
        self._metrics.set("gateway_buffer_write_failing", 1)
        if not self._failing:
            log.error(
                "buffer write FAILED (%s: %s): %d batches (%d readings) not stored; refusing"
                " batches until a write succeeds (%d batches still waiting)",
                type(exc).__name__,
                exc,
                len(items),
                readings,
                self._depth.batches,
            )
        self._failing += len(items)
        self._publish()
        for _, future in items:
            if not future.done():
                error = BufferWriteError(f"batch not stored: {type(exc).__name__}: {exc}")
                future.set_exception(error.with_traceback(exc.__traceback__))

    def _write(self, batches: list[ReadingBatch]) -> _Written:
        assert self._conn is not None
        conn, now_ms = self._conn, int(time.time() * 1000)
        if self._stale:
            self._recount()
        dropped_batches = dropped_readings = 0
        refuse = self._config.full_policy is FullPolicy.REFUSE_NEWEST
        # The counters as they will be once this transaction commits; kept locally until then.
        n_batches, n_readings, n_bytes = self.depth
        rows: list[tuple[str, int, int, int, bytes]] = []
        high_water: dict[str, int] = {}  # each source's highest seq among the stored batches
        conn.execute("BEGIN IMMEDIATE")
        try:
            for batch in batches:
                payload = encode_payload(batch)
                n = len(batch.readings)
                if refuse and self._over(n_bytes + len(payload), n_readings + n):
                    dropped_batches, dropped_readings = dropped_batches + 1, dropped_readings + n
                    continue
                key = batch.source_key
                rows.append((key, now_ms, n, len(payload), payload))
                n_batches, n_readings, n_bytes = (
                    n_batches + 1,
                    n_readings + n,
                    n_bytes + len(payload),
                )
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
            drop = self._config.full_policy is FullPolicy.DROP_OLDEST
            while drop and self._over(n_bytes, n_readings):
                gone = conn.execute(
                    "DELETE FROM batches WHERE id = (SELECT min(id) FROM batches)"
                    " RETURNING readings, bytes"
                ).fetchone()
                if gone is None:
                    break
                n_batches, n_readings, n_bytes = (
                    n_batches - 1,
                    n_readings - gone[0],
                    n_bytes - gone[1],
                )
                dropped_batches, dropped_readings = dropped_batches + 1, dropped_readings + gone[0]
            conn.execute("COMMIT")
        except BaseException:
            self._abort()
            raise
        self._depth = _Depth(n_batches, n_readings, n_bytes)
        return _Written(dropped_batches, dropped_readings, self._depth)

    def _abort(self) -> None:
        """After a failed statement or COMMIT: roll back what is left and recount.

        SQLite rolls the whole transaction back by itself on some errors (SQLITE_FULL,
        SQLITE_IOERR, SQLITE_NOMEM; https://sqlite.org/lang_transaction.html), and ROLLBACK
        outside a transaction raises, so it runs only inside one. A failure here must not
        replace the write's own error: the counters are then recounted before the next write.
        """
        assert self._conn is not None
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._recount()
        except sqlite3.Error:
            log.warning("buffer: rollback or recount after a failed write failed", exc_info=True)
            self._stale = True

    def _over(self, size: int, readings: int) -> bool:
        limit = self._config.max_readings
        return size > self._config.max_bytes or (limit is not None and readings > limit)

    def _recount(self) -> None:
        assert self._conn is not None
        n_batches, n_readings, n_bytes = self._conn.execute(_COUNT_SQL).fetchone()
        (self._dead,) = self._conn.execute("SELECT count(*) FROM dead_batches").fetchone()
        self._depth = _Depth(int(n_batches), int(n_readings), int(n_bytes))
        self._stale = False

    def _account(self, written: _Written) -> None:
        if self._failing:
            log.warning(
                "buffer writes succeed again: %d batches were refused while they failed",
                self._failing,
            )
            self._failing = 0
            self._metrics.set("gateway_buffer_write_failing", 0)
        if written.dropped_batches:
            self._metrics.inc("gateway_buffer_dropped_batches_total", written.dropped_batches)
            self._metrics.inc("gateway_buffer_dropped_readings_total", written.dropped_readings)
            if not self._full:
                log.warning(
                    "buffer FULL (%d bytes, limit %d): policy %s, dropping batches",
                    written.depth.bytes,
                    self._config.max_bytes,
                    self._config.full_policy.value,
                )
            self._full = True
        elif self._full and not self._over(written.depth.bytes, written.depth.readings):
            self._full = False
            log.info("buffer no longer full: %d batches waiting", written.depth.batches)
        self._publish()

    def _publish(self) -> None:
        d = self._depth
        self._metrics.set("gateway_buffer_batches", d.batches)
        self._metrics.set("gateway_buffer_readings", d.readings)
        self._metrics.set("gateway_buffer_bytes", d.bytes)
        self._metrics.set("gateway_buffer_full", 1.0 if self._full else 0.0)
        self._metrics.set("gateway_buffer_dead_batches", self._dead)

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
        if self._stale:
            self._recount()
        n_batches, n_readings, n_bytes = self.depth
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for readings, size in conn.execute(
                    f"DELETE FROM batches WHERE id IN ({marks}) RETURNING readings, bytes",  # noqa: S608
                    chunk,
                ).fetchall():
                    n_batches, n_readings, n_bytes = (
                        n_batches - 1,
                        n_readings - readings,
                        n_bytes - size,
                    )
            conn.execute("COMMIT")
        except BaseException:
            self._abort()
            raise
        self._depth = _Depth(n_batches, n_readings, n_bytes)

    async def bury(self, batch_id: int, reason: str) -> None:
        """Move a batch that can never be delivered as it is to ``dead_batches``, with why."""
        await self._run(self._bury, batch_id, reason)
        self._metrics.inc("gateway_buffer_dead_total")
        self._publish()

    def _bury(self, batch_id: int, reason: str) -> None:
        assert self._conn is not None
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO dead_batches"
                " (id, source_key, created_ms, dead_ms, readings, bytes, reason, payload)"
                " SELECT id, source_key, created_ms, ?, readings, bytes, ?, payload"
                " FROM batches WHERE id = ?",
                (int(time.time() * 1000), reason, batch_id),
            )
            conn.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            conn.execute("COMMIT")
        except BaseException:
            self._abort()
            raise
        self._recount()

    async def dead(self) -> list[DeadBatch]:
        """The batches moved aside, oldest first (without their payloads)."""
        return await self._run(self._dead_rows)

    def _dead_rows(self) -> list[DeadBatch]:
        assert self._conn is not None
        rows = self._conn.execute(
            "SELECT id, source_key, created_ms, dead_ms, readings, bytes, reason"
            " FROM dead_batches ORDER BY id"
        ).fetchall()
        return [DeadBatch(*row) for row in rows]

    async def dead_payload(self, batch_id: int) -> bytes | None:
        row = await self._run(
            self._query_one, "SELECT payload FROM dead_batches WHERE id = ?", (batch_id,)
        )
        return None if row is None else bytes(row[0])

    async def requeue(self, ids: list[int]) -> int:
        """Put dead batches back at the end of the queue (for an operator, once the cause is
        fixed); returns how many moved. They are forwarded after the batches waiting now, so
        the stream may see their readings late (quarantined as such, not lost)."""
        moved = await self._run(self._requeue, ids)
        self._publish()
        self.changed.set()
        return moved

    def _requeue(self, ids: list[int]) -> int:
        assert self._conn is not None
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            moved = 0
            for batch_id in ids:
                cur = conn.execute(
                    "INSERT INTO batches (source_key, created_ms, readings, bytes, payload)"
                    " SELECT source_key, created_ms, readings, bytes, payload FROM dead_batches"
                    " WHERE id = ?",
                    (batch_id,),
                )
                moved += cur.rowcount
                conn.execute("DELETE FROM dead_batches WHERE id = ?", (batch_id,))
            conn.execute("COMMIT")
        except BaseException:
            self._abort()
            raise
        self._recount()
        return moved

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
