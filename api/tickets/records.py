"""A ticket's records beside its state: corrective actions (10.1 c), comments and links.

Each write locks the ticket, checks the caller may see it (None otherwise: the route answers
404), appends its history entry and audit record in the same transaction, and returns the row
written with the live events to publish after the commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api import audit
from api.live import LiveEvent
from api.tickets import flows
from api.tickets.enums import HistoryEvent, TicketKind, TicketState
from api.tickets.history import append as history
from api.tickets.service import NotAllowedNow, get_ticket

Written = tuple[dict[str, Any], list[LiveEvent]] | None

_ADD_ACTION = """
INSERT INTO ticket_action (ticket_id, description, owner, due_at, created_by)
VALUES (%s, %s, %s, %s, %s)
RETURNING *, done_at IS NULL AND due_at < now() AS overdue
"""
_ACTION = """
SELECT *, done_at IS NULL AND due_at < now() AS overdue FROM ticket_action
WHERE ticket_id = %s AND action_id = %s FOR UPDATE
"""
_DONE = """
UPDATE ticket_action SET done_at = now(), done_by = %s, done_note = %s
WHERE action_id = %s
RETURNING *, false AS overdue
"""
_COMMENT = "INSERT INTO ticket_comment (ticket_id, author, body) VALUES (%s, %s, %s) RETURNING *"
_LINK = (
    "INSERT INTO ticket_link (ticket_id, url, title, added_by) VALUES (%s, %s, %s, %s) RETURNING *"
)


async def _one(conn: AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        row = await cur.fetchone()
    assert row is not None
    return row


async def add_action(
    conn: AsyncConnection[Any],
    *,
    ticket_id: int,
    tenant: str | None,
    description: str,
    owner: str,
    due_at: datetime,
    actor: str,
) -> Written:
    """Decide one corrective action, with its owner and due date, once the cause is known."""
    async with conn.transaction():
        ticket = await get_ticket(conn, ticket_id=ticket_id, tenant=tenant, lock=True)
        if ticket is None:
            return None
        state = TicketState(ticket["state"])
        if state not in flows.ACTION_STATES:
            raise NotAllowedNow(
                f"actions are added in states {sorted(flows.ACTION_STATES)}, the ticket is {state}",
                state,
                TicketKind(ticket["kind"]),
            )
        action = await _one(conn, _ADD_ACTION, (ticket_id, description, owner, due_at, actor))
        detail = {"action_id": action["action_id"], "owner": owner, "due_at": due_at.isoformat()}
        event = await history(
            conn, ticket=ticket, event=HistoryEvent.ACTION_ADDED, actor=actor, detail=detail
        )
        await audit.record(
            conn,
            actor=actor,
            action="add_action",
            entity="ticket",
            entity_id=str(ticket_id),
            before=None,
            after={**detail, "description": description},
        )
    return action, [event]


async def complete_action(
    conn: AsyncConnection[Any],
    *,
    ticket_id: int,
    action_id: int,
    tenant: str | None,
    note: str | None,
    actor: str,
) -> Written:
    """Mark an action done; marking it again changes nothing (the first completion stands)."""
    async with conn.transaction():
        ticket = await get_ticket(conn, ticket_id=ticket_id, tenant=tenant, lock=True)
        if ticket is None:
            return None
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_ACTION, (ticket_id, action_id))
            action = await cur.fetchone()
        if action is None:
            return None
        if action["done_at"] is not None:
            return action, []
        action = await _one(conn, _DONE, (actor, note, action_id))
        detail = {"action_id": action_id, "note": note}
        event = await history(
            conn, ticket=ticket, event=HistoryEvent.ACTION_DONE, actor=actor, detail=detail
        )
        await audit.record(
            conn,
            actor=actor,
            action="complete_action",
            entity="ticket",
            entity_id=str(ticket_id),
            before={"action_id": action_id, "done": False},
            after={**detail, "done": True},
        )
    return action, [event]


async def add_comment(
    conn: AsyncConnection[Any], *, ticket_id: int, tenant: str | None, body: str, actor: str
) -> Written:
    async with conn.transaction():
        ticket = await get_ticket(conn, ticket_id=ticket_id, tenant=tenant, lock=True)
        if ticket is None:
            return None
        comment = await _one(conn, _COMMENT, (ticket_id, actor, body))
        event = await history(
            conn,
            ticket=ticket,
            event=HistoryEvent.COMMENT_ADDED,
            actor=actor,
            detail={"comment_id": comment["comment_id"]},
        )
    return comment, [event]


async def add_link(
    conn: AsyncConnection[Any],
    *,
    ticket_id: int,
    tenant: str | None,
    url: str,
    title: str,
    actor: str,
) -> Written:
    """Attach evidence as a link (http or https, checked by the model and the table)."""
    async with conn.transaction():
        ticket = await get_ticket(conn, ticket_id=ticket_id, tenant=tenant, lock=True)
        if ticket is None:
            return None
        link = await _one(conn, _LINK, (ticket_id, url, title, actor))
        event = await history(
            conn,
            ticket=ticket,
            event=HistoryEvent.LINK_ADDED,
            actor=actor,
            detail={"link_id": link["link_id"], "url": url},
        )
    return link, [event]
