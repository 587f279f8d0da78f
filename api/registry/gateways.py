"""``/v1/gateways``: which gateway may send which meters (migration 0014, ``stream.authorization``).

A park that registers a gateway enforces the grants from then on: the worker quarantines a
gateway's reading (modbus, opcua) of a meter of that park it was not granted as
UNAUTHORIZED_SOURCE. Gateways are park infrastructure that spans tenants, so only park-wide
keys see them (an enterprise key gets 403), and only admins change them (registry:write): a grant
lets a device write an enterprise's activity data, a registry change under change control
(clause 8.3) like registering a meter. Every change lands in the audit log (clause 7.3).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from psycopg import AsyncConnection
from psycopg import Error as PgError

from api import audit
from api.deps import DbDep, PrincipalDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.params import IdQuery
from api.registry import rows
from api.registry.common import Limit, Offset, Page, not_found, raise_db_error
from api.registry.enums import GatewayStatus
from api.registry.gateway_models import Gateway, GatewayCreate, GatewayPatch

router = APIRouter(prefix="/v1/gateways", tags=["registry"])


def _park_wide(scope: Scope) -> Any:
    """``require(scope)``, and a park-wide key: an enterprise key is 403 (it sees no gateway)."""
    holds_scope = require(scope)

    async def check(who: PrincipalDep) -> Principal:
        await holds_scope(who)
        if who.enterprise_id is not None:
            raise ApiError(403, "gateways are park infrastructure: a park-wide key is needed")
        return who

    return check


Reader = Annotated[Principal, Depends(_park_wide(Scope.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(_park_wide(Scope.REGISTRY_WRITE))]


@router.post("", status_code=201, response_model=Gateway, responses=problems(401, 403, 409, 422))
async def create_gateway(body: GatewayCreate, conn: DbDep, who: Writer) -> Gateway:
    """Register a gateway and what it may send. Its park enforces grants from now on: any other
    gateway's readings of the park's meters are quarantined. 422 for a grant outside the park."""
    row = body.model_dump(exclude={"reason"})
    try:
        async with conn.transaction():
            stored = await rows.insert(conn, "gateway", row)
            await _audit(conn, who, "create", None, stored, body.reason)
    except PgError as exc:
        raise_db_error(exc, f"gateway {body.gateway_id!r}")
    return Gateway(**stored)


@router.get("", response_model=Page[Gateway], responses=problems(401, 403, 422))
async def list_gateways(
    conn: DbDep,
    who: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
    park_id: IdQuery = None,
    status: Annotated[GatewayStatus | None, Query()] = None,
) -> Page[Gateway]:
    """Registered gateways by id, optionally of one park or status."""
    found, total = await rows.page(
        conn,
        "gateway",
        filters={"park_id": park_id, "status": status},
        order=["gateway_id"],
        limit=limit,
        offset=offset,
    )
    return Page(items=[Gateway(**r) for r in found], total=total, limit=limit, offset=offset)


@router.get("/{gateway_id}", response_model=Gateway, responses=problems(401, 403, 404))
async def get_gateway(gateway_id: str, conn: DbDep, who: Reader) -> Gateway:
    row = await rows.one(conn, "gateway", "gateway_id", gateway_id)
    if row is None:
        raise not_found("gateway", gateway_id)
    return Gateway(**row)


@router.patch("/{gateway_id}", response_model=Gateway, responses=problems(401, 403, 404, 422))
async def patch_gateway(gateway_id: str, body: GatewayPatch, conn: DbDep, who: Writer) -> Gateway:
    """Change a gateway's grants (lists replaced whole), name or status; disabling revokes all
    it may send. The audit log keeps the row before and after, with the reason."""
    changes = body.changes()
    try:
        async with conn.transaction():
            before = await rows.one(conn, "gateway", "gateway_id", gateway_id, lock=True)
            if before is None:
                raise not_found("gateway", gateway_id)
            # Always written, also without changes: the update stamps the row, and the grants are
            # checked again against the park as it is now.
            after = await rows.update(
                conn, "gateway", "gateway_id", gateway_id, changes or {"name": before["name"]}
            )
            await _audit(conn, who, "update", before, after, body.reason)
    except PgError as exc:
        raise_db_error(exc, f"gateway {gateway_id!r}")
    return Gateway(**after)


async def _audit(
    conn: AsyncConnection[Any],
    who: Principal,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    reason: str,
) -> None:
    await audit.record(
        conn,
        actor=who.actor,
        action=action,
        entity="gateway",
        entity_id=after["gateway_id"],
        before=before,
        after=after,
        reason=reason,
    )
