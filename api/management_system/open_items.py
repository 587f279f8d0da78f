"""What the park's carbon office has open: obligations due (6.6), audit findings (9.3),
reduction measures (6.2.2, 6.3) and the outputs of management reviews (9.5.2).

Read through the register catalogue (``catalogue.find``) and the ticket list, so the page
works with whatever registers this platform keeps: a register it does not keep yet is a section
with ``available: false`` ("none" on the page), and shows its records once its ``SPEC`` joins
the catalogue. Tenancy: the caller's (``tenant``, as every register read).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api.management_system.models import OpenItem, OpenSection
from api.registers import service as registers
from api.registers.catalogue import find
from api.registers.spec import RegisterSpec

MAX_ITEMS = 200  # per section: the page lists what needs attention, the registers hold all

_AUDIT_TICKETS = """
SELECT t.ticket_id, t.title, t.state, t.enterprise_id, t.source_id,
       (SELECT min(a.due_at) FROM ticket_action a
        WHERE a.ticket_id = t.ticket_id AND a.done_at IS NULL) AS due_at
FROM ticket t
WHERE t.source_kind = 'internal_audit' AND t.state NOT IN ('closed', 'dismissed')
  AND (%(tenant)s::text IS NULL OR t.enterprise_id = %(tenant)s)
ORDER BY t.ticket_id DESC LIMIT %(limit)s
"""
_REVIEW_OUTPUTS = """
SELECT o.record_id, o.review_id, o.title, o.due_on, o.enterprise_id, t.state AS ticket_state
FROM management_review_output o
LEFT JOIN ticket t ON t.ticket_id = o.ticket_id
WHERE o.status = 'active' AND (%(tenant)s::text IS NULL OR o.enterprise_id = %(tenant)s)
  AND (o.ticket_id IS NULL OR t.state NOT IN ('closed', 'dismissed'))
ORDER BY o.due_on, o.record_id LIMIT %(limit)s
"""


async def register_items(
    conn: AsyncConnection[Any], spec: RegisterSpec, *, tenant: str | None
) -> list[OpenItem]:
    """The register's active records, soonest reminding date first."""
    due = spec.reminders[0].column if spec.reminders else None
    rows = [
        r for r in await registers.export_rows(conn, spec, tenant=tenant) if r["status"] == "active"
    ]
    rows.sort(key=lambda r: (r[due] is None, r[due] or 0) if due else (False, 0))
    return [
        OpenItem(
            record_id=str(r["record_id"]),
            title=str(r[spec.title_column]),
            due_on=r[due] if due else None,
            state=r["status"],
            enterprise_id=r["enterprise_id"],
            source=spec.name,
        )
        for r in rows[:MAX_ITEMS]
    ]


async def _register_section(
    conn: AsyncConnection[Any],
    *,
    key: str,
    title: str,
    clause: str,
    names: Sequence[str],
    tenant: str | None,
) -> OpenSection:
    specs = [s for s in (find(n) for n in names) if s is not None]
    items: list[OpenItem] = []
    for spec in specs:
        items += await register_items(conn, spec, tenant=tenant)
    return OpenSection(key=key, title=title, clause=clause, available=bool(specs), items=items)


async def _rows(conn: AsyncConnection[Any], query: str, tenant: str | None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, {"tenant": tenant, "limit": MAX_ITEMS})
        return await cur.fetchall()


async def sections(conn: AsyncConnection[Any], *, tenant: str | None) -> list[OpenSection]:
    obligations = await _register_section(
        conn,
        key="obligations_due",
        title="Compliance obligations due",
        clause="6.6, 9.2",
        names=("obligation",),
        tenant=tenant,
    )
    audits = await _register_section(
        conn,
        key="audit_findings",
        title="Audit findings",
        clause="9.3, 10.1",
        names=("internal_audit",),
        tenant=tenant,
    )
    # A finding that is a nonconformity is a ticket whatever register raised it.
    audits.items += [
        OpenItem(
            record_id=str(r["ticket_id"]),
            title=r["title"],
            due_on=r["due_at"].date() if r["due_at"] else None,
            state=r["state"],
            enterprise_id=r["enterprise_id"],
            source="ticket",
        )
        for r in await _rows(conn, _AUDIT_TICKETS, tenant)
    ]
    audits.available = True  # the ticket list always answers
    measures = await _register_section(
        conn,
        key="measures",
        title="Reduction measures",
        clause="6.2.2, 6.3",
        names=("measure",),
        tenant=tenant,
    )
    outputs = OpenSection(
        key="review_outputs",
        title="Management review outputs",
        clause="9.5.2",
        available=True,
        items=[
            OpenItem(
                record_id=str(r["record_id"]),
                title=f"{r['title']} (management review {r['review_id']})",
                due_on=r["due_on"],
                state=r["ticket_state"] or "recorded",
                enterprise_id=r["enterprise_id"],
                source="review_output",
            )
            for r in await _rows(conn, _REVIEW_OUTPUTS, tenant)
        ],
    )
    return [obligations, audits, measures, outputs]
