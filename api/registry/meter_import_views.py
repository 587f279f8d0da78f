"""``/v1/meters/import`` and its template: hundreds of meters registered from one file
(``api.registry.meter_import``). Admins only (registry:write), as for ``POST /v1/meters``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registers import xlsx
from api.registry import meter_import
from api.registry.meter_import import MeterImportResult

router = APIRouter(prefix="/v1/meters", tags=["registry"])
Writer = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]
OCTET_STREAM = "application/octet-stream"  # what many clients send a file as


@router.get(
    "/import-template",
    responses={
        200: {"content": {xlsx.MEDIA_TYPE: {}, meter_import.CSV_MEDIA_TYPE: {}}},
        **problems(401, 403, 422),
    },
    response_class=Response,
)
async def import_template(
    who: Writer,
    format: Annotated[str, Query(pattern="^(xlsx|csv)$", description="xlsx (default) or csv")] = (
        "xlsx"
    ),
) -> Response:
    """The file to fill in: row 1 the column names, row 2 their zh-CN / English labels, then
    one meter per row, with the fields and values of ``POST /v1/meters``."""
    if format == "csv":
        body, media = meter_import.csv_template(), f"{meter_import.CSV_MEDIA_TYPE}; charset=utf-8"
    else:
        body, media = meter_import.template(), xlsx.MEDIA_TYPE
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="meters.{format}"'},
    )


@router.post(
    "/import",
    response_model=MeterImportResult,
    responses=problems(401, 403, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                xlsx.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                meter_import.CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_meters(request: Request, conn: DbDep, who: Writer) -> Any:
    """Register the file's meters (XLSX or CSV, one meter per row), all or none: 200 with each
    row's result (``created`` or ``unchanged``: importing the same file again changes nothing),
    or 422 with each row's result and the reasons of the rejected ones, nothing stored."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (xlsx.MEDIA_TYPE, OCTET_STREAM, meter_import.CSV_MEDIA_TYPE):
        raise ApiError(
            415,
            f"send the file as {xlsx.MEDIA_TYPE} or {meter_import.CSV_MEDIA_TYPE}, not {kind!r}",
        )
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > xlsx.MAX_BYTES:
            raise ApiError(413, f"the file is larger than {xlsx.MAX_BYTES} bytes")
    found = (
        meter_import.read_csv(data)
        if kind == meter_import.CSV_MEDIA_TYPE
        else xlsx.read(meter_import.SHEET, data)
    )
    if not found:
        raise ApiError(422, "the file has no meters under its header")
    result = await meter_import.import_meters(conn, found, actor=who.actor)
    if not result.stored:
        raise ApiError(
            422,
            "no meter was stored: fix the rejected rows and import the file again",
            stored=False,
            rows=[r.model_dump() for r in result.rows],
        )
    return result
