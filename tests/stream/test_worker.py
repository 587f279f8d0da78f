"""The stream worker end to end: raw batches in Kafka -> validated readings and quarantine in
the database and on the topics, through a real `parkcarbon worker` process."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.records import RawReading, ReadingBatch, Source, decode_rejections, encode_batch
from contracts.topics import Topic
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.conftest import RunningWorker
from tests.stream.test_kafka_contracts import _end_offsets

pytestmark = pytest.mark.integration

QUARTER_MS = 15 * 60 * 1000
T0 = (int(time.time() * 1000) // QUARTER_MS - 8) * QUARTER_MS  # two hours ago, on a quarter


async def _produce(bootstrap: str, topic: str, key: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


def _wait_rows(db: psycopg.Connection, query: str, args: tuple[Any, ...], count: int) -> list[Any]:
    deadline = time.monotonic() + 30
    while True:
        rows = db.execute(query, args).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


@pytest.fixture
def meter(db: psycopg.Connection, unique: str) -> str:
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="ent", actor="test")
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=f"E-{unique}",
            enterprise_id=f"e-{unique}",
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
            multiplier=40.0,
            expected_interval_s=900,
            accuracy_class="0.5S",
            accuracy_category="user_class_I",
        ),
    )
    time.sleep(0.5)  # longer than the worker's registry refresh interval
    return f"E-{unique}"


def _batch(unique: str, meter_id: str, registers: list[float], first_seq: int = 0) -> bytes:
    readings = tuple(
        RawReading(meter_id, T0 + i * QUARTER_MS, v, "kWh", first_seq + i)
        for i, v in enumerate(registers)
    )
    return encode_batch(ReadingBatch(Source.MODBUS, f"gw-{unique}", f"gw-{unique}/dev", readings))


async def test_valid_readings_reach_the_database_as_intervals_times_the_ct_ratio(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, meter: str, unique: str
) -> None:
    # Registers 1000.0, 1002.5, 1006.0, 1006.0 kWh on the secondary side, CT ratio 40:
    # intervals (1002.5-1000.0)*40 = 100, (1006.0-1002.5)*40 = 140, 0.
    await _produce(
        kafka_bootstrap,
        worker.topic(Topic.READINGS_RAW),
        f"gw-{unique}/dev",
        _batch(unique, meter, [1000.0, 1002.5, 1006.0, 1006.0]),
    )
    rows = _wait_rows(
        db,
        "SELECT value, quantity, interval_start IS NULL FROM reading "
        "WHERE meter_id = %s ORDER BY ts",
        (meter,),
        4,
    )
    assert rows == [
        (1000.0, None, True),
        (1002.5, 100.0, False),
        (1006.0, 140.0, False),
        (1006.0, 0.0, False),
    ]


async def test_replaying_a_raw_message_stores_each_reading_once(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, meter: str, unique: str
) -> None:
    message = _batch(unique, meter, [10.0, 11.0, 12.0])
    await _produce(
        kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"gw-{unique}/dev", message, message
    )
    await _produce(
        kafka_bootstrap,
        worker.topic(Topic.READINGS_RAW),
        f"gw-{unique}/dev",
        _batch(unique, meter, [10.0, 11.0, 12.0, 13.0]),
    )
    rows = _wait_rows(
        db, "SELECT quantity FROM reading WHERE meter_id = %s ORDER BY ts", (meter,), 4
    )
    # Each register step is 1 kWh x 40; the replay neither adds rows nor changes quantities.
    assert rows == [(None,), (40.0,), (40.0,), (40.0,)]
    total = db.execute("SELECT sum(quantity) FROM reading WHERE meter_id = %s", (meter,)).fetchone()
    assert total == ((13.0 - 10.0) * 40,)


async def test_a_malformed_message_is_rejected_with_its_reason_and_processing_continues(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, meter: str, unique: str
) -> None:
    start = await _end_offsets(kafka_bootstrap, worker.topic(Topic.READINGS_REJECTED))
    garbage = f'{{"v": 1, "broken": "{unique}"'.encode()
    await _produce(
        kafka_bootstrap,
        worker.topic(Topic.READINGS_RAW),
        f"gw-{unique}/dev",
        garbage,
        _batch(unique, meter, [5.0, 6.0]),
    )

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(30):
            while not found:
                for messages in (await consumer.getmany(timeout_ms=1000)).values():
                    for m in messages:
                        found += [
                            r for r in decode_rejections(m.value) if unique in str(r.get("payload"))
                        ]
    finally:
        await consumer.stop()
    assert found[0]["reason"] == "MALFORMED_MESSAGE"
    assert found[0]["detail"].startswith("not JSON")
    stored = _wait_rows(
        db, "SELECT reason FROM rejected_reading WHERE payload::text LIKE %s", (f"%{unique}%",), 1
    )
    assert stored == [("MALFORMED_MESSAGE",)]
    # The good batch behind it was processed.
    assert len(_wait_rows(db, "SELECT 1 FROM reading WHERE meter_id = %s", (meter,), 2)) == 2


async def test_unknown_meters_and_failed_validation_are_quarantined_with_reasons(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, meter: str, unique: str
) -> None:
    readings = (
        RawReading(f"nowhere-{unique}", T0, 1.0, "kWh", 0),
        RawReading(meter, T0, 500.0, "kWh", 1),
        RawReading(meter, T0 + QUARTER_MS, 400.0, "kWh", 2),  # register went backwards
        RawReading(meter, T0 + 2 * QUARTER_MS, 501.0, "MWh", 3),  # not the registry's unit
        RawReading(meter, T0 + 3 * QUARTER_MS, 502.0, "kWh", 4),
    )
    batch = ReadingBatch(Source.EMS, f"gw-{unique}", f"gw-{unique}/dev", readings)
    await _produce(
        kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"gw-{unique}/dev", encode_batch(batch)
    )
    rejected = _wait_rows(
        db,
        "SELECT meter_id, reason FROM rejected_reading "
        "WHERE meter_id IN (%s, %s) ORDER BY ts, meter_id",
        (meter, f"nowhere-{unique}"),
        3,
    )
    assert sorted(rejected) == sorted(
        [
            (f"nowhere-{unique}", "UNKNOWN_METER"),
            (meter, "NEGATIVE_DELTA"),
            (meter, "UNIT_MISMATCH"),
        ]
    )
    accepted = _wait_rows(
        db, "SELECT value, quantity FROM reading WHERE meter_id = %s ORDER BY ts", (meter,), 2
    )
    assert accepted == [(500.0, None), (502.0, 2.0 * 40)]


async def test_a_replay_is_not_quarantined_but_a_conflicting_duplicate_is(
    worker: RunningWorker,
    kafka_bootstrap: str,
    db: psycopg.Connection,
    meter: str,
    unique: str,
) -> None:
    first = _batch(unique, meter, [7.0, 8.0])
    conflicting = encode_batch(
        ReadingBatch(
            Source.MODBUS,
            f"gw-{unique}",
            f"gw-{unique}/dev",
            (
                RawReading(
                    meter, T0 + QUARTER_MS, 8.5, "kWh", 9
                ),  # same time as 8.0, another value
                RawReading(meter, T0 + 2 * QUARTER_MS, 9.0, "kWh", 10),
            ),
        )
    )
    await _produce(
        kafka_bootstrap,
        worker.topic(Topic.READINGS_RAW),
        f"gw-{unique}/dev",
        first,
        first,
        conflicting,
    )
    assert len(_wait_rows(db, "SELECT 1 FROM reading WHERE meter_id = %s", (meter,), 3)) == 3
    rejected = _wait_rows(
        db, "SELECT value, reason FROM rejected_reading WHERE meter_id = %s", (meter,), 1
    )
    assert rejected == [(8.5, "DUPLICATE_TIMESTAMP")]


async def test_a_time_past_year_9999_is_quarantined_with_its_text_and_the_worker_goes_on(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, meter: str, unique: str
) -> None:
    # -23:59 moves local 9999-12-31T23:59:59 to 10000-01-01 in UTC: it parses, but has no
    # four-digit-year text. A raw batch as any producer may send it, with a good reading beside.
    bad_ts = "9999-12-31T23:59:59-23:59"
    good_ts = datetime.fromtimestamp(T0 / 1000, UTC).isoformat()
    message = {
        "v": 1,
        "source": "modbus",
        "gateway_id": f"gw-{unique}",
        "source_key": f"gw-{unique}/dev",
        "readings": [
            {"meter_id": meter, "ts": bad_ts, "value": 7.0, "unit": "kWh", "seq": 0},
            {"meter_id": meter, "ts": good_ts, "value": 10.0, "unit": "kWh", "seq": 1},
        ],
    }
    topic = worker.topic(Topic.READINGS_RAW)
    await _produce(kafka_bootstrap, topic, f"gw-{unique}/dev", orjson.dumps(message))
    quarantined = _wait_rows(
        db,
        "SELECT reason, ts, payload->>'ts', detail FROM rejected_reading WHERE meter_id = %s",
        (meter,),
        1,
    )
    assert [(r[0], r[1], r[2]) for r in quarantined] == [("TIMESTAMP_OUT_OF_RANGE", None, bad_ts)]
    assert "+010000-01-01T23:58:59.000Z" in quarantined[0][3]
    assert _wait_rows(db, "SELECT value FROM reading WHERE meter_id = %s", (meter,), 1) == [(10.0,)]
    # The worker did not stop on it: a following batch is stored.
    await _produce(
        kafka_bootstrap, topic, f"gw-{unique}/dev", _batch(unique, meter, [10.0, 11.0], 2)
    )
    rows = _wait_rows(db, "SELECT value FROM reading WHERE meter_id = %s ORDER BY ts", (meter,), 2)
    assert rows == [(10.0,), (11.0,)]
