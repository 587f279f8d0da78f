"""The periodic overdue check of corrective actions (clause 10.1 c: actions carried out in time).

Every ``CHECK_INTERVAL_S`` an action past its due date and not done is marked notified and
gets one ``ticket.overdue`` webhook event and one history entry, in one transaction: each
overdue action is announced once, whatever the number of API processes (rows are claimed with
SKIP LOCKED) or restarts. A database outage is logged and retried on the next round.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout

from api.live import LiveEvent
from api.state import AppState
from api.tickets.enums import OVERDUE_ACTOR, HistoryEvent, WebhookEvent
from api.tickets.history import append as history
from api.webhooks import outbox

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 2.0  # an UPDATE on a partial index: cheap enough to run often

_CLAIM = """
UPDATE ticket_action a SET overdue_notified_at = now()
WHERE a.action_id IN (
    SELECT action_id FROM ticket_action
    WHERE done_at IS NULL AND overdue_notified_at IS NULL AND due_at < now()
    ORDER BY due_at LIMIT 500
    FOR UPDATE SKIP LOCKED)
RETURNING a.action_id, a.ticket_id, a.description, a.owner, a.due_at
"""
_TICKET = "SELECT * FROM ticket WHERE ticket_id = %s"


async def run(state: AppState) -> None:
    while True:
        try:
            async with state.pool.connection(timeout=10) as conn:
                events = await check(conn)
            for event in events:
                state.hub.publish(event)
        except (psycopg.OperationalError, PoolTimeout, OSError) as exc:
            log.warning("overdue check: %r; trying again in %.0f s", exc, CHECK_INTERVAL_S)
        await asyncio.sleep(CHECK_INTERVAL_S)


async def check(conn: AsyncConnection[Any]) -> list[LiveEvent]:
    """Announce every newly overdue action once; the live events to publish after commit."""
    events: list[LiveEvent] = []
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_CLAIM)
        actions = await cur.fetchall()
        for action in actions:
            await cur.execute(_TICKET, (action["ticket_id"],))
            ticket = await cur.fetchone()
            assert ticket is not None
            payload = {
                "ticket_id": ticket["ticket_id"],
                "ticket_state": ticket["state"],
                "rule": ticket["rule"],
                "subject_kind": ticket["subject_kind"],
                "subject_id": ticket["subject_id"],
                "enterprise_id": ticket["enterprise_id"],
                "action_id": action["action_id"],
                "description": action["description"],
                "owner": action["owner"],
                "due_at": action["due_at"].isoformat(),
            }
            await outbox.enqueue(
                conn,
                event_type=WebhookEvent.TICKET_OVERDUE.value,
                payload=payload,
                enterprise_id=ticket["enterprise_id"],
            )
            events.append(
                await history(
                    conn,
                    ticket=ticket,
                    event=HistoryEvent.ACTION_OVERDUE,
                    actor=OVERDUE_ACTOR,
                    detail={k: payload[k] for k in ("action_id", "owner", "due_at")},
                )
            )
    return events
