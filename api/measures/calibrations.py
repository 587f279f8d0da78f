"""The calibration and maintenance log of meters (clause 9.1 c, Annex A item 9).

A passing or adjusted calibration or verification moves the registry's ``meter.calibration_due``
to the event's ``next_due`` through the registry's own writer (``api.registry.service.patch``:
the merged meter row is checked and the change audited), unless a later passing event is
already logged (a certificate entered late never moves the due date back). The worker reloads
the registry when a meter changes, so its CALIBRATION_OVERDUE flag follows the new date. The
event keeps the due date before and after. Events are append-only.

A failed event is a nonconformity (9.1 c: equipment found unfit calls for action on it and on
the results it measured): it opens a ticket through ``api.tickets.nonconformity`` in the event's
transaction, as an ``observation`` - a finding in the records, no audit or evaluation behind it
(the closest of the ticket source kinds) - with the event id as its source.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from api import audit
from api.errors import ApiError
from api.live import LiveEvent
from api.measures.enums import CERTIFYING, CalibrationKind, CalibrationResult
from api.measures.models import CalibrationIn
from api.registry import service as registry
from api.tickets.enums import SourceKind
from api.tickets.nonconformity import open_nonconformity

Row = dict[str, Any]
_DESCRIPTION_MAX = 10_000  # the ticket's description column
_LIST = """
SELECT c.*, m.enterprise_id FROM meter_calibration c JOIN meter m USING (meter_id)
WHERE (%(tenant)s::text IS NULL OR m.enterprise_id = %(tenant)s)
  AND (%(meter)s::text IS NULL OR c.meter_id = %(meter)s)
  AND (%(enterprise)s::text IS NULL OR m.enterprise_id = %(enterprise)s)
  AND (%(result)s::text IS NULL OR c.result = %(result)s)
  AND (%(after)s::bigint IS NULL OR c.event_id < %(after)s)
ORDER BY c.event_id DESC
LIMIT %(limit)s
"""
# A later passing certificate already set the due date: an older one leaves it.
_LATER = """
SELECT 1 FROM meter_calibration
WHERE meter_id = %s AND kind = ANY(%s) AND result <> 'fail' AND performed_on > %s
"""


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


def moves_due_date(kind: CalibrationKind, result: CalibrationResult) -> bool:
    """Whether an event sets the meter's next calibration due date."""
    return kind in CERTIFYING and result is not CalibrationResult.FAIL


async def meter_owner(conn: AsyncConnection[Any], *, meter_id: str, tenant: str | None) -> Row:
    """The meter's enterprise and park (``lock``: its row locked); another tenant's meter is
    404, as if it did not exist."""
    found = await _rows(
        conn,
        "SELECT m.enterprise_id, e.park_id, m.calibration_due FROM meter m"
        " JOIN enterprise e USING (enterprise_id) WHERE m.meter_id = %s FOR UPDATE OF m",
        (meter_id,),
    )
    if not found or tenant not in (None, found[0]["enterprise_id"]):
        raise ApiError(404, f"no meter {meter_id!r}")
    return found[0]


async def record(
    conn: AsyncConnection[Any],
    *,
    meter_id: str,
    body: CalibrationIn,
    tenant: str | None,
    actor: str,
) -> tuple[Row, list[LiveEvent]]:
    """Log one event, move the meter's calibration_due when it is the latest pass, and open a
    nonconformity when it failed: the stored event and the live events to publish once the
    caller's transaction has committed."""
    events: list[LiveEvent] = []
    async with conn.transaction():
        meter = await meter_owner(conn, meter_id=meter_id, tenant=tenant)
        due_before = meter["calibration_due"]
        due_after = due_before
        if moves_due_date(body.kind, body.result):
            later = await _rows(
                conn, _LATER, (meter_id, [k.value for k in CERTIFYING], body.performed_on)
            )
            if not later:
                await registry.patch(
                    conn,
                    table="meter",
                    ident=meter_id,
                    changes={"calibration_due": body.next_due},
                    actor=actor,
                    visible=lambda r: tenant in (None, r["enterprise_id"]),
                    reason=f"{body.kind} {body.result}: certificate {body.certificate_no}"
                    f" ({body.laboratory})",
                )
                due_after = body.next_due
        cur = await conn.execute(
            "SELECT nextval(pg_get_serial_sequence('meter_calibration', 'event_id'))"
        )
        allocated = await cur.fetchone()
        assert allocated is not None
        event_id = int(allocated[0])
        ticket_id = None
        if body.result is CalibrationResult.FAIL:
            ticket, events = await open_nonconformity(
                conn,
                source_kind=SourceKind.OBSERVATION,
                source_id=str(event_id),
                park_id=meter["park_id"],
                enterprise_id=meter["enterprise_id"],
                title=f"Meter {meter_id} failed its {body.kind} on {body.performed_on}",
                description=_failure(meter_id, body),
                actor=actor,
            )
            ticket_id = ticket["ticket_id"]
        row = body.model_dump() | {
            "event_id": event_id,
            "meter_id": meter_id,
            "calibration_due_before": due_before,
            "calibration_due_after": due_after,
            "ticket_id": ticket_id,
            "created_by": actor,
        }
        query = sql.SQL("INSERT INTO meter_calibration ({}) VALUES ({}) RETURNING *").format(
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        )
        [stored] = await _rows(conn, query, list(row.values()))
        stored["enterprise_id"] = meter["enterprise_id"]
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity="meter_calibration",
            entity_id=str(stored["event_id"]),
            before=None,
            after=stored,
        )
    return stored, events


def _failure(meter_id: str, body: CalibrationIn) -> str:
    """The nonconformity's description: what failed, and what clause 9.1 c asks next."""
    parts = [f"{body.kind} of meter {meter_id} on {body.performed_on}: {body.result}."]
    if body.certificate_no is not None:
        parts.append(f"Certificate {body.certificate_no} ({body.laboratory}).")
    parts.append(
        "Decide whether the readings since the last passing calibration are still valid and"
        " what to do with the meter (clause 9.1 c)."
    )
    if body.note is not None:
        parts.append(f"Note: {body.note}")
    # The ticket holds 10 000 characters; a long note is cut, the event keeps it whole.
    text = " ".join(parts)
    return text if len(text) <= _DESCRIPTION_MAX else text[: _DESCRIPTION_MAX - 1] + "…"


async def list_events(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    meter_id: str | None = None,
    enterprise_id: str | None = None,
    result: CalibrationResult | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[Row], int | None]:
    found = await _rows(
        conn,
        _LIST,
        {
            "tenant": tenant,
            "meter": meter_id,
            "enterprise": enterprise_id,
            "result": result.value if result else None,
            "after": after,
            "limit": limit + 1,
        },
    )
    page = found[:limit]
    return page, page[-1]["event_id"] if len(found) > limit else None
