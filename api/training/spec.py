"""Competence and training records (7.2) as the shared register machinery sees them: four
sheets, read from the ``*_register`` views of migration 0032 - the competence each role
requires, who holds which role, the training events, and the attendance with its evaluation
(one row per attendee, naming its event).

Import: a row without ``record_id`` records a new requirement, role holder, event or attendee
through the register's own create (its checks, its audit record). These records are kept as
written (7.2 d: retained as evidence of competence): a row of an existing one must read as
stored; an attendance row belongs to the attendee's enterprise (blank with ``park_id``: park
staff), as the attendance an event shows a key does.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.errors import ApiError
from api.keys import Principal
from api.registers import service as registers
from api.registers.spec import RegisterSpec
from api.registers.tenancy import Owner
from api.registers.xlsx import ListItem, ShortText
from api.risks.models import Ref
from api.training import service
from api.training.enums import AcquiredBy, Method, Result
from api.training.models import AttendanceIn, Day, EventIn, HolderIn, Note, RequirementIn


def _blank(value: Any) -> Any:
    # An empty note is an empty cell: the sheet cannot tell "" from nothing.
    return value or None


class RequirementRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: ShortText
    competence: ShortText
    acquired_by: AcquiredBy
    description: Note | None = None

    _description = field_validator("description", mode="before")(_blank)


class HolderRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person: ShortText
    role: ShortText


class EventRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    held_on: Day
    topic: ShortText
    trainer: ShortText
    competences: list[ListItem] = Field(min_length=1, max_length=50)


class AttendanceRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: Ref
    person: ShortText
    role: ShortText
    result: Result
    method: Method | None = None
    evaluated_by: ShortText | None = None
    note: Note | None = None

    _note = field_validator("note", mode="before")(_blank)


def _fields(content: Any) -> dict[str, Any]:
    return {k: v for k, v in content.model_dump().items() if v is not None}


async def _requirement(conn: AsyncConnection[Any], who: Principal, owner: Owner, c: Any) -> int:
    body = RequirementIn.model_validate(_fields(c) | registers.owned(owner))
    return int((await service.create_requirement(conn, who=who, body=body))["requirement_id"])


async def _holder(conn: AsyncConnection[Any], who: Principal, owner: Owner, c: Any) -> int:
    body = HolderIn.model_validate(_fields(c) | registers.owned(owner))
    return int((await service.create_holder(conn, who=who, body=body))["holder_id"])


async def _event(conn: AsyncConnection[Any], who: Principal, owner: Owner, c: Any) -> int:
    body = EventIn.model_validate(_fields(c) | registers.owned(owner))
    return int((await service.create_event(conn, who=who, body=body))["event_id"])


async def _attendance(conn: AsyncConnection[Any], who: Principal, owner: Owner, c: Any) -> int:
    fields = _fields(c)
    event_id = fields.pop("event_id")
    event = await service.get_event(conn, event_id=event_id, tenant=who.enterprise_id)
    if event is None:
        raise ApiError(404, f"no training event {event_id}")
    if event["park_id"] != owner.park_id:
        raise ApiError(422, f"training event {event_id} is in another park")
    body = AttendanceIn.model_validate(fields | {"enterprise_id": owner.enterprise_id})
    made = await service.add_attendance(conn, who=who, event_id=event_id, body=body)
    if made is None:
        raise ApiError(404, f"no training event {event_id}")
    return int(made["attendance_id"])


_KEPT = "training records are kept as written (7.2 d); record a new one"

REQUIREMENTS = RegisterSpec(
    name="competence_requirement",
    table="competence_requirement_register",
    sheet="competence_requirements",
    content=RequirementRow,
    labels={
        "role": "岗位 / Role",
        "competence": "能力要求 / Required competence",
        "acquired_by": "获得方式 / Acquired by",
        "description": "说明 / Description",
    },
    title_column="competence",
)
HOLDERS = RegisterSpec(
    name="role_holder",
    table="role_holder_register",
    sheet="role_holders",
    content=HolderRow,
    labels={"person": "人员 / Person", "role": "岗位 / Role"},
    title_column="person",
)
EVENTS = RegisterSpec(
    name="training_event",
    table="training_event_register",
    sheet="training_events",
    content=EventRow,
    labels={
        "held_on": "培训日期 / Date",
        "topic": "培训主题 / Topic",
        "trainer": "培训人 / Trainer",
        "competences": "培训能力 / Competences taught",
    },
    title_column="topic",
)
ATTENDANCE = RegisterSpec(
    name="training_attendance",
    table="training_attendance_register",
    sheet="training_attendance",
    content=AttendanceRow,
    labels={
        "event_id": "培训 / Training event",
        "person": "人员 / Person",
        "role": "岗位 / Role",
        "result": "考核结果 / Result",
        "method": "考核方式 / Method",
        "evaluated_by": "考核人 / Evaluated by",
        "note": "备注 / Note",
    },
    title_column="person",
)

# Each sheet with the writer of its import route (see ``registers.service.RowWriter``).
SHEETS: dict[str, tuple[RegisterSpec, registers.RowWriter]] = {
    "requirements": (
        REQUIREMENTS,
        registers.fixed_records(_requirement, what="requirement", how=_KEPT),
    ),
    "role-holders": (HOLDERS, registers.fixed_records(_holder, what="role holder", how=_KEPT)),
    "events": (EVENTS, registers.fixed_records(_event, what="training event", how=_KEPT)),
    "attendance": (
        ATTENDANCE,
        registers.fixed_records(_attendance, what="attendance", how=_KEPT),
    ),
}
