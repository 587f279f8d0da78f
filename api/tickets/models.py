"""API models of alerts and corrective-action tickets (clauses 9.1 b, 9.4, 10.1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    field_validator,
    model_validator,
)

from accounting.alerting import AlertState
from accounting.deviation import CauseCategory, Rule
from api.tickets.enums import HistoryEvent, SourceKind, TicketKind, TicketState


def _storable(value: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates: refuse them here (422), not there.
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
LongText = Annotated[str, Field(min_length=1, max_length=10_000), AfterValidator(_storable)]
ShortText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_storable)]
Title = Annotated[str, Field(max_length=500), AfterValidator(_storable)]


class AlertOut(BaseModel):
    alert_id: UUID
    rule: Rule
    subject_kind: str
    subject_id: str
    enterprise_id: str | None = Field(description="None: park-wide (e.g. an unknown meter)")
    width_s: int
    first_window_start: datetime
    window_start: datetime = Field(description="The window of the latest step")
    window_end: datetime
    measured: float
    expected: float
    unit: str
    tolerance: float = Field(description="Fraction of |expected| allowed above it")
    cause: CauseCategory = Field(description="The suggested cause, one of the five of 9.1 b")
    message: str
    state: AlertState
    first_raised_at: datetime
    last_updated_at: datetime
    resolved_at: datetime | None
    acked_by: str | None
    acked_at: datetime | None
    ticket_id: int | None = Field(description="The latest ticket this alert is attached to")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; None: last")


class TicketOut(BaseModel):
    ticket_id: int
    kind: TicketKind = Field(description="corrective (10.1) or preventive (9.4)")
    source_kind: SourceKind = Field(description="Where the nonconformity was found")
    source_id: str | None = Field(description="The source record's id; None for alerts")
    rule: Rule | None = Field(description="The deviation rule; alert tickets only")
    subject_kind: str
    subject_id: str
    enterprise_id: str | None
    state: TicketState
    allowed_transitions: list[TicketState]
    title: str
    description: str | None = Field(description="What was found; tickets not from alerts")
    suggested_cause: CauseCategory | None = Field(
        description="The rule's suggested cause; alert tickets only"
    )
    containment: str | None
    cause_category: CauseCategory | None
    root_cause: str | None
    similar_nonconformities: str | None = Field(description="The outcome of the 10.1 b check")
    effectiveness_review: str | None
    effectiveness_failures: int
    dismissal_reason: str | None
    overdue: bool = Field(description="An action is past its due date and not done")
    condition_cleared_at: datetime | None = Field(
        description="When the alerts reported the condition cleared (does not close the ticket)"
    )
    opened_at: datetime
    contained_at: datetime | None
    cause_identified_at: datetime | None
    action_in_progress_at: datetime | None
    effectiveness_check_at: datetime | None
    closed_at: datetime | None
    dismissed_at: datetime | None
    updated_at: datetime


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None


class OccurrenceOut(BaseModel):
    occurrence_id: int
    alert_id: UUID
    alert_state: AlertState
    width_s: int
    window_start: datetime
    window_end: datetime
    measured: float
    expected: float
    unit: str
    cause: CauseCategory
    message: str
    raised_at: datetime
    recorded_at: datetime


class ActionOut(BaseModel):
    action_id: int
    description: str
    owner: str
    due_at: datetime
    overdue: bool
    created_at: datetime
    created_by: str
    done_at: datetime | None
    done_by: str | None
    done_note: str | None
    overdue_notified_at: datetime | None


class CommentOut(BaseModel):
    comment_id: int
    author: str
    body: str
    created_at: datetime


class LinkOut(BaseModel):
    link_id: int
    url: str
    title: str
    added_by: str
    added_at: datetime


class HistoryOut(BaseModel):
    history_id: int
    at: datetime
    actor: str
    event: HistoryEvent
    from_state: TicketState | None
    to_state: TicketState | None
    detail: dict[str, Any]


class TicketDetail(TicketOut):
    occurrences: list[OccurrenceOut]
    actions: list[ActionOut]
    comments: list[CommentOut]
    links: list[LinkOut]
    history: list[HistoryOut]


OPENABLE_SOURCES = tuple(s for s in SourceKind if s is not SourceKind.ALERT)
SourceId = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$"), AfterValidator(_storable)
]


class NonconformityIn(BaseModel):
    """A nonconformity found other than by an alert (clause 10.1), or a potential one (9.4)."""

    model_config = ConfigDict(extra="forbid")

    kind: TicketKind = TicketKind.CORRECTIVE
    source_kind: SourceKind = Field(
        description="internal_audit, compliance_evaluation, complaint, management_review or"
        " observation (alert tickets are opened by the alerts)",
        json_schema_extra={"enum": [s.value for s in OPENABLE_SOURCES]},
    )
    source_id: SourceId | None = Field(
        default=None,
        description="The source record's id (an audit, an evaluation, a complaint number);"
        " required but for observations",
    )
    enterprise_id: ShortText | None = Field(
        default=None, description="Whose nonconformity; an enterprise key: its own (default)"
    )
    park_id: ShortText | None = Field(
        default=None, description="A park-level nonconformity (park-wide keys only)"
    )
    title: Title = Field(min_length=1)
    description: LongText

    @field_validator("title", "description")
    @classmethod
    def _sheet_safe(cls, value: str) -> str:
        # The title reaches the review report's XLSX, which cannot hold control characters.
        if ILLEGAL_CHARACTERS_RE.search(value):
            raise ValueError("text must not contain control characters (tab and newlines aside)")
        return value

    @field_validator("source_kind")
    @classmethod
    def _not_alert(cls, value: SourceKind) -> SourceKind:
        if value is SourceKind.ALERT:
            raise ValueError("tickets of alerts are opened by the alerts, not by this route")
        return value

    @model_validator(mode="after")
    def _source_named(self) -> NonconformityIn:
        if self.source_id is None and self.source_kind is not SourceKind.OBSERVATION:
            raise ValueError(f"a nonconformity from {self.source_kind} names its source_id")
        return self


class TransitionIn(BaseModel):
    """Move a ticket to ``to``; each target takes exactly the fields it needs (see below)."""

    model_config = ConfigDict(extra="forbid")

    to: TicketState
    containment: LongText | None = Field(default=None, description="-> contained: what was done")
    reason: LongText | None = Field(default=None, description="-> dismissed: why")
    cause_category: CauseCategory | None = Field(
        default=None, description="-> cause_identified: one of the five categories of 9.1 b"
    )
    root_cause: LongText | None = Field(default=None, description="-> cause_identified")
    similar_nonconformities: LongText | None = Field(
        default=None,
        description="-> cause_identified: whether similar nonconformities exist (10.1 b)",
    )
    effectiveness_review: LongText | None = Field(
        default=None,
        description="effectiveness_check -> closed (effective) or -> cause_identified (not)",
    )


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: LongText
    owner: ShortText
    due_at: AwareDatetime = Field(description="With an explicit UTC offset; years 2000-9000")

    @field_validator("due_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        # Bounded so every due date survives the round trip through PostgreSQL and Python
        # (year 1 with a positive offset is a BC instant that Python cannot read back).
        if not _EARLIEST <= value <= _LATEST:
            raise ValueError("due_at must lie between 2000-01-01 and 9000-01-01 (UTC)")
        return value


class ActionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    done: StrictBool = Field(description="true marks the action done; it cannot be undone")
    note: LongText | None = None


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: LongText


class LinkIn(BaseModel):
    """An attachment: a link to evidence kept elsewhere."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="http or https only")
    title: Title = ""
