"""The append-only audit log from the API (clause 7.3): who, when, what, before and after."""

from __future__ import annotations

import json
from typing import Any

import orjson
from psycopg import AsyncConnection


def _json(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        # orjson refuses integers beyond 64 bits; the standard library writes any integer.
        return json.dumps(value, default=str)


async def record(
    conn: AsyncConnection[Any],
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str = "",
) -> None:
    """Append one entry; call inside the transaction that makes the change, so both or neither."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id, before, after, reason)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (actor, action, entity, entity_id, _json(before), _json(after), reason),
    )
