"""Database functions of the EMS push: the registry rows it checks against, what was accepted
before, sequence numbers, the record of acceptance and Idempotency-Key replies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import AsyncConnection

IDEMPOTENCY_TTL = "24 hours"
SEQ_INDEX_BITS = 14  # 16,384 readings per message at most; the wire allows 10,000


@dataclass(frozen=True, slots=True)
class MeterRow:
    enterprise_id: str
    unit: str
    retired_at_ms: int | None


@dataclass(frozen=True, slots=True)
class Reply:
    body_sha256: bytes
    status: int
    response: dict[str, Any]


async def meters(conn: AsyncConnection[Any], *, meter_ids: list[str]) -> dict[str, MeterRow]:
    cur = await conn.execute(
        "SELECT meter_id, enterprise_id, unit, (extract(epoch FROM retired_at) * 1000)::bigint"
        " FROM meter WHERE meter_id = ANY(%s)",
        (meter_ids,),
    )
    return {m: MeterRow(e, u, r) for m, e, u, r in await cur.fetchall()}


async def accepted_before(
    conn: AsyncConnection[Any], *, meter_ids: list[str], ts_ms: list[int]
) -> dict[tuple[str, int], float]:
    """(meter, ts) -> value of readings already pushed, or already stored from any source."""
    if not meter_ids:
        return {}
    cur = await conn.execute(
        "SELECT u.meter_id, u.ms, coalesce(e.value, r.value)"
        # epoch ms -> timestamptz exactly (to_timestamp would go through a double)
        " FROM (SELECT m AS meter_id, ms, timestamptz 'epoch' + ms * interval '1 ms' AS ts"
        "       FROM unnest(%s::text[], %s::bigint[]) AS t(m, ms)) AS u"
        " LEFT JOIN ems_reading e ON e.meter_id = u.meter_id AND e.ts = u.ts"
        " LEFT JOIN reading r ON r.meter_id = u.meter_id AND r.ts = u.ts"
        " WHERE e.meter_id IS NOT NULL OR r.meter_id IS NOT NULL",
        (meter_ids, ts_ms),
    )
    return {(m, ms): v for m, ms, v in await cur.fetchall()}


async def seq_bases(conn: AsyncConnection[Any], *, count: int) -> list[int]:
    """One base per message; a reading's seq is base + its index, so seq only ever grows."""
    cur = await conn.execute("SELECT nextval('ems_push_seq') FROM generate_series(1, %s)", (count,))
    return [int(n) << SEQ_INDEX_BITS for (n,) in await cur.fetchall()]


async def record_accepted(
    conn: AsyncConnection[Any],
    *,
    key_id: str,
    rows: list[tuple[str, int, float, str, int]],
) -> set[tuple[str, int]]:
    """Record readings Kafka acknowledged: (meter, ts_ms, value, unit, seq). Returns the ones
    this call recorded; the others were recorded by a concurrent push a moment before."""
    meter_ids, ts, values, units, seqs = (list(col) for col in zip(*rows, strict=True))
    cur = await conn.execute(
        "INSERT INTO ems_reading (meter_id, ts, value, unit, key_id, seq)"
        " SELECT m, timestamptz 'epoch' + ms * interval '1 ms', v, u, %s, s"
        " FROM unnest(%s::text[], %s::bigint[], %s::float8[], %s::text[], %s::bigint[])"
        "   AS t(m, ms, v, u, s)"
        " ON CONFLICT DO NOTHING"
        " RETURNING meter_id, (extract(epoch FROM ts) * 1000)::bigint",
        (key_id, meter_ids, ts, values, units, seqs),
    )
    return {(m, int(ms)) for m, ms in await cur.fetchall()}


def body_digest(kind: str, body: bytes) -> bytes:
    return hashlib.sha256(kind.encode() + b"\n" + body).digest()


async def lock_idempotency_key(conn: AsyncConnection[Any], *, key_id: str, key: str) -> None:
    """Serialise pushes with the same key (inside a transaction): the second one waits and then
    finds the first one's reply instead of pushing again."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 6))", (f"ems-idem/{key_id}/{key}",)
    )


async def stored_reply(conn: AsyncConnection[Any], *, key_id: str, key: str) -> Reply | None:
    cur = await conn.execute(
        "SELECT body_sha256, status, response FROM ems_idempotency"
        " WHERE key_id = %s AND idempotency_key = %s"
        " AND created_at > now() - %s::interval",
        (key_id, key, IDEMPOTENCY_TTL),
    )
    row = await cur.fetchone()
    return None if row is None else Reply(bytes(row[0]), row[1], row[2])


async def store_reply(conn: AsyncConnection[Any], *, key_id: str, key: str, reply: Reply) -> None:
    # Expired replies go first, so the table holds about one day of keys.
    await conn.execute(
        f"DELETE FROM ems_idempotency WHERE created_at <= now() - interval '{IDEMPOTENCY_TTL}'"  # noqa: S608 - a constant
    )
    await conn.execute(
        "INSERT INTO ems_idempotency (key_id, idempotency_key, body_sha256, status, response)"
        " VALUES (%s, %s, %s, %s, %s::jsonb)"
        " ON CONFLICT (key_id, idempotency_key) DO UPDATE SET body_sha256 = EXCLUDED.body_sha256,"
        "   status = EXCLUDED.status, response = EXCLUDED.response, created_at = now()",
        (key_id, key, reply.body_sha256, reply.status, orjson.dumps(reply.response).decode()),
    )
