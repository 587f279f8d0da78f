"""The EMS push: check each reading, send the new ones to ``readings.raw``, record them.

Order matters (clause 8.4, nothing lost, nothing counted twice): readings are recorded as
accepted only after Kafka acknowledged them (acks=all). A crash between the two leaves them
unrecorded, so a retry sends them again, which the worker recognises as a replay of stored
(meter, time, value) rows. When Kafka is down nothing is recorded and the push answers 503.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from typing import Any

import orjson
from psycopg import AsyncConnection

from accounting.meter import MeterProfile
from api.errors import ApiError
from api.keys import Principal
from api.producer import KafkaUnavailable, RawProducer
from api.readings import service
from api.readings.enums import Outcome, RejectReason
from api.readings.parse import Item, Parsed
from contracts.records import MAX_READINGS_PER_BATCH, WIRE_VERSION, Quality, Source, ms_to_iso
from contracts.split import split_message

# The worker's own limits (accounting.meter.MeterProfile defaults): refused here already, so the
# pusher hears about it now rather than finding it in the quarantine later.
_FUTURE_MS: int = MeterProfile.__dataclass_fields__["future_tolerance_ms"].default  # type: ignore[assignment]
_MAX_AGE_MS: int = MeterProfile.__dataclass_fields__["max_age_ms"].default  # type: ignore[assignment]
RETRY_AFTER_S = "5"
# Plain strings in the loops below: an enum attribute lookup costs more than the check itself.
_ACCEPTED, _DUPLICATE, _REJECTED = (
    o.value for o in (Outcome.ACCEPTED, Outcome.DUPLICATE, Outcome.REJECTED)
)
_GOOD = Quality.GOOD.value
_EMS = Source.EMS.value
_by_meter_and_time = operator.attrgetter("meter_id", "ts_ms")

# (outcome, reason, detail) of one reading, as the response names them.
Verdict = tuple[str, str | None, str | None]
_OK: Verdict = (_ACCEPTED, None, None)
_RACED: Verdict = (_DUPLICATE, None, "already accepted: a concurrent push")


def _rejected(reason: RejectReason, detail: str) -> Verdict:
    return (_REJECTED, reason.value, detail)


def encode(
    *,
    gateway_id: str,
    source_key: str,
    readings: list[Item],
    seq_base: int,
    history: bool = False,
) -> bytes:
    """``contracts.records.encode_batch`` of EMS readings (always of good quality, seq =
    ``seq_base`` + position in the message), built straight from the pushed items: the same
    wire format (the tests decode it with ``decode_batch``), with the history marker when
    ``history``."""
    marker = {"history": True} if history else {}
    return orjson.dumps(
        {
            "v": WIRE_VERSION,
            "source": _EMS,
            "gateway_id": gateway_id,
            "source_key": source_key,
            **marker,
            "readings": [
                {
                    "meter_id": r.meter_id,
                    "ts": ms_to_iso(r.ts_ms),
                    "value": r.value,
                    "unit": r.unit,
                    "seq": seq,
                    "quality": _GOOD,
                }
                for seq, r in enumerate(readings, seq_base)
            ],
        }
    )


def _check_registry(
    items: list[Item],
    meters: dict[str, service.MeterRow],
    who: Principal,
    now_ms: int,
    verdicts: list[Verdict | None],
    history: bool = False,
) -> list[str | None]:
    """The enterprise of each reading that passes the registry and time checks (clause 4.3
    scope, the worker's limits), ``None`` for the others, whose verdicts it sets. Both lists
    are indexed by position in the push. History is bounded by each meter's installation and
    its park's inventory start instead of the live age limit."""
    # Another tenant's meter reads exactly like a missing one: its existence is not ours.
    visible = {m: row for m, row in meters.items() if who.sees(row.enterprise_id)}
    latest, earliest = now_ms + _FUTURE_MS, now_ms - _MAX_AGE_MS
    enterprise: list[str | None] = [None] * len(verdicts)
    for item in items:
        meter = visible.get(item.meter_id)
        if meter is None:
            detail = f"no meter {item.meter_id!r} in the registry"
            verdicts[item.position] = _rejected(RejectReason.UNKNOWN_METER, detail)
        elif item.unit != meter.unit:
            detail = f"unit {item.unit!r} is not the meter's unit {meter.unit!r}"
            verdicts[item.position] = _rejected(RejectReason.UNIT_MISMATCH, detail)
        elif meter.retired_at_ms is not None and item.ts_ms >= meter.retired_at_ms:
            detail = f"meter retired at {ms_to_iso(meter.retired_at_ms)}"
            verdicts[item.position] = _rejected(RejectReason.METER_RETIRED, detail)
        elif item.ts_ms > latest:
            verdicts[item.position] = _rejected(
                RejectReason.FUTURE_TIMESTAMP, "ts is in the future"
            )
        elif history and item.ts_ms < meter.installed_at_ms:
            detail = f"ts is before the meter's installation ({ms_to_iso(meter.installed_at_ms)})"
            verdicts[item.position] = _rejected(RejectReason.BEFORE_INSTALLATION, detail)
        elif (
            history
            and meter.inventory_start_ms is not None
            and item.ts_ms < meter.inventory_start_ms
        ):
            start = ms_to_iso(meter.inventory_start_ms)
            detail = f"ts is before the park's inventory start ({start})"
            verdicts[item.position] = _rejected(RejectReason.BEFORE_INVENTORY_START, detail)
        elif not history and item.ts_ms < earliest:
            detail = (
                f"ts is older than {_MAX_AGE_MS // 86_400_000} days (import history with"
                " mode=history)"
            )
            verdicts[item.position] = _rejected(RejectReason.TOO_OLD, detail)
        else:
            enterprise[item.position] = meter.enterprise_id
    return enterprise


def _check_repeats(
    items: list[Item],
    enterprise: list[str | None],
    verdicts: list[Verdict | None],
    before: dict[tuple[str, int], float],
) -> None:
    """A (meter, time) seen before — in this batch or an earlier push — is a duplicate when its
    value is the same and a conflict otherwise (the worker's DUPLICATE_TIMESTAMP)."""
    seen: dict[tuple[str, int], tuple[int, float]] = {}
    for item in items:
        if enterprise[item.position] is None:
            continue
        key = (item.meter_id, item.ts_ms)
        if key in before:
            same, where = before[key] == item.value, "an earlier push or the stored readings"
        elif key in seen:
            same, where = seen[key][1] == item.value, f"reading {seen[key][0]} of this batch"
        else:
            seen[key] = (item.position, item.value)
            continue
        enterprise[item.position] = None
        if same:
            verdicts[item.position] = (_DUPLICATE, None, f"already accepted: {where}")
        else:
            detail = f"{where} has another value at this time"
            verdicts[item.position] = _rejected(RejectReason.CONFLICTING_VALUE, detail)


async def _produce(*, producer: RawProducer, topic: str, messages: list[tuple[str, bytes]]) -> None:
    # Each message as parts below the broker's size limit (a 10,000-reading push encodes to
    # about 1.4 MB), in order; every part keeps its readings' seq.
    parts = [
        (key.encode(), part)
        for key, value in messages
        for part in split_message(value, producer.max_message_bytes)
    ]
    try:
        await producer.send_in_order(topic, parts)
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
    parsed: Parsed,
    now_ms: int,
    history: bool = False,
) -> dict[str, Any]:
    """Check, send and record one push; return the per-reading results (``PushResult``).
    ``history``: an import of history (``mode=history``), marked so on the wire.

    ``parsed`` is a whole push as ``parse_body`` returns it: its items and its readings out of
    the time bounds together hold every position once."""
    items = parsed.items
    meters, before = await service.lookup(
        conn, meter_ids=[i.meter_id for i in items], ts_ms=[i.ts_ms for i in items]
    )
    verdicts: list[Verdict | None] = [None] * parsed.count
    for refused in parsed.out_of_range:
        verdicts[refused.position] = _rejected(RejectReason.TIMESTAMP_OUT_OF_RANGE, refused.detail)
    enterprise = _check_registry(items, meters, who, now_ms, verdicts, history)
    _check_repeats(items, enterprise, verdicts, before)

    # One message per enterprise (its EMS is one source), each meter's readings in time order.
    by_source: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        ent = enterprise[item.position]
        if ent is not None:
            by_source[ent].append(item)
    chunks = [
        (ent, group[k : k + MAX_READINGS_PER_BATCH])
        for ent, group in sorted(by_source.items())
        for group in [sorted(group, key=_by_meter_and_time)]
        for k in range(0, len(group), MAX_READINGS_PER_BATCH)
    ]
    if chunks:
        bases = await service.seq_bases(conn, count=len(chunks))
        gateway_id = f"ems:{who.key_id}"
        messages = [
            (
                key,
                encode(
                    gateway_id=gateway_id,
                    source_key=key,
                    readings=chunk,
                    seq_base=base,
                    history=history,
                ),
            )
            for (ent, chunk), base in zip(chunks, bases, strict=True)
            for key in [f"ems/{ent}"]
        ]
        await _produce(producer=producer, topic=topic, messages=messages)
        sent = [item for _, chunk in chunks for item in chunk]
        seqs = [n for (_, c), b in zip(chunks, bases, strict=True) for n in range(b, b + len(c))]
        raced = await service.record_accepted(
            conn,
            key_id=who.key_id,
            meter_ids=[i.meter_id for i in sent],
            ts_ms=[i.ts_ms for i in sent],
            values=[i.value for i in sent],
            units=[i.unit for i in sent],
            seqs=seqs,
        )
        for item in sent:
            verdicts[item.position] = _RACED if (item.meter_id, item.ts_ms) in raced else _OK
    return _result(parsed, verdicts)


def _result(parsed: Parsed, verdicts: list[Verdict | None]) -> dict[str, Any]:
    outcomes = [v[0] for v in verdicts if v is not None]
    # Every position once, in push order: an out-of-range reading names its time as pushed.
    said: list[tuple[str, str] | None] = [None] * len(verdicts)
    for item in parsed.items:
        said[item.position] = (item.meter_id, ms_to_iso(item.ts_ms))
    for refused in parsed.out_of_range:
        said[refused.position] = (refused.meter_id, refused.ts)
    results = [
        {
            "index": position,
            "meter_id": who[0],
            "ts": who[1],
            "outcome": v[0],
            "reason": v[1],
            "detail": v[2],
        }
        for position, (who, v) in enumerate(zip(said, verdicts, strict=True))
        if v is not None and who is not None
    ]
    return {
        "accepted": outcomes.count(_ACCEPTED),
        "duplicate": outcomes.count(_DUPLICATE),
        "rejected": outcomes.count(_REJECTED),
        "results": results,
    }
