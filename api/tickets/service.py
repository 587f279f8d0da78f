"""Ticket reads and writes (clauses 9.4, 10.1): lists, details, transitions, actions, comments,
links. Each write takes the ticket's row lock, writes its history entry and audit record in the
same transaction, and returns the live events to publish once it has committed.

``tenant`` is the caller's enterprise (None for park-wide keys); a ticket of another enterprise,
or a park-wide one for an enterprise key, reads as absent, so routes answer 404.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from api import audit
from api.live import LiveEvent
from api.tickets import flows
from api.tickets.alert_service import in_park
from api.tickets.enums import HistoryEvent, SourceKind, TicketKind, TicketState, WebhookEvent
from api.tickets.history import append as history
from api.webhooks import outbox

_OVERDUE = """EXISTS (SELECT 1 FROM ticket_action x WHERE x.ticket_id = t.ticket_id
                  AND x.done_at IS NULL AND x.due_at < now())"""
_TENANT = "(%(tenant)s::text IS NULL OR t.enterprise_id = %(tenant)s)"
_LIST = f"""
SELECT t.*, {_OVERDUE} AS overdue FROM ticket t
WHERE {_TENANT}
  AND (%(state)s::text IS NULL OR t.state = %(state)s)
  AND (%(rule)s::text IS NULL OR t.rule = %(rule)s)
  AND (%(enterprise)s::text IS NULL OR t.enterprise_id = %(enterprise)s)
  AND {in_park("t")}
  AND (%(subject_kind)s::text IS NULL OR t.subject_kind = %(subject_kind)s)
  AND (%(subject_id)s::text IS NULL OR t.subject_id = %(subject_id)s)
  AND (%(kind)s::text IS NULL OR t.kind = %(kind)s)
  AND (%(source_kind)s::text IS NULL OR t.source_kind = %(source_kind)s)
  AND (%(source_id)s::text IS NULL OR t.source_id = %(source_id)s)
  AND (%(overdue)s::boolean IS NULL OR {_OVERDUE} = %(overdue)s)
  AND (%(after)s::bigint IS NULL OR t.ticket_id < %(after)s)
ORDER BY t.ticket_id DESC
LIMIT %(limit)s
"""  # noqa: S608 - built from constants only; every value is a parameter
_ONE = f"SELECT t.*, {_OVERDUE} AS overdue FROM ticket t WHERE {_TENANT} AND t.ticket_id = %(id)s"  # noqa: S608
_LOCK = _ONE + " FOR UPDATE OF t"
_CHILDREN = {
    "occurrences": "SELECT * FROM ticket_occurrence WHERE ticket_id = %s ORDER BY occurrence_id",
    "actions": "SELECT *, done_at IS NULL AND due_at < now() AS overdue FROM ticket_action"
    " WHERE ticket_id = %s ORDER BY action_id",
    "comments": "SELECT * FROM ticket_comment WHERE ticket_id = %s ORDER BY comment_id",
    "links": "SELECT * FROM ticket_link WHERE ticket_id = %s ORDER BY link_id",
    "history": "SELECT * FROM ticket_history WHERE ticket_id = %s ORDER BY history_id",
}
_WRITABLE = frozenset(
    {
        "state",
        "containment",
        "dismissal_reason",
        "cause_category",
        "root_cause",
        "similar_nonconformities",
        "effectiveness_review",
        "effectiveness_failures",
        *(f"{s.value}_at" for s in TicketState if s is not TicketState.OPEN),
    }
)


class NotAllowedNow(Exception):  # noqa: N818 - reads as the condition it reports
    """The ticket's state does not allow this change; ``allowed`` lists its transitions."""

    def __init__(self, detail: str, state: TicketState, kind: TicketKind) -> None:
        super().__init__(detail)
        self.allowed = flows.allowed(state, kind)


async def _rows(conn: AsyncConnection[Any], query: str, params: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def list_tickets(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    state: TicketState | None = None,
    rule: str | None = None,
    enterprise_id: str | None = None,
    park_id: str | None = None,
    subject_kind: str | None = None,
    subject_id: str | None = None,
    kind: TicketKind | None = None,
    source_kind: SourceKind | None = None,
    source_id: str | None = None,
    overdue: bool | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of tickets, newest first, and the cursor (a ticket id) of the next page."""
    rows = await _rows(
        conn,
        _LIST,
        {
            "tenant": tenant,
            "state": state.value if state else None,
            "rule": rule,
            "enterprise": enterprise_id,
            "park": park_id,
            "subject_kind": subject_kind,
            "subject_id": subject_id,
            "kind": kind.value if kind else None,
            "source_kind": source_kind.value if source_kind else None,
            "source_id": source_id,
            "overdue": overdue,
            "after": after,
            "limit": limit + 1,
        },
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1]["ticket_id"] if more else None


async def get_ticket(
    conn: AsyncConnection[Any], *, ticket_id: int, tenant: str | None, lock: bool = False
) -> dict[str, Any] | None:
    found = await _rows(conn, _LOCK if lock else _ONE, {"tenant": tenant, "id": ticket_id})
    return found[0] if found else None


async def ticket_detail(
    conn: AsyncConnection[Any], *, ticket_id: int, tenant: str | None
) -> dict[str, Any] | None:
    """The ticket with its occurrences, actions, comments, links and history."""
    async with conn.transaction():  # one snapshot for the ticket and its parts
        ticket = await get_ticket(conn, ticket_id=ticket_id, tenant=tenant)
        if ticket is None:
            return None
        for name, query in _CHILDREN.items():
            ticket[name] = await _rows(conn, query, (ticket_id,))
    return ticket


async def ticket_history(
    conn: AsyncConnection[Any], *, ticket_id: int, tenant: str | None
) -> list[dict[str, Any]] | None:
    if await get_ticket(conn, ticket_id=ticket_id, tenant=tenant) is None:
        return None
    return await _rows(conn, _CHILDREN["history"], (ticket_id,))


async def transition(
    conn: AsyncConnection[Any],
    *,
    ticket_id: int,
    tenant: str | None,
    request: flows.TransitionRequest,
    actor: str,
) -> tuple[dict[str, Any], list[LiveEvent]] | None:
    """Apply one transition of the workflow (``flows.transitions``) with its history entry,
    audit record and ``ticket.transitioned`` webhook event, or raise the ``flows`` error that
    says why it cannot be made. None: no such ticket for this caller."""
    async with conn.transaction():
        ticket = await get_ticket(conn, ticket_id=ticket_id, tenant=tenant, lock=True)
        if ticket is None:
            return None
        pending = await conn.execute(
            "SELECT action_id FROM ticket_action WHERE ticket_id = %s AND done_at IS NULL"
            " ORDER BY action_id",
            (ticket_id,),
        )
        now = await (await conn.execute("SELECT now()")).fetchone()
        assert now is not None
        facts = flows.TicketFacts(
            state=TicketState(ticket["state"]),
            kind=TicketKind(ticket["kind"]),
            pending_action_ids=tuple(r[0] for r in await pending.fetchall()),
            effectiveness_failures=ticket["effectiveness_failures"],
        )
        change = flows.plan(facts, request, at=now[0])
        assert set(change.columns) <= _WRITABLE, change.columns
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in change.columns
        )
        await conn.execute(
            sql.SQL("UPDATE ticket SET {}, updated_at = now() WHERE ticket_id = {}").format(
                assignments, sql.Placeholder("ticket_id")
            ),
            {**change.columns, "ticket_id": ticket_id},
        )
        event = await history(
            conn,
            ticket=ticket,
            event=HistoryEvent.TRANSITION,
            actor=actor,
            from_state=change.previous.value,
            to_state=change.target.value,
            detail=change.detail,
        )
        before = {"state": change.previous.value}
        await audit.record(
            conn,
            actor=actor,
            action="transition",
            entity="ticket",
            entity_id=str(ticket_id),
            before=before,
            after={"state": change.target.value, **change.detail},
        )
        await outbox.enqueue(
            conn,
            event_type=WebhookEvent.TICKET_TRANSITIONED.value,
            payload=event.data,
            enterprise_id=ticket["enterprise_id"],
        )
        updated = await get_ticket(conn, ticket_id=ticket_id, tenant=tenant)
    assert updated is not None
    return updated, [event]
