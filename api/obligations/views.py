"""``/v1/obligations`` (clause 6.6) and ``/v1/compliance-evaluations`` (clause 9.2).

Records are never deleted: ``PUT`` with ``status: archived`` archives one. Park-wide keys keep
the park-level records and read every enterprise's; an enterprise key keeps its own
enterprise's and sees no other record (404), park-level ones included. A non-compliant
evaluation opens a nonconformity ticket in the same transaction (``ticket_id``), and every
evaluation moves its obligation's next evaluation on by the obligation's frequency.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import DbDep, StateDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.live import LiveEvent
from api.obligations.models import (
    EvaluationIn,
    EvaluationOut,
    EvaluationPage,
    EvaluationUpdate,
    ObligationIn,
    ObligationOut,
    ObligationPage,
    ObligationUpdate,
)
from api.obligations.spec import EVALUATIONS, OBLIGATIONS
from api.registers import files, service
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
    publish,
)

obligations = APIRouter(prefix="/v1/obligations", tags=["obligations (6.6)"])
evaluations = APIRouter(prefix="/v1/compliance-evaluations", tags=["compliance evaluations (9.2)"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_WRITE = problems(400, 401, 403, 404, 409, 413, 422, 503)
_READ = problems(401, 403, 404, 422, 503)
_LIST = problems(401, 403, 422, 503)
_EXPORT = {**EXPORT_RESPONSE, **problems(401, 403, 413, 503)}
_IMPORT = problems(400, 401, 403, 413, 415, 422, 503)
EVIDENCE = "evidence"  # the kind of an evaluation's file in register_file


def _obligation(row: dict[str, Any] | None, record_id: int) -> ObligationOut:
    if row is None:
        raise ApiError(404, f"no obligation {record_id}")
    return ObligationOut.model_validate(row)


def _evaluation(row: dict[str, Any] | None, record_id: int) -> EvaluationOut:
    if row is None:
        raise ApiError(404, f"no compliance evaluation {record_id}")
    return EvaluationOut.model_validate(row)


@obligations.post("", status_code=201, response_model=ObligationOut, responses=_WRITE)
async def create_obligation(body: ObligationIn, conn: DbDep, who: Writer) -> ObligationOut:
    """Record an obligation; its next evaluation date raises ``obligation.evaluation_due`` when
    it passes while it is in force. ``named_enterprises``: park-level obligations only, naming
    enterprises of the park (else 422)."""
    made = await service.create(
        conn,
        OBLIGATIONS,
        owner=await owner(conn, who, body),
        content=OBLIGATIONS.content.model_validate(
            body.model_dump(exclude={"enterprise_id", "park_id"})
        ),
        actor=who.actor,
        tenant=who.enterprise_id,
    )
    return ObligationOut.model_validate(made)


@obligations.get("", response_model=ObligationPage, responses=_LIST)
async def list_obligations(
    conn: DbDep,
    who: Reader,
    status: RecordStatus | None = None,
    park_id: Annotated[OwnerId | None, Query()] = None,
    enterprise_id: Annotated[OwnerId | None, Query()] = None,
    cursor: RecordIdQuery = None,
    limit: LimitQuery = 100,
) -> ObligationPage:
    """Obligations newest first; an enterprise key sees its own enterprise's only."""
    rows, next_cursor = await service.list_records(
        conn,
        OBLIGATIONS,
        tenant=who.enterprise_id,
        status=status,
        park_id=park_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return ObligationPage(
        items=[ObligationOut.model_validate(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@obligations.get("/export", response_class=Response, responses=_EXPORT)
async def export_obligations(conn: DbDep, who: Reader) -> Response:
    """Every obligation the key sees as an XLSX sheet (row 1 field names, row 2 labels);
    importing the file unchanged changes nothing."""
    rows = await service.export_rows(conn, OBLIGATIONS, tenant=who.enterprise_id)
    return export_response(OBLIGATIONS, rows)


@obligations.post(
    "/import", response_model=ImportResult, openapi_extra=IMPORT_BODY, responses=_IMPORT
)
async def import_obligations(request: Request, conn: DbDep, who: Writer) -> Any:
    """An XLSX sheet in the export's form: a row without ``record_id`` creates an obligation, a
    row with one replaces it. Every row is stored or none (422 with each row's result)."""
    return await import_file(request, conn, OBLIGATIONS, who)


@obligations.get("/{record_id}", response_model=ObligationOut, responses=_READ)
async def get_obligation(record_id: RecordId, conn: DbDep, who: Reader) -> ObligationOut:
    row = await service.get(conn, OBLIGATIONS, record_id=record_id, tenant=who.enterprise_id)
    return _obligation(row, record_id)


@obligations.put("/{record_id}", response_model=ObligationOut, responses=_WRITE)
async def replace_obligation(
    record_id: RecordId, body: ObligationUpdate, conn: DbDep, who: Writer
) -> ObligationOut:
    """Replace the obligation's content and status (``archived`` archives it: never deleted)."""
    row = await service.replace(
        conn,
        OBLIGATIONS,
        record_id=record_id,
        tenant=who.enterprise_id,
        content=OBLIGATIONS.content.model_validate(body.model_dump(exclude={"status"})),
        status=body.status,
        actor=who.actor,
    )
    return _obligation(None if row is None else row[0], record_id)


@evaluations.post("", status_code=201, response_model=EvaluationOut, responses=_WRITE)
async def create_evaluation(
    body: EvaluationIn, conn: DbDep, state: StateDep, who: Writer
) -> EvaluationOut:
    """Record an evaluation of an obligation the key sees (else 404), for its owner or an
    enterprise a park-level obligation binds (else 422). ``non_compliant`` opens one
    nonconformity ticket, linked both ways (``ticket_id``; the ticket's source)."""
    events: list[LiveEvent] = []
    made = await service.create(
        conn,
        EVALUATIONS,
        owner=await owner(conn, who, body),
        content=EVALUATIONS.content.model_validate(
            body.model_dump(exclude={"enterprise_id", "park_id"})
        ),
        actor=who.actor,
        tenant=who.enterprise_id,
        events=events,
    )
    publish(state, events)
    return EvaluationOut.model_validate(made)


@evaluations.get("", response_model=EvaluationPage, responses=_LIST)
async def list_evaluations(
    conn: DbDep,
    who: Reader,
    status: RecordStatus | None = None,
    park_id: Annotated[OwnerId | None, Query()] = None,
    enterprise_id: Annotated[OwnerId | None, Query()] = None,
    cursor: RecordIdQuery = None,
    limit: LimitQuery = 100,
) -> EvaluationPage:
    """Evaluations newest first; an enterprise key sees its own enterprise's only."""
    rows, next_cursor = await service.list_records(
        conn,
        EVALUATIONS,
        tenant=who.enterprise_id,
        status=status,
        park_id=park_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return EvaluationPage(
        items=[EvaluationOut.model_validate(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@evaluations.get("/export", response_class=Response, responses=_EXPORT)
async def export_evaluations(conn: DbDep, who: Reader) -> Response:
    """Every evaluation the key sees as an XLSX sheet; ``ticket_id`` is the system's (blank in
    a new row, unchanged in an existing one)."""
    rows = await service.export_rows(conn, EVALUATIONS, tenant=who.enterprise_id)
    return export_response(EVALUATIONS, rows)


@evaluations.post(
    "/import", response_model=ImportResult, openapi_extra=IMPORT_BODY, responses=_IMPORT
)
async def import_evaluations(request: Request, conn: DbDep, who: Writer) -> Any:
    """An XLSX sheet in the export's form; every row is stored or none. A stored
    non-compliant row opens its ticket as ``POST`` does."""
    return await import_file(request, conn, EVALUATIONS, who)


@evaluations.get("/{record_id}", response_model=EvaluationOut, responses=_READ)
async def get_evaluation(record_id: RecordId, conn: DbDep, who: Reader) -> EvaluationOut:
    row = await service.get(conn, EVALUATIONS, record_id=record_id, tenant=who.enterprise_id)
    return _evaluation(row, record_id)


@evaluations.put("/{record_id}", response_model=EvaluationOut, responses=_WRITE)
async def replace_evaluation(
    record_id: RecordId, body: EvaluationUpdate, conn: DbDep, state: StateDep, who: Writer
) -> EvaluationOut:
    """Replace the evaluation's content and status. Made non-compliant, it opens its ticket;
    a ticket once opened stays linked (it is closed through its own workflow)."""
    events: list[LiveEvent] = []
    row = await service.replace(
        conn,
        EVALUATIONS,
        record_id=record_id,
        tenant=who.enterprise_id,
        content=EVALUATIONS.content.model_validate(body.model_dump(exclude={"status"})),
        status=body.status,
        actor=who.actor,
        events=events,
    )
    publish(state, events)
    return _evaluation(None if row is None else row[0], record_id)


@evaluations.put(
    "/{record_id}/evidence",
    response_model=files.FileOut,
    responses=problems(401, 403, 404, 409, 413, 415, 422, 503),
)
async def put_evaluation_evidence(
    record_id: RecordId, request: Request, conn: DbDep, who: Writer
) -> files.FileOut:
    """The evidence file the evaluation declares, as the request body with its content type
    (PDF, PNG, JPEG, CSV, XLSX). Refused (422) unless its sha256 and type are what the
    evaluation declares (``evidence_sha256``, ``evidence_file_name``); 409 if it declares none."""
    data = await files.body(request)
    async with conn.transaction():
        record = _found_row(
            await service.get(
                conn, EVALUATIONS, record_id=record_id, tenant=who.enterprise_id, lock=True
            ),
            record_id,
        )
        kept = await files.keep(
            conn,
            register=EVALUATIONS.name,
            record=record,
            kind=EVIDENCE,
            file_name=record["evidence_file_name"],
            sha256=record["evidence_sha256"],
            content_type=request.headers.get("content-type", ""),
            data=data,
            actor=who.actor,
        )
    return files.FileOut.model_validate(kept)


@evaluations.get(
    "/{record_id}/evidence",
    response_class=Response,
    responses={**files.FILE_RESPONSE, **_READ},
)
async def get_evaluation_evidence(record_id: RecordId, conn: DbDep, who: Reader) -> Response:
    """The evidence file as uploaded (404 before it is)."""
    _found_row(
        await service.get(conn, EVALUATIONS, record_id=record_id, tenant=who.enterprise_id),
        record_id,
    )
    kept = await files.stored(
        conn, register=EVALUATIONS.name, record_id=record_id, kind=EVIDENCE, content=True
    )
    if kept is None:
        raise ApiError(404, f"compliance evaluation {record_id} has no evidence file uploaded")
    return files.file_response(kept)


def _found_row(row: dict[str, Any] | None, record_id: int) -> dict[str, Any]:
    if row is None:
        raise ApiError(404, f"no compliance evaluation {record_id}")
    return row
