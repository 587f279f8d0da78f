"""The worker's own outputs stay below the message limit: a 10,000-reading intake message whose
readings are all rejected becomes several ``readings.rejected`` messages, each below
``kafka_max_message_bytes``; a rejected message carrying a huge payload travels with its digest
(the quarantine table keeps it whole); and the worker goes on with the next message."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from config.settings import WorkerSettings
from contracts.records import (
    REJECTION_PAYLOAD_LIMIT,
    WIRE_VERSION,
    DecodeReason,
    Rejection,
    decode_rejections,
    encode_rejections,
    rejected_messages,
)
from contracts.topics import Topic
from tests.conftest import RunningWorker
from tests.stream.test_kafka_contracts import _end_offsets

LIMIT = WorkerSettings.model_fields["kafka_max_message_bytes"].default  # the worker's, 900,000


def _malformed(n: int, unique: str) -> list[Rejection]:
    return [
        Rejection(
            DecodeReason.MALFORMED_READING,
            "value must be a JSON number",
            source_key=f"gw-{unique}/dev",
            source="modbus",
            gateway_id=f"gw-{unique}",
            meter_id=f"M-{unique}-{i:05d}",
            payload={
                "meter_id": f"M-{unique}-{i:05d}",
                "ts": "2026-01-01T00:00:00Z",
                "value": "not a number",
                "unit": "kWh",
                "seq": i,
            },
        )
        for i in range(n)
    ]


def test_rejections_that_fit_are_one_message_encoded_as_before() -> None:
    rejections = _malformed(10, "u")

    assert rejected_messages(rejections, rejected_at_ms=0, max_bytes=LIMIT) == [
        encode_rejections(rejections, rejected_at_ms=0)
    ]


def test_ten_thousand_rejections_are_split_below_the_limit_in_order() -> None:
    rejections = _malformed(10_000, "u")
    assert len(encode_rejections(rejections, rejected_at_ms=0)) > 3 * LIMIT

    parts = rejected_messages(rejections, rejected_at_ms=0, max_bytes=LIMIT)

    assert len(parts) >= 4 and all(len(p) <= LIMIT for p in parts)
    items = [r for p in parts for r in decode_rejections(p)]
    assert [r["payload"]["seq"] for r in items] == list(range(10_000))  # whole, in order


def test_a_huge_payload_travels_as_its_digest_when_the_message_would_not_fit() -> None:
    original = "x" * (2 * LIMIT)
    rejection = Rejection(DecodeReason.MALFORMED_MESSAGE, "not JSON: ...", payload=original)

    [part] = rejected_messages([rejection], rejected_at_ms=0, max_bytes=LIMIT)

    [item] = decode_rejections(part)
    encoded = orjson.dumps(original)
    assert item["reason"] == "MALFORMED_MESSAGE"
    assert item["payload"]["truncated"] is True
    assert item["payload"]["bytes"] == len(encoded) > REJECTION_PAYLOAD_LIMIT
    assert item["payload"]["sha256"] == hashlib.sha256(encoded).hexdigest()


async def _consume(
    bootstrap: str, start: dict[Any, int], done: Any, seconds: float = 90
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_bytes=50_000_000
    )
    await consumer.start()
    got: list[bytes] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(seconds):
            while not done(got):
                for messages in (await consumer.getmany(timeout_ms=1000)).values():
                    got += [m.value for m in messages]
    finally:
        await consumer.stop()
    return got


@pytest.mark.integration
async def test_a_ten_thousand_reading_message_all_rejected_leaves_only_messages_below_the_limit(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, unique: str
) -> None:
    rejected_topic = worker.topic(Topic.READINGS_REJECTED)
    start = await _end_offsets(kafka_bootstrap, rejected_topic)
    key = f"gw-{unique}/dev"
    items = [
        {
            "meter_id": f"M-{unique}-{i:05d}",
            "ts": "2026-01-01T00:00:00Z",
            "value": "not a number",
            "unit": "kWh",
            "seq": i,
        }
        for i in range(10_000)
    ]
    big = orjson.dumps(
        {
            "v": WIRE_VERSION,
            "source": "modbus",
            "gateway_id": f"gw-{unique}",
            "source_key": key,
            "readings": items,
        }
    )
    garbage = f"not json {unique} ".encode() + b"x" * 950_000
    marker = f'{{"v": 1, "marker": "{unique}"'.encode()
    # gzip on the wire: the broker bounds the compressed batch, the producer the record.
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        acks="all",
        compression_type="gzip",
        max_request_size=4_000_000,
    )
    await producer.start()
    try:
        for value in (big, garbage, marker):
            await producer.send_and_wait(worker.topic(Topic.READINGS_RAW), value, key=key.encode())
    finally:
        await producer.stop()

    def mine(got: list[bytes]) -> list[dict[str, Any]]:
        return [
            r
            for m in got
            for r in decode_rejections(m)
            if r.get("source_key") == key or unique in str(r.get("payload"))
        ]

    got = await _consume(
        kafka_bootstrap, start, lambda g: any("marker" in str(r.get("payload")) for r in mine(g))
    )

    assert max(len(m) for m in got) <= LIMIT
    found = mine(got)
    readings = [r for r in found if r.get("source_key") == key]
    assert sorted(r["payload"]["seq"] for r in readings) == list(range(10_000))
    assert {r["reason"] for r in readings} == {"MALFORMED_READING"}
    # The garbage message travelled as the digest of its text; nothing else names it.
    digest = hashlib.sha256(orjson.dumps(garbage.decode())).hexdigest()
    [whole] = [
        r
        for m in got
        for r in decode_rejections(m)
        if isinstance(r["payload"], dict) and r["payload"].get("sha256") == digest
    ]
    assert whole["reason"] == "MALFORMED_MESSAGE"
    assert whole["payload"]["bytes"] > 950_000
    # The worker went on: the message behind them was rejected too.
    assert any("marker" in str(r.get("payload")) for r in found)
    # The quarantine table keeps the huge payload whole.
    [(size,)] = db.execute(
        "SELECT length(payload::text) FROM rejected_reading WHERE reason = 'MALFORMED_MESSAGE'"
        " AND payload::text LIKE %s",
        (f"%not json {unique}%",),
    ).fetchall()
    assert size > 950_000
