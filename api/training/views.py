"""``/v1/training-records``: competence and training records (clause 7.2).

Requirements say which competence a role needs and how it is acquired; role holders say who
holds a role; events record trainings (date, topic, trainer, the competences taught) and their
attendees with the evaluation of each. ``/gaps`` lists the people whose role requires a
competence that no passed evaluation of theirs shows. Enterprise keys see and write their own
enterprise's records only (others 404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registers.views import sheet_routes
from api.registry.common import ID_PATTERN
from api.training import service
from api.training.models import (
    AttendanceIn,
    AttendanceOut,
    EventDetail,
    EventIn,
    EventOut,
    EventPage,
    GapOut,
    HolderIn,
    HolderOut,
    HolderPage,
    RequirementIn,
    RequirementOut,
    RequirementPage,
)
from api.training.spec import SHEETS

router = APIRouter(prefix="/v1/training-records", tags=["training records"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Enterprise = Annotated[str | None, Query(pattern=ID_PATTERN)]
Cursor = Annotated[
    int | None, Query(ge=1, le=2**63 - 1, description="`next_cursor` of the previous page")
]
Limit = Annotated[int, Query(ge=1, le=500)]
_LIST = problems(401, 403, 422, 503)
_CREATE = problems(400, 401, 403, 404, 409, 413, 422, 503)

for _path, (_spec, _writer) in SHEETS.items():
    sheet_routes(router, f"/{_path}", _spec, _writer, what=_spec.name.replace("_", " "))


def _next(cursor: int | None) -> str | None:
    return None if cursor is None else str(cursor)


@router.post("/requirements", response_model=RequirementOut, status_code=201, responses=_CREATE)
async def create_requirement(body: RequirementIn, conn: DbDep, who: Writer) -> RequirementOut:
    """A competence a role requires (park-level: in every enterprise); 409 if it is there."""
    row = await service.create_requirement(conn, who=who, body=body)
    return RequirementOut.model_validate(row)


@router.get("/requirements", response_model=RequirementPage, responses=_LIST)
async def list_requirements(
    conn: DbDep,
    who: Reader,
    enterprise_id: Enterprise = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> RequirementPage:
    rows, after = await service.page(
        conn,
        kind="requirement",
        tenant=who.enterprise_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    items = [RequirementOut.model_validate(r) for r in rows]
    return RequirementPage(items=items, next_cursor=_next(after))


@router.post("/role-holders", response_model=HolderOut, status_code=201, responses=_CREATE)
async def create_holder(body: HolderIn, conn: DbDep, who: Writer) -> HolderOut:
    """A person who holds a role; 409 if already recorded."""
    return HolderOut.model_validate(await service.create_holder(conn, who=who, body=body))


@router.get("/role-holders", response_model=HolderPage, responses=_LIST)
async def list_holders(
    conn: DbDep,
    who: Reader,
    enterprise_id: Enterprise = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> HolderPage:
    rows, after = await service.page(
        conn,
        kind="holder",
        tenant=who.enterprise_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return HolderPage(items=[HolderOut.model_validate(r) for r in rows], next_cursor=_next(after))


@router.post("/events", response_model=EventOut, status_code=201, responses=_CREATE)
async def create_event(body: EventIn, conn: DbDep, who: Writer) -> EventOut:
    """A training held: date, topic, trainer and the competences it teaches."""
    return EventOut.model_validate(await service.create_event(conn, who=who, body=body))


@router.get("/events", response_model=EventPage, responses=_LIST)
async def list_events(
    conn: DbDep,
    who: Reader,
    enterprise_id: Enterprise = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> EventPage:
    rows, after = await service.page(
        conn,
        kind="event",
        tenant=who.enterprise_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return EventPage(items=[EventOut.model_validate(r) for r in rows], next_cursor=_next(after))


@router.get(
    "/events/{event_id}", response_model=EventDetail, responses=problems(401, 403, 404, 422, 503)
)
async def get_event(event_id: EventId, conn: DbDep, who: Reader) -> EventDetail:
    """The event and the attendees the key may see, each with their evaluation."""
    row = await service.get_event(conn, event_id=event_id, tenant=who.enterprise_id)
    if row is None:
        raise ApiError(404, f"no training event {event_id}")
    return EventDetail.model_validate(row)


@router.post(
    "/events/{event_id}/attendance",
    response_model=AttendanceOut,
    status_code=201,
    responses=_CREATE,
)
async def add_attendance(
    event_id: EventId, body: AttendanceIn, conn: DbDep, who: Writer
) -> AttendanceOut:
    """An attendee and their evaluation (result, method, evaluator); 409 when the person is
    already recorded at this event."""
    row = await service.add_attendance(conn, who=who, event_id=event_id, body=body)
    if row is None:
        raise ApiError(404, f"no training event {event_id}")
    return AttendanceOut.model_validate(row)


@router.get("/gaps", response_model=list[GapOut], responses=problems(401, 403, 503))
async def list_gaps(conn: DbDep, who: Reader) -> list[GapOut]:
    """People whose role requires a competence without a passed evaluation: ``no_training``,
    or trained and ``failed`` / ``not_evaluated`` (the latest result)."""
    found = await service.competence_gaps(conn, tenant=who.enterprise_id)
    return [
        GapOut(
            park_id=g.holder.park_id,
            enterprise_id=g.holder.enterprise_id,
            person=g.holder.person,
            role=g.holder.role,
            competence=g.requirement.competence,
            requirement_id=g.requirement.requirement_id,
            status=g.status,
            last_trained_on=g.last_trained_on,
        )
        for g in found
    ]
