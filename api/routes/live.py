"""``GET /v1/live``: server-sent events of emission windows, alerts and ticket changes.

Filtered by the key's tenancy: an enterprise key receives only its own enterprise's events.
Each connection has a bounded queue in the hub; a client too slow to read loses its oldest
events (the ``dropped`` count is sent with the next event) instead of slowing everyone down.
The key is checked again every ``live_key_recheck_s``: once it is revoked or expires the feed
sends ``event: end`` and closes, so a revoked key does not keep reading.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api import key_store
from api.deps import StateDep, require
from api.errors import problems
from api.keys import Principal, Scope

router = APIRouter(tags=["live"])


class LiveKind(StrEnum):
    WINDOW = "window"
    ALERT = "alert"
    TICKET = "ticket"


@router.get("/v1/live", response_class=EventSourceResponse, responses=problems(401, 403, 422))
async def live(
    state: StateDep,
    who: Annotated[Principal, Depends(require(Scope.LIVE_READ))],
    kinds: Annotated[list[LiveKind] | None, Query(description="Only these kinds")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """The live feed: `event: window|alert|ticket`, `data:` the object as JSON; a `hello` event
    first, so a client knows the stream is open."""
    wanted = set(kinds or LiveKind)
    sub = state.hub.subscribe(who.enterprise_id)
    try:
        yield ServerSentEvent(
            event="hello",
            data={"enterprise_id": who.enterprise_id, "kinds": sorted(wanted)},
        )
        seen = 0
        recheck_s = state.settings.live_key_recheck_s
        next_check = time.monotonic() + recheck_s
        while True:
            try:
                event = await asyncio.wait_for(
                    sub.queue.get(), timeout=max(0.0, next_check - time.monotonic())
                )
            except TimeoutError:
                async with state.pool.connection(timeout=5) as conn:
                    active = await key_store.active_key(conn, who.key_id)
                if active is None:
                    yield ServerSentEvent(event="end", data={"reason": "key revoked or expired"})
                    return
                next_check = time.monotonic() + recheck_s
                continue
            if event.kind not in wanted:
                continue
            seen += 1
            data = dict(event.data)
            if sub.dropped:
                data["dropped_before"] = sub.dropped
            yield ServerSentEvent(event=event.kind, data=data, id=str(seen))
    finally:
        state.hub.unsubscribe(sub)
