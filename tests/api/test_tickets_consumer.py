"""The alerts consumer's failure handling, with failures injected (never by stopping the shared
stack): Kafka unreachable means bounded retries, never death; a database outage means the
message is not committed and is stored once the database answers again (at-least-once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry, Counter
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from api.producer import RawProducer
from api.state import AppState
from api.tickets import consumer
from config.settings import ApiSettings
from contracts.alerts import encode_alert
from stream.topics import Topic, create_topics, topic_name
from tests.api.test_tickets import make_alert

pytestmark = pytest.mark.integration


def test_the_backoff_doubles_up_to_its_bound_and_starts_over_after_a_success() -> None:
    backoff = consumer.Backoff(first_s=0.5, max_s=30.0)
    assert [backoff.next() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next() == 0.5


def _counter() -> Counter:
    return Counter("rejected", "test", registry=CollectorRegistry())


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


async def test_an_unreachable_broker_is_retried_with_growing_delays_and_never_kills_the_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = ApiSettings(kafka_bootstrap=f"127.0.0.1:{_dead_port()}", topic_prefix="dead.")
    state = AppState(settings=settings, pool=None, producer=None)  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, logger="api.tickets.consumer")
    slept: list[float] = []
    third = asyncio.Event()

    async def clock(seconds: float) -> None:  # the consumer's sleep: no wall-clock wait
        slept.append(seconds)
        if len(slept) == 3:
            third.set()
            await asyncio.Event().wait()  # stays in its third wait until cancelled

    task = asyncio.create_task(consumer.consume_forever(state, _counter(), sleep=clock))
    await asyncio.wait_for(third.wait(), 60)
    assert not task.done()  # three failed connections later, still retrying
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert slept == [0.5, 1.0, 2.0]
    delays = [
        r.getMessage().rsplit("in ", 1)[1]
        for r in caplog.records
        if r.name == "api.tickets.consumer"
    ]
    assert delays == ["0.5 s", "1.0 s", "2.0 s"]


class FlakyPool:
    """The real pool, except that it refuses connections until ``down_until``."""

    def __init__(self, pool: AsyncConnectionPool[Any], down_for_s: float) -> None:
        self.pool = pool
        self.down_until = time.monotonic() + down_for_s
        self.refused = 0

    def connection(self, timeout: float | None = None) -> Any:
        if time.monotonic() < self.down_until:
            self.refused += 1
            raise psycopg.OperationalError("injected: the database is down")
        return self.pool.connection(timeout=timeout)


async def test_a_message_met_by_a_database_outage_is_stored_once_the_database_is_back(
    database_url: str, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"flaky{uuid.uuid4().hex[:8]}."
    await create_topics(kafka_bootstrap, partitions=1, replication=1, prefix=prefix)
    settings = ApiSettings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix
    )
    alert = make_alert(f"M-flaky-{uuid.uuid4().hex[:8]}")
    producer = RawProducer(kafka_bootstrap, timeout_s=10)
    await producer.send(topic_name(Topic.ALERTS, prefix), key=b"k", value=encode_alert(alert))
    await producer.stop()
    caplog.set_level(logging.WARNING, logger="api.tickets.consumer")
    async with AsyncConnectionPool(database_url, kwargs={"autocommit": True}) as real:
        flaky = FlakyPool(real, down_for_s=4)
        state = AppState(settings=settings, pool=flaky, producer=None)  # type: ignore[arg-type]
        task = asyncio.create_task(consumer.consume_forever(state, _counter()))
        try:
            stored = None
            deadline = time.monotonic() + 40
            while stored is None and time.monotonic() < deadline:
                async with real.connection() as conn:
                    stored = await _occurrences(conn, alert.alert_id)
                await asyncio.sleep(0.3)
            assert not task.done()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with real.connection() as conn:
            assert await _occurrences(conn, alert.alert_id) == 1
    assert flaky.refused >= 1
    assert any("injected: the database is down" in r.getMessage() for r in caplog.records)


async def _occurrences(conn: AsyncConnection[Any], alert_id: str) -> int | None:
    row = await (
        await conn.execute(
            "SELECT count(*) FROM ticket_occurrence WHERE alert_id = %s", (alert_id,)
        )
    ).fetchone()
    return int(row[0]) if row and row[0] else None
