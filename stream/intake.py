"""Validate and store a batch of ``readings.raw`` messages in one database transaction.

The meter states are read with ``FOR UPDATE`` and written back together with the accepted
readings and the quarantined ones: the database holds, atomically, what was accepted and the
state that accepted it. Kafka delivers at least once, so a message may come again after a crash
or a rebalance; validated against the stored state, its readings are then duplicates of rows
already stored and are dropped as replays, never counted twice and never quarantined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from accounting.meter import MeterProfile, MeterState
from stream.records import Decoded, Rejection, ValidBatch, decode_batch, encode_rejections
from stream.sink import store_readings, store_rejections
from stream.validate import validate_message

_REPLAY_REASONS = {"DUPLICATE_TIMESTAMP", "OUT_OF_ORDER"}


@dataclass
class Intake:
    """The outputs of one transaction, for the topics and the window tracker."""

    valid: list[tuple[bytes | None, ValidBatch]] = field(default_factory=list)
    rejected: list[tuple[bytes | None, int, list[Rejection]]] = field(default_factory=list)
    replayed: int = 0
    # Intervals of replayed readings: their windows may not have been computed before a crash.
    replayed_intervals: list[tuple[str, int, int]] = field(default_factory=list)


def _meters_named(decoded: Sequence[Decoded], known: Mapping[str, MeterProfile]) -> list[str]:
    names: set[str] = set()
    for d in decoded:
        if d.batch is not None:
            names.update(r.meter_id for r in d.batch.readings)
    return sorted(names & known.keys())


async def _lock_states(
    conn: psycopg.AsyncConnection[Any], meters: list[str]
) -> dict[str, MeterState]:
    if not meters:
        return {}
    await conn.execute(
        "INSERT INTO meter_state (meter_id, state) SELECT m, '{}' FROM unnest(%s::text[]) m "
        "ON CONFLICT DO NOTHING",
        (meters,),
    )
    # Sorted ids: two workers locking overlapping sets never deadlock.
    cur = await conn.execute(
        "SELECT meter_id, state FROM meter_state WHERE meter_id = ANY(%s) "
        "ORDER BY meter_id FOR UPDATE",
        (meters,),
    )
    return {m: MeterState.from_dict(s) if s else MeterState() for m, s in await cur.fetchall()}


async def _stored(
    conn: psycopg.AsyncConnection[Any], candidates: list[Rejection]
) -> dict[tuple[str, int], tuple[float, int | None]]:
    """Stored readings among these duplicate-looking ones: (meter, ts) -> (value, start)."""
    if not candidates:
        return {}
    cur = await conn.execute(
        "SELECT meter_id, (extract(epoch FROM ts) * 1000)::bigint, value, "
        "(extract(epoch FROM interval_start) * 1000)::bigint FROM reading "
        "WHERE (meter_id, ts) IN (SELECT * FROM unnest(%s::text[], %s::timestamptz[]))",
        (
            [r.meter_id for r in candidates],
            [datetime.fromtimestamp((r.ts_ms or 0) / 1000, UTC) for r in candidates],
        ),
    )
    return {
        (m, int(t)): (float(v), int(i) if i is not None else None)
        for m, t, v, i in await cur.fetchall()
    }


async def intake(
    conn: psycopg.AsyncConnection[Any],
    messages: Sequence[tuple[bytes | None, bytes, int]],
    profiles: Mapping[str, MeterProfile],
    decoded: Sequence[Decoded] | None = None,
) -> Intake:
    """Validate ``(key, value, kafka_timestamp_ms)`` messages in order and store the outcome.

    ``decoded``, when the caller has already decoded the messages, is used as it is: each
    message is decoded once, for the registry check, the meters to lock and validation.
    """
    out = Intake()
    if decoded is None:
        decoded = [decode_batch(v) for _, v, _ in messages]
    async with conn.transaction():
        states = await _lock_states(conn, _meters_named(decoded, profiles))
        for (key, value, now_ms), message in zip(messages, decoded, strict=True):
            outcome = validate_message(
                value,
                now_ms=now_ms,
                profiles=profiles,
                state_of=lambda m: states.get(m, MeterState()),
                decoded=message,
            )
            states.update(outcome.states)
            if outcome.valid is not None:
                out.valid.append((key, outcome.valid))
            if outcome.rejections:
                out.rejected.append((key, now_ms, outcome.rejections))
        candidates = [
            r
            for _, _, rs in out.rejected
            for r in rs
            if r.reason in _REPLAY_REASONS and r.meter_id and r.ts_ms is not None
        ]
        stored = await _stored(conn, candidates)
        # A duplicate of a reading accepted earlier in this same transaction is a replay too.
        for _, batch in out.valid:
            for accepted in batch.readings:
                stored.setdefault(
                    (accepted.meter_id, accepted.ts_ms),
                    (accepted.value, accepted.interval_start_ms),
                )
        kept: list[tuple[bytes | None, int, list[Rejection]]] = []
        for key, now_ms, rejections in out.rejected:
            fresh: list[Rejection] = []
            for r in rejections:
                seen = stored.get((r.meter_id or "", r.ts_ms or 0))
                # Same meter, time and value as a stored reading: delivered twice, counted once.
                if r.reason in _REPLAY_REASONS and seen is not None and seen[0] == r.value:
                    out.replayed += 1
                    if seen[1] is not None and r.meter_id and r.ts_ms is not None:
                        out.replayed_intervals.append((r.meter_id, seen[1], r.ts_ms))
                else:
                    fresh.append(r)
            if fresh:
                kept.append((key, now_ms, fresh))
        out.rejected = kept
        await store_readings(conn, [b for _, b in out.valid])
        items = [
            (ms_iso, r)
            for _, now_ms, rs in out.rejected
            for ms_iso, r in _rejection_items(now_ms, rs)
        ]
        await store_rejections(conn, items)
        if states:
            await conn.cursor().executemany(
                "UPDATE meter_state SET state = %s, updated_at = now() WHERE meter_id = %s",
                [(orjson.dumps(s.to_dict()).decode(), m) for m, s in states.items()],
            )
    return out


def _rejection_items(now_ms: int, rejections: list[Rejection]) -> list[tuple[str, dict[str, Any]]]:
    message = orjson.loads(encode_rejections(rejections, rejected_at_ms=now_ms))
    return [(message["rejected_at"], r) for r in message["rejections"]]
