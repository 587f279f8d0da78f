"""``/v1/meters``: the meter registry (clause 9.1 c, GB 17167) and each metering point's
device replacements (clause 8.3). Admins write; readers see their tenancy's meters only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from accounting.carriers import Carrier
from api.deps import DbDep, require
from api.errors import problems
from api.keys import Principal, Scope
from api.params import IdQuery
from api.registry import rows, service
from api.registry.common import Limit, Offset, Page, not_found, tenant_filter
from api.registry.enums import MeterStatus
from api.registry.models import (
    Meter,
    MeterCreate,
    MeterPatch,
    MeterRetire,
    Replacement,
    ReplacementCreate,
)

router = APIRouter(prefix="/v1/meters", tags=["registry"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]


async def _visible_meter(conn: DbDep, meter_id: str, who: Principal) -> Meter:
    row = await rows.one(conn, "meter", "meter_id", meter_id)
    if row is None or not who.sees(row["enterprise_id"]):
        raise not_found("meter", meter_id)
    return Meter(**row)


@router.post("", status_code=201, response_model=Meter, responses=problems(401, 403, 409, 422))
async def create_meter(body: MeterCreate, conn: DbDep, who: Writer) -> Meter:
    """Register a meter. The unit must convert to the carrier's canonical unit unless the meter
    is ``activity_only``; a ``factor_key`` must be a catalogue series with factors for the
    carrier. 409 if the id is taken, 422 for an unknown enterprise or a site of another one."""
    return Meter(**await service.create_meter(conn, body=body, actor=who.actor))


@router.get("", response_model=Page[Meter], responses=problems(401, 403, 422))
async def list_meters(
    conn: DbDep,
    who: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
    enterprise_id: IdQuery = None,
    site_id: IdQuery = None,
    carrier: Annotated[Carrier | None, Query()] = None,
    status: Annotated[MeterStatus | None, Query()] = None,
) -> Page[Meter]:
    """Meters ordered by id, with the number matching; an enterprise key sees its own only."""
    owner, hidden = tenant_filter(who, enterprise_id)
    if hidden:
        return Page(items=[], total=0, limit=limit, offset=offset)
    filters = {"enterprise_id": owner, "site_id": site_id, "carrier": carrier, "status": status}
    found, total = await rows.page(
        conn, "meter", filters=filters, order=["meter_id"], limit=limit, offset=offset
    )
    return Page(items=[Meter(**r) for r in found], total=total, limit=limit, offset=offset)


@router.get("/{meter_id}", response_model=Meter, responses=problems(401, 403, 404))
async def get_meter(meter_id: str, conn: DbDep, who: Reader) -> Meter:
    return await _visible_meter(conn, meter_id, who)


@router.patch("/{meter_id}", response_model=Meter, responses=problems(401, 403, 404, 422))
async def patch_meter(meter_id: str, body: MeterPatch, conn: DbDep, who: Writer) -> Meter:
    """Change registry fields; the merged row is checked whole, and the audit log keeps the row
    before and after. A CT/PT change that comes with a new device is a replacement instead."""
    row = await service.patch(
        conn,
        table="meter",
        ident=meter_id,
        changes=body.changes(),
        actor=who.actor,
        visible=lambda r: who.sees(r["enterprise_id"]),
    )
    return Meter(**row)


@router.post(
    "/{meter_id}/retire", response_model=Meter, responses=problems(401, 403, 404, 409, 422)
)
async def retire_meter(meter_id: str, body: MeterRetire, conn: DbDep, who: Writer) -> Meter:
    """Retire a metering point; 409 if it already is. Its readings and history are kept."""
    row = await service.retire_meter(
        conn,
        meter_id=meter_id,
        retired_at=body.retired_at,
        reason=body.reason,
        actor=who.actor,
        visible=lambda r: who.sees(r["enterprise_id"]),
    )
    return Meter(**row)


@router.post(
    "/{meter_id}/replacements",
    status_code=201,
    response_model=Replacement,
    responses=problems(401, 403, 404, 409, 422),
)
async def replace_meter(
    meter_id: str, body: ReplacementCreate, conn: DbDep, who: Writer
) -> Replacement:
    """Record a device swap at this metering point: the meter id stays, the old device's final
    register and the new one's initial register are kept so no consumption is lost across the
    swap. ``replaced_at`` may precede stored readings (they arrive late) but not be in the
    future. 409 for a retired meter, a second swap at the same instant, or an ``old_serial``
    that is not the installed device."""
    row = await service.replace_meter(
        conn,
        meter_id=meter_id,
        body=body,
        actor=who.actor,
        visible=lambda r: who.sees(r["enterprise_id"]),
    )
    return Replacement(**row)


@router.get(
    "/{meter_id}/replacements",
    response_model=list[Replacement],
    responses=problems(401, 403, 404),
)
async def list_replacements(meter_id: str, conn: DbDep, who: Reader) -> list[Replacement]:
    """The metering point's device swaps, oldest first."""
    await _visible_meter(conn, meter_id, who)
    return [Replacement(**r) for r in await service.replacements(conn, meter_id=meter_id)]
