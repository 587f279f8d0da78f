"""``/v1/objectives``: carbon management objectives (clause 6.2), each measured by a target;
its progress is the target's as ``/v1/progress`` reports it. Enterprise keys see and write their
own enterprise's objectives only (others, and park-level ones, are 404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import DbDep, require
from api.errors import problems
from api.keys import Principal, Scope
from api.measures import objectives as service
from api.measures import sheets
from api.measures.enums import ObjectiveStatus
from api.measures.models import Id, ObjectiveIn, ObjectiveOut, ObjectivePage, ObjectivePatch
from api.measures.spec import OBJECTIVES
from api.registers import service as registers
from api.registers.tenancy import owner_of
from api.registers.views import (
    EXPORT_RESPONSE,
    IMPORT_BODY,
    ImportResult,
    export_response,
    import_file,
)

router = APIRouter(prefix="/v1/objectives", tags=["objectives"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
ObjectiveId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_READ = problems(401, 403, 404, 422, 503)
_WRITE = problems(400, 401, 403, 404, 413, 422, 503)


@router.post("", status_code=201, response_model=ObjectiveOut, responses=_WRITE)
async def create_objective(body: ObjectiveIn, conn: DbDep, who: Writer) -> ObjectiveOut:
    """Record an objective measured by ``target_id``: an enterprise's objective by one of its
    own targets (its enterprise's or a meter's), a park-level one by any target of the park."""
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    row = body.model_dump(exclude={"park_id", "enterprise_id"}) | {
        "park_id": owner.park_id,
        "enterprise_id": owner.enterprise_id,
    }
    made = await service.create(conn, row=row, actor=who.actor)
    return ObjectiveOut.model_validate(
        await service.with_progress(conn, made, tenant=who.enterprise_id)
    )


@router.get("", response_model=ObjectivePage, responses=_READ)
async def list_objectives(
    conn: DbDep,
    who: Reader,
    status: ObjectiveStatus | None = None,
    enterprise_id: Annotated[Id | None, Query()] = None,
    cursor: int | None = Query(default=None, ge=1, le=2**63 - 1, description="`next_cursor`"),
    limit: int = Query(default=100, ge=1, le=500),
) -> ObjectivePage:
    """Objectives newest first, each with its target's progress now."""
    rows, nxt = await service.list_objectives(
        conn,
        tenant=who.enterprise_id,
        status=status.value if status else None,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    items = [
        ObjectiveOut.model_validate(await service.with_progress(conn, r, tenant=who.enterprise_id))
        for r in rows
    ]
    return ObjectivePage(items=items, next_cursor=None if nxt is None else str(nxt))


@router.get(
    "/export",
    response_class=Response,
    responses={**EXPORT_RESPONSE, **problems(401, 403, 413, 503)},
)
async def export_objectives(conn: DbDep, who: Reader) -> Response:
    """Every objective the key sees as an XLSX sheet (row 1 field names, row 2 labels);
    importing the file unchanged changes nothing."""
    rows = await registers.export_rows(conn, OBJECTIVES, tenant=who.enterprise_id)
    return export_response(OBJECTIVES, rows)


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra=IMPORT_BODY,
    responses=problems(400, 401, 403, 404, 413, 415, 422, 503),
)
async def import_objectives(request: Request, conn: DbDep, who: Writer) -> Any:
    """An XLSX sheet in the export's form: a row without ``record_id`` records an objective, a
    row with one changes it (not its target). Every row is stored or none: any bad row is 422
    with each row's result."""
    return await import_file(request, conn, OBJECTIVES, who, sheets.write_objective)


@router.get("/{record_id}", response_model=ObjectiveOut, responses=_READ)
async def get_objective(record_id: ObjectiveId, conn: DbDep, who: Reader) -> ObjectiveOut:
    row = await service.get(conn, record_id=record_id, tenant=who.enterprise_id)
    return ObjectiveOut.model_validate(
        await service.with_progress(conn, row, tenant=who.enterprise_id)
    )


@router.patch("/{record_id}", response_model=ObjectiveOut, responses=_WRITE)
async def patch_objective(
    record_id: ObjectiveId, body: ObjectivePatch, conn: DbDep, who: Writer
) -> ObjectiveOut:
    """Change its fields or status (achieved, not_achieved, withdrawn); audited."""
    row = await service.patch(
        conn,
        record_id=record_id,
        tenant=who.enterprise_id,
        changes=body.changes(),
        actor=who.actor,
    )
    return ObjectiveOut.model_validate(
        await service.with_progress(conn, row, tenant=who.enterprise_id)
    )
