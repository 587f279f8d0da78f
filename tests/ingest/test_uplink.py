"""The uplink: real gateway, real simulated meters, the real Kafka broker stopped and restarted.

Expected readings come from the buffer's own seq high-water marks: a fresh buffer numbers each
source's readings 0, 1, 2, ... without gaps, so everything up to the mark that is not still in
the buffer must be in Kafka, exactly once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from config.settings import StackSettings
from contracts.records import decode_batch
from deploy import kafka_broker
from ingest.config import GatewayConfig
from ingest.gateway import run_gateway
from simulators.modbus_farm import ModbusFarm, make_park
from simulators.profiles import Carrier

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _buffer_state(path: Path) -> tuple[dict[str, int], dict[str, set[int]], int]:
    """(seq high-water per source, seqs still buffered per source, highest row id)."""
    with sqlite3.connect(path) as conn:
        marks = dict(conn.execute("SELECT source_key, seq FROM seq_high_water").fetchall())
        left: dict[str, set[int]] = defaultdict(set)
        for (payload,) in conn.execute("SELECT payload FROM batches"):
            batch = decode_batch(payload).batch
            assert batch is not None
            left[batch.source_key] |= {r.seq for r in batch.readings}
        top = conn.execute("SELECT coalesce(max(id), 0) FROM batches").fetchone()[0]
    return marks, left, int(top)


async def _until_buffered(path: Path, readings: int) -> None:
    """Wait (at most a minute) until the gateway's buffer holds ``readings`` readings."""
    async with asyncio.timeout(60):
        while True:
            try:
                if sum(len(s) for s in _buffer_state(path)[1].values()) >= readings:
                    return
            except sqlite3.OperationalError:
                pass  # the gateway is creating its tables
            await asyncio.sleep(0.1)


async def _consume(
    bootstrap: str, start: dict[TopicPartition, int], prefix: str, expected: dict[str, set[int]]
) -> dict[str, list[tuple[int, int]]]:
    """(seq, ts_ms) per source in Kafka order, reading until every expected seq has arrived."""
    got: dict[str, list[tuple[int, int]]] = defaultdict(list)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(60):
            while any(not want <= {s for s, _ in got[k]} for k, want in expected.items()):
                for messages in (await consumer.getmany(timeout_ms=1000)).values():
                    for message in messages:
                        batch = decode_batch(message.value).batch
                        if batch is not None and batch.source_key.startswith(prefix):
                            got[batch.source_key] += [(r.seq, r.ts_ms) for r in batch.readings]
            # Anything in flight just behind the last expected message would be a duplicate.
            for messages in (await consumer.getmany(timeout_ms=2000)).values():
                for message in messages:
                    batch = decode_batch(message.value).batch
                    if batch is not None and batch.source_key.startswith(prefix):
                        got[batch.source_key] += [(r.seq, r.ts_ms) for r in batch.readings]
    finally:
        await consumer.stop()
    return got


def _assert_exactly_once_in_order(
    got: dict[str, list[tuple[int, int]]], marks: dict[str, int], left: dict[str, set[int]]
) -> None:
    for key, mark in marks.items():
        seqs = [s for s, _ in got[key]]
        assert seqs == sorted(seqs), f"{key}: out of order"
        assert len(seqs) == len(set(seqs)), f"{key}: duplicates in Kafka"
        assert set(seqs) | left[key] == set(range(mark + 1)), f"{key}: readings lost"
        assert not set(seqs) & left[key]


async def _metric(port: int, name: str) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
    body = (await reader.read()).decode()
    writer.close()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@pytest.mark.disruptive
async def test_readings_produced_during_a_broker_outage_arrive_exactly_once_in_order(
    running_stack: StackSettings, kafka_bootstrap: str, unique: str, tmp_path: Path, raw_topic: str
) -> None:
    gateway_id = f"gw-out-{unique}"
    start = {TopicPartition(raw_topic, p): 0 for p in range(6)}  # a new topic of its own
    farm = ModbusFarm(make_park(8, prefix=f"O{unique}", carriers=(Carrier.WATER,)))
    await farm.start()
    metrics_port = _free_port()
    doc = farm.gateway_config(
        gateway_id,
        poll_interval_s=0.2,
        kafka_bootstrap=kafka_bootstrap,
        buffer_path=str(tmp_path / "buffer.db"),
        metrics_port=metrics_port,
    )
    doc["kafka"].update(request_timeout_ms=5000, retry_min_s=0.2, retry_max_s=1.0, topic=raw_topic)
    stop = asyncio.Event()
    gateway = asyncio.create_task(run_gateway(GatewayConfig.model_validate(doc), stop=stop))
    try:
        async with asyncio.timeout(60):  # connected and sending
            while True:
                with contextlib.suppress(OSError):  # its metrics server may not listen yet
                    if await _metric(metrics_port, "gateway_uplink_up") == 1:
                        break
                await asyncio.sleep(0.1)
        down_ms = int(time.time() * 1000)
        await asyncio.to_thread(kafka_broker.stop, running_stack)
        try:
            await asyncio.sleep(4.0)
            assert await _metric(metrics_port, "gateway_buffer_batches") > 8
        finally:
            await asyncio.to_thread(kafka_broker.start, running_stack)
        up_ms = int(time.time() * 1000)
        async with asyncio.timeout(60):
            while True:  # drained: at most one poll cycle's batches waiting
                if await _metric(metrics_port, "gateway_buffer_batches") <= 8:
                    break
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(gateway, 30)
        await farm.stop()
    marks, left, _ = _buffer_state(tmp_path / "buffer.db")
    assert len(marks) == 8
    expected = {k: set(range(m + 1)) - left[k] for k, m in marks.items()}
    got = await _consume(kafka_bootstrap, start, gateway_id + "/", expected)
    _assert_exactly_once_in_order(got, marks, left)
    for key in marks:
        during = [ts for _, ts in got[key] if down_ms <= ts <= up_ms]
        assert len(during) >= 10, f"{key}: only {len(during)} readings from the outage"


def _gateway(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/parkcarbon"), "gateway", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )


async def test_kill_9_of_the_gateway_with_a_full_buffer_loses_and_repeats_nothing(
    kafka_bootstrap: str, unique: str, tmp_path: Path, raw_topic: str
) -> None:
    gateway_id = f"gw-k9-{unique}"
    buffer = tmp_path / "buffer.db"
    start = {TopicPartition(raw_topic, p): 0 for p in range(6)}  # a new topic of its own
    farm = ModbusFarm(make_park(6, prefix=f"K{unique}"))
    await farm.start()
    config = tmp_path / "gateway.yaml"
    doc: dict[str, Any] = farm.gateway_config(
        gateway_id, poll_interval_s=0.2, kafka_bootstrap=f"127.0.0.1:{_free_port()}",
        buffer_path=str(buffer), metrics_port=_free_port(),
    )  # fmt: skip
    doc["kafka"]["topic"] = raw_topic  # never the default readings.raw that `make up` consumes
    try:
        # Phase 1: no uplink, the buffer fills; then kill -9 mid-flight.
        config.write_text(yaml.safe_dump(doc))
        first = _gateway(config)
        await _until_buffered(buffer, 6 * 10 * 5)
        os.kill(first.pid, signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
        _, stranded, top = _buffer_state(buffer)
        assert sum(len(s) for s in stranded.values()) >= 6 * 10 * 5
        # Phase 2: restart with the uplink; it drains what was stranded and goes on polling.
        doc["kafka"]["bootstrap"] = kafka_bootstrap
        config.write_text(yaml.safe_dump(doc))
        second = _gateway(config)
        try:
            async with asyncio.timeout(60):
                while True:
                    with sqlite3.connect(buffer) as conn:
                        old = conn.execute("SELECT count(*) FROM batches WHERE id <= ?", (top,))
                        if old.fetchone()[0] == 0:
                            break
                    await asyncio.sleep(0.3)
            await asyncio.sleep(1.0)
        finally:
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0
    finally:
        await farm.stop()
    marks, left, _ = _buffer_state(buffer)
    expected = {k: set(range(m + 1)) - left[k] for k, m in marks.items()}
    got = await _consume(kafka_bootstrap, start, gateway_id + "/", expected)
    _assert_exactly_once_in_order(got, marks, left)
    for key, seqs in stranded.items():
        assert seqs <= {s for s, _ in got[key]}
