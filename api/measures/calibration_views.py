"""``/v1/meters/{meter_id}/calibrations`` and ``/v1/calibrations``: the calibration and
maintenance log of meters (clause 9.1 c, Annex A item 9). Admins log events (registry:write);
a passing calibration or verification moves the meter's calibration_due. Readers see their
tenancy's meters' events only (another's meter is 404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import DbDep, StateDep, require
from api.errors import problems
from api.keys import Principal, Scope
from api.measures import calibrations as service
from api.measures import sheets
from api.measures.enums import CalibrationResult
from api.measures.models import CalibrationIn, CalibrationOut, CalibrationPage, Id
from api.measures.spec import CALIBRATIONS
from api.registers import service as registers
from api.registers.views import (
    EXPORT_RESPONSE,
    IMPORT_BODY,
    ImportResult,
    export_response,
    import_file,
)
from api.registry.common import not_found

router = APIRouter(tags=["calibrations"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]
Cursor = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="`next_cursor`")]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.post(
    "/v1/meters/{meter_id}/calibrations",
    status_code=201,
    response_model=CalibrationOut,
    responses=problems(400, 401, 403, 404, 413, 422, 503),
)
async def record_calibration(
    meter_id: Id, body: CalibrationIn, conn: DbDep, state: StateDep, who: Writer
) -> CalibrationOut:
    """Log a calibration, verification, repair or replacement check. A calibration or
    verification names its certificate and laboratory; passing or adjusted, it names next_due,
    which becomes the meter's calibration_due (unless a later pass is logged already). A failed
    event opens a nonconformity ticket (``ticket_id``; webhook ``ticket.opened``)."""
    row, events = await service.record(
        conn, meter_id=meter_id, body=body, tenant=who.enterprise_id, actor=who.actor
    )
    for event in events:  # committed: the new ticket goes to the live feed
        state.hub.publish(event)
    return CalibrationOut.model_validate(row)


@router.get(
    "/v1/meters/{meter_id}/calibrations",
    response_model=CalibrationPage,
    responses=problems(401, 403, 404, 422, 503),
)
async def meter_calibrations(
    meter_id: Id, conn: DbDep, who: Reader, cursor: Cursor = None, limit: Limit = 100
) -> CalibrationPage:
    """One meter's events, newest first."""
    cur = await conn.execute("SELECT enterprise_id FROM meter WHERE meter_id = %s", (meter_id,))
    found = await cur.fetchone()
    if found is None or not who.sees(found[0]):
        raise not_found("meter", meter_id)
    rows, nxt = await service.list_events(
        conn, tenant=who.enterprise_id, meter_id=meter_id, after=cursor, limit=limit
    )
    return CalibrationPage(
        items=[CalibrationOut.model_validate(r) for r in rows],
        next_cursor=None if nxt is None else str(nxt),
    )


@router.get(
    "/v1/calibrations",
    response_model=CalibrationPage,
    responses=problems(401, 403, 422, 503),
)
async def list_calibrations(
    conn: DbDep,
    who: Reader,
    enterprise_id: Annotated[Id | None, Query()] = None,
    result: CalibrationResult | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> CalibrationPage:
    """Every meter's events newest first; an enterprise key sees its own meters' only."""
    rows, nxt = await service.list_events(
        conn,
        tenant=who.enterprise_id,
        enterprise_id=enterprise_id,
        result=result,
        after=cursor,
        limit=limit,
    )
    return CalibrationPage(
        items=[CalibrationOut.model_validate(r) for r in rows],
        next_cursor=None if nxt is None else str(nxt),
    )


@router.get(
    "/v1/calibrations/export",
    response_class=Response,
    responses={**EXPORT_RESPONSE, **problems(401, 403, 413, 503)},
)
async def export_calibrations(conn: DbDep, who: Reader) -> Response:
    """The log of every meter the key sees as an XLSX sheet, oldest event first; ``status``
    reads ``active`` for the event whose next_due is the meter's calibration_due in force."""
    rows = await registers.export_rows(conn, CALIBRATIONS, tenant=who.enterprise_id)
    return export_response(CALIBRATIONS, rows)


@router.post(
    "/v1/calibrations/import",
    response_model=ImportResult,
    openapi_extra=IMPORT_BODY,
    responses=problems(400, 401, 403, 404, 413, 415, 422, 503),
)
async def import_calibrations(request: Request, conn: DbDep, who: Writer) -> Any:
    """An XLSX sheet in the export's form: a row without ``record_id`` logs an event as
    ``POST /v1/meters/{meter_id}/calibrations`` does; the log is append-only, so a row with one
    must equal the stored event. Every row is stored or none: any bad row is 422 with each
    row's result; the tickets a stored file's failures opened go to the live feed."""
    return await import_file(request, conn, CALIBRATIONS, who, sheets.write_calibration)
