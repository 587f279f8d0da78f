"""``/v1/internal-audits`` and ``/v1/audit-findings``: the internal audit programme, the
audits and their findings (clause 9.3).

Records are never deleted: ``PUT`` with ``status: archived`` archives one. Park-wide keys keep
the park-level records and read every enterprise's; an enterprise key keeps its own
enterprise's and sees no other record (404), park-level ones included. An audit closes with its
report kept (a file checked against its declared sha256); a nonconformity finding opens a
corrective-action ticket in the same transaction (``ticket_id``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import DbDep, StateDep, require
from api.errors import ApiError, problems
from api.internal_audits.enums import AuditStatus
from api.internal_audits.models import (
    AuditIn,
    AuditOut,
    AuditPage,
    AuditUpdate,
    FindingIn,
    FindingOut,
    FindingPage,
    FindingUpdate,
    ProgrammeOut,
)
from api.internal_audits.rules import REPORT
from api.internal_audits.spec import AUDITS, FINDINGS
from api.keys import Principal, Scope
from api.live import LiveEvent
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

audits = APIRouter(prefix="/v1/internal-audits", tags=["internal audits (9.3)"])
findings = APIRouter(prefix="/v1/audit-findings", tags=["internal audits (9.3)"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Year = Annotated[int, Path(ge=2000, le=9000)]
_WRITE = problems(400, 401, 403, 404, 409, 413, 422, 503)
_READ = problems(401, 403, 404, 422, 503)
_LIST = problems(401, 403, 422, 503)
_EXPORT = {**EXPORT_RESPONSE, **problems(401, 403, 413, 503)}
_IMPORT = problems(400, 401, 403, 413, 415, 422, 503)
PROGRAMME_LIMIT = 1000  # audits of one year a programme answer holds


def _audit(row: dict[str, Any] | None, record_id: int) -> AuditOut:
    if row is None:
        raise ApiError(404, f"no internal audit {record_id}")
    return AuditOut.model_validate(row)


def _finding(row: dict[str, Any] | None, record_id: int) -> FindingOut:
    if row is None:
        raise ApiError(404, f"no audit finding {record_id}")
    return FindingOut.model_validate(row)


@audits.get("/programme/{programme_year}", response_model=ProgrammeOut, responses=_LIST)
async def get_programme(programme_year: Year, conn: DbDep, who: Reader) -> ProgrammeOut:
    """The year's audit programme (9.3): the active audits planned for the year, in planned
    order, and how many are planned, in progress, closed or cancelled."""
    rows = await service.programme(
        conn, AUDITS, tenant=who.enterprise_id, year=programme_year, limit=PROGRAMME_LIMIT
    )
    listed = [AuditOut.model_validate(r) for r in rows]
    return ProgrammeOut(
        programme_year=programme_year,
        audits_by_status={s: sum(a.audit_status is s for a in listed) for s in AuditStatus},
        audits=listed,
    )


@audits.post("", status_code=201, response_model=AuditOut, responses=_WRITE)
async def create_audit(body: AuditIn, conn: DbDep, who: Writer) -> AuditOut:
    """Plan an audit in its year's programme; its planned end raises ``internal_audit.due`` when
    it passes before the audit is closed. An audit cannot be created closed (409)."""
    made = await service.create(
        conn,
        AUDITS,
        owner=await owner(conn, who, body),
        content=AUDITS.content.model_validate(
            body.model_dump(exclude={"enterprise_id", "park_id"})
        ),
        actor=who.actor,
        tenant=who.enterprise_id,
    )
    return AuditOut.model_validate(made)


@audits.get("", response_model=AuditPage, responses=_LIST)
async def list_audits(
    conn: DbDep,
    who: Reader,
    status: RecordStatus | None = None,
    park_id: Annotated[OwnerId | None, Query()] = None,
    enterprise_id: Annotated[OwnerId | None, Query()] = None,
    cursor: RecordIdQuery = None,
    limit: LimitQuery = 100,
) -> AuditPage:
    """Audits newest first; an enterprise key sees its own enterprise's only."""
    rows, next_cursor = await service.list_records(
        conn,
        AUDITS,
        tenant=who.enterprise_id,
        status=status,
        park_id=park_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return AuditPage(
        items=[AuditOut.model_validate(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@audits.get("/export", response_class=Response, responses=_EXPORT)
async def export_audits(conn: DbDep, who: Reader) -> Response:
    """Every audit the key sees as an XLSX sheet (row 1 field names, row 2 labels); importing
    the file unchanged changes nothing."""
    rows = await service.export_rows(conn, AUDITS, tenant=who.enterprise_id)
    return export_response(AUDITS, rows)


@audits.post("/import", response_model=ImportResult, openapi_extra=IMPORT_BODY, responses=_IMPORT)
async def import_audits(request: Request, conn: DbDep, who: Writer) -> Any:
    """An XLSX sheet in the export's form: a row without ``record_id`` creates an audit, a row
    with one replaces it. Every row is stored or none (422 with each row's result)."""
    return await import_file(request, conn, AUDITS, who)


@audits.get("/{record_id}", response_model=AuditOut, responses=_READ)
async def get_audit(record_id: RecordId, conn: DbDep, who: Reader) -> AuditOut:
    row = await service.get(conn, AUDITS, record_id=record_id, tenant=who.enterprise_id)
    return _audit(row, record_id)


@audits.put("/{record_id}", response_model=AuditOut, responses=_WRITE)
async def replace_audit(
    record_id: RecordId, body: AuditUpdate, conn: DbDep, who: Writer
) -> AuditOut:
    """Replace the audit's content and status (``archived`` archives it: never deleted).
    ``closed`` needs the declared report uploaded first (409); a closed audit is fixed (409)."""
    row = await service.replace(
        conn,
        AUDITS,
        record_id=record_id,
        tenant=who.enterprise_id,
        content=AUDITS.content.model_validate(body.model_dump(exclude={"status"})),
        status=body.status,
        actor=who.actor,
    )
    return _audit(None if row is None else row[0], record_id)


@audits.put(
    "/{record_id}/report",
    response_model=files.FileOut,
    responses=problems(401, 403, 404, 409, 413, 415, 422, 503),
)
async def put_audit_report(
    record_id: RecordId, request: Request, conn: DbDep, who: Writer
) -> files.FileOut:
    """The audit report the audit declares (``report_file_name``, ``report_sha256``), as the
    request body with its content type (PDF, PNG, JPEG, CSV, XLSX); refused (422) unless it is
    that file. 409 if the audit declares none, or is closed (its report is fixed)."""
    data = await files.body(request)
    async with conn.transaction():
        record = await service.get(
            conn, AUDITS, record_id=record_id, tenant=who.enterprise_id, lock=True
        )
        if record is None:
            raise ApiError(404, f"no internal audit {record_id}")
        if record["audit_status"] == AuditStatus.CLOSED.value:
            raise ApiError(409, f"internal audit {record_id} is closed: its report is fixed")
        kept = await files.keep(
            conn,
            register=AUDITS.name,
            record=record,
            kind=REPORT,
            file_name=record["report_file_name"],
            sha256=record["report_sha256"],
            content_type=request.headers.get("content-type", ""),
            data=data,
            actor=who.actor,
        )
    return files.FileOut.model_validate(kept)


@audits.get(
    "/{record_id}/report",
    response_class=Response,
    responses={**files.FILE_RESPONSE, **_READ},
)
async def get_audit_report(record_id: RecordId, conn: DbDep, who: Reader) -> Response:
    """The audit report as uploaded (404 before it is)."""
    _audit(
        await service.get(conn, AUDITS, record_id=record_id, tenant=who.enterprise_id), record_id
    )
    kept = await files.stored(
        conn, register=AUDITS.name, record_id=record_id, kind=REPORT, content=True
    )
    if kept is None:
        raise ApiError(404, f"internal audit {record_id} has no report uploaded")
    return files.file_response(kept)


@findings.post("", status_code=201, response_model=FindingOut, responses=_WRITE)
async def create_finding(body: FindingIn, conn: DbDep, state: StateDep, who: Writer) -> FindingOut:
    """Record a finding of an open audit the key sees (else 404; a closed or cancelled audit:
    409). A ``nonconformity`` opens one corrective-action ticket, linked both ways
    (``ticket_id``; the ticket's source)."""
    events: list[LiveEvent] = []
    made = await service.create(
        conn,
        FINDINGS,
        owner=await owner(conn, who, body),
        content=FINDINGS.content.model_validate(
            body.model_dump(exclude={"enterprise_id", "park_id"})
        ),
        actor=who.actor,
        tenant=who.enterprise_id,
        events=events,
    )
    publish(state, events)
    return FindingOut.model_validate(made)


@findings.get("", response_model=FindingPage, responses=_LIST)
async def list_findings(
    conn: DbDep,
    who: Reader,
    status: RecordStatus | None = None,
    park_id: Annotated[OwnerId | None, Query()] = None,
    enterprise_id: Annotated[OwnerId | None, Query()] = None,
    cursor: RecordIdQuery = None,
    limit: LimitQuery = 100,
) -> FindingPage:
    """Findings newest first; an enterprise key sees its own enterprise's only."""
    rows, next_cursor = await service.list_records(
        conn,
        FINDINGS,
        tenant=who.enterprise_id,
        status=status,
        park_id=park_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return FindingPage(
        items=[FindingOut.model_validate(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@findings.get("/export", response_class=Response, responses=_EXPORT)
async def export_findings(conn: DbDep, who: Reader) -> Response:
    """Every finding the key sees as an XLSX sheet; ``ticket_id`` is the system's (blank in
    a new row, unchanged in an existing one)."""
    rows = await service.export_rows(conn, FINDINGS, tenant=who.enterprise_id)
    return export_response(FINDINGS, rows)


@findings.post("/import", response_model=ImportResult, openapi_extra=IMPORT_BODY, responses=_IMPORT)
async def import_findings(request: Request, conn: DbDep, who: Writer) -> Any:
    """An XLSX sheet in the export's form; every row is stored or none. A stored
    nonconformity row opens its ticket as ``POST`` does."""
    return await import_file(request, conn, FINDINGS, who)


@findings.get("/{record_id}", response_model=FindingOut, responses=_READ)
async def get_finding(record_id: RecordId, conn: DbDep, who: Reader) -> FindingOut:
    row = await service.get(conn, FINDINGS, record_id=record_id, tenant=who.enterprise_id)
    return _finding(row, record_id)


@findings.put("/{record_id}", response_model=FindingOut, responses=_WRITE)
async def replace_finding(
    record_id: RecordId, body: FindingUpdate, conn: DbDep, state: StateDep, who: Writer
) -> FindingOut:
    """Replace the finding's content and status. Made a nonconformity, it opens its ticket;
    a ticket once opened stays linked (it is closed through its own workflow)."""
    events: list[LiveEvent] = []
    row = await service.replace(
        conn,
        FINDINGS,
        record_id=record_id,
        tenant=who.enterprise_id,
        content=FINDINGS.content.model_validate(body.model_dump(exclude={"status"})),
        status=body.status,
        actor=who.actor,
        events=events,
    )
    publish(state, events)
    return _finding(None if row is None else row[0], record_id)
