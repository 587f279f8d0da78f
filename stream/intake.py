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

import numpy as np
import orjson
import psycopg

from accounting.instants import DEFAULT_BOUND_YEARS, TimeBounds
from accounting.meter import MeterProfile, MeterState
from accounting.reasons import Reason
from contracts.records import Rejection, encode_rejections
from store.staging import text_array_literal
from stream.authorization import SourceAuthorization
from stream.columns import DecodedColumns, ValidColumns, decode_columns
from stream.replacements import pending_replacements, store_swaps
from stream.sink import store_rejections, store_valid
from stream.validate import MovedInterval, Neighbours, behind_state, validate_batch

_REPLAY_REASONS = {"DUPLICATE_TIMESTAMP", "OUT_OF_ORDER"}


@dataclass
class Intake:
    """The outputs of one transaction, for the topics and the window tracker."""

    # ``readings.valid`` messages (key, value): the accepted readings of each raw message.
    valid: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    rejected: list[tuple[bytes | None, int, list[Rejection]]] = field(default_factory=list)
    stored: int = 0  # accepted readings
    swaps: int = 0  # recorded meter replacements applied (each stored as the old device's last)
    replayed: int = 0
    # Stretches of new intervals per meter, and intervals of replayed readings (their windows
    # may not have been computed before a crash): (meter, start_ms, end_ms) to touch.
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    replayed_intervals: list[tuple[str, int, int]] = field(default_factory=list)


def _meters_named(
    decoded: Sequence[DecodedColumns], known: Mapping[str, MeterProfile]
) -> list[str]:
    names: set[str] = set()
    for d in decoded:
        if d.batch is not None:
            names.update(d.batch.meter_id)
    return sorted(names & known.keys())


async def _lock_states(
    conn: psycopg.AsyncConnection[Any], meters: list[str]
) -> dict[str, MeterState]:
    if not meters:
        return {}
    # Sorted ids: two workers locking overlapping sets never deadlock. The rows of meters seen
    # before exist; only a meter's first batch creates its row (then locks it).
    lock = (
        "SELECT meter_id, state::text FROM meter_state WHERE meter_id = ANY(%s::text[]) "
        "ORDER BY meter_id FOR UPDATE"
    )
    ids = text_array_literal(meters)
    cur = await conn.execute(lock, (ids,))
    rows = await cur.fetchall()
    if len(rows) < len(meters):
        await conn.execute(
            "INSERT INTO meter_state (meter_id, state) SELECT m, '{}' FROM unnest(%s::text[]) m "
            "ON CONFLICT DO NOTHING",
            (ids,),
        )
        cur = await conn.execute(lock, (ids,))
        rows = await cur.fetchall()
    return {m: MeterState.from_dict(orjson.loads(s)) for m, s in rows}


async def _save_states(conn: psycopg.AsyncConnection[Any], states: dict[str, MeterState]) -> None:
    if not states:
        return
    await conn.execute(
        "UPDATE meter_state s SET state = u.state::jsonb, updated_at = now() "
        "FROM unnest(%s::text[], %s::text[]) AS u(meter_id, state) WHERE s.meter_id = u.meter_id",
        (
            text_array_literal(list(states)),
            text_array_literal([orjson.dumps(s.to_dict()).decode() for s in states.values()]),
        ),
    )


# Per meter and span of history behind its state: the stored reading before the span, those
# inside it and the one after it (index range scans on the primary key (meter_id, ts)).
_NEIGHBOURS_SQL = """
SELECT k.m, (extract(epoch FROM r.ts) * 1000)::bigint, r.value, r.flags
FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS k(m, lo, hi)
CROSS JOIN LATERAL (
    (SELECT ts, value, flags FROM reading WHERE meter_id = k.m AND ts < k.lo
     ORDER BY ts DESC LIMIT 1)
    UNION ALL
    (SELECT ts, value, flags FROM reading WHERE meter_id = k.m AND ts BETWEEN k.lo AND k.hi)
    UNION ALL
    (SELECT ts, value, flags FROM reading WHERE meter_id = k.m AND ts > k.hi
     ORDER BY ts LIMIT 1)
) AS r
ORDER BY 1, 2
"""


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def _neighbours(
    conn: psycopg.AsyncConnection[Any], spans: dict[str, tuple[int, int]]
) -> dict[str, Neighbours]:
    """The stored readings history behind each meter's state is validated against."""
    if not spans:
        return {}
    meters = list(spans)
    cur = await conn.execute(
        _NEIGHBOURS_SQL,
        (meters, [_dt(spans[m][0]) for m in meters], [_dt(spans[m][1]) for m in meters]),
    )
    found: dict[str, list[tuple[int, float, int]]] = {}
    for m, t, v, f in await cur.fetchall():
        found.setdefault(str(m), []).append((int(t), float(v), int(f)))
    replacement = int(Reason.REPLACEMENT)
    return {
        m: Neighbours(
            np.array([r[0] for r in rs], dtype=np.int64),
            np.array([r[1] for r in rs], dtype=np.float64),
            np.array([bool(r[2] & replacement) for r in rs], dtype=np.bool_),
        )
        for m, rs in found.items()
    }


async def _move_intervals(
    conn: psycopg.AsyncConnection[Any], moved: Sequence[MovedInterval]
) -> None:
    """Shrink the intervals of stored readings that history was accepted before."""
    if not moved:
        return
    await conn.execute(
        "UPDATE reading r SET interval_start = u.start, quantity = u.quantity,"
        " quantity_unit = r.unit, flags = u.flags"
        " FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::float8[],"
        " %s::int[]) AS u(meter_id, ts, start, quantity, flags)"
        " WHERE r.meter_id = u.meter_id AND r.ts = u.ts",
        (
            [m.meter_id for m in moved],
            [_dt(m.ts_ms) for m in moved],
            [_dt(m.start_ms) for m in moved],
            [m.quantity for m in moved],
            [m.flags for m in moved],
        ),
    )


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


def decode_messages(
    messages: Sequence[tuple[bytes | None, bytes, int]], *, bound_years: int
) -> list[DecodedColumns]:
    """Decode ``(key, value, kafka_timestamp_ms)`` messages, each reading's time bounded to
    ± ``bound_years`` around its message's Kafka time (as FUTURE/TOO_OLD use it: a replay is
    judged exactly as the first pass)."""
    return [
        decode_columns(v, bounds=TimeBounds.around(now_ms, bound_years))
        for _, v, now_ms in messages
    ]


async def intake(
    conn: psycopg.AsyncConnection[Any],
    messages: Sequence[tuple[bytes | None, bytes, int]],
    profiles: Mapping[str, MeterProfile],
    decoded: Sequence[DecodedColumns] | None = None,
    authorization: SourceAuthorization | None = None,
    bound_years: int = DEFAULT_BOUND_YEARS,
) -> Intake:
    """Validate ``(key, value, kafka_timestamp_ms)`` messages in order and store the outcome.

    ``decoded``, when the caller has already decoded the messages (``decode_messages``), is
    used as it is: each message is decoded once, for the registry check, the meters to lock and
    validation. ``authorization``: the gateway grants (``stream.authorization``); None checks none.
    """
    out = Intake()
    if decoded is None:
        decoded = decode_messages(messages, bound_years=bound_years)
    async with conn.transaction():
        states = await _lock_states(conn, _meters_named(decoded, profiles))
        # Device swaps recorded after a state's last reading: applied before the readings of
        # the new device are validated (``accounting.replacement``).
        replacements = await pending_replacements(conn, states)

        def state_of(meter_id: str) -> MeterState:
            return states.get(meter_id, MeterState())

        # History before a meter's newest reading is judged against its stored neighbours.
        neighbours = await _neighbours(conn, behind_state(decoded, state_of))
        outcome = validate_batch(
            decoded,
            [now_ms for _, _, now_ms in messages],
            profiles=profiles,
            state_of=state_of,
            replacements=replacements,
            authorization=authorization,
            neighbours=neighbours,
        )
        states.update(outcome.states)
        if outcome.swaps:
            out.swaps = await store_swaps(conn, outcome.swaps, profiles, decoded)
        valid = outcome.valid
        rejected = [
            (key, now_ms, rejections)
            for (key, _, now_ms), rejections in zip(messages, outcome.rejections, strict=True)
            if rejections
        ]
        candidates = [
            r
            for _, _, rs in rejected
            for r in rs
            if r.reason in _REPLAY_REASONS and r.meter_id and r.ts_ms is not None
        ]
        stored = await _stored(conn, candidates)
        # A duplicate of a reading accepted earlier in this same transaction is a replay too.
        _add_accepted(stored, valid, candidates)
        for key, now_ms, rejections in rejected:
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
                out.rejected.append((key, now_ms, fresh))
        await store_valid(conn, valid)
        await _move_intervals(conn, outcome.moved)
        items = [
            (ms_iso, r)
            for _, now_ms, rs in out.rejected
            for ms_iso, r in _rejection_items(now_ms, rs)
        ]
        await store_rejections(conn, items)
        await _save_states(conn, states)
    out.stored = len(valid)
    out.spans = outcome.spans
    for k, (key, _, _) in enumerate(messages):
        value = valid.encode(k)
        if value is not None:
            out.valid.append((key, value))
    return out


def _add_accepted(
    stored: dict[tuple[str, int], tuple[float, int | None]],
    valid: ValidColumns,
    candidates: Sequence[Rejection],
) -> None:
    """Accepted readings of this batch that the candidates may duplicate, into ``stored``."""
    meters = {r.meter_id for r in candidates if (r.meter_id or "", r.ts_ms or 0) not in stored}
    if not meters:
        return
    for i, meter_id in enumerate(valid.meter_id):
        if meter_id in meters:
            start = int(valid.interval_start_ms[i]) if valid.has_interval[i] else None
            stored.setdefault((meter_id, int(valid.ts_ms[i])), (float(valid.value[i]), start))


def _rejection_items(now_ms: int, rejections: list[Rejection]) -> list[tuple[str, dict[str, Any]]]:
    message = orjson.loads(encode_rejections(rejections, rejected_at_ms=now_ms))
    return [(message["rejected_at"], r) for r in message["rejections"]]
