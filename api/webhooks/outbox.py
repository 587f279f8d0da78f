"""The transactional outbox of webhook messages (being built)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection


async def enqueue(
    conn: AsyncConnection[Any],
    *,
    event_type: str,
    payload: dict[str, Any],
    enterprise_id: str | None,
) -> None:
    """Queue one event for every enabled subscription to it, in the caller's transaction."""
    del conn, event_type, payload, enterprise_id
