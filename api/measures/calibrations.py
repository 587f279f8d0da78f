"""The calibration and maintenance log of meters (clause 9.1 c, Annex A item 9).

A passing or adjusted calibration or verification moves the registry's ``meter.calibration_due``
to the event's ``next_due`` through the registry's own writer (``api.registry.service.patch``:
the merged meter row is checked and the change audited), unless a later passing event is
already logged (a certificate entered late never moves the due date back). The worker reloads
the registry when a meter changes, so its CALIBRATION_OVERDUE flag follows the new date. The
event keeps the due date before and after. Events are append-only.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from api import audit
from api.errors import ApiError
from api.measures.enums import CERTIFYING, CalibrationKind, CalibrationResult
from api.measures.models import CalibrationIn
from api.registry import service as registry

Row = dict[str, Any]
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


async def record(
    conn: AsyncConnection[Any],
    *,
    meter_id: str,
    body: CalibrationIn,
    tenant: str | None,
    actor: str,
) -> Row:
    """Log one event, and move the meter's calibration_due when it is the latest pass."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT enterprise_id, calibration_due, installed_at FROM meter WHERE meter_id = %s"
            " FOR UPDATE",
            (meter_id,),
        )
        meter = await cur.fetchone()
        if meter is None or tenant not in (None, meter[0]):
            raise ApiError(404, f"no meter {meter_id!r}")
        due_before = meter[1]
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
        row = body.model_dump() | {
            "meter_id": meter_id,
            "calibration_due_before": due_before,
            "calibration_due_after": due_after,
            "created_by": actor,
        }
        query = sql.SQL("INSERT INTO meter_calibration ({}) VALUES ({}) RETURNING *").format(
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        )
        [stored] = await _rows(conn, query, list(row.values()))
        stored["enterprise_id"] = meter[0]
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity="meter_calibration",
            entity_id=str(stored["event_id"]),
            before=None,
            after=stored,
        )
    return stored


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
