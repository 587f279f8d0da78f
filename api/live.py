"""The live feed's hub: events (windows, alerts, ticket changes) fanned out to SSE subscribers.

Each subscriber has a bounded queue; a subscriber too slow to keep up loses its oldest events
(counted in ``dropped``) rather than holding the hub or the producer of events back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class LiveEvent:
    kind: str  # "window" | "alert" | "ticket"
    enterprise_id: str | None  # tenancy: enterprise keys see only their own
    data: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[LiveEvent]
    enterprise_id: str | None
    dropped: int = 0


@dataclass
class LiveHub:
    queue_size: int = 1000
    _subscribers: set[Subscription] = field(default_factory=set)

    def subscribe(self, enterprise_id: str | None) -> Subscription:
        sub = Subscription(asyncio.Queue(self.queue_size), enterprise_id)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, event: LiveEvent) -> None:
        for sub in self._subscribers:
            if sub.enterprise_id is not None and sub.enterprise_id != event.enterprise_id:
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(event)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
