"""The one writer of the append-only audit log (clause 7.3): who, when, what, before and after.

The worker (sync psycopg) and the API (async) both append through here, inside the transaction
that makes the change, so the entry and the change are stored both or neither.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection

_INSERT = (
    "INSERT INTO audit_log (actor, action, entity, entity_id, before, after, reason)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


def _json(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        # orjson refuses integers beyond 64 bits; the standard library writes any integer.
        return json.dumps(value, default=str)


def _params(
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str,
) -> tuple[str | None, ...]:
    return (actor, action, entity, entity_id, _json(before), _json(after), reason)


def record(
    conn: psycopg.Connection[Any],
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str = "",
) -> None:
    """Append one entry on a synchronous connection."""
    conn.execute(_INSERT, _params(actor, action, entity, entity_id, before, after, reason))


async def record_async(
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
    """Append one entry on an asynchronous connection."""
    await conn.execute(_INSERT, _params(actor, action, entity, entity_id, before, after, reason))
