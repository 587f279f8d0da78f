"""The forwarder and large batches, against the real broker: a batch above Kafka's message limit
goes out as several messages and arrives complete, in order; a batch Kafka can never take is
moved aside with its reason and the next one is delivered; an operator can put it back.

Each test has its own ``readings.raw`` topic, so nothing reaches the default topics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.records import RawReading, ReadingBatch, Source, decode_batch, encode_batch
from ingest.buffer import ReadingBuffer
from ingest.config import BufferConfig, KafkaConfig
from ingest.forwarder import Forwarder
from ingest.metrics import GatewayMetrics

pytestmark = pytest.mark.integration
BROKER_MESSAGE_MAX_BYTES = 1_048_588  # Kafka's default message.max.bytes, the local broker's


def opcua_batch(source_key: str, n: int, first_seq: int = 0) -> ReadingBatch:
    """One OPC UA publish of ``n`` readings, as the collector builds it (about 120 B each)."""
    readings = tuple(
        RawReading(
            f"UA-{i:05d}.ActiveEnergy", 1_767_225_600_000 + i, 1234567.891 + i, "kWh", first_seq + i
        )
        for i in range(n)
    )
    return ReadingBatch(Source.OPCUA, "gw-size", source_key, readings)


@pytest.fixture
async def topic(kafka_bootstrap: str, unique: str) -> AsyncIterator[str]:
    name = f"t{unique}.readings.raw"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def _forward_until(
    buffer: ReadingBuffer, config: KafkaConfig, metrics: GatewayMetrics, done: int
) -> None:
    """Run a real forwarder until the buffer holds ``done`` batches (bounded: 60 s)."""
    forwarder = Forwarder(buffer, config, metrics)
    task = asyncio.create_task(forwarder.run())
    try:
        async with asyncio.timeout(60):
            while True:  # the forwarder's progress shows in the buffer's depth
                if buffer.depth[0] == done:
                    break
                await asyncio.sleep(0.05)
    finally:
        forwarder.request_stop()
        await asyncio.wait_for(task, 30)


async def _consume(bootstrap: str, topic: str, readings: int) -> list[tuple[str, list[int], int]]:
    """(source key, seqs, message bytes) of each message, until ``readings`` have arrived."""
    got: list[tuple[str, list[int], int]] = []
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while sum(len(s) for _, s, _ in got) < readings:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    for m in messages:
                        batch = decode_batch(m.value).batch
                        assert batch is not None
                        got.append(
                            (batch.source_key, [r.seq for r in batch.readings], len(m.value))
                        )
    finally:
        await consumer.stop()
    return got


async def test_a_10000_reading_opcua_batch_arrives_complete_in_order(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    big = opcua_batch("gw-size/ua", 10_000)
    assert len(encode_batch(big)) > 1_048_576  # above aiokafka's and the broker's default limit
    after = opcua_batch("gw-size/ua", 5, first_seq=10_000)
    metrics = GatewayMetrics()
    buffer = await ReadingBuffer(BufferConfig(path=tmp_path / "b.db"), metrics).open()
    try:
        await buffer.put(big)
        await buffer.put(after)
        config = KafkaConfig(bootstrap=kafka_bootstrap, topic=topic)
        await _forward_until(buffer, config, metrics, done=0)
    finally:
        await buffer.close()
    got = await _consume(kafka_bootstrap, topic, 10_005)
    seqs = [s for _, part, _ in got for s in part]
    assert seqs == list(range(10_005))  # complete, once, in order: one key, one partition
    assert len(got) >= 3  # the big batch in at least two parts, then the small one
    assert max(size for _, _, size in got) <= config.max_message_bytes
    assert {key for key, _, _ in got} == {"gw-size/ua"}
    assert metrics.value("gateway_forward_split_total") == 1
    assert metrics.value("gateway_forward_readings_total") == 10_005
    assert metrics.value("gateway_buffer_dead_batches") == 0


async def test_a_batch_kafka_refuses_goes_aside_and_the_next_one_is_delivered(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    """Misconfigured above the broker's limit and without compression, the big batch is
    refused by the broker (MESSAGE_TOO_LARGE) however often it is sent: it must not hold up
    the batches behind it. Put back with a sound configuration, it is delivered."""
    poison = opcua_batch("gw-size/poison", 10_000)
    assert len(encode_batch(poison)) > BROKER_MESSAGE_MAX_BYTES
    nxt = opcua_batch("gw-size/next", 3)
    metrics = GatewayMetrics()
    buffer = await ReadingBuffer(BufferConfig(path=tmp_path / "b.db"), metrics).open()
    try:
        await buffer.put(poison)
        await buffer.put(nxt)
        wrong = KafkaConfig(
            bootstrap=kafka_bootstrap, topic=topic, max_message_bytes=2_000_000, compression="none"
        )
        await _forward_until(buffer, wrong, metrics, done=0)
        got = await _consume(kafka_bootstrap, topic, 3)
        assert got == [("gw-size/next", [0, 1, 2], got[0][2])]
        [dead] = await buffer.dead()
        assert (dead.source_key, dead.readings) == ("gw-size/poison", 10_000)
        assert "MessageSizeTooLargeError" in dead.reason
        assert metrics.value("gateway_buffer_dead_batches") == 1
        assert metrics.value("gateway_buffer_dead_total") == 1
        # The operator fixes the configuration and puts the batch back.
        assert await buffer.requeue([dead.id]) == 1
        assert await buffer.dead() == []
        await _forward_until(
            buffer, KafkaConfig(bootstrap=kafka_bootstrap, topic=topic), metrics, 0
        )
    finally:
        await buffer.close()
    got = await _consume(kafka_bootstrap, topic, 10_003)
    poisoned = [s for key, part, _ in got if key == "gw-size/poison" for s in part]
    assert poisoned == list(range(10_000))
    assert metrics.value("gateway_buffer_dead_batches") == 0
