"""API models of context issues (clause 4.1)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.context_issues.enums import Category, Effect, Origin
from api.registers.spec import RecordStatus
from api.registers.views import OwnerFields, StatusField
from api.registers.xlsx import ListItem, LongText, ShortText

_EARLIEST, _LATEST = date(2000, 1, 1), date(9000, 1, 1)


class ContextIssueContent(BaseModel):
    """An internal or external issue relevant to the park's purpose that affects its ability to
    achieve the intended outcomes of its carbon management system (4.1)."""

    model_config = ConfigDict(extra="forbid")

    title: ShortText
    origin: Origin
    category: Category
    description: LongText
    effect: Effect
    effect_description: LongText = Field(description="How it helps or hinders the outcomes")
    affected_processes: list[ListItem] = Field(default_factory=list, max_length=50)
    owner: ShortText = Field(description="Who monitors and reviews the issue")
    review_on: date = Field(description="The next review (a reminder is raised when it passes)")

    @field_validator("review_on")
    @classmethod
    def _plausible(cls, value: date) -> date:
        if not _EARLIEST <= value <= _LATEST:
            raise ValueError("review_on must lie between 2000-01-01 and 9000-01-01")
        return value


class ContextIssueIn(OwnerFields, ContextIssueContent):
    pass


class ContextIssueUpdate(StatusField, ContextIssueContent):
    """The whole record: its content and status (archive: ``archived``)."""


class ContextIssueOut(ContextIssueContent):
    model_config = ConfigDict(extra="ignore")

    record_id: int
    park_id: str
    enterprise_id: str | None = Field(description="None: a park-level record")
    status: RecordStatus
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class ContextIssuePage(BaseModel):
    items: list[ContextIssueOut]
    next_cursor: str | None
