"""API models of competence requirements, role holders, training events, attendance and the
competence gap (clause 7.2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.activity.models import EnterpriseId
from api.registers.xlsx import ShortText, Title
from api.training.enums import AcquiredBy, GapStatus, Method, Result

Note = Title  # free text, at most 500 characters, storable in PostgreSQL
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(9000, 1, 1))]


class Owned(BaseModel):
    """An enterprise's record, or with ``park_id`` alone a park-level one (park-wide keys)."""

    model_config = ConfigDict(extra="forbid")

    enterprise_id: EnterpriseId | None = None
    park_id: EnterpriseId | None = Field(default=None, description="Park-level records only")


class RequirementIn(Owned):
    """A role's required competence; park-level ones apply to the role in every enterprise."""

    role: ShortText
    competence: ShortText
    acquired_by: AcquiredBy
    description: Note = ""


class HolderIn(Owned):
    """A person holding a role (people are named within their enterprise, or as park staff)."""

    person: ShortText
    role: ShortText


class EventIn(Owned):
    held_on: Day
    topic: ShortText
    trainer: ShortText
    competences: list[ShortText] = Field(
        min_length=1, max_length=50, description="What the training teaches; matched to roles"
    )


class AttendanceIn(BaseModel):
    """An attendee and their evaluation. ``enterprise_id``: the attendee's enterprise (an
    enterprise key: its own, the default); none from a park-wide key: park staff."""

    model_config = ConfigDict(extra="forbid")

    person: ShortText
    role: ShortText
    enterprise_id: EnterpriseId | None = None
    result: Result
    method: Method | None = Field(default=None, description="Required unless not_evaluated")
    evaluated_by: ShortText | None = Field(
        default=None, description="Required unless not_evaluated"
    )
    note: Note = ""

    @model_validator(mode="after")
    def _evaluation_complete(self) -> Self:
        evaluated = self.result is not Result.NOT_EVALUATED
        if evaluated != (self.method is not None) or evaluated != (self.evaluated_by is not None):
            raise ValueError("an evaluation names its method and evaluator; not_evaluated neither")
        return self


class RequirementOut(BaseModel):
    requirement_id: int
    park_id: str
    enterprise_id: str | None
    role: str
    competence: str
    acquired_by: AcquiredBy
    description: str
    created_at: datetime
    created_by: str


class HolderOut(BaseModel):
    holder_id: int
    park_id: str
    enterprise_id: str | None
    person: str
    role: str
    created_at: datetime
    created_by: str


class AttendanceOut(BaseModel):
    attendance_id: int
    event_id: int
    person: str
    role: str
    enterprise_id: str | None
    result: Result
    method: Method | None
    evaluated_by: str | None
    note: str
    recorded_at: datetime
    recorded_by: str


class EventOut(BaseModel):
    event_id: int
    park_id: str
    enterprise_id: str | None
    held_on: date
    topic: str
    trainer: str
    competences: list[str]
    created_at: datetime
    created_by: str


class EventDetail(EventOut):
    attendance: list[AttendanceOut] = Field(description="Attendees the key may see")


class GapOut(BaseModel):
    park_id: str
    enterprise_id: str | None
    person: str
    role: str
    competence: str
    requirement_id: int
    status: GapStatus
    last_trained_on: date | None


class RequirementPage(BaseModel):
    items: list[RequirementOut]
    next_cursor: str | None


class HolderPage(BaseModel):
    items: list[HolderOut]
    next_cursor: str | None


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None
