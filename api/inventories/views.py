"""``/v1/inventories``: the period inventory kept as a record (GB/T 32150 clause 6.3.1 f, 7.3).

``POST`` computes the inventory of a boundary (the park, or one enterprise) for a period and
stores it, immutable, with the sha256 of its content; posting again for the same boundary and
period stores the next version, which names the one it supersedes (the old one stays readable,
unchanged). ``GET /{id}`` returns JSON, ``?format=xlsx`` or ``?format=html`` (printable).

Tenancy: an enterprise key computes and reads its own enterprise's inventories only. A park's
inventory holds every enterprise's figures, so it is the park-wide keys' alone: to an
enterprise key it is 404 and left out of lists, as another enterprise's inventory is.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from accounting.report_period import ReportPeriod, ReportPeriodError, parse_period, period_between
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.inventories import render, service
from api.inventories.enums import Boundary, InventoryFormat
from api.inventories.models import InventoryIn, InventoryOut, InventoryPage
from api.keys import Principal, Scope
from api.params import IdQuery
from api.reports.views import AcceptLanguage, LangQ, read_lang
from store import inventories as store
from store.reports import ParkInfo, park_info

router = APIRouter(prefix="/v1/inventories", tags=["inventories"])
Reader = Annotated[Principal, Depends(require(Scope.INVENTORIES_READ))]
Writer = Annotated[Principal, Depends(require(Scope.INVENTORIES_WRITE))]
InventoryId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MEDIA_TYPES = {
    InventoryFormat.JSON: "application/json",
    InventoryFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    InventoryFormat.HTML: "text/html; charset=utf-8",
}
_FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The inventory in the requested format",
        "content": {MEDIA_TYPES[f]: {} for f in (InventoryFormat.XLSX, InventoryFormat.HTML)},
    }
}


def _period(body: InventoryIn) -> ReportPeriod:
    try:
        if body.year is not None:
            return parse_period(str(body.year))
        assert body.first is not None and body.to is not None  # checked by InventoryIn
        return period_between(body.first, body.to)
    except ReportPeriodError as exc:
        raise ApiError(422, str(exc)) from exc


async def _boundary(conn: DbDep, who: Principal, body: InventoryIn) -> tuple[ParkInfo, str | None]:
    """The park and enterprise the inventory covers; an enterprise key its own enterprise."""
    enterprise_id = body.enterprise_id
    if who.enterprise_id is not None:
        if enterprise_id is not None and enterprise_id != who.enterprise_id:
            raise ApiError(404, f"no enterprise {enterprise_id!r}")
        enterprise_id = who.enterprise_id
    park = await park_info(conn, park_id=body.park_id, enterprise_id=enterprise_id)
    if park is not None:
        return park, enterprise_id
    if enterprise_id is not None:
        raise ApiError(404, f"no enterprise {enterprise_id!r}")
    if body.park_id is not None:
        raise ApiError(404, f"no park {body.park_id!r}")
    raise ApiError(422, "several parks (or none) are registered: name one with park_id")


@router.post(
    "",
    response_model=InventoryOut,
    status_code=201,
    responses=problems(401, 403, 404, 422, 503),
    summary="Compute and store a boundary's inventory for a period",
)
async def create_inventory(body: InventoryIn, conn: DbDep, who: Writer) -> InventoryOut:
    """Computes the inventory from the stored windows and the confirmed activity records and
    stores it as the next version of its boundary and period (version 1, or the version after
    the newest, which it supersedes). 422: a period ending after today (the park's local day)
    or ending before it starts, or nothing to account; 404: an unknown park or enterprise.
    Nothing is stored on any error; a stored inventory is in the audit log."""
    period = _period(body)
    park, enterprise_id = await _boundary(conn, who, body)
    today = datetime.now(UTC).astimezone(ZoneInfo(park.timezone)).date()
    return await service.create(
        conn, who=who, park=park, enterprise_id=enterprise_id, period=period, today=today
    )


@router.get("", response_model=InventoryPage, responses=problems(401, 403, 422, 503))
async def list_inventories(
    conn: DbDep,
    who: Reader,
    park_id: IdQuery = None,
    enterprise_id: IdQuery = None,
    boundary: Boundary | None = None,
    cursor: int | None = Query(default=None, ge=1, le=2**63 - 1, description="`next_cursor`"),
    limit: int = Query(default=100, ge=1, le=500),
) -> InventoryPage:
    """Stored inventories newest first, every version (``state`` says which are current); an
    enterprise key lists its own enterprise's only."""
    rows, next_cursor = await store.list_inventories(
        conn,
        tenant=who.enterprise_id,
        park_id=park_id,
        enterprise_id=enterprise_id,
        boundary=boundary.value if boundary else None,
        after=cursor,
        limit=limit,
    )
    return InventoryPage(
        items=[service.summary(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@router.get(
    "/{inventory_id}",
    response_model=InventoryOut,
    responses={**_FILES, **problems(401, 403, 404, 422, 503)},
    summary="A stored inventory as JSON, XLSX or printable HTML",
)
async def get_inventory(
    inventory_id: InventoryId,
    conn: DbDep,
    who: Reader,
    fmt: Annotated[InventoryFormat, Query(alias="format")] = InventoryFormat.JSON,
    lang: LangQ = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """The inventory as stored: its content is the text ``content_sha256`` was computed over
    (read back as JSON: canonical JSON of ``content`` gives the same hash)."""
    found = await store.get(conn, inventory_id=inventory_id, tenant=who.enterprise_id)
    if found is None:
        raise ApiError(404, f"no inventory {inventory_id}")
    inv = service.detail(*found)
    if fmt is InventoryFormat.JSON:
        return Response(inv.model_dump_json(), media_type=MEDIA_TYPES[fmt])
    headers: dict[str, str] = {}
    if fmt is InventoryFormat.XLSX:
        body = await asyncio.to_thread(render.workbook, inv)  # a year's workbook takes a while
    else:
        page_lang = await read_lang(conn, inv.park_id, lang, accept_language)
        headers["Content-Language"] = page_lang.value
        body = render.page(inv, page_lang).encode()
    who_for = inv.enterprise_id or inv.park_id
    name = f"inventory-{who_for}-{inv.period_label}-v{inv.version}.{fmt.value}".replace("/", "_")
    disposition = "inline" if fmt is InventoryFormat.HTML else "attachment"
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={**headers, "Content-Disposition": f'{disposition}; filename="{name}"'},
    )
