"""The alerts consumer: the ``alerts`` topic into alerts, tickets and occurrences (9.1 b, 10.1).

Runs in the API process for its lifetime (``api_consume_alerts``), beside the periodic overdue
check of corrective actions. Delivery is at-least-once: offsets are committed only after the
message's database transaction, and ``intake.ingest`` is idempotent, so every step is stored
exactly once. A message that is not an alert, or that the database refuses, is kept in
``alert_rejected`` with its bytes and the reason, counted, logged, and skipped: it never stops
the messages behind it. While Kafka or the database is unreachable the consumer retries with a
bounded backoff; an unexpected error ends the task, which ``/healthz`` reports as down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from prometheus_client import Counter
from psycopg_pool import PoolTimeout

from api.live import LiveEvent
from api.state import AppState
from api.tickets import intake, overdue
from config.kafka_security import client_kwargs
from contracts.alerts import AlertDecodeError, decode_alert
from contracts.topics import Topic, topic_name

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0  # bounded: a broker back after an outage is found within half a minute
# Failures that pass: the broker or the database is away. Anything else is a bug and ends the task.
TRANSIENT = (KafkaError, OSError, psycopg.OperationalError, PoolTimeout, TimeoutError)
# The database refused this message's content: it is rejected, not retried forever.
POISON = (psycopg.errors.DataError, psycopg.errors.IntegrityError)

_REJECT = """
INSERT INTO alert_rejected (topic, partition, "offset", key, payload, reason)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (topic, partition, "offset") DO NOTHING
"""


def group_id(prefix: str) -> str:
    return f"{prefix}parkcarbon-api-alerts"


async def run(state: AppState) -> None:
    """Consume the alerts topic for the app's lifetime, with the overdue check beside it."""
    rejected = Counter(
        "parkcarbon_api_alerts_rejected",
        "Alert messages refused (malformed, or refused by the database) and kept in alert_rejected",
        registry=state.metrics.registry,
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(overdue.run(state), name="overdue-check")
        group.create_task(consume_forever(state, rejected), name="alerts-consumer")


@dataclass
class Backoff:
    """Doubling delays from ``first_s`` up to ``max_s``; back to the first after a success."""

    first_s: float = BACKOFF_FIRST_S
    max_s: float = BACKOFF_MAX_S
    _next_s: float = BACKOFF_FIRST_S

    def next(self) -> float:
        delay, self._next_s = self._next_s, min(self._next_s * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self.first_s


async def consume_forever(
    state: AppState,
    rejected: Counter,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Consume ``alerts`` for good: a broker or database that fails is tried again after a
    growing delay (``sleep`` is the clock's: tests pass their own)."""
    backoff = Backoff()
    while True:
        try:
            await _consume(state, rejected, backoff)
        except TRANSIENT as exc:
            delay = backoff.next()
            log.warning("alerts consumer: %r; reconnecting in %.1f s", exc, delay)
            await sleep(delay)


async def _consume(state: AppState, rejected: Counter, backoff: Backoff) -> None:
    prefix = state.settings.topic_prefix
    consumer = AIOKafkaConsumer(
        topic_name(Topic.ALERTS, prefix),
        bootstrap_servers=state.settings.kafka_bootstrap,
        group_id=group_id(prefix),
        enable_auto_commit=False,
        # A new group reads the topic's whole history: storing it again changes nothing.
        auto_offset_reset="earliest",
        request_timeout_ms=15000,
        **client_kwargs(state.settings.kafka_security()),
    )
    try:
        await consumer.start()
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=200)
            for tp, messages in batches.items():
                for message in messages:
                    await _handle(state, rejected, message)
                # Commit after every message of the partition is in the database.
                await consumer.commit({tp: messages[-1].offset + 1})
            backoff.reset()  # Kafka and the database both answered
    finally:
        await consumer.stop()


async def _handle(state: AppState, rejected: Counter, message: ConsumerRecord[Any, Any]) -> None:
    state.metrics.alerts_consumed.inc()
    raw: bytes = message.value or b""
    try:
        alert = decode_alert(raw)
    except AlertDecodeError as exc:
        await _reject(state, rejected, message, str(exc))
        return
    events: list[LiveEvent] = []
    try:
        async with state.pool.connection(timeout=10) as conn, conn.transaction():
            events = await intake.ingest(conn, alert=alert)
    except POISON as exc:
        await _reject(state, rejected, message, f"refused by the database: {exc}")
        return
    for event in events:  # after the commit: the feed never shows what was rolled back
        state.hub.publish(event)


async def _reject(
    state: AppState, rejected: Counter, message: ConsumerRecord[Any, Any], reason: str
) -> None:
    log.warning(
        "alerts consumer: rejected %s[%s]@%s: %s",
        message.topic,
        message.partition,
        message.offset,
        reason,
    )
    rejected.inc()
    async with state.pool.connection(timeout=10) as conn:
        await conn.execute(
            _REJECT,
            (
                message.topic,
                message.partition,
                message.offset,
                message.key,
                message.value or b"",
                reason[:2000],
            ),
        )
