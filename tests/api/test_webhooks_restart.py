"""Restart safety of the webhook outbox with a real API process that is killed mid-delivery.

The shared test server's dispatcher would deliver anything in the run's database, so this test
uses a database of its own and runs ``parkcarbon api`` as a child process against it: a message
is enqueued while no API runs at all, the first API process is SIGKILLed while the receiver holds
the request open, and a second process delivers the same message (same webhook-id) once the
first one's claim has lapsed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from api.webhooks import outbox, service
from api.webhooks.enums import EventType
from api.webhooks.models import EndpointCreate
from store.migrate import migrate
from tests.api.test_webhooks_receiver import Receiver, verify

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
TIMEOUT_S = 3.0  # the child APIs' webhook_timeout_s; a claim lapses 5 s after it


@pytest.fixture
async def own_database(database_url: str) -> AsyncIterator[str]:
    base = database_url.rsplit("/", 1)[0]
    name = f"parkcarbon_test_{os.getpid()}_webhooks"

    def recreate(drop_only: bool) -> None:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            if not drop_only:
                conn.execute(f"CREATE DATABASE {name}")

    await asyncio.to_thread(recreate, False)
    await asyncio.to_thread(migrate, f"{base}/{name}")
    yield f"{base}/{name}"
    await asyncio.to_thread(recreate, True)


@pytest.fixture
def api_process(own_database: str, tmp_path: Path) -> Iterator[Any]:
    """``start()`` runs ``parkcarbon api`` on a free port against the test's own database."""
    children: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            **os.environ,
            "PARKCARBON_CONFIG_FILE": str(tmp_path / "absent.yaml"),
            "PARKCARBON_DATABASE_URL": own_database,
            "PARKCARBON_API_PORT": str(port),
            "PARKCARBON_API_CONSUME_ALERTS": "false",
            "PARKCARBON_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "PARKCARBON_WEBHOOK_TIMEOUT_S": str(TIMEOUT_S),
            "PARKCARBON_WEBHOOK_BACKOFF_BASE_S": "0.2",
            "PARKCARBON_WEBHOOK_BACKOFF_MAX_S": "2",
        }
        log = (tmp_path / f"api-{len(children)}.log").open("wb")
        child = subprocess.Popen(
            [str(BIN / "parkcarbon"), "api"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)


async def _delivery(url: str) -> tuple[str, int, int]:
    async with await AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT status, attempts, (SELECT count(*) FROM webhook_attempt a"
            " WHERE a.delivery_id = d.delivery_id) FROM webhook_delivery d"
        )
        row = await cur.fetchone()
    assert row is not None
    return str(row[0]), int(row[1]), int(row[2])


async def test_an_api_killed_mid_delivery_leaves_the_message_to_the_next_process(
    own_database: str, api_process: Any
) -> None:
    receiver = await Receiver(hold=1).start()  # holds the first request open, answers later
    try:
        async with await AsyncConnection.connect(own_database, autocommit=True) as conn:
            created = await service.create_endpoint(
                conn,
                body=EndpointCreate(url=receiver.url, event_types=[EventType.ALERT_OPENED]),
                allow_private=True,
                actor="test",
            )
            async with conn.transaction():
                await outbox.enqueue(
                    conn,
                    event_type="alert.opened",
                    payload={"alert_id": "restart"},
                    enterprise_id=None,
                )
        # Enqueued while no API runs: it waits in the outbox.
        assert await _delivery(own_database) == ("pending", 0, 0)

        first = api_process()
        (held,) = await receiver.wait_for(1, timeout_s=30)
        first.kill()  # SIGKILL mid-attempt: no answer read, nothing recorded
        first.wait(10)
        killed_at = time.monotonic()
        assert await _delivery(own_database) == ("pending", 1, 0)

        api_process()
        _, again = await receiver.wait_for(2, timeout_s=40)
        deadline = time.monotonic() + 20
        while (state := await _delivery(own_database))[0] != "delivered":
            assert time.monotonic() < deadline, state
            await asyncio.sleep(0.1)
        assert state == ("delivered", 2, 1)  # the killed attempt counted, the log has one
        assert held.webhook_id == again.webhook_id  # the receiver can de-duplicate
        assert held.body == again.body
        assert verify(held, [created.secret]) and verify(again, [created.secret])
        # The second process waited for the first one's claim to lapse (timeout + 5 s).
        assert again.at - killed_at < TIMEOUT_S + 5 + 10
    finally:
        await receiver.stop()
