"""Deviation alerts end to end (clause 9.1 b): windows above target, unknown meters and overdue
calibration raise one alert each, with the cause category, on the topic and in the database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from contracts.alerts import decode_alert
from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from contracts.topics import Topic
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.conftest import RunningWorker
from tests.stream.test_kafka_contracts import _end_offsets
from tests.stream.test_worker import _produce, _wait_rows

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
QUARTER_MS = 900_000
T0 = (int(time.time() * 1000) // HOUR_MS - 4) * HOUR_MS
GRID_T_PER_KWH = 0.5306 / 1000


def _hour_batch(unique: str, meter: str, registers: list[float], seq0: int = 0) -> bytes:
    readings = tuple(
        RawReading(meter, T0 + i * QUARTER_MS, v, "kWh", seq0 + i) for i, v in enumerate(registers)
    )
    return encode_batch(
        ReadingBatch(Source.MODBUS, f"gw-{unique}", f"gw-{unique}/{meter}", readings)
    )


async def _alerts_for(
    bootstrap: str, topic: str, start: Any, subject: str, count: int
) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(30):
            while len(found) < count:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    found += [
                        a
                        for a in map(decode_alert, (m.value for m in messages))
                        if a.subject_id == subject
                    ]
    finally:
        await consumer.stop()
    return found


async def test_an_enterprise_above_its_daily_target_raises_one_alert_with_its_cause(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, unique: str
) -> None:
    ent = f"ent-{unique}"
    add_park(db, park_id=f"p-{unique}", name="park", actor="test", timezone="UTC")
    add_enterprise(db, enterprise_id=ent, park_id=f"p-{unique}", name="e", actor="test")
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=f"E-{unique}",
            enterprise_id=ent,
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
            multiplier=100.0,
            accuracy_class="0.2S",
            accuracy_category="user_class_I",
        ),
    )
    day = datetime.fromtimestamp(T0 / 1000, UTC).date()
    # 0.24 tCO2e for the day prorates to 0.01 t per hour (UTC park: 24 equal hours).
    db.execute(
        "INSERT INTO target (subject_kind, subject_id, period_kind, period_start, "
        "absolute_tco2e, created_by) VALUES ('enterprise', %s, 'day', %s, 0.24, 'test')",
        (ent, day),
    )
    await asyncio.sleep(0.5)
    start = await _end_offsets(kafka_bootstrap, worker.topic(Topic.ALERTS))
    # 4 kWh on the register x CT 100 = 400 kWh in the hour: 400 x 0.5306 kg = 0.21224 t.
    message = _hour_batch(unique, f"E-{unique}", [0.0, 1.0, 2.0, 3.0, 4.0])
    await _produce(
        kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"gw-{unique}", message, message
    )
    [alert] = await _alerts_for(kafka_bootstrap, worker.topic(Topic.ALERTS), start, ent, 1)
    assert alert.rule == "EMISSIONS_ABOVE_TARGET"
    assert alert.state == "RAISED"
    assert alert.measured == pytest.approx(400 * GRID_T_PER_KWH, rel=1e-9)
    assert alert.expected == pytest.approx(0.24 / 24, rel=1e-9)
    assert alert.cause == "other"  # complete, validated data: the deviation is real
    stored = _wait_rows(db, "SELECT rule, state, cause FROM alert WHERE subject_id = %s", (ent,), 1)
    assert stored == [("EMISSIONS_ABOVE_TARGET", "RAISED", "other")]


async def test_unknown_meters_and_overdue_calibration_raise_alerts_once(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, unique: str
) -> None:
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="e", actor="test")
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=f"C-{unique}",
            enterprise_id=f"e-{unique}",
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
            accuracy_class="0.2S",
            calibration_due=date(2020, 1, 1),
        ),
    )
    await asyncio.sleep(0.5)
    calibrated = _hour_batch(unique, f"C-{unique}", [0.0, 1.0, 2.0, 3.0, 4.0])
    stray = _hour_batch(unique, f"X-{unique}", [5.0, 6.0])
    await _produce(
        kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"gw-{unique}", calibrated, stray, stray
    )
    rows = _wait_rows(
        db,
        "SELECT subject_id, rule, cause FROM alert WHERE subject_id IN (%s, %s) ORDER BY rule",
        (f"C-{unique}", f"X-{unique}"),
        2,
    )
    assert rows == [
        (f"C-{unique}", "CALIBRATION_OVERDUE", "unreliable_measurement_or_statistics"),
        (f"X-{unique}", "UNKNOWN_METER", "accounting_scope_deviation"),
    ]
