"""The MQTT collector against a real Mosquitto broker on loopback (started by these tests).

What is published is what EMQX Neuron's MQTT app or a device publishes; the broker is a second,
independent MQTT implementation, so sessions, redelivery and acknowledgements are the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts.records import Quality, RawReading, ReadingBatch, Source
from ingest.metrics import GatewayMetrics
from ingest.mqtt import MqttCollector
from ingest.mqtt_config import MqttBrokerConfig
from tests.ingest.mosquitto import Mosquitto, mosquitto_binary, publish

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]
T0 = 1_764_057_600_000  # 2025-11-25T08:00:00Z


class RecordingSink:
    """Keeps every batch; ``refuse`` makes the next puts raise as a full disk would."""

    def __init__(self) -> None:
        self.batches: list[ReadingBatch] = []
        self.refuse = 0

    async def put(self, batch: ReadingBatch) -> None:
        if self.refuse:
            self.refuse -= 1
            raise OSError(28, "No space left on device")
        self.batches.append(batch)

    @property
    def readings(self) -> list[RawReading]:
        return [r for b in self.batches for r in b.readings]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    try:
        yield server
    finally:
        server.stop()


NEURON_POINTS = [
    {"node": "meters-line-1", "group": "energy", "tag": "E101.kwh", "meter_id": "E-101",
     "unit": "kWh", "kind": "cumulative", "scale": 0.01, "multiplier": 80},
    {"node": "meters-line-1", "group": "energy", "tag": "E101.kw", "meter_id": "E-101.kw",
     "unit": "kW", "scale": 0.001},
    {"node": "meters-line-1", "group": "energy", "tag": "E102.kwh", "meter_id": "E-102",
     "unit": "kWh", "kind": "cumulative"},
    {"node": "boiler", "group": "steam", "tag": "flow", "meter_id": "S-1", "unit": "t"},
]  # fmt: skip


def broker_config(port: int, **extra: Any) -> MqttBrokerConfig:
    doc: dict[str, Any] = {
        "name": "edge",
        "host": "127.0.0.1",
        "port": port,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "subscriptions": [
            {"topic": "/neuron/north/+/+", "format": "neuron", "points": NEURON_POINTS},
            {
                "topic": "plant/+/telemetry",
                "format": "json",
                "time_key": "time",
                "points": [
                    {"topic": "plant/gas-1/telemetry", "key": "volume", "meter_id": "G-1",
                     "unit": "Nm3", "kind": "cumulative"},
                    {"topic": "plant/gas-2/telemetry", "key": "volume", "meter_id": "G-2",
                     "unit": "Nm3", "kind": "cumulative"},
                    {"key": "temp", "meter_id": "T-1", "unit": "degC"},
                ],
            },
        ],
    }  # fmt: skip
    doc.update(extra)
    return MqttBrokerConfig.model_validate(doc)


@contextlib.asynccontextmanager
async def collecting(
    config: MqttBrokerConfig,
    sink: RecordingSink,
    metrics: GatewayMetrics | None = None,
    *,
    gateway_id: str = "gw-mq",
) -> AsyncIterator[MqttCollector]:
    """A running collector, connected and subscribed once the block starts."""
    metrics = metrics or GatewayMetrics()
    collector = MqttCollector(
        config, sink, gateway_id=gateway_id, metrics=metrics, jitter=lambda: 0.0
    )
    task = asyncio.create_task(collector.run())
    try:
        await until(lambda: metrics.value("gateway_mqtt_connected", broker=config.name) == 1)
        yield collector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - state set by tasks and paho's thread
            await asyncio.sleep(0.02)


async def send(port: int, *messages: tuple[str, Any]) -> None:
    encoded = [(t, p if isinstance(p, bytes) else orjson.dumps(p)) for t, p in messages]
    await asyncio.to_thread(publish, port, encoded)


def neuron(ts: int, values: dict[str, Any], errors: dict[str, Any] | None = None) -> Any:
    return {"node": "meters-line-1", "group": "energy", "timestamp": ts, "values": values,
            "errors": errors or {}, "metas": {}}  # fmt: skip


def table(readings: list[RawReading]) -> list[tuple[str, int, float | None, Quality]]:
    return [
        (r.meter_id, r.ts_ms, None if math.isnan(r.value) else round(r.value, 9), r.quality)
        for r in readings
    ]


async def test_a_neuron_upload_is_mapped_exactly_and_tag_errors_become_bad_readings(
    broker: Mosquitto,
) -> None:
    sink, metrics = RecordingSink(), GatewayMetrics()
    async with collecting(broker_config(broker.port), sink, metrics):
        await send(
            broker.port,
            # values-format: raw register 1234567 x 0.01 x 80 = 987653.6 kWh; 12345 x 0.001 kW;
            # a tag in errors and a tag that is not a number are BAD readings, not gaps.
            ("/neuron/north/meters-line-1/energy", neuron(
                T0, {"E101.kwh": 1234567, "E101.kw": 12345, "unmapped.tag": 5},
                {"E102.kwh": 2014})),
            ("/neuron/north/meters-line-1/energy", neuron(
                T0 + 900_000, {"E101.kwh": 1234667, "E101.kw": "overflow", "E102.kwh": 77.5})),
            # tags-format from another node and group.
            ("/neuron/north/boiler/steam", {
                "node": "boiler", "group": "steam", "timestamp": T0 + 1000,
                "tags": [{"name": "flow", "value": 3.25}, {"name": "level", "error": 3002}]}),
        )  # fmt: skip
        await until(lambda: len(sink.readings) == 7)
    assert table(sink.readings) == [
        ("E-101", T0, 987653.6, Quality.GOOD),
        ("E-101.kw", T0, 12.345, Quality.GOOD),
        ("E-102", T0, None, Quality.BAD),
        ("E-101", T0 + 900_000, 987733.6, Quality.GOOD),
        ("E-101.kw", T0 + 900_000, None, Quality.BAD),
        ("E-102", T0 + 900_000, 77.5, Quality.GOOD),
        ("S-1", T0 + 1000, 3.25, Quality.GOOD),
    ]
    assert [r.unit for r in sink.readings] == ["kWh", "kW", "kWh", "kWh", "kW", "kWh", "t"]
    assert [r.seq for r in sink.readings] == list(range(7))
    assert {(b.source, b.gateway_id, b.source_key) for b in sink.batches} == {
        (Source.MQTT, "gw-mq", "gw-mq/edge")
    }
    assert metrics.value("gateway_mqtt_bad_readings_total", broker="edge") == 2
    assert metrics.value("gateway_mqtt_unmapped_values_total", broker="edge") == 2
    assert metrics.value("gateway_mqtt_acks_total", broker="edge") == 3


async def test_plain_json_maps_keys_by_topic_with_ms_or_iso_times(broker: Mosquitto) -> None:
    sink = RecordingSink()
    async with collecting(broker_config(broker.port), sink):
        await send(
            broker.port,
            ("plant/gas-1/telemetry", {"time": T0, "volume": 1500.5, "temp": 21.5}),
            ("plant/gas-2/telemetry", [
                {"time": "2025-11-25T16:15:00+08:00", "volume": 10},
                {"time": "2025-11-25T08:30:00Z", "volume": 12, "humidity": 40}]),
        )  # fmt: skip
        await until(lambda: len(sink.readings) == 4)
    assert table(sink.readings) == [
        ("G-1", T0, 1500.5, Quality.GOOD),
        ("T-1", T0, 21.5, Quality.GOOD),
        ("G-2", T0 + 900_000, 10.0, Quality.GOOD),
        ("G-2", T0 + 1_800_000, 12.0, Quality.GOOD),
    ]


async def test_a_malformed_payload_is_counted_logged_with_topic_and_digest_and_acknowledged(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    sink, metrics = RecordingSink(), GatewayMetrics()
    bad = b'{"node": "meters-line-1", "group": "energy", "timestamp": "yesterday"}'
    config = broker_config(broker.port)
    with caplog.at_level(logging.WARNING, logger="ingest.mqtt"):
        async with collecting(config, sink, metrics):
            await send(
                broker.port,
                ("/neuron/north/meters-line-1/energy", bad),
                ("plant/gas-1/telemetry", b"\xff not json"),
                ("plant/gas-1/telemetry", {"volume": 3}),  # no time: not recognisable downstream
                ("/neuron/north/meters-line-1/energy", neuron(T0, {"E101.kwh": 100})),
            )
            await until(lambda: len(sink.readings) == 1)
            assert metrics.value("gateway_mqtt_malformed_total", broker="edge") == 3
    assert table(sink.readings) == [("E-101", T0, 80.0, Quality.GOOD)]
    text = caplog.text
    assert "malformed payload on topic /neuron/north/meters-line-1/energy" in text
    assert hashlib.sha256(bad).hexdigest() in text
    assert "'timestamp' must be an integer" in text
    assert "malformed payload on topic plant/gas-1/telemetry" in text
    # Acknowledged: a new connection of the same session is not handed them again.
    again = GatewayMetrics()
    async with collecting(config, RecordingSink(), again):
        await asyncio.sleep(0.5)
    assert again.value("gateway_mqtt_messages_total", broker="edge") == 0


async def test_messages_published_while_the_gateway_is_away_arrive_across_a_broker_restart(
    broker: Mosquitto,
) -> None:
    sink, metrics = RecordingSink(), GatewayMetrics()
    config = broker_config(broker.port)
    async with collecting(config, sink):
        pass  # the first connection creates the session and its subscriptions
    # The gateway is away: published meanwhile, then the broker restarts (its persistence).
    await send(broker.port, *[
        ("/neuron/north/meters-line-1/energy", neuron(T0 + i * 60_000, {"E102.kwh": i}))
        for i in range(50)])  # fmt: skip
    await asyncio.to_thread(broker.stop)
    await asyncio.to_thread(broker.start)

    def distinct() -> set[tuple[int, float]]:
        return {(r.ts_ms, r.value) for r in sink.readings}

    async with collecting(config, sink, metrics) as collector:
        await until(lambda: len(distinct()) == 50)
        # And while connected, the broker restarts under the collector: it reconnects.
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start)
        await until(lambda: collector.sessions >= 2)
        await send(broker.port, ("/neuron/north/meters-line-1/energy",
                                 neuron(T0 + 50 * 60_000, {"E102.kwh": 50})))  # fmt: skip
        await until(lambda: len(distinct()) == 51)
        await asyncio.sleep(0.3)  # nothing more comes
    assert distinct() == {(T0 + i * 60_000, float(i)) for i in range(51)}
    # A message whose PUBACK had not left when the broker stopped comes again (DUP): the
    # readings repeat with their own time, and the stream stores (meter, time) once.
    assert len(sink.readings) == 51 + metrics.value("gateway_mqtt_redelivered_total", broker="edge")
    assert metrics.value("gateway_mqtt_sessions_resumed_total", broker="edge") == 2
    assert metrics.value("gateway_mqtt_sessions_lost_total", broker="edge") == 0
    assert metrics.value("gateway_mqtt_reconnects_total", broker="edge") == 1


async def test_a_batch_the_buffer_refuses_is_not_acknowledged_and_arrives_once_it_takes_it(
    broker: Mosquitto,
) -> None:
    sink, metrics = RecordingSink(), GatewayMetrics()
    sink.refuse = 2  # the disk is full for two attempts
    async with collecting(broker_config(broker.port), sink, metrics):
        await send(broker.port, ("/neuron/north/meters-line-1/energy",
                                 neuron(T0, {"E101.kwh": 100, "E102.kwh": 7})))  # fmt: skip
        await until(lambda: len(sink.readings) == 2)
        await asyncio.sleep(0.3)
    assert table(sink.readings) == [
        ("E-101", T0, 80.0, Quality.GOOD),
        ("E-102", T0, 7.0, Quality.GOOD),
    ]
    assert metrics.value("gateway_mqtt_sink_errors_total", broker="edge") == 2
    assert metrics.value("gateway_mqtt_redelivered_total", broker="edge") == 2
    assert metrics.value("gateway_unbuffered_batches_total", source="gw-mq/edge") == 2
    assert metrics.value("gateway_mqtt_acks_total", broker="edge") == 1


async def test_mqtt_3_1_1_keeps_the_session_with_clean_session_false(broker: Mosquitto) -> None:
    sink = RecordingSink()
    config = broker_config(broker.port, protocol="3.1.1", client_id="gw-mq-v311")
    async with collecting(config, sink):
        pass
    await send(broker.port, ("plant/gas-1/telemetry", {"time": T0, "volume": 1}))
    async with collecting(config, sink):
        await until(lambda: len(sink.readings) == 1)
    assert table(sink.readings) == [("G-1", T0, 1.0, Quality.GOOD)]
