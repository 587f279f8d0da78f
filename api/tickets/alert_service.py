"""Alerts as the API reads them, and their acknowledgement (clause 9.1 b).

Tenancy is part of every query: ``tenant`` is the caller's enterprise (None for park-wide keys),
and an alert without an enterprise (an unknown meter) is visible to park-wide keys only.

A park's alerts (``park_id``) are its enterprises' and the park-wide ones: those about the park
itself and those no enterprise owns. A meter outside the registry belongs to no enterprise and so
to no park the registry knows; every park's list shows it, as every park's staff must act on it.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api import audit

_SELECT = """
SELECT a.*, k.acked_by, k.acked_at,
       (SELECT max(o.ticket_id) FROM ticket_occurrence o WHERE o.alert_id = a.alert_id)
           AS ticket_id
FROM alert a LEFT JOIN alert_ack k USING (alert_id)
"""
_TENANT = "(%(tenant)s::text IS NULL OR a.enterprise_id = %(tenant)s)"


def in_park(alias: Literal["a", "t"]) -> str:
    """SQL: the row ``alias`` (an alert or a ticket) belongs to park ``%(park)s`` (any if NULL)."""
    # An incident's ticket (subject a gateway) names its park; an alert never has a gateway.
    gateway = f" OR {alias}.park_id = %(park)s" if alias == "t" else ""
    return f"""(%(park)s::text IS NULL
       OR {alias}.enterprise_id IN (SELECT e.enterprise_id FROM enterprise e
                                    WHERE e.park_id = %(park)s){gateway}
       OR ({alias}.enterprise_id IS NULL AND {alias}.subject_kind <> 'gateway'
           AND ({alias}.subject_kind <> 'park' OR {alias}.subject_id = %(park)s)))"""  # noqa: S608 - an alias from a Literal; the park is a parameter


_LIST = (
    _SELECT
    + "WHERE "
    + _TENANT
    + """
  AND (%(open)s::boolean IS NULL OR (a.state <> 'RESOLVED') = %(open)s)
  AND (%(rule)s::text IS NULL OR a.rule = %(rule)s)
  AND (%(enterprise)s::text IS NULL OR a.enterprise_id = %(enterprise)s)
  AND """
    + in_park("a")
    + """
  AND (%(subject_kind)s::text IS NULL OR a.subject_kind = %(subject_kind)s)
  AND (%(subject_id)s::text IS NULL OR a.subject_id = %(subject_id)s)
  AND (%(after_ts)s::timestamptz IS NULL
       OR (a.first_raised_at, a.alert_id) < (%(after_ts)s::timestamptz, %(after_id)s::uuid))
ORDER BY a.first_raised_at DESC, a.alert_id DESC
LIMIT %(limit)s
"""
)
_ONE = _SELECT + "WHERE " + _TENANT + " AND a.alert_id = %(alert_id)s"
_ACK = """
INSERT INTO alert_ack (alert_id, acked_by) VALUES (%s, %s)
ON CONFLICT (alert_id) DO NOTHING
RETURNING acked_at
"""


class BadCursorError(ValueError):
    """A pagination cursor this API did not hand out."""


def alert_cursor(row: dict[str, Any]) -> str:
    text = f"{row['first_raised_at'].isoformat()}|{row['alert_id']}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _parse_cursor(cursor: str | None) -> tuple[datetime | None, uuid.UUID | None]:
    if cursor is None:
        return None, None
    try:
        ts, alert_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(ts), uuid.UUID(alert_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursorError(f"invalid cursor {cursor!r}") from exc


async def list_alerts(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    open_: bool | None = None,
    rule: str | None = None,
    enterprise_id: str | None = None,
    park_id: str | None = None,
    subject_kind: str | None = None,
    subject_id: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of alerts, newest first, and the cursor of the next page (None: the last)."""
    after_ts, after_id = _parse_cursor(cursor)
    params = {
        "tenant": tenant,
        "open": open_,
        "rule": rule,
        "enterprise": enterprise_id,
        "park": park_id,
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "after_ts": after_ts,
        "after_id": after_id,
        "limit": limit + 1,
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LIST, params)
        rows = await cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, alert_cursor(rows[-1]) if more else None


async def get_alert(
    conn: AsyncConnection[Any], *, alert_id: uuid.UUID, tenant: str | None
) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_ONE, {"tenant": tenant, "alert_id": alert_id})
        return await cur.fetchone()


async def ack_alert(
    conn: AsyncConnection[Any], *, alert_id: uuid.UUID, tenant: str | None, actor: str
) -> dict[str, Any] | None:
    """Acknowledge once: the first acknowledgement is kept, a repeat changes nothing."""
    async with conn.transaction():
        if await get_alert(conn, alert_id=alert_id, tenant=tenant) is None:
            return None
        row = await (await conn.execute(_ACK, (alert_id, actor))).fetchone()
        if row is not None:
            await audit.record(
                conn,
                actor=actor,
                action="ack",
                entity="alert",
                entity_id=str(alert_id),
                before=None,
                after={"acked_by": actor, "acked_at": row[0]},
            )
    return await get_alert(conn, alert_id=alert_id, tenant=tenant)
