"""The transactional outbox of webhook messages.

``enqueue`` writes the event (one ``webhook_message``) and one ``webhook_delivery`` per enabled
endpoint that wants it, in the caller's transaction: the notification exists exactly when the
change that caused it was committed, and survives a restart of the API until the dispatcher has
delivered it. The body is serialised once, here, and sent and signed byte for byte on every
attempt (Standard Webhooks payload: ``type``, ``timestamp``, ``data``).

``data`` carries ``summary``, one line for a person in the park's language (``summary_lang``),
from the catalogue (``accounting.notification_text``): the rest of ``data`` is for programs.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from psycopg import AsyncConnection

from accounting.i18n import DEFAULT_LANG, Lang, parse_lang
from accounting.notification_text import summary
from api.webhooks.enums import EventType

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_message_id() -> str:
    """A ``webhook-id``: ``msg_`` and 24 random characters (no ``.``, which the signed string
    uses as its separator)."""
    return "msg_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # exact: receivers parse it as a decimal, never as a binary float
    raise TypeError(f"cannot serialise {type(value).__name__} in a webhook payload")


def body(event_type: EventType, payload: dict[str, Any], at: datetime) -> str:
    """The JSON body: ``{"type", "timestamp", "data"}``, minified."""
    document = {
        "type": event_type.value,
        "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": payload,
    }
    return orjson.dumps(document, default=_json_default).decode()


_MESSAGE = (
    "INSERT INTO webhook_message (message_id, event_type, enterprise_id, body, created_at)"
    " VALUES (%s, %s, %s, %s, %s)"
)
# Park-wide endpoints (enterprise_id NULL) get every event; an enterprise's endpoint gets only
# its own enterprise's events (an event with no enterprise reaches park-wide endpoints only).
_FAN_OUT = (
    "INSERT INTO webhook_delivery (message_id, endpoint_id)"
    " SELECT %s, endpoint_id FROM webhook_endpoint"
    " WHERE enabled AND %s = ANY (event_types)"
    " AND (enterprise_id IS NULL OR enterprise_id = %s)"
)


# The park of the event: its enterprise's, else the one it names, else the only park there is.
# park.language is a setting a schema may not have yet: read through jsonb (none: zh-CN).
_PARK = """
SELECT to_jsonb(p) ->> 'language', p.timezone FROM park p
WHERE p.park_id = coalesce(
    (SELECT e.park_id FROM enterprise e WHERE e.enterprise_id = %(enterprise)s),
    %(park)s,
    (SELECT min(q.park_id) FROM park q HAVING count(*) = 1))
"""


async def _park_language(
    conn: AsyncConnection[Any], enterprise_id: str | None, payload: dict[str, Any]
) -> tuple[Lang, ZoneInfo | None]:
    subject = payload.get("alert", payload)
    park_id = payload.get("park_id") or (
        subject.get("subject_id") if subject.get("subject_kind") == "park" else None
    )
    row = await (
        await conn.execute(_PARK, {"enterprise": enterprise_id, "park": park_id})
    ).fetchone()
    if row is None:
        return DEFAULT_LANG, None
    try:
        lang = parse_lang(row[0]) if row[0] else DEFAULT_LANG
    except ValueError:
        lang = DEFAULT_LANG
    try:
        return lang, ZoneInfo(row[1])
    except (ZoneInfoNotFoundError, ValueError):
        return lang, None


async def with_summary(
    conn: AsyncConnection[Any], kind: EventType, payload: dict[str, Any], enterprise_id: str | None
) -> dict[str, Any]:
    """``payload`` with ``summary`` and ``summary_lang`` in the park's language."""
    lang, zone = await _park_language(conn, enterprise_id, payload)
    return {**payload, "summary": summary(kind.value, payload, lang, zone), "summary_lang": lang}


async def enqueue(
    conn: AsyncConnection[Any],
    *,
    event_type: str,
    payload: dict[str, Any],
    enterprise_id: str | None,
) -> None:
    """Queue one event for every enabled subscription to it, in the caller's transaction."""
    kind = EventType(event_type)  # an unknown type is a programming error: ValueError
    message_id = new_message_id()
    now = datetime.now(UTC)
    text = body(kind, await with_summary(conn, kind, payload, enterprise_id), now)
    # A savepoint inside the caller's transaction; a transaction of its own on an autocommit
    # connection, so the message and its deliveries are written together or not at all.
    async with conn.transaction():
        await conn.execute(_MESSAGE, (message_id, kind.value, enterprise_id, text, now))
        await conn.execute(_FAN_OUT, (message_id, kind.value, enterprise_id))


async def enqueue_to(
    conn: AsyncConnection[Any], *, endpoint_id: str, event_type: EventType, payload: dict[str, Any]
) -> int:
    """Queue one message for one endpoint only (a test ping); the new delivery's id."""
    message_id = new_message_id()
    now = datetime.now(UTC)
    async with conn.transaction():
        data = await with_summary(conn, event_type, payload, None)
        await conn.execute(
            _MESSAGE, (message_id, event_type.value, None, body(event_type, data, now), now)
        )
        cur = await conn.execute(
            "INSERT INTO webhook_delivery (message_id, endpoint_id) VALUES (%s, %s)"
            " RETURNING delivery_id",
            (message_id, endpoint_id),
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])
