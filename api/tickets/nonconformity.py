"""Opening a nonconformity from any source (clauses 9.4, 10.1): the one entry point.

``POST /v1/tickets`` and every register that finds a nonconformity (an internal audit finding,
9.3; a failed compliance evaluation, 9.2; a complaint; a management review output, 9.5; an
observation) call ``open_nonconformity`` inside their own transaction, so the finding and its
ticket are stored together or not at all::

    from api.tickets.enums import SourceKind, TicketKind
    from api.tickets.nonconformity import open_nonconformity

    async with conn.transaction():
        finding = ...  # the register's own write
        ticket, events = await open_nonconformity(
            conn,
            source_kind=SourceKind.INTERNAL_AUDIT,
            source_id=str(finding["record_id"]),
            park_id=finding["park_id"],
            enterprise_id=finding["enterprise_id"],
            title="Meter calibration records incomplete",
            description="...",
            actor=who.actor,
        )
    for event in events:  # after the commit
        state.hub.publish(event)

The ticket starts ``open`` and moves through ``flows`` like an alert's (a ``preventive`` one
skips containment). Its subject is the enterprise, or the park for a park-level finding, so
reports and tenancy treat it like any other ticket. It writes the ``opened`` history entry, the
audit record and the ``ticket.opened`` webhook event in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api import audit
from api.live import LiveEvent
from api.tickets.enums import HistoryEvent, SourceKind, TicketKind, TicketState, WebhookEvent
from api.tickets.history import append as history
from api.webhooks import outbox

_OPEN = """
INSERT INTO ticket (subject_kind, subject_id, enterprise_id, title, description, kind,
                    source_kind, source_id, opened_at, updated_at)
VALUES (%(subject_kind)s, %(subject_id)s, %(enterprise_id)s, %(title)s, %(description)s,
        %(kind)s, %(source_kind)s, %(source_id)s, now(), now())
RETURNING *
"""


class UnknownOwnerError(LookupError):
    """The park or enterprise named does not exist, or the enterprise is not in the park."""


async def open_nonconformity(
    conn: AsyncConnection[Any],
    *,
    source_kind: SourceKind,
    source_id: str | None,
    park_id: str,
    enterprise_id: str | None,
    title: str,
    description: str,
    actor: str,
    kind: TicketKind = TicketKind.CORRECTIVE,
) -> tuple[dict[str, Any], list[LiveEvent]]:
    """Open one ticket for a nonconformity found by ``source_kind`` in its record
    ``source_id`` (required but for observations); the ticket row and the live events to
    publish once the caller's transaction has committed. Alerts open their tickets through the
    alerts consumer, never here (ValueError)."""
    if source_kind is SourceKind.ALERT:
        raise ValueError("alert tickets are opened by the alerts consumer")
    if source_id is None and source_kind is not SourceKind.OBSERVATION:
        raise ValueError(f"a nonconformity from {source_kind} names its source record")
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        if enterprise_id is not None:
            await cur.execute(
                "SELECT 1 FROM enterprise WHERE enterprise_id = %s AND park_id = %s",
                (enterprise_id, park_id),
            )
        else:
            await cur.execute("SELECT 1 FROM park WHERE park_id = %s", (park_id,))
        if await cur.fetchone() is None:
            raise UnknownOwnerError(f"no enterprise {enterprise_id!r} in park {park_id!r}")
        source = {"kind": kind.value, "source_kind": source_kind.value, "source_id": source_id}
        await cur.execute(
            _OPEN,
            {
                **source,
                "subject_kind": "park" if enterprise_id is None else "enterprise",
                "subject_id": park_id if enterprise_id is None else enterprise_id,
                "enterprise_id": enterprise_id,
                "title": title,
                "description": description,
            },
        )
        ticket = await cur.fetchone()
        assert ticket is not None
        event = await history(
            conn,
            ticket=ticket,
            event=HistoryEvent.OPENED,
            actor=actor,
            to_state=TicketState.OPEN.value,
            detail=source,
        )
        await audit.record(
            conn,
            actor=actor,
            action="open",
            entity="ticket",
            entity_id=str(ticket["ticket_id"]),
            before=None,
            after={**source, "title": title, "description": description, "park_id": park_id},
        )
        await outbox.enqueue(
            conn,
            event_type=WebhookEvent.TICKET_OPENED.value,
            payload={
                "ticket_id": ticket["ticket_id"],
                **source,
                "title": title,
                "state": ticket["state"],
                "subject_kind": ticket["subject_kind"],
                "subject_id": ticket["subject_id"],
                "enterprise_id": enterprise_id,
            },
            enterprise_id=enterprise_id,
        )
    return ticket, [event]
