"""Exactly-once outcome without exactly-once delivery: kill -9 a worker mid-stream, add a
second worker (rebalance), replay messages, stop the database — stored totals stay exact."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from config.settings import StackSettings
from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from deploy import postgres
from store.migrate import migrate
from store.registry import Meter, add_enterprise, add_meter, add_park
from stream.topics import Topic, create_topics, topic_name
from tests.conftest import TEST_DB, RunningWorker, spawn_worker, stop_worker
from tests.stream.test_worker import _produce, _wait_rows

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
QUARTER_MS = 900_000
T0 = (int(time.time() * 1000) // HOUR_MS - 12) * HOUR_MS
GRID_T_PER_KWH = 0.5306 / 1000
METERS = 6
READINGS = 40  # ten hours of quarter-hour registers per meter


def _step(m: int) -> float:
    return 1.0 + 0.5 * m  # register increase per quarter hour, secondary side


def _multiplier(m: int) -> float:
    return 10.0 * (m + 1)


@pytest.fixture
def isolated(
    running_stack: StackSettings, kafka_bootstrap: str, tmp_path: Path
) -> Iterator[tuple[str, str, str]]:
    """Own database and own topics, so only this test's workers process this test's data."""
    base = running_stack.database_url.rsplit("/", 1)[0]
    name = f"{TEST_DB}_res_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{base}/{name}"
    migrate(url)
    prefix = f"t{uuid.uuid4().hex[:8]}."
    asyncio.run(create_topics(kafka_bootstrap, partitions=6, replication=1, prefix=prefix))
    with psycopg.connect(url, autocommit=True) as conn:
        add_park(conn, park_id="p", name="park", actor="test")
        add_enterprise(conn, enterprise_id="e", park_id="p", name="ent", actor="test")
        for m in range(METERS):
            add_meter(
                conn,
                actor="test",
                meter=Meter(
                    meter_id=f"E{m}",
                    enterprise_id="e",
                    carrier="electricity",
                    unit="kWh",
                    register_kind="cumulative",
                    source_category="purchased_electricity",
                    multiplier=_multiplier(m),
                    accuracy_class="0.5S",
                ),
            )
    yield url, prefix, str(tmp_path)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _messages(first: int, last: int) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs: each meter on its own source, two readings per message."""
    out = []
    for i in range(first, last, 2):
        for m in range(METERS):
            readings = tuple(
                RawReading(f"E{m}", T0 + j * QUARTER_MS, 1000.0 + j * _step(m), "kWh", j)
                for j in range(i, min(i + 2, last))
            )
            key = f"gw/dev{m}"
            out.append(
                (key.encode(), encode_batch(ReadingBatch(Source.MODBUS, "gw", key, readings)))
            )
    return out


async def _send(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def _assert_exact(url: str) -> None:
    with psycopg.connect(url) as db:
        rows = _wait_rows(db, "SELECT meter_id FROM reading", (), METERS * READINGS)
        assert len(rows) == METERS * READINGS
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            hours = db.execute(
                "SELECT meter_id, window_start, tco2e FROM emission_window "
                "WHERE width_s = 3600 AND window_start < to_timestamp(%s)",
                ((T0 + 9 * HOUR_MS) / 1000,),
            ).fetchall()
            if len(hours) == METERS * 9 and all(
                t
                == pytest.approx(
                    4 * _step(int(m[1:])) * _multiplier(int(m[1:])) * GRID_T_PER_KWH, rel=1e-9
                )
                for m, _, t in hours
            ):
                break
            time.sleep(0.5)
        for m in range(METERS):
            total = db.execute(
                "SELECT sum(quantity), count(*) FROM reading WHERE meter_id = %s", (f"E{m}",)
            ).fetchone()
            assert total == (
                pytest.approx((READINGS - 1) * _step(m) * _multiplier(m), rel=1e-12),
                READINGS,
            )
    # Each complete hour: four quarter-hour intervals of step x multiplier kWh.
    assert len(hours) == METERS * 9
    for meter_id, _, tco2e in hours:
        m = int(meter_id[1:])
        assert tco2e == pytest.approx(4 * _step(m) * _multiplier(m) * GRID_T_PER_KWH, rel=1e-9)


def test_kill_9_mid_stream_then_two_workers_and_replays_give_exact_totals(
    isolated: tuple[str, str, str], kafka_bootstrap: str
) -> None:
    url, prefix, state = isolated
    raw = topic_name(Topic.READINGS_RAW, prefix)
    common = {
        "database_url": url,
        "kafka_bootstrap": kafka_bootstrap,
        "app_id": f"res-{prefix}",
        "state": Path(state),
        "PARKCARBON_TOPIC_PREFIX": prefix,
        "PARKCARBON_WINDOW_MAX_WAIT_S": "1",
        "PARKCARBON_SESSION_TIMEOUT_S": "6",
    }
    first, _ = spawn_worker(**common)  # type: ignore[arg-type]
    asyncio.run(_send(kafka_bootstrap, raw, _messages(0, 20)))
    with psycopg.connect(url) as db:
        _wait_rows(db, "SELECT 1 FROM reading", (), 30)
    os.killpg(first.pid, signal.SIGKILL)  # mid-stream, mid-window: no clean shutdown
    first.wait(timeout=10)

    second, _ = spawn_worker(**common)  # type: ignore[arg-type]
    third, _ = spawn_worker(**common)  # type: ignore[arg-type]  # joins: a rebalance
    try:
        asyncio.run(_send(kafka_bootstrap, raw, _messages(20, READINGS) + _messages(0, 10)))
        _assert_exact(url)
    finally:
        stop_worker(second)
        stop_worker(third)


@pytest.mark.disruptive
async def test_a_database_outage_loses_nothing(
    worker: RunningWorker,
    kafka_bootstrap: str,
    running_stack: StackSettings,
    database_url: str,
    unique: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as db:
        add_park(db, park_id=f"p-{unique}", name="park", actor="test")
        add_enterprise(
            db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="e", actor="test"
        )
        add_meter(
            db,
            actor="test",
            meter=Meter(
                meter_id=f"D-{unique}",
                enterprise_id=f"e-{unique}",
                carrier="electricity",
                unit="kWh",
                register_kind="cumulative",
                source_category="purchased_electricity",
            ),
        )
    await asyncio.sleep(6)  # the worker's periodic registry refresh picks the meter up
    postgres.stop(running_stack)
    try:
        readings = tuple(
            RawReading(f"D-{unique}", T0 + j * QUARTER_MS, 100.0 + j, "kWh", j) for j in range(8)
        )
        batch = ReadingBatch(Source.MODBUS, "gw", f"gw-{unique}", readings)
        await _produce(
            kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"gw-{unique}", encode_batch(batch)
        )
        await asyncio.sleep(5)  # the worker retries against a stopped database
    finally:
        postgres.start(running_stack)
    with psycopg.connect(database_url) as db:
        rows = _wait_rows(
            db, "SELECT quantity FROM reading WHERE meter_id = %s ORDER BY ts", (f"D-{unique}",), 8
        )
    assert len(rows) == 8
    assert sum(q for (q,) in rows[1:]) == 7.0


def test_a_backlog_waiting_before_the_worker_starts_is_validated_against_the_registry(
    isolated: tuple[str, str, str], kafka_bootstrap: str
) -> None:
    url, prefix, state = isolated
    asyncio.run(_send(kafka_bootstrap, topic_name(Topic.READINGS_RAW, prefix), _messages(0, 8)))
    worker, _ = spawn_worker(
        database_url=url,
        kafka_bootstrap=kafka_bootstrap,
        app_id=f"backlog-{prefix}",
        state=Path(state),
        PARKCARBON_TOPIC_PREFIX=prefix,
    )
    try:
        with psycopg.connect(url) as db:
            rows = _wait_rows(db, "SELECT 1 FROM reading", (), METERS * 8)
            unknown = db.execute(
                "SELECT count(*) FROM rejected_reading WHERE reason = 'UNKNOWN_METER'"
            ).fetchone()
    finally:
        stop_worker(worker)
    assert len(rows) == METERS * 8
    assert unknown == (0,)
