"""A gateway killed with SIGKILL in the middle of an MQTT delivery: nothing lost, nothing twice.

Real parts end to end: Mosquitto, the gateway process, its SQLite buffer, Kafka, the stream
worker and PostgreSQL. The broker keeps every QoS 1 message the gateway has not acknowledged and
hands it over again when the session resumes; the gateway acknowledges only after its buffer
committed the readings. Killed before the commit, the readings come again once; killed after
the commit but before the PUBACK, they are in the buffer *and* come again: the stream stores a
reading by (meter, time), so each is stored once and the intervals add up exactly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import yaml

from contracts.topics import Topic
from ingest.config import load_gateway_config
from ingest.gateway import run_gateway
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.conftest import RunningWorker
from tests.ingest.mosquitto import Mosquitto, free_port, mosquitto_binary, publish
from tests.ingest.test_mqtt import RecordingSink, collecting

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]
ROOT = Path(__file__).resolve().parents[2]
QUARTER_MS = 15 * 60 * 1000
T0 = (int(time.time() * 1000) // QUARTER_MS - 8) * QUARTER_MS  # two hours ago, on a quarter
REGISTERS = [1000.0, 1002.5, 1006.0, 1006.0, 1010.25]


def _register_meter(db: psycopg.Connection[Any], unique: str) -> str:
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
            multiplier=1.0,
            expected_interval_s=900,
            accuracy_class="0.5S",
            accuracy_category="user_class_I",
        ),
    )
    return f"E-{unique}"


def _config(
    path: Path, *, unique: str, meter: str, broker: int, topic: str, tmp: Path, bootstrap: str
) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "gateway_id": f"gw-{unique}",
                "kafka": {"bootstrap": bootstrap, "topic": topic},
                "buffer": {"path": str(tmp / "buffer.sqlite3")},
                "metrics": {"port": free_port()},
                "mqtt_brokers": [
                    {
                        "name": "neuron",
                        "host": "127.0.0.1",
                        "port": broker,
                        "reconnect_min_s": 0.1,
                        "reconnect_max_s": 0.5,
                        "subscriptions": [
                            {
                                "topic": "/neuron/north/#",
                                "format": "neuron",
                                "points": [
                                    {
                                        "node": "line-1",
                                        "group": "energy",
                                        "tag": "kwh",
                                        "meter_id": meter,
                                        "unit": "kWh",
                                        "kind": "cumulative",
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        )
    )
    return path


def _wait_rows(db: psycopg.Connection[Any], meter: str, count: int) -> list[Any]:
    deadline = time.monotonic() + 60
    while True:
        rows = db.execute(
            "SELECT ts, value, quantity, source FROM reading WHERE meter_id = %s ORDER BY ts",
            (meter,),
        ).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


def _buffered_readings(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT coalesce(sum(readings), 0) FROM batches").fetchone()[0])


@pytest.mark.parametrize("moment", ["before-commit", "after-commit"])
async def test_a_gateway_killed_between_receiving_and_acknowledging_loses_and_repeats_nothing(
    moment: str,
    worker: RunningWorker,
    kafka_bootstrap: str,
    db: psycopg.Connection[Any],
    unique: str,
    tmp_path: Path,
) -> None:
    meter = _register_meter(db, unique)
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        config_path = _config(
            tmp_path / "gateway.yaml",
            unique=unique,
            meter=meter,
            broker=broker.port,
            topic=worker.topic(Topic.READINGS_RAW),
            tmp=tmp_path,
            bootstrap=kafka_bootstrap,
        )
        config = load_gateway_config(config_path)
        # The gateway's session exists at the broker (it ran before), so what Neuron publishes
        # is queued for it whatever the gateway is doing.
        async with collecting(
            config.mqtt_brokers[0], RecordingSink(), gateway_id=config.gateway_id
        ):
            pass
        messages = [
            ("/neuron/north/line-1/energy", orjson.dumps({
                "node": "line-1", "group": "energy", "timestamp": T0 + i * QUARTER_MS,
                "values": {"kwh": value}, "errors": {}}))
            for i, value in enumerate(REGISTERS)
        ]  # fmt: skip
        await asyncio.to_thread(publish, broker.port, messages)
        helper = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.ingest.mqtt_kill_helper", str(config_path), moment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        try:
            assert helper.stdout is not None
            line = await asyncio.wait_for(helper.stdout.readline(), 30)
            assert line.decode().strip() == moment
        finally:
            os.kill(helper.pid, signal.SIGKILL)
            await asyncio.wait_for(helper.wait(), 10)
        held = _buffered_readings(tmp_path / "buffer.sqlite3")
        assert (held > 0) == (moment == "after-commit")
        # The gateway starts again with the same buffer and session.
        stop = asyncio.Event()
        gateway = asyncio.create_task(run_gateway(config, stop=stop))
        try:
            rows = await asyncio.to_thread(_wait_rows, db, meter, len(REGISTERS))
            await asyncio.sleep(2.0)  # a duplicate would be stored by now
            rows = await asyncio.to_thread(_wait_rows, db, meter, len(REGISTERS))
        finally:
            stop.set()
            await asyncio.wait_for(gateway, 30)
    finally:
        broker.stop()
    assert [(int(ts.timestamp() * 1000), value) for ts, value, _, _ in rows] == [
        (T0 + i * QUARTER_MS, value) for i, value in enumerate(REGISTERS)
    ]
    assert [quantity for _, _, quantity, _ in rows] == [None, 2.5, 3.5, 0.0, 4.25]
    assert {source for *_, source in rows} == {"mqtt"}
