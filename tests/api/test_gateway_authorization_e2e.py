"""A gateway sending another enterprise's meter, end to end: the worker quarantines it as
UNAUTHORIZED_SOURCE and raises a scope alert, the API's alerts consumer opens its ticket, and
the gateway's own enterprise's readings are stored (``stream.authorization``, clause 9.1 b)."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from psycopg import AsyncConnection

from contracts.topics import Topic
from tests.api.conftest import ApiServer
from tests.conftest import RunningWorker
from tests.stream.test_gateway_authorization import (
    batch,
    outcome,
    park_with_two_enterprises,
    register_gateway,
)
from tests.stream.test_worker import _produce

pytestmark = pytest.mark.integration


async def _poll(database_url: str, query: str, args: tuple[str, ...]) -> tuple[object, ...] | None:
    # Async: the API server runs on this test's event loop and must keep running meanwhile.
    deadline = time.monotonic() + 45
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = await (await conn.execute(query, args)).fetchone()
            if row is not None:
                return tuple(row)
            await asyncio.sleep(0.3)
    return None


async def test_a_gateway_of_enterprise_a_sending_a_meter_of_b_is_quarantined_alerted_ticketed(
    database_url: str,
    worker: RunningWorker,
    api_server: ApiServer,
    kafka_bootstrap: str,
    db: psycopg.Connection,
    unique: str,
) -> None:
    park, meter_a, meter_b = park_with_two_enterprises(db, unique)
    gateway = f"gw-{unique}"
    register_gateway(db, gateway, park, [f"eA-{unique}"])
    await asyncio.sleep(0.3)
    message = batch(gateway, [meter_a, meter_b])
    await _produce(kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"{gateway}/dev", message)
    alert = await _poll(
        database_url,
        "SELECT rule, cause, enterprise_id, measured FROM alert"
        " WHERE subject_kind = 'meter' AND subject_id = %s",
        (meter_b,),
    )
    assert alert == ("UNAUTHORIZED_SOURCE", "accounting_scope_deviation", f"eB-{unique}", 2.0)
    ticket = await _poll(
        database_url,
        "SELECT state, enterprise_id FROM ticket WHERE rule = 'UNAUTHORIZED_SOURCE'"
        " AND subject_id = %s",
        (meter_b,),
    )
    assert ticket == ("open", f"eB-{unique}")
    # Nothing of B's meter counted, both readings kept with their gateway; A's own stored.
    assert outcome(db, meter_b) == (0, [("UNAUTHORIZED_SOURCE", gateway)] * 2)
    assert outcome(db, meter_a) == (2, [])
    [detail] = db.execute(
        "SELECT DISTINCT detail FROM rejected_reading WHERE meter_id = %s", (meter_b,)
    ).fetchone() or [None]
    assert detail == (
        f"gateway {gateway} is not granted meter {meter_b} (enterprise eB-{unique}, park {park})"
    )
