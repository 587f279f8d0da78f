from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.records import RawReading, ReadingBatch, Source, decode_batch, encode_batch
from contracts.topics import Topic

pytestmark = pytest.mark.integration


async def test_topics_exist_with_the_configured_partitions(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([t.value for t in Topic])
    finally:
        await admin.close()
    assert {d["topic"]: len(d["partitions"]) for d in described} == {t.value: 6 for t in Topic}
    assert all(d["error_code"] == 0 for d in described)


async def _end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def test_raw_batches_come_back_in_order_per_meter(
    kafka_bootstrap: str, unique: str, raw_topic: str
) -> None:
    start = {TopicPartition(raw_topic, p): 0 for p in range(6)}  # a new topic of its own
    # Four sources (gateway devices), each polling two meters, twenty poll cycles each.
    sources = [f"gw-{unique}/dev-{d}" for d in range(4)]
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for cycle in range(20):
            for d, key in enumerate(sources):
                readings = tuple(
                    RawReading(
                        f"M-{unique}-{d}-{m}",
                        1_767_225_600_000 + cycle * 900_000,
                        100.0 * cycle + m,
                        "kWh",
                        seq=cycle,
                    )
                    for m in range(2)
                )
                batch = ReadingBatch(Source.MODBUS, f"gw-{unique}", key, readings)
                await producer.send(raw_topic, encode_batch(batch), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, list[int]] = defaultdict(list)
    partition_of: dict[str, set[int]] = defaultdict(set)
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(30):
            while sum(len(v) for v in seen.values()) < 4 * 2 * 20:
                for tp, messages in (await consumer.getmany(timeout_ms=1000)).items():
                    for message in messages:
                        decoded = decode_batch(message.value)
                        assert decoded.batch is not None and decoded.rejections == []
                        if not decoded.batch.source_key.startswith(f"gw-{unique}/"):
                            continue
                        for r in decoded.batch.readings:
                            seen[r.meter_id].append(r.seq)
                            partition_of[r.meter_id].add(tp.partition)
    finally:
        await consumer.stop()
    assert len(seen) == 8
    assert all(seqs == list(range(20)) for seqs in seen.values())
    assert all(len(parts) == 1 for parts in partition_of.values())
