"""Database functions of the EMS push: the registry rows it checks against, what was accepted
before, sequence numbers, the record of acceptance and Idempotency-Key replies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from psycopg import AsyncConnection

IDEMPOTENCY_TTL = "24 hours"
SEQ_INDEX_BITS = 14  # 16,384 readings per message at most; the wire allows 10,000


class MeterRow(NamedTuple):
    enterprise_id: str
    unit: str
    retired_at_ms: int | None
    installed_at_ms: int = 0
    inventory_start_ms: int | None = None  # its park's inventory start (local midnight)


@dataclass(frozen=True, slots=True)
class Reply:
    body_sha256: bytes
    status: int
    response: dict[str, Any]


# Columns travel as one comma-joined text each, split by PostgreSQL (string_to_array): psycopg's
# list dumper quotes element by element in Python (~15% of the API's CPU in a push). Meter ids
# and units cannot hold a comma (ID_PATTERN, UNIT_PATTERN); ``repr`` of a float reads back
# exactly. epoch ms -> timestamptz is exact as 'epoch' + ms * 1 ms (to_timestamp goes through a
# double).
# The split is a FROM item: inside ``= ANY(...)`` a generic (prepared) plan would split the
# text again for every meter row.
_REGISTRY_SQL = (
    "SELECT meter.meter_id, enterprise_id, unit, (extract(epoch FROM retired_at) * 1000)::bigint,"
    " (extract(epoch FROM installed_at) * 1000)::bigint,"
    " (extract(epoch FROM p.inventory_start::timestamp AT TIME ZONE p.timezone) * 1000)::bigint"
    " FROM unnest(string_to_array(%s::text, ',')) AS t(m) JOIN meter ON meter.meter_id = t.m"
    " JOIN enterprise USING (enterprise_id) JOIN park p USING (park_id)"
)
# One index probe per pushed reading (scalar subqueries on the primary keys): a join lets the
# planner hash the whole of ems_reading, whose cost grows with every push ever accepted.
_BEFORE_SQL = (
    "SELECT m, ms, v FROM ("
    "  SELECT m, ms, coalesce("
    "    (SELECT e.value FROM ems_reading e WHERE e.meter_id = u.m AND e.ts = u.ts),"
    "    (SELECT r.value FROM reading r WHERE r.meter_id = u.m AND r.ts = u.ts)) AS v"
    "  FROM (SELECT m, ms, timestamptz 'epoch' + ms * interval '1 ms' AS ts"
    "        FROM unnest(string_to_array(%s::text, ','), string_to_array(%s::text, ',')::bigint[])"
    "          AS t(m, ms)) AS u"
    ") AS found WHERE v IS NOT NULL"
)
# Inserts what is new and answers what was not: the rows a concurrent push recorded first.
_RECORD_SQL = (
    "WITH t AS ("
    "  SELECT m, ms, timestamptz 'epoch' + ms * interval '1 ms' AS ts, v, u, s"
    "  FROM unnest(string_to_array(%s::text, ','), string_to_array(%s::text, ',')::bigint[],"
    "    string_to_array(%s::text, ',')::float8[], string_to_array(%s::text, ','),"
    "    string_to_array(%s::text, ',')::bigint[]) AS t(m, ms, v, u, s)"
    "), ins AS ("
    "  INSERT INTO ems_reading (meter_id, ts, value, unit, key_id, seq)"
    "  SELECT m, ts, v, u, %s, s FROM t ON CONFLICT DO NOTHING RETURNING meter_id, ts"
    ") SELECT t.m, t.ms FROM t LEFT JOIN ins ON ins.meter_id = t.m AND ins.ts = t.ts"
    " WHERE ins.meter_id IS NULL"
)


def _joined(values: Iterable[object]) -> str:
    return ",".join(map(str, values))


async def lookup(
    conn: AsyncConnection[Any], *, meter_ids: list[str], ts_ms: list[int]
) -> tuple[dict[str, MeterRow], dict[tuple[str, int], float]]:
    """In one round trip (a pipeline): the registry rows of the pushed meters, and
    (meter, ts) -> value of the pushed readings already pushed, or already stored from any
    source. ``meter_ids[i]`` and ``ts_ms[i]`` are reading i's."""
    async with conn.pipeline():
        registry = await conn.execute(_REGISTRY_SQL, (",".join(set(meter_ids)),))
        before = await conn.execute(_BEFORE_SQL, (",".join(meter_ids), _joined(ts_ms)))
    meters = {m: MeterRow(e, u, r, i, s) for m, e, u, r, i, s in await registry.fetchall()}
    return meters, {(m, ms): v for m, ms, v in await before.fetchall()}


async def seq_bases(conn: AsyncConnection[Any], *, count: int) -> list[int]:
    """One base per message; a reading's seq is base + its index, so seq only ever grows."""
    cur = await conn.execute("SELECT nextval('ems_push_seq') FROM generate_series(1, %s)", (count,))
    return [int(n) << SEQ_INDEX_BITS for (n,) in await cur.fetchall()]


async def record_accepted(
    conn: AsyncConnection[Any],
    *,
    key_id: str,
    meter_ids: list[str],
    ts_ms: list[int],
    values: list[float],
    units: list[str],
    seqs: list[int],
) -> set[tuple[str, int]]:
    """Record readings Kafka acknowledged (column i is reading i's). Returns the (meter, ts)
    this call did not record: a concurrent push recorded them a moment before (usually none,
    so the answer stays small)."""
    columns = (",".join(meter_ids), _joined(ts_ms), ",".join(map(repr, values)), ",".join(units))
    cur = await conn.execute(_RECORD_SQL, (*columns, _joined(seqs), key_id))
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
