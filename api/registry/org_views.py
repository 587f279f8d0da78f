"""``/v1/enterprises`` and ``/v1/sites``: the organisation tree below the park (clause 4.3).

Admins change it (registry:write); every reader sees it, an enterprise key only its own
enterprise and its sites (another tenant's are 404, lists are filtered).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import DbDep, require
from api.errors import problems
from api.keys import Principal, Scope
from api.params import IdQuery
from api.registry import rows, service
from api.registry.common import Limit, Offset, Page, not_found, tenant_filter
from api.registry.models import (
    Enterprise,
    EnterpriseCreate,
    EnterprisePatch,
    Site,
    SiteCreate,
    SitePatch,
)

router = APIRouter(tags=["registry"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]


@router.post(
    "/v1/enterprises",
    status_code=201,
    response_model=Enterprise,
    responses=problems(401, 403, 409, 422),
)
async def create_enterprise(body: EnterpriseCreate, conn: DbDep, who: Writer) -> Enterprise:
    """Add an enterprise to a park (422 for an unknown park, 409 if the id is taken)."""
    row = await service.create(conn, table="enterprise", row=body.model_dump(), actor=who.actor)
    return Enterprise(**row)


@router.get("/v1/enterprises", response_model=Page[Enterprise], responses=problems(401, 403, 422))
async def list_enterprises(
    conn: DbDep,
    who: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
    park_id: IdQuery = None,
) -> Page[Enterprise]:
    """Enterprises by id; an enterprise key sees its own only."""
    found, total = await rows.page(
        conn,
        "enterprise",
        filters={"park_id": park_id, "enterprise_id": who.enterprise_id},
        order=["enterprise_id"],
        limit=limit,
        offset=offset,
    )
    return Page(items=[Enterprise(**r) for r in found], total=total, limit=limit, offset=offset)


@router.get(
    "/v1/enterprises/{enterprise_id}",
    response_model=Enterprise,
    responses=problems(401, 403, 404),
)
async def get_enterprise(enterprise_id: str, conn: DbDep, who: Reader) -> Enterprise:
    row = await rows.one(conn, "enterprise", "enterprise_id", enterprise_id)
    if row is None or not who.sees(row["enterprise_id"]):
        raise not_found("enterprise", enterprise_id)
    return Enterprise(**row)


@router.patch(
    "/v1/enterprises/{enterprise_id}",
    response_model=Enterprise,
    responses=problems(401, 403, 404, 422),
)
async def patch_enterprise(
    enterprise_id: str, body: EnterprisePatch, conn: DbDep, who: Writer
) -> Enterprise:
    """Rename an enterprise or set its industry code; before/after land in the audit log."""
    row = await service.patch(
        conn,
        table="enterprise",
        ident=enterprise_id,
        actor=who.actor,
        changes=body.changes(),
        visible=lambda r: who.sees(r["enterprise_id"]),
    )
    return Enterprise(**row)


@router.post(
    "/v1/sites", status_code=201, response_model=Site, responses=problems(401, 403, 409, 422)
)
async def create_site(body: SiteCreate, conn: DbDep, who: Writer) -> Site:
    """Add a site to an enterprise (422 for an unknown enterprise, 409 if the id is taken)."""
    return Site(**await service.create(conn, table="site", row=body.model_dump(), actor=who.actor))


@router.get("/v1/sites", response_model=Page[Site], responses=problems(401, 403, 422))
async def list_sites(
    conn: DbDep,
    who: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
    enterprise_id: IdQuery = None,
) -> Page[Site]:
    """Sites by id, optionally of one enterprise; an enterprise key sees its own only."""
    owner, hidden = tenant_filter(who, enterprise_id)
    if hidden:
        return Page(items=[], total=0, limit=limit, offset=offset)
    found, total = await rows.page(
        conn,
        "site",
        filters={"enterprise_id": owner},
        order=["site_id"],
        limit=limit,
        offset=offset,
    )
    return Page(items=[Site(**r) for r in found], total=total, limit=limit, offset=offset)


@router.get("/v1/sites/{site_id}", response_model=Site, responses=problems(401, 403, 404))
async def get_site(site_id: str, conn: DbDep, who: Reader) -> Site:
    row = await rows.one(conn, "site", "site_id", site_id)
    if row is None or not who.sees(row["enterprise_id"]):
        raise not_found("site", site_id)
    return Site(**row)


@router.patch("/v1/sites/{site_id}", response_model=Site, responses=problems(401, 403, 404, 422))
async def patch_site(site_id: str, body: SitePatch, conn: DbDep, who: Writer) -> Site:
    """Rename a site; before/after land in the audit log."""
    row = await service.patch(
        conn,
        table="site",
        ident=site_id,
        actor=who.actor,
        changes=body.changes(),
        visible=lambda r: who.sees(r["enterprise_id"]),
    )
    return Site(**row)
