"""A register record that is a nonconformity opens its ticket (clauses 9.2, 9.3, 10.1): once,
through ``api.tickets.nonconformity.open_nonconformity``, in the transaction that writes the
record, and the record keeps the ticket's id (its ``ticket_id`` column, which the system sets).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from api import audit
from api.live import LiveEvent
from api.tickets.enums import SourceKind
from api.tickets.nonconformity import open_nonconformity

TITLE_MAX = 200


async def open_for(
    conn: AsyncConnection[Any],
    *,
    register: str,
    table: str,
    row: dict[str, Any],
    source_kind: SourceKind,
    title: str,
    description: str,
    actor: str,
    events: list[LiveEvent],
) -> dict[str, Any]:
    """Open the ticket of ``register``'s record (a row of ``table``) unless it has one: the
    record with its ``ticket_id``. Call inside the record's write transaction."""
    if row["ticket_id"] is not None:
        return row
    ticket, opened = await open_nonconformity(
        conn,
        source_kind=source_kind,
        source_id=str(row["record_id"]),
        park_id=row["park_id"],
        enterprise_id=row["enterprise_id"],
        title=title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…",
        description=description,
        actor=actor,
    )
    query = sql.SQL("UPDATE {} SET ticket_id = %s WHERE record_id = %s RETURNING *").format(
        sql.Identifier(table)
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, (ticket["ticket_id"], row["record_id"]))
        linked = await cur.fetchone()
    assert linked is not None
    await audit.record(
        conn,
        actor=actor,
        action="open_ticket",
        entity=register,
        entity_id=str(row["record_id"]),
        before={"ticket_id": None},
        after={"ticket_id": ticket["ticket_id"]},
    )
    events.extend(opened)
    return linked
