"""``/v1/activity-records``: manual activity data (clause 6.3.1 e) by API and by file upload.

A record is entered as a draft, confirmed before it counts (``flows``), corrected by new
versions, withdrawn with a reason; each change is in the audit log. Enterprise keys see and
write their own enterprise's records only (others 404); park-level records are park-wide keys'.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError

from accounting.categories import SourceCategory
from api.activity import evidence, flows, service, upload
from api.activity.enums import RecordState
from api.activity.models import (
    ActivityIn,
    CorrectionIn,
    RecordDetail,
    RecordOut,
    RecordPage,
    RowResult,
    TransitionIn,
    UploadResult,
    VersionOut,
)
from api.body import read_limited
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.params import IdQuery

router = APIRouter(prefix="/v1/activity-records", tags=["activity records"])
Reader = Annotated[Principal, Depends(require(Scope.ACTIVITY_READ))]
Writer = Annotated[Principal, Depends(require(Scope.ACTIVITY_WRITE))]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_READ = problems(401, 403, 404, 422, 503)
_WRITE = problems(400, 401, 403, 404, 409, 413, 422, 503)


def _out(row: dict[str, Any]) -> dict[str, Any]:
    allowed = flows.allowed(RecordState(row["state"]))
    return {**row, "allowed_events": allowed, "current": VersionOut.model_validate(row["current"])}


def _found(row: dict[str, Any] | None, record_id: int) -> dict[str, Any]:
    if row is None:
        raise ApiError(404, f"no activity record {record_id}")
    return row


@router.post("", response_model=RecordOut, status_code=201, responses=_WRITE)
async def create_record(body: ActivityIn, conn: DbDep, who: Writer) -> RecordOut:
    """A new record (draft, version 1). 422 names the field (an unknown unit is named); 409
    when a meter of the same enterprise, carrier and category has windows in the period and
    ``replaces_meters`` does not name it."""
    row = await service.create(conn, who=who, body=body)
    return RecordOut.model_validate(_out(row))


@router.get("", response_model=RecordPage, responses=problems(401, 403, 422, 503))
async def list_records(
    conn: DbDep,
    who: Reader,
    enterprise_id: IdQuery = None,
    state: RecordState | None = None,
    source_category: SourceCategory | None = None,
    period_from: Annotated[date | None, Query(description="Records ending on or after")] = None,
    period_to: Annotated[date | None, Query(description="Records starting on or before")] = None,
    cursor: int | None = Query(default=None, ge=1, le=2**63 - 1, description="`next_cursor`"),
    limit: int = Query(default=100, ge=1, le=500),
) -> RecordPage:
    """Records newest first; an enterprise key sees its own enterprise's only."""
    rows, next_cursor = await service.list_records(
        conn,
        tenant=who.enterprise_id,
        enterprise_id=enterprise_id,
        state=state,
        category=source_category.value if source_category else None,
        start=period_from,
        end=period_to,
        after=cursor,
        limit=limit,
    )
    return RecordPage(
        items=[RecordOut.model_validate(_out(r)) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@router.get("/{record_id}", response_model=RecordDetail, responses=_READ)
async def get_record(record_id: RecordId, conn: DbDep, who: Reader) -> RecordDetail:
    """The record, its current version and every earlier one (corrections never erase)."""
    row = _found(
        await service.get_record(
            conn, record_id=record_id, tenant=who.enterprise_id, versions=True
        ),
        record_id,
    )
    return RecordDetail.model_validate(_out(row))


@router.post("/{record_id}/corrections", response_model=RecordOut, responses=_WRITE)
async def correct_record(
    record_id: RecordId, body: CorrectionIn, conn: DbDep, who: Writer
) -> RecordOut:
    """A new version with the whole corrected content and the reason; the record returns to
    draft and counts again once confirmed. 409 for a withdrawn record."""
    try:
        row = await service.correct(
            conn,
            record_id=record_id,
            who=who,
            content=body,
            reason=body.reason,
        )
    except flows.IllegalTransition as exc:
        raise ApiError(409, str(exc), current=exc.current.value, allowed=exc.allowed) from exc
    return RecordOut.model_validate(_out(_found(row, record_id)))


@router.post("/{record_id}/transitions", response_model=RecordOut, responses=_WRITE)
async def transition(
    record_id: RecordId, body: TransitionIn, conn: DbDep, who: Writer
) -> RecordOut:
    """``confirmed`` (from draft; the double-count rule is checked again) or ``withdrawn``
    (with a reason). 409 lists the events the record's state allows."""
    try:
        row = await service.transition(
            conn, record_id=record_id, who=who, to=body.to, reason=body.reason
        )
    except flows.IllegalTransition as exc:
        raise ApiError(409, str(exc), current=exc.current.value, allowed=exc.allowed) from exc
    return RecordOut.model_validate(_out(_found(row, record_id)))


@router.put(
    "/{record_id}/evidence",
    response_model=RecordOut,
    responses=problems(401, 403, 404, 409, 413, 415, 422, 503),
)
async def put_evidence(
    record_id: RecordId, request: Request, conn: DbDep, who: Writer
) -> RecordOut:
    """The evidence file of the current version, as the request body with its content type
    (PDF, PNG, JPEG, CSV, XLSX). Refused (422) unless its sha256 and type are what the version
    declares (``evidence_sha256``, ``evidence_file_name``)."""
    data = await read_limited(request, evidence.MAX_EVIDENCE_BYTES)
    record = _found(
        await service.get_record(conn, record_id=record_id, tenant=who.enterprise_id), record_id
    )
    current = record["current"]
    if current["evidence_sha256"] is None:
        raise ApiError(409, "this version declares no evidence file (evidence_file_name, sha256)")
    kind = evidence.check(
        file_name=current["evidence_file_name"],
        sha256=current["evidence_sha256"],
        content_type=request.headers.get("content-type", ""),
        data=data,
    )
    row = await service.store_evidence(
        conn, record_id=record_id, who=who, content_type=kind.value, data=data
    )
    return RecordOut.model_validate(_out(_found(row, record_id)))


@router.post(
    "/uploads",
    response_model=UploadResult,
    status_code=201,
    responses=problems(400, 401, 403, 413, 415, 422, 503),
)
async def upload_records(request: Request, conn: DbDep, who: Writer) -> UploadResult:
    """Records from a CSV (text/csv, UTF-8) or XLSX file, one per row under a header of the
    create body's field names. All rows are stored, or none: on any bad row the answer is 422
    with every row's result (``rejected`` with its errors, or ``valid``) and nothing stored."""
    data = await read_limited(request, upload.MAX_UPLOAD_BYTES)
    rows = upload.parse(request.headers.get("content-type", ""), data)
    results: list[RowResult] = []
    bodies: list[ActivityIn] = []
    for number, values in rows:
        try:
            bodies.append(ActivityIn.model_validate(values))
            results.append(RowResult(row=number, outcome="valid"))
        except ValidationError as exc:
            errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            results.append(RowResult(row=number, outcome="rejected", errors=errors))
    if all(r.outcome == "valid" for r in results):
        checked = await service.check_many(conn, who=who, bodies=bodies)
        for result, error in zip(results, checked, strict=True):
            if error is not None:
                result.outcome, result.errors = "rejected", [error.detail]
    if any(r.outcome == "rejected" for r in results):
        raise ApiError(
            422,
            "the file was not stored: fix the rejected rows and upload it again",
            stored=False,
            rows=[r.model_dump() for r in results],
        )
    created = await service.create_many(conn, who=who, bodies=bodies)
    for result, record_id in zip(results, created, strict=True):
        result.outcome, result.record_id = "created", record_id
    return UploadResult(stored=True, rows=results)
