"""``/v1/parks``: onboarding a park without SQL (clause 4.3, the organisational boundary).

Admins create and change parks (registry:write); every reader sees them, an enterprise key its
own park only (another park is 404, lists are filtered). Each change lands in the audit log
with the row before and after (clause 7.3).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from psycopg import sql

from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registry import rows, service
from api.registry.common import Limit, Offset, Page, not_found
from api.registry.park_models import Park, ParkCreate, ParkPatch

router = APIRouter(prefix="/v1/parks", tags=["registry"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]
# An enterprise key sees the park its enterprise belongs to, and no other.
_HAS_WINDOWS = """
SELECT 1 FROM park p
WHERE p.park_id = %s AND p.timezone <> %s
  AND EXISTS (SELECT 1 FROM emission_day d JOIN enterprise e USING (enterprise_id)
              WHERE e.park_id = p.park_id)
"""
_OWN_PARK = sql.SQL("park_id IN (SELECT park_id FROM enterprise WHERE enterprise_id = %s)")


async def _visible(conn: DbDep, who: Principal, park_id: str) -> bool:
    if who.enterprise_id is None:
        return True
    found = await (
        await conn.execute(
            "SELECT 1 FROM enterprise WHERE enterprise_id = %s AND park_id = %s",
            (who.enterprise_id, park_id),
        )
    ).fetchone()
    return found is not None


@router.post("", status_code=201, response_model=Park, responses=problems(401, 403, 409, 422))
async def create_park(body: ParkCreate, conn: DbDep, who: Writer) -> Park:
    """Create a park (409 if the id is taken). Defaults: Asia/Shanghai, region CN at the
    regional-grid level, zh-CN, electricity in tce at the equal value (当量值)."""
    row = await service.create(
        conn, table="park", row=body.model_dump(mode="json"), actor=who.actor
    )
    return Park(**row)


@router.get("", response_model=Page[Park], responses=problems(401, 403, 422))
async def list_parks(
    conn: DbDep, who: Reader, limit: Limit = 100, offset: Offset = 0
) -> Page[Park]:
    """Parks by id; an enterprise key sees its own park only."""
    tenant = who.enterprise_id is not None
    found, total = await rows.page(
        conn,
        "park",
        filters={},
        order=["park_id"],
        limit=limit,
        offset=offset,
        extra=_OWN_PARK if tenant else None,
        extra_params=[who.enterprise_id] if tenant else [],
    )
    return Page(items=[Park(**r) for r in found], total=total, limit=limit, offset=offset)


@router.get("/{park_id}", response_model=Park, responses=problems(401, 403, 404))
async def get_park(park_id: str, conn: DbDep, who: Reader) -> Park:
    row = await rows.one(conn, "park", "park_id", park_id)
    if row is None or not await _visible(conn, who, park_id):
        raise not_found("park", park_id)
    return Park(**row)


@router.patch("/{park_id}", response_model=Park, responses=problems(401, 403, 404, 409, 422))
async def patch_park(park_id: str, body: ParkPatch, conn: DbDep, who: Writer) -> Park:
    """Rename a park or change its calendar, factor choice, tce convention or language. A new
    factor choice applies to windows from now on; recompute earlier ones (clause 6.5). The time
    zone can change only while the park has no stored windows (409): its local days, and the
    daily and monthly sums kept by them (migrations 0012, 0013), would shift under them."""
    changes = {k: getattr(v, "value", v) for k, v in body.changes().items()}
    if "timezone" in changes and who.enterprise_id is None:
        found = await (await conn.execute(_HAS_WINDOWS, (park_id, changes["timezone"]))).fetchone()
        if found is not None:
            raise ApiError(
                409,
                f"park {park_id!r} has stored windows: its time zone cannot change (their local"
                " days and the daily and monthly sums would shift)",
            )
    row = await service.patch(
        conn,
        table="park",
        ident=park_id,
        actor=who.actor,
        changes=changes,
        visible=lambda _row: who.enterprise_id is None,
    )
    return Park(**row)
