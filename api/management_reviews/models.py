"""API models of a management review (clause 9.5).

``ReviewRecord`` is the review as kept: its header, the inputs gathered from the platform
(9.5.1) and the outputs recorded (9.5.2). A closed review's ``content_sha256`` is the sha256 of
the canonical JSON of its ``record`` (keys sorted, no spaces, UTF-8), so anyone can check it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.management_reviews.enums import OutputKind, ReviewState
from api.registers.views import OwnerFields
from api.registers.xlsx import ListItem, LongText, ShortText
from api.reports.models import PeriodOut

_EARLIEST, _LATEST = date(2000, 1, 1), date(9000, 1, 1)
# A cell of an input table: JSON scalars only, so the record hashes the same once read back.
InputCell = str | int | float | bool | None


def _plausible(value: date) -> date:
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("dates lie between 2000-01-01 and 9000-01-01")
    return value


class InputTable(BaseModel):
    name: str
    columns: list[str]
    rows: list[list[InputCell]]


class ReviewInput(BaseModel):
    """One input of clause 9.5.1, gathered by its provider (``inputs.PROVIDERS``)."""

    key: str = Field(description="The provider, e.g. emissions_trends")
    clause: str = Field(description="The item of clause 9.5.1 it serves")
    title: str
    recorded: bool = Field(description="false: none recorded (the notes say why)")
    notes: list[str]
    tables: list[InputTable]


class ReviewOutput(BaseModel):
    """An output of the review (9.5.2): a decision, a resource need or a change to objectives,
    with its owner and due date (``review_output.due`` is raised once when it passes)."""

    model_config = ConfigDict(extra="forbid")

    kind: OutputKind
    title: ShortText
    description: LongText | None = None
    owner: ShortText = Field(description="Who carries it out")
    due_on: date
    nonconformity: bool = Field(
        default=False, description="A nonconformity: closing the review opens its ticket"
    )

    _due = field_validator("due_on")(_plausible)


class OutputOut(ReviewOutput):
    ticket_id: int | None = Field(
        default=None, description="The ticket closing opened (nonconformities)"
    )


class ReviewHeader(BaseModel):
    """What a review's chair writes: when it was held, who attended, the period reviewed."""

    model_config = ConfigDict(extra="forbid")

    held_on: date
    chair: ShortText
    attendees: list[ListItem] = Field(min_length=1, max_length=100)
    period_start: date = Field(description="First local day reviewed")
    period_end: date = Field(description="Last local day reviewed, included")
    outputs: list[ReviewOutput] = Field(default_factory=list, max_length=200)

    _dates = field_validator("held_on", "period_start", "period_end")(_plausible)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class ReviewIn(OwnerFields, ReviewHeader):
    """A new review (a draft): its inputs are gathered when it is stored."""


class ReviewUpdate(ReviewHeader):
    """The draft's header and outputs, replaced whole; a changed period gathers the inputs
    again."""


class ReviewRecord(BaseModel):
    """The review as kept; a closed review's hash is over the canonical JSON of this."""

    review_id: int
    park_id: str
    park_name: str
    enterprise_id: str | None = Field(description="None: the park's review")
    held_on: date
    chair: str
    attendees: list[str]
    period: PeriodOut
    inputs_gathered_at: datetime
    inputs: list[ReviewInput]
    outputs: list[OutputOut]


class ReviewSummary(BaseModel):
    review_id: int
    park_id: str
    enterprise_id: str | None
    state: ReviewState
    held_on: date
    chair: str
    period_start: date
    period_end: date
    content_sha256: str | None = Field(description="Set when closed: sha256 of the record")
    closed_at: datetime | None
    closed_by: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class ReviewOut(ReviewSummary):
    record: ReviewRecord


class ReviewPage(BaseModel):
    items: list[ReviewSummary]
    next_cursor: str | None
