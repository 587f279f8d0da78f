"""``/v1/management-system``: the management system as a whole (clauses 4-10, Annex A).

``GET /documented-information``: the Annex A document set as one ZIP (``documented``);
``GET /open-items``: obligations due, audit findings, measures and review outputs
(``open_items``), which the page at ``/management-system`` lists. Both read with the caller's
tenancy: an enterprise key gets its own enterprise's records only.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.deps import DbDep, require
from api.errors import problems
from api.keys import Principal, Scope
from api.management_system import documented, open_items
from api.management_system.models import OpenItems

router = APIRouter(prefix="/v1/management-system", tags=["management system"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
_ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The document set as a ZIP with its manifest.json",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/documented-information",
    response_class=Response,
    responses={**_ZIP, **problems(401, 403, 413, 503)},
    summary="The Annex A document set as one ZIP",
)
async def documented_information(conn: DbDep, who: Reader) -> Response:
    """Every register as XLSX, the current version of each stored inventory (XLSX and HTML),
    the closed management reviews (HTML), the nonconformities (tickets, XLSX) and
    ``manifest.json`` (each file's size and sha256)."""
    found = await documented.collect(conn, who)
    now = datetime.now(UTC)
    body = await asyncio.to_thread(documented.archive, found, who=who, generated_at=now)
    stamp = now.strftime("%Y%m%d")
    return Response(
        body,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="documented-information-{stamp}.zip"'
        },
    )


@router.get("/open-items", response_model=OpenItems, responses=problems(401, 403, 503))
async def list_open_items(conn: DbDep, who: Reader) -> OpenItems:
    """Obligations due, audit findings (tickets from internal audits included), reduction
    measures and management-review outputs; a register the platform does not keep yet is a
    section with ``available: false``."""
    return OpenItems(sections=await open_items.sections(conn, tenant=who.enterprise_id))
