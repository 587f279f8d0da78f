"""The demo's injected fault: an unregistered meter raises an alert and opens its ticket."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from psycopg import AsyncConnection

from tests.api.conftest import ApiServer
from tests.conftest import ROOT, RunningWorker

pytestmark = pytest.mark.integration


async def _poll(database_url: str, query: str, args: tuple[str, ...]) -> tuple[object, ...] | None:
    # Async: the API server runs on this test's event loop and must keep running meanwhile.
    deadline = time.monotonic() + 45
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = await (await conn.execute(query, args)).fetchone()
            if row is not None:
                return tuple(row)
            await asyncio.sleep(0.5)
    return None


async def test_an_unknown_meter_injected_by_the_demo_raises_an_alert_and_opens_a_ticket(
    database_url: str, worker: RunningWorker, api_server: ApiServer, unique: str
) -> None:
    meter_id = f"UNREG-{unique}"
    env = {
        **os.environ,
        "PARKCARBON_DATABASE_URL": database_url,
        "PARKCARBON_TOPIC_PREFIX": worker.prefix,
    }
    proc = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv/bin/parkcarbon"),
        "demo",
        "unknown-meter",
        "--meter-id",
        meter_id,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    alert = await _poll(
        database_url,
        "SELECT rule, cause FROM alert WHERE subject_kind = 'meter' AND subject_id = %s",
        (meter_id,),
    )
    assert alert == ("UNKNOWN_METER", "accounting_scope_deviation")
    ticket = await _poll(
        database_url,
        "SELECT state FROM ticket WHERE rule = 'UNKNOWN_METER' AND subject_id = %s",
        (meter_id,),
    )
    assert ticket == ("open",)
