"""The demo park's field lines: an RTU line of several unit ids, a DL/T 645 meter and an MQTT
(Neuron) publisher, each registered, each in the demo gateway config, each reaching the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from contracts.topics import Topic
from deploy import demo
from deploy.demo_field import field_park
from deploy.mosquitto import free_port, mosquitto_binary
from deploy.process import port_open, terminate
from ingest.config import LineTransport, load_gateway_config
from store.registry import get_meter
from tests.conftest import RunningWorker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]
PARKCARBON = str(Path(sys.executable).parent / "parkcarbon")
RUN_S = 90.0  # bound of the short demo run: three poll cycles of 5 s fit many times over


def _config_meters(config: Any) -> dict[str, tuple[str, str]]:
    """meter id -> (unit, kind) of every point the field gateway reads, per section."""
    points: dict[str, tuple[str, str]] = {}
    for line in config.modbus_lines:
        for device in line.devices:
            points |= {p.meter_id: (p.unit, p.kind.value) for p in device.points}
    for dlt in config.dlt645_lines:
        for meter in dlt.meters:
            for p in meter.points:
                fmt = p.data_format()
                points[p.meter_id] = (fmt.unit, "cumulative" if fmt.cumulative else "instantaneous")
    for broker in config.mqtt_brokers:
        for sub in broker.subscriptions:
            points |= {p.meter_id: (p.unit, p.kind) for p in sub.points}
    return points


async def test_the_field_gateway_config_loads_with_its_three_sections_all_registered(
    db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    demo.seed(db)
    async with field_park(tmp_path / "field", rtu_port=0, dlt645_port=0, mqtt_port=0) as park:
        doc = park.gateway_config(
            buffer_path=str(tmp_path / "buffer.sqlite3"),
            metrics_port=free_port(),
            kafka_bootstrap="127.0.0.1:9092",
        )
    path = tmp_path / "gateway-field.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    config = load_gateway_config(path)  # the file, as the gateway reads it

    assert config.gateway_id == demo.FIELD_GATEWAY
    assert not config.modbus_devices and not config.opcua_servers
    (line,) = config.modbus_lines
    assert (line.transport, line.host) == (LineTransport.RTU_OVER_TCP, "127.0.0.1")
    assert [d.unit_id for d in line.devices] == list(range(1, demo.RTU_METERS + 1))
    (dlt,) = config.dlt645_lines
    assert (dlt.transport, dlt.host) == ("tcp", "127.0.0.1")
    assert [m.address for m in dlt.meters] == [demo.DLT645_ADDRESS]
    assert {p.di for p in dlt.meters[0].points} >= {"00010000", "00010100", "00010400"}
    (broker,) = config.mqtt_brokers
    assert (broker.host, broker.subscriptions[0].format.value) == ("127.0.0.1", "neuron")

    points = _config_meters(config)
    assert set(points) == {m.meter_id for m in demo.field_meters()}
    for meter_id, (unit, kind) in points.items():
        row = get_meter(db, meter_id)
        assert row is not None, meter_id
        assert (row.unit, row.register_kind) == (unit, kind), meter_id
    energy = get_meter(db, f"DLT-{demo.DLT645_ADDRESS}.e_fwd")
    assert energy is not None
    # XXXXXX.XX kWh reads 0.00 after 999999.99 (DL/T 645-2007 table A.1).
    assert (energy.unit, energy.rollover, energy.source_category) == (
        "kWh",
        1_000_000.0,
        "purchased_electricity",
    )


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ)
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        terminate(proc.pid, timeout=30.0)
    proc.wait(timeout=10)


def _sources(db: psycopg.Connection[Any], meters: list[str]) -> dict[str, set[str]]:
    rows = db.execute(
        "SELECT source, meter_id FROM reading WHERE meter_id = ANY(%s) GROUP BY source, meter_id",
        (meters,),
    ).fetchall()
    found: dict[str, set[str]] = {}
    for source, meter_id in rows:
        found.setdefault(str(source), set()).add(str(meter_id))
    return found


def test_a_short_demo_run_stores_readings_from_the_rtu_line_the_dlt645_meter_and_mqtt(
    db: psycopg.Connection[Any], worker: RunningWorker, kafka_bootstrap: str, tmp_path: Path
) -> None:
    demo.seed(db)
    config = tmp_path / "gateway-field.yaml"
    sim = _start(
        [
            PARKCARBON,
            "demo",
            "field",
            "--rtu-port",
            "0",
            "--dlt645-port",
            "0",
            "--mqtt-port",
            "0",
            "--metrics-port",
            str(free_port()),
            "--buffer-path",
            str(tmp_path / "buffer.sqlite3"),
            "--state-folder",
            str(tmp_path / "field"),
            "--write-config",
            str(config),
        ],
        tmp_path / "field-sim.log",
    )
    gateway: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 60
        while not config.exists():
            assert sim.poll() is None, (tmp_path / "field-sim.log").read_text()
            assert time.monotonic() < deadline, "the field simulators wrote no config in 60 s"
            time.sleep(0.1)
        doc = yaml.safe_load(config.read_text())
        # The demo's own topic would reach the development worker; this run's worker reads here.
        doc["kafka"] = {"bootstrap": kafka_bootstrap, "topic": worker.topic(Topic.READINGS_RAW)}
        config.write_text(yaml.safe_dump(doc, sort_keys=False))
        gateway = _start(
            [PARKCARBON, "gateway", "--config", str(config)], tmp_path / "gateway-field.log"
        )

        expected = {
            "modbus": {m.meter_id for m in demo.rtu_meters()},
            "dlt645": {m.meter_id for m in demo.dlt645_meters()},
            "mqtt": {m.meter_id for m in demo.mqtt_meters()},
        }
        every = sorted(set().union(*expected.values()))
        deadline = time.monotonic() + RUN_S
        found = _sources(db, every)
        while found != expected and time.monotonic() < deadline:
            assert gateway.poll() is None, (tmp_path / "gateway-field.log").read_text()
            time.sleep(0.5)
            found = _sources(db, every)
        # Every point of every unit id, of the DL/T 645 meter and of the Neuron node, under the
        # source of its protocol.
        assert found == expected, (tmp_path / "gateway-field.log").read_text()[-3000:]
    finally:
        for proc in (gateway, sim):
            if proc is not None:
                _stop(proc)
    assert sim.returncode in (0, -signal.SIGTERM)
    # The simulators stop their broker and lines with themselves: nothing keeps listening.
    broker = doc["mqtt_brokers"][0]["port"]
    rtu = doc["modbus_lines"][0]["tcp_port"]
    dlt = doc["dlt645_lines"][0]["port"]
    assert [port_open("127.0.0.1", p) for p in (broker, rtu, dlt)] == [False] * 3
