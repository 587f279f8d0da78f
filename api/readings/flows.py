"""The EMS push: check each reading, send the new ones to ``readings.raw``, record them.

Order matters (clause 8.4, nothing lost, nothing counted twice): readings are recorded as
accepted only after Kafka acknowledged them (acks=all). A crash between the two leaves them
unrecorded, so a retry sends them again, which the worker recognises as a replay of stored
(meter, time, value) rows. When Kafka is down nothing is recorded and the push answers 503.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from psycopg import AsyncConnection

from accounting.meter import MeterProfile
from api.errors import ApiError
from api.keys import Principal
from api.producer import KafkaUnavailable, RawProducer
from api.readings import service
from api.readings.enums import Outcome, RejectReason
from api.readings.parse import Item
from stream.records import (
    MAX_READINGS_PER_BATCH,
    WIRE_VERSION,
    RawReading,
    ReadingBatch,
    Source,
    ms_to_iso,
)

# The worker's own limits (accounting.meter.MeterProfile defaults): refused here already, so the
# pusher hears about it now rather than finding it in the quarantine later.
_FUTURE_MS: int = MeterProfile.__dataclass_fields__["future_tolerance_ms"].default  # type: ignore[assignment]
_MAX_AGE_MS: int = MeterProfile.__dataclass_fields__["max_age_ms"].default  # type: ignore[assignment]
RETRY_AFTER_S = "5"
# A push's readings share a few timestamps; formatting each one anew was a fifth of the CPU.
_iso = functools.lru_cache(maxsize=65_536)(ms_to_iso)


def encode(batch: ReadingBatch) -> bytes:
    """``stream.records.encode_batch`` with cached time formatting: the same wire format (the
    tests decode it with ``decode_batch``); EMS readings are always of good quality."""
    return orjson.dumps(
        {
            "v": WIRE_VERSION,
            "source": batch.source.value,
            "gateway_id": batch.gateway_id,
            "source_key": batch.source_key,
            "readings": [
                {
                    "meter_id": r.meter_id,
                    "ts": _iso(r.ts_ms),
                    "value": r.value,
                    "unit": r.unit,
                    "seq": r.seq,
                    "quality": r.quality.value,
                }
                for r in batch.readings
            ],
        }
    )


@dataclass
class Verdicts:
    outcome: dict[int, tuple[Outcome, RejectReason | None, str | None]] = field(
        default_factory=dict
    )
    enterprise: dict[int, str] = field(default_factory=dict)

    def reject(self, item: Item, reason: RejectReason, detail: str) -> None:
        self.outcome[item.index] = (Outcome.REJECTED, reason, detail)


def _check_registry(
    items: list[Item], meters: dict[str, service.MeterRow], who: Principal, now_ms: int
) -> Verdicts:
    v = Verdicts()
    for item in items:
        meter = meters.get(item.meter_id)
        # Another tenant's meter reads exactly like a missing one: its existence is not ours.
        if meter is None or not who.sees(meter.enterprise_id):
            detail = f"no meter {item.meter_id!r} in the registry"
            v.reject(item, RejectReason.UNKNOWN_METER, detail)
        elif item.unit != meter.unit:
            v.reject(
                item,
                RejectReason.UNIT_MISMATCH,
                f"unit {item.unit!r} is not the meter's unit {meter.unit!r}",
            )
        elif meter.retired_at_ms is not None and item.ts_ms >= meter.retired_at_ms:
            detail = f"meter retired at {ms_to_iso(meter.retired_at_ms)}"
            v.reject(item, RejectReason.METER_RETIRED, detail)
        elif item.ts_ms > now_ms + _FUTURE_MS:
            v.reject(item, RejectReason.FUTURE_TIMESTAMP, "ts is in the future")
        elif item.ts_ms < now_ms - _MAX_AGE_MS:
            v.reject(
                item, RejectReason.TOO_OLD, f"ts is older than {_MAX_AGE_MS // 86_400_000} days"
            )
        else:
            v.enterprise[item.index] = meter.enterprise_id
    return v


def _check_repeats(items: list[Item], v: Verdicts, before: dict[tuple[str, int], float]) -> None:
    """A (meter, time) seen before — in this batch or an earlier push — is a duplicate when its
    value is the same and a conflict otherwise (the worker's DUPLICATE_TIMESTAMP)."""
    seen: dict[tuple[str, int], tuple[int, float]] = {}
    for item in items:
        if item.index not in v.enterprise:
            continue
        key = (item.meter_id, item.ts_ms)
        if key in before:
            same, where = before[key] == item.value, "an earlier push or the stored readings"
        elif key in seen:
            same, where = seen[key][1] == item.value, f"reading {seen[key][0]} of this batch"
        else:
            seen[key] = (item.index, item.value)
            continue
        del v.enterprise[item.index]
        if same:
            v.outcome[item.index] = (Outcome.DUPLICATE, None, f"already accepted: {where}")
        else:
            v.reject(
                item, RejectReason.CONFLICTING_VALUE, f"{where} has another value at this time"
            )


async def _produce(*, producer: RawProducer, topic: str, messages: list[ReadingBatch]) -> None:
    sends = [producer.send(topic, key=m.source_key.encode(), value=encode(m)) for m in messages]
    try:
        await asyncio.gather(*sends)
    except KafkaUnavailable as exc:
        raise ApiError(
            503,
            f"{exc}; nothing was accepted, retry the same push",
            headers={"Retry-After": RETRY_AFTER_S},
        ) from exc


async def push(
    *,
    conn: AsyncConnection[Any],
    producer: RawProducer,
    topic: str,
    who: Principal,
    items: list[Item],
    now_ms: int,
) -> dict[str, Any]:
    """Check, send and record one push; return the per-reading results (``PushResult``)."""
    meters = await service.meters(conn, meter_ids=sorted({i.meter_id for i in items}))
    v = _check_registry(items, meters, who, now_ms)
    candidates = [i for i in items if i.index in v.enterprise]
    before = await service.accepted_before(
        conn, meter_ids=[i.meter_id for i in candidates], ts_ms=[i.ts_ms for i in candidates]
    )
    _check_repeats(items, v, before)

    # One message per enterprise (its EMS is one source), each meter's readings in time order.
    by_source: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if item.index in v.enterprise:
            by_source[v.enterprise[item.index]].append(item)
    chunks = [
        (ent, group[k : k + MAX_READINGS_PER_BATCH])
        for ent, group in sorted(by_source.items())
        for group in [sorted(group, key=lambda i: (i.meter_id, i.ts_ms))]
        for k in range(0, len(group), MAX_READINGS_PER_BATCH)
    ]
    if chunks:
        bases = await service.seq_bases(conn, count=len(chunks))
        messages, rows = [], []
        for (ent, chunk), base in zip(chunks, bases, strict=True):
            raw = tuple(
                RawReading(i.meter_id, i.ts_ms, i.value, i.unit, base + n)
                for n, i in enumerate(chunk)
            )
            messages.append(ReadingBatch(Source.EMS, f"ems:{who.key_id}", f"ems/{ent}", raw))
            rows += [(r.meter_id, r.ts_ms, r.value, r.unit, r.seq) for r in raw]
        await _produce(producer=producer, topic=topic, messages=messages)
        recorded = await service.record_accepted(conn, key_id=who.key_id, rows=rows)
        for chunk_items in (c for _, c in chunks):
            for item in chunk_items:
                if (item.meter_id, item.ts_ms) in recorded:
                    v.outcome[item.index] = (Outcome.ACCEPTED, None, None)
                else:  # a concurrent push recorded it between our check and our record
                    v.outcome[item.index] = (
                        Outcome.DUPLICATE,
                        None,
                        "already accepted: a concurrent push",
                    )
    return _result(items, v)


def _result(items: list[Item], v: Verdicts) -> dict[str, Any]:
    counts = dict.fromkeys(Outcome, 0)
    results = []
    for item in items:
        outcome, reason, detail = v.outcome[item.index]
        counts[outcome] += 1
        results.append(
            {
                "index": item.index,
                "meter_id": item.meter_id,
                "ts": _iso(item.ts_ms),
                "outcome": outcome.value,
                "reason": None if reason is None else reason.value,
                "detail": detail,
            }
        )
    return {
        "accepted": counts[Outcome.ACCEPTED],
        "duplicate": counts[Outcome.DUPLICATE],
        "rejected": counts[Outcome.REJECTED],
        "results": results,
    }
