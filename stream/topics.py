"""The idempotent creation of the Kafka topics (their names: ``contracts.topics``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from config.kafka_security import KafkaSecurity, client_kwargs
from contracts.topics import RETENTION_MS, Topic, topic_name

__all__ = ["Topic", "TopicState", "create_topics", "topic_name"]


@dataclass(frozen=True)
class TopicState:
    name: str
    partitions: int
    created: bool


async def create_topics(
    bootstrap: str,
    *,
    partitions: int,
    replication: int,
    prefix: str = "",
    security: KafkaSecurity | None = None,
) -> list[TopicState]:
    """Create every missing topic; existing ones are left as they are and reported."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=15000,
        **client_kwargs(security or KafkaSecurity()),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=topic_name(t, prefix),
                num_partitions=partitions,
                replication_factor=replication,
                topic_configs={"retention.ms": RETENTION_MS[t]} if t in RETENTION_MS else {},
            )
            for t in Topic
            if topic_name(t, prefix) not in existing
        ]
        if wanted:
            # Another process may create them between our list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
        names = [topic_name(t, prefix) for t in Topic]
        described = await admin.describe_topics(names)
        counts = {d["topic"]: len(d["partitions"]) for d in described}
        return [TopicState(n, counts.get(n, 0), n not in existing) for n in names]
    finally:
        await admin.close()
