"""The database sink: validated readings and quarantined items, written in batches.

Binary COPY into a session-local staging table, then one INSERT ... ON CONFLICT DO NOTHING:
COPY's speed with the idempotency of natural keys, so a replay after a crash or a rebalance
writes nothing twice (readings by (meter_id, ts); rejections by a content key and the Kafka
time of the message that carried them).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import chain, repeat
from typing import Any, TypeVar

import numpy as np
import orjson
import psycopg

from contracts.records import ValidBatch, ms_to_iso
from store.staging import copy_upsert, insert_new
from stream.columns import ValidColumns

log = logging.getLogger(__name__)
T = TypeVar("T")

_READING_COLUMNS = (
    "meter_id",
    "ts",
    "value",
    "unit",
    "flags",
    "source",
    "gateway_id",
    "seq",
    "interval_start",
    "quantity",
    "quantity_unit",
)
_REJECT_COLUMNS = (
    "dedupe_key",
    "rejected_at",
    "meter_id",
    "ts",
    "value",
    "unit",
    "source",
    "gateway_id",
    "seq",
    "reason",
    "detail",
    "payload",
)
# A reading or a rejection already stored is kept: replays and redeliveries change nothing.
_NEW_READINGS = insert_new("reading", ", ".join(_READING_COLUMNS), "(meter_id, ts)")
_NEW_REJECTIONS = insert_new(
    "rejected_reading", ", ".join(_REJECT_COLUMNS), "(dedupe_key, rejected_at)"
)


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def reading_rows(batches: Sequence[ValidBatch]) -> list[tuple[Any, ...]]:
    return [
        (
            r.meter_id,
            _dt(r.ts_ms),
            r.value,
            r.unit,
            r.flags,
            b.source.value,
            b.gateway_id,
            r.seq,
            _dt(r.interval_start_ms),
            r.quantity,
            r.unit if r.quantity is not None else None,
        )
        for b in batches
        for r in b.readings
    ]


def rejection_rows(items: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """Rows from (rejected_at ISO string, rejection dict) pairs, as carried on the topic."""
    rows = []
    for rejected_at, r in items:
        key = hashlib.sha256(orjson.dumps(r, option=orjson.OPT_SORT_KEYS)).hexdigest()
        ts = datetime.fromisoformat(r["ts"]) if r.get("ts") else None
        rows.append(
            (
                key,
                datetime.fromisoformat(rejected_at),
                r.get("meter_id"),
                ts,
                r.get("value"),
                r.get("unit"),
                r.get("source"),
                r.get("gateway_id"),
                r.get("seq"),
                r["reason"],
                r.get("detail", ""),
                orjson.dumps(r.get("payload")).decode(),
            )
        )
    return rows


def _jsonb(payload: Any) -> str:
    text = orjson.dumps(payload).decode()
    # jsonb cannot hold U+0000; keep such a payload whole as base64 rather than lose it.
    if "\\u0000" in text:
        return orjson.dumps("base64:" + base64.b64encode(text.encode()).decode()).decode()
    return text


async def store_readings(conn: psycopg.AsyncConnection[Any], batches: Sequence[ValidBatch]) -> int:
    """Insert validated readings; returns how many were new (replays insert nothing)."""
    rows = reading_rows(batches)
    if not rows:
        return 0
    return await copy_upsert(conn, "reading", _READING_COLUMNS, _NEW_READINGS, rows=rows)


def _copy_escape(value: str) -> str:
    """Escape for COPY's text format (backslash, tab, newline, carriage return)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _text_column(values: list[str]) -> Iterable[str]:
    """A text column, escaped only if one of its distinct values needs it."""
    distinct = set(values)
    if any(c in v for v in distinct for c in "\\\t\n\r"):
        escaped = {v: _copy_escape(v) for v in distinct}
        return map(escaped.__getitem__, values)
    return values


def _or_null(texts: Iterable[str], present: np.ndarray[Any, np.dtype[np.bool_]]) -> Iterable[str]:
    if present.all():
        return texts
    return [t if p else "\\N" for t, p in zip(texts, present.tolist(), strict=True)]


def reading_copy_text(valid: ValidColumns) -> str:
    """COPY text (columns :data:`_READING_COLUMNS`) of every accepted reading.

    Built a column at a time with C-level ``map``/``zip``/``join``: psycopg's ``write_row``
    dumps each value of each row through its adapters, a tenth of the worker's time.
    """
    counts = np.diff(valid.bounds).tolist()
    sources = chain.from_iterable(
        repeat(h[0].value, c) for h, c in zip(valid.headers, counts, strict=True) if h and c
    )
    gateways = chain.from_iterable(
        repeat(_copy_escape(h[1]), c) for h, c in zip(valid.headers, counts, strict=True) if h and c
    )
    units = list(_text_column(valid.unit))
    has = valid.has_interval
    lines = map(
        "\t".join,
        zip(
            _text_column(valid.meter_id),
            map(ms_to_iso, valid.ts_ms.tolist()),
            map(repr, valid.value.tolist()),
            units,
            map(str, valid.flags.tolist()),
            sources,
            gateways,
            map(str, valid.seq.tolist()),
            _or_null(map(ms_to_iso, valid.interval_start_ms.tolist()), has),
            _or_null(map(repr, valid.quantity.tolist()), has),
            _or_null(units, has),
            strict=True,
        ),
    )
    return "\n".join(lines) + "\n"


_COPY_READING = "COPY reading (" + ", ".join(_READING_COLUMNS) + ") FROM STDIN"


async def store_valid(conn: psycopg.AsyncConnection[Any], valid: ValidColumns) -> int:
    """Insert accepted readings (columns); returns how many were new (replays insert none).

    Accepted readings are newer than their meter's last accepted one, and the meter states are
    written in the same transaction as the readings, so they are almost never stored already:
    COPY goes straight into ``reading`` (half the database time of staging and
    ``INSERT ... ON CONFLICT``). Should one be there after all (a state reset by hand), the
    savepoint is rolled back and the batch goes the idempotent way.
    """
    if not len(valid):
        return 0
    data = reading_copy_text(valid)
    try:
        # A savepoint inside the caller's transaction.
        async with conn.transaction(), conn.cursor() as cur, cur.copy(_COPY_READING) as copy:
            await copy.write(data)
        return len(valid)
    except psycopg.errors.UniqueViolation:
        log.info("accepted readings already stored; inserting the new ones only")
    return await copy_upsert(conn, "reading", _READING_COLUMNS, _NEW_READINGS, text=data)


async def store_rejections(
    conn: psycopg.AsyncConnection[Any], items: Sequence[tuple[str, dict[str, Any]]]
) -> int:
    rows = rejection_rows(items)
    if not rows:
        return 0
    return await copy_upsert(conn, "rejected_reading", _REJECT_COLUMNS, _NEW_REJECTIONS, rows=rows)


class Database:
    """One async connection with reconnect; ``run`` retries until the write succeeds.

    While the database is down the calling agent waits here, so its Kafka offsets are not
    committed: backpressure, and nothing is acknowledged before it is stored.
    """

    def __init__(self, url: str, *, max_backoff_s: float = 5.0) -> None:
        self._url = url
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._max_backoff_s = max_backoff_s

    async def run(self, write: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        delay = 0.2
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(
                        self._url, autocommit=True, connect_timeout=5
                    )
                return await write(self._conn)
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                if self._conn is not None:
                    await self._conn.close()
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
