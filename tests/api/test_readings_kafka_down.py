"""EMS push while Kafka is unreachable: 503 with Retry-After, nothing recorded as accepted.

The failure is injected, not provoked: a second API server whose Kafka bootstrap is a loopback
port nobody listens on (the shared broker keeps running for everyone else).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from psycopg import AsyncConnection

from api.keys import Role
from config.settings import ApiSettings
from tests.api.conftest import ENTERPRISE_A, ApiServer, MakeKey, _free_port, serve_api

pytestmark = pytest.mark.integration


@pytest.fixture
async def no_kafka_api(api_server: ApiServer) -> AsyncIterator[str]:
    settings = ApiSettings(
        database_url=api_server.database_url,
        kafka_bootstrap=f"127.0.0.1:{_free_port()}",
        topic_prefix=api_server.settings.topic_prefix,
        api_port=_free_port(),
        api_kafka_timeout_s=1.0,
        api_consume_alerts=False,
    )
    async with serve_api(settings) as server:
        yield server.url


async def test_kafka_down_is_503_with_retry_after_and_nothing_is_accepted(
    no_kafka_api: str, api_server: ApiServer, make_key: MakeKey, unique: str
) -> None:
    meter = f"ems-down-{unique}"
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
            " source_category) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
            " 'purchased_electricity')",
            (meter, ENTERPRISE_A),
        )
    token = await make_key(Role.ENTERPRISE, enterprise_id=ENTERPRISE_A)
    ts = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {"readings": [{"meter_id": meter, "ts": ts, "value": 1.0, "unit": "kWh"}]}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"down-{unique}"}
    async with httpx.AsyncClient(base_url=no_kafka_api, headers=headers, timeout=30) as client:
        r = await client.post("/v1/readings", json=body)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    assert r.headers["content-type"].startswith("application/problem+json")
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        rows = await (
            await conn.execute("SELECT count(*) FROM ems_reading WHERE meter_id = %s", (meter,))
        ).fetchone()
        replies = await (
            await conn.execute(
                "SELECT count(*) FROM ems_idempotency WHERE idempotency_key = %s",
                (f"down-{unique}",),
            )
        ).fetchone()
    assert rows == (0,) and replies == (0,)
    # Once Kafka answers, the same push under the same key goes through.
    async with httpx.AsyncClient(base_url=api_server.url, headers=headers, timeout=30) as client:
        again = await client.post("/v1/readings", json=body)
    assert again.status_code == 202 and again.json()["accepted"] == 1
