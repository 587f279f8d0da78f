"""What every register's routes share: the owner and status fields of a body, the common
query parameters, the XLSX export response and the import route's body and answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DbDep, get_state, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.live import LiveEvent
from api.registers import service, xlsx
from api.registers.spec import RecordStatus, RegisterSpec
from api.registers.tenancy import Owner, owner_of
from api.registry.common import ID_PATTERN
from api.state import AppState

OwnerId = Annotated[str, Field(pattern=ID_PATTERN)]
RecordIdQuery = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="`next_cursor`")]
LimitQuery = Annotated[int, Query(ge=1, le=500)]
_Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
_Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
OCTET_STREAM = "application/octet-stream"  # what many clients send a file as
IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in (xlsx.MEDIA_TYPE, OCTET_STREAM)
        },
    }
}
EXPORT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {xlsx.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        "description": "The register as an XLSX workbook",
    }
}


class OwnerFields(BaseModel):
    """Whose record a create body makes (see ``tenancy.owner_of``)."""

    model_config = ConfigDict(extra="forbid")

    enterprise_id: OwnerId | None = Field(
        default=None, description="An enterprise's record; an enterprise key: its own (default)"
    )
    park_id: OwnerId | None = Field(
        default=None, description="A park-level record (park-wide keys only)"
    )


class StatusField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: RecordStatus = Field(description="archived: kept, out of the working list")


class ImportResult(BaseModel):
    stored: bool
    rows: list[service.RowResult]


def publish(state: AppState, events: list[LiveEvent]) -> None:
    """Live events of a committed write (a ticket a finding opened)."""
    for event in events:
        state.hub.publish(event)


async def owner(conn: Any, who: Principal, body: OwnerFields) -> Owner:
    return await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)


def export_response(spec: RegisterSpec, rows: list[dict[str, Any]]) -> Response:
    return Response(
        xlsx.export(spec, rows),
        media_type=xlsx.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{spec.name}.xlsx"'},
    )


async def import_file(
    request: Request,
    conn: Any,
    spec: RegisterSpec,
    who: Principal,
    writer: service.RowWriter = service.write_record,
) -> Any:
    """The import route's work: the body read (413 beyond ``xlsx.MAX_BYTES``, 415 for another
    media type; the bytes must be a workbook either way), every row stored by ``writer`` (see
    ``service.RowWriter``) or none (422 with every row's result), the live events of a stored
    file published."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (xlsx.MEDIA_TYPE, OCTET_STREAM):
        raise ApiError(415, f"send the file as {xlsx.MEDIA_TYPE}, not {kind!r}")
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > xlsx.MAX_BYTES:
            raise ApiError(413, f"the file is larger than {xlsx.MAX_BYTES} bytes")
    rows = xlsx.read(spec, data)
    if not rows:
        raise ApiError(422, "the sheet has no records under its header")
    events: list[LiveEvent] = []
    stored, results = await service.import_rows(
        conn, spec, who=who, rows=rows, writer=writer, events=events
    )
    publish(get_state(request), events)
    if not stored:
        raise ApiError(
            422,
            "the file was not stored: fix the rejected rows and import it again",
            stored=False,
            rows=[r.model_dump() for r in results],
        )
    return ImportResult(stored=True, rows=results)


def sheet_routes(
    router: APIRouter, path: str, spec: RegisterSpec, writer: service.RowWriter, *, what: str
) -> None:
    """``GET {path}/export`` and ``POST {path}/import`` of one sheet of a register whose records
    live in its own tables (the sheet reads ``spec.table``, a view of them; ``writer`` stores
    an imported row through the register's own service). Declare them before the router's
    ``/{id}`` routes."""

    @router.get(
        path + "/export",
        response_class=Response,
        responses={**EXPORT_RESPONSE, **problems(401, 403, 413, 503)},
        name=f"export_{spec.name}",
        description=f"Every {what} the key sees as an XLSX sheet (row 1 field names, row 2 "
        "labels); importing the file unchanged changes nothing.",
    )
    async def export(conn: DbDep, who: _Reader) -> Response:
        return export_response(
            spec, await service.export_rows(conn, spec, tenant=who.enterprise_id)
        )

    @router.post(
        path + "/import",
        response_model=ImportResult,
        openapi_extra=IMPORT_BODY,
        responses=problems(400, 401, 403, 413, 415, 422, 503),
        name=f"import_{spec.name}",
        description=f"An XLSX sheet in the export's form: a row without `record_id` records a "
        f"new {what}; a row with one must read as stored unless the register says what it may "
        "change. Every row is stored or none: any bad row is 422 with each row's result.",
    )
    async def import_(request: Request, conn: DbDep, who: _Writer) -> Any:
        return await import_file(request, conn, spec, who, writer)
