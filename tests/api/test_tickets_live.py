"""Alerts and ticket changes on the live feed (``GET /v1/live``), published by the alerts
consumer and the ticket routes after their transaction commits, within the key's tenancy."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, ApiServer
from tests.api.test_tickets import WAIT_S, make_alert, produce

pytestmark = pytest.mark.integration


class Feed:
    """A live-feed connection read in the background; ``events`` fills as they arrive."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.open = asyncio.Event()

    async def read(self, client: httpx.AsyncClient) -> None:
        params = {"kinds": ["alert", "ticket"]}
        async with client.stream("GET", "/v1/live", params=params, timeout=None) as r:
            assert r.status_code == 200
            kind = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    if kind == "hello":
                        self.open.set()
                    else:
                        self.events.append((kind, json.loads(line.split(":", 1)[1])))

    async def wait_for(self, subject: str, kind: str, **match: Any) -> dict[str, Any]:
        async with asyncio.timeout(WAIT_S):
            while True:
                for k, data in self.events:
                    wanted = {key: data.get(key) for key in match}
                    if k == kind and data.get("subject_id") == subject and wanted == match:
                        return data
                await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def feed(client: httpx.AsyncClient) -> AsyncIterator[Feed]:
    f = Feed()
    task = asyncio.create_task(f.read(client))
    try:
        async with asyncio.timeout(10):
            await f.open.wait()
        yield f
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_alert_and_its_ticket_reach_the_feed_of_their_enterprise_only(
    api_server: ApiServer,
    operator: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
    tenant_b: httpx.AsyncClient,
    unique: str,
) -> None:
    mine, theirs = f"M-live-a-{unique}", f"M-live-b-{unique}"
    async with feed(tenant_a) as a, feed(tenant_b) as b:
        alert = make_alert(mine, enterprise=ENTERPRISE_A)
        await produce(api_server, alert)
        seen = await a.wait_for(mine, "alert")
        assert (seen["alert_id"], seen["state"]) == (alert.alert_id, "RAISED")
        opened = await a.wait_for(mine, "ticket", event="opened")
        tid = opened["ticket_id"]
        assert seen["ticket_id"] == tid and opened["state"] == "open"
        r = await tenant_a.post(
            f"/v1/tickets/{tid}/transitions", json={"to": "contained", "containment": "valve shut"}
        )
        assert r.status_code == 200, r.text
        moved = await a.wait_for(mine, "ticket", event="transition")
        assert (moved["from_state"], moved["to_state"]) == ("open", "contained")
        assert moved["actor"].startswith("key:")
        # B's own alert as a marker: once B has it, B has had every chance to see A's.
        await produce(api_server, make_alert(theirs, enterprise=ENTERPRISE_B))
        await b.wait_for(theirs, "alert")
        assert all(d.get("subject_id") != mine for _, d in b.events)
        assert all(d.get("subject_id") != theirs for _, d in a.events)
