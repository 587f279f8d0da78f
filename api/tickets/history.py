"""The ticket history: one append-only row per thing that happened, with actor and time (7.3).

Every write to a ticket goes through ``append``, which also returns the live-feed event to
publish once the transaction commits, so the feed shows exactly what the history holds.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from api.live import LiveEvent
from api.tickets.enums import HistoryEvent

_APPEND = """
INSERT INTO ticket_history (ticket_id, actor, event, from_state, to_state, detail)
VALUES (%s, %s, %s, %s, %s, %s)
RETURNING history_id, at
"""


async def append(
    conn: AsyncConnection[Any],
    *,
    ticket: dict[str, Any],
    event: HistoryEvent,
    actor: str,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> LiveEvent:
    """Record one event of ``ticket`` (a ticket row) and return its live-feed event."""
    detail = detail or {}
    row = await (
        await conn.execute(
            _APPEND,
            (ticket["ticket_id"], actor, event.value, from_state, to_state, Jsonb(detail)),
        )
    ).fetchone()
    assert row is not None
    data = {
        "ticket_id": ticket["ticket_id"],
        "history_id": row[0],
        "at": row[1].isoformat(),
        "event": event.value,
        "actor": actor,
        "from_state": from_state,
        "to_state": to_state,
        "state": to_state or ticket["state"],
        "rule": ticket["rule"],
        "subject_kind": ticket["subject_kind"],
        "subject_id": ticket["subject_id"],
        "enterprise_id": ticket["enterprise_id"],  # None: park-wide (e.g. an unknown meter)
        "detail": detail,
    }
    return LiveEvent("ticket", ticket["enterprise_id"], data)
