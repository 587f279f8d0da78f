"""An open live feed ends once its API key is revoked: a revoked key does not keep reading."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from psycopg import AsyncConnection

from api import key_store
from api.keys import Role, parse_token
from tests.api.conftest import ApiServer, MakeKey, serve_api

pytestmark = pytest.mark.integration


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_live_feed_ends_within_the_recheck_interval_once_its_key_is_revoked(
    api_server: ApiServer, make_key: MakeKey
) -> None:
    # Its own server, so the feed re-checks its key every 0.2 s instead of every 30 s.
    settings = api_server.settings.model_copy(
        update={"api_port": _port(), "live_key_recheck_s": 0.2, "api_consume_alerts": False}
    )
    token = await make_key(Role.OPERATOR)
    parsed = parse_token(token)
    assert parsed is not None
    async with (
        asyncio.timeout(30),
        serve_api(settings) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
        client.stream("GET", "/v1/live", headers={"Authorization": f"Bearer {token}"}) as feed,
    ):
        assert feed.status_code == 200
        events: list[str] = []

        async def read() -> None:  # until the server ends the feed
            async for line in feed.aiter_lines():
                if line.startswith(("event:", "data:")):
                    events.append(line)

        reader = asyncio.create_task(read())
        # Still open after several re-checks while the key is valid.
        done, _ = await asyncio.wait([reader], timeout=1.0)
        assert not done and events[:1] == ["event: hello"]
        async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
            await key_store.revoke_key(conn, key_id=parsed[0], actor="test")
        async with asyncio.timeout(5):  # 0.2 s re-check, with margin for a busy machine
            await reader
    assert events[-2:] == ["event: end", 'data: {"reason": "key revoked or expired"}']
