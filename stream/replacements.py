"""Recorded meter replacements in the intake transaction (rules: ``accounting.replacement``).

``meter_replacement`` rows (written by ``POST /v1/meters/{id}/replacements``) are read inside
the intake transaction, after the meter states are locked, for the meters of the batch and only
those after each state's last reading: the replacements not applied yet. A swap applied by
validation is stored as a reading row at ``replaced_at`` carrying the old device's last interval
(``value`` = its final register, ``quantity`` = the consumption up to the swap, flag
REPLACEMENT, ``gateway_id`` ``replacement:<id>``), in the same transaction as the state that
records it, so a replayed batch finds the state past the swap and never applies it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from accounting.meter import MeterProfile, MeterState
from accounting.replacement import Replacement, Swap
from stream.columns import DecodedColumns


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def pending_replacements(
    conn: psycopg.AsyncConnection[Any], states: Mapping[str, MeterState]
) -> dict[str, list[Replacement]]:
    """Each locked meter's replacements after its state's last reading (usually none)."""
    if not states:
        return {}
    meters = list(states)
    after = [_dt(s.last_ts_ms) if s.last_ts_ms is not None else None for s in states.values()]
    cur = await conn.execute(
        "SELECT r.meter_id, r.replacement_id, (extract(epoch FROM r.replaced_at) * 1000)::bigint,"
        " r.final_register, r.initial_register, r.multiplier_before, r.multiplier_after"
        " FROM unnest(%s::text[], %s::timestamptz[]) AS s(meter_id, after)"
        " JOIN meter_replacement r ON r.meter_id = s.meter_id"
        " AND (s.after IS NULL OR r.replaced_at > s.after)",
        (meters, after),
    )
    found: dict[str, list[Replacement]] = {}
    for m, rid, at, final, initial, before_x, after_x in await cur.fetchall():
        found.setdefault(str(m), []).append(
            Replacement(int(rid), int(at), float(final), float(initial), before_x, after_x)
        )
    return found


def _sources(decoded: Sequence[DecodedColumns]) -> dict[str, tuple[str, int]]:
    """Each meter's source (the first message naming it) and its first seq there."""
    found: dict[str, tuple[str, int]] = {}
    for d in decoded:
        if d.batch is None:
            continue
        for i, meter_id in enumerate(d.batch.meter_id):
            found.setdefault(meter_id, (d.batch.source.value, int(d.batch.seq[i])))
    return found


async def store_swaps(
    conn: psycopg.AsyncConnection[Any],
    swaps: Sequence[tuple[str, Swap]],
    profiles: Mapping[str, MeterProfile],
    decoded: Sequence[DecodedColumns],
) -> int:
    """Store the old device's last interval of each applied swap; returns how many."""
    sources = _sources(decoded)
    rows = [
        (
            meter_id,
            _dt(s.replacement.replaced_at_ms),
            s.replacement.final_register,
            profiles[meter_id].unit,
            s.flags,
            sources.get(meter_id, ("ems", 0))[0],
            f"replacement:{s.replacement.replacement_id}",
            sources.get(meter_id, ("ems", 0))[1],
            _dt(s.interval_start_ms),
            s.quantity,
            profiles[meter_id].unit,
        )
        for meter_id, s in swaps
        if s.interval_start_ms is not None and s.quantity is not None
    ]
    if not rows:
        return 0
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO reading (meter_id, ts, value, unit, flags, source, gateway_id, seq,"
            " interval_start, quantity, quantity_unit)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (meter_id, ts) DO NOTHING",
            rows,
        )
    return len(rows)
