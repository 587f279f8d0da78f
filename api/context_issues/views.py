"""``/v1/context-issues``: the internal and external issues of the park (clause 4.1).

Records are never deleted: ``PUT`` with ``status: archived`` archives one. Park-wide keys keep
the park-level records and read every enterprise's; an enterprise key keeps its own
enterprise's issues and sees no other record (404), park-level ones included.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.context_issues.models import (
    ContextIssueIn,
    ContextIssueOut,
    ContextIssuePage,
    ContextIssueUpdate,
)
from api.context_issues.spec import SPEC
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registers import service
from api.registers.spec import RecordStatus
from api.registers.views import (
    EXPORT_RESPONSE,
    IMPORT_BODY,
    ImportResult,
    LimitQuery,
    OwnerId,
    RecordIdQuery,
    export_response,
    import_file,
    owner,
)

router = APIRouter(prefix="/v1/context-issues", tags=["context issues (4.1)"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_WRITE = problems(400, 401, 403, 404, 413, 422, 503)


def _found(row: dict[str, Any] | None, record_id: int) -> ContextIssueOut:
    if row is None:
        raise ApiError(404, f"no context issue {record_id}")
    return ContextIssueOut.model_validate(row)


@router.post("", status_code=201, response_model=ContextIssueOut, responses=_WRITE)
async def create_issue(body: ContextIssueIn, conn: DbDep, who: Writer) -> ContextIssueOut:
    """Record an issue; its review date raises ``context_issue.review_due`` when it passes."""
    made = await service.create(
        conn,
        SPEC,
        owner=await owner(conn, who, body),
        content=SPEC.content.model_validate(body.model_dump(exclude={"enterprise_id", "park_id"})),
        actor=who.actor,
        tenant=who.enterprise_id,
    )
    return ContextIssueOut.model_validate(made)


@router.get("", response_model=ContextIssuePage, responses=problems(401, 403, 422, 503))
async def list_issues(
    conn: DbDep,
    who: Reader,
    status: RecordStatus | None = None,
    park_id: Annotated[OwnerId | None, Query()] = None,
    enterprise_id: Annotated[OwnerId | None, Query()] = None,
    cursor: RecordIdQuery = None,
    limit: LimitQuery = 100,
) -> ContextIssuePage:
    """Issues newest first; an enterprise key sees its own enterprise's only."""
    rows, next_cursor = await service.list_records(
        conn,
        SPEC,
        tenant=who.enterprise_id,
        status=status,
        park_id=park_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return ContextIssuePage(
        items=[ContextIssueOut.model_validate(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@router.get(
    "/export",
    response_class=Response,
    responses={**EXPORT_RESPONSE, **problems(401, 403, 413, 503)},
)
async def export_issues(conn: DbDep, who: Reader) -> Response:
    """Every issue the key sees as an XLSX sheet (row 1 field names, row 2 labels); importing
    the file unchanged changes nothing."""
    return export_response(SPEC, await service.export_rows(conn, SPEC, tenant=who.enterprise_id))


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra=IMPORT_BODY,
    responses=problems(400, 401, 403, 413, 415, 422, 503),
)
async def import_issues(request: Request, conn: DbDep, who: Writer) -> Any:
    """An XLSX sheet in the export's form: a row without ``record_id`` creates an issue, a row
    with one replaces that issue. Every row is stored or none: any bad row is 422 with each
    row's result, and nothing is stored. Unknown columns refuse the file."""
    return await import_file(request, conn, SPEC, who)


@router.get(
    "/{record_id}", response_model=ContextIssueOut, responses=problems(401, 403, 404, 422, 503)
)
async def get_issue(record_id: RecordId, conn: DbDep, who: Reader) -> ContextIssueOut:
    row = await service.get(conn, SPEC, record_id=record_id, tenant=who.enterprise_id)
    return _found(row, record_id)


@router.put("/{record_id}", response_model=ContextIssueOut, responses=_WRITE)
async def replace_issue(
    record_id: RecordId, body: ContextIssueUpdate, conn: DbDep, who: Writer
) -> ContextIssueOut:
    """Replace the issue's content and status (``archived`` archives it: never deleted)."""
    row = await service.replace(
        conn,
        SPEC,
        record_id=record_id,
        tenant=who.enterprise_id,
        content=SPEC.content.model_validate(body.model_dump(exclude={"status"})),
        status=body.status,
        actor=who.actor,
    )
    return _found(None if row is None else row[0], record_id)
