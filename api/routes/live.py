"""``GET /v1/live``: server-sent events of emission windows, alerts and ticket changes.

Filtered by the key's tenancy: an enterprise key receives only its own enterprise's events.
Each connection has a bounded queue in the hub; a client too slow to read loses its oldest
events (the ``dropped`` count is sent with the next event) instead of slowing everyone down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

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
        while True:
            event = await sub.queue.get()
            if event.kind not in wanted:
                continue
            seen += 1
            data = dict(event.data)
            if sub.dropped:
                data["dropped_before"] = sub.dropped
            yield ServerSentEvent(event=event.kind, data=data, id=str(seen))
    finally:
        state.hub.unsubscribe(sub)
