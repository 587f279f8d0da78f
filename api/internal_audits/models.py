"""API models of internal audits and their findings (clause 9.3)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from api.activity.models import Sha256
from api.internal_audits.enums import AuditStatus, FindingType
from api.registers.spec import RecordStatus
from api.registers.views import OwnerFields, StatusField
from api.registers.xlsx import ListItem, LongText, ShortText

_EARLIEST, _LATEST = date(2000, 1, 1), date(9000, 1, 1)


def _plausible(value: date) -> date:
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("dates lie between 2000-01-01 and 9000-01-01")
    return value


Day = Annotated[date, AfterValidator(_plausible)]


class AuditContent(BaseModel):
    """One internal audit of the programme of ``programme_year`` (9.3): its scope and
    criteria, its auditors and whether they are independent of the area audited (objectivity
    and impartiality: an auditor does not audit their own work), its dates and status. Closing
    it needs its actual dates and its report, declared by file name and sha256 and uploaded to
    ``PUT /v1/internal-audits/{record_id}/report`` first."""

    model_config = ConfigDict(extra="forbid")

    programme_year: int = Field(ge=2000, le=9000, description="The year's audit programme")
    title: ShortText
    scope: LongText = Field(description="Processes, sites and period audited")
    criteria: LongText = Field(description="What the audit measures against")
    audited_area: ShortText = Field(description="The department or process audited")
    auditors: list[ListItem] = Field(min_length=1, max_length=20)
    auditors_independent: StrictBool = Field(description="No auditor audits their own area")
    independence_note: LongText | None = Field(
        default=None, description="Required when an auditor audits their own area: why, and how"
    )
    planned_start: Day
    planned_end: Day = Field(
        description="Raises internal_audit.due when it passes while the audit is not closed"
    )
    actual_start: Day | None = None
    actual_end: Day | None = None
    audit_status: AuditStatus
    report_file_name: ShortText | None = None
    report_sha256: Sha256 | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AuditContent:
        if self.planned_start > self.planned_end:
            raise ValueError("planned_start is after planned_end")
        if self.actual_end is not None and (
            self.actual_start is None or self.actual_start > self.actual_end
        ):
            raise ValueError("actual_end needs an actual_start on or before it")
        if not self.auditors_independent and self.independence_note is None:
            raise ValueError("an auditor audits their own area: say why in independence_note")
        if (self.report_file_name is None) != (self.report_sha256 is None):
            raise ValueError("declare the report by both report_file_name and report_sha256")
        if self.audit_status is AuditStatus.CLOSED and (
            self.actual_end is None or self.report_sha256 is None
        ):
            raise ValueError("a closed audit has its actual dates and its report declared")
        return self


class AuditIn(OwnerFields, AuditContent):
    pass


class AuditUpdate(StatusField, AuditContent):
    """The whole record: its content and status (archive: ``archived``)."""


class _System(BaseModel):
    model_config = ConfigDict(extra="ignore")

    record_id: int
    park_id: str
    enterprise_id: str | None = Field(description="None: a park-level record")
    status: RecordStatus
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class AuditOut(AuditContent, _System):
    model_config = ConfigDict(extra="ignore")


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


class ProgrammeOut(BaseModel):
    """The audit programme of one year: its active audits by status, and the audits."""

    programme_year: int
    audits_by_status: dict[AuditStatus, int]
    audits: list[AuditOut]


class FindingContent(BaseModel):
    """A finding of an internal audit (9.3): its type, the clause of the standard it concerns
    and the evidence it rests on. A nonconformity opens a corrective-action ticket (10.1)."""

    model_config = ConfigDict(extra="forbid")

    audit_id: int = Field(ge=1, le=2**63 - 1)
    finding_type: FindingType
    clause: ShortText = Field(description="The clause of the standard, e.g. 9.1.2")
    title: ShortText
    description: LongText
    evidence: LongText = Field(description="What was seen: records, interviews, documents")


class FindingIn(OwnerFields, FindingContent):
    pass


class FindingUpdate(StatusField, FindingContent):
    """The whole record: its content and status (archive: ``archived``)."""


class FindingOut(FindingContent, _System):
    model_config = ConfigDict(extra="ignore")

    ticket_id: int | None = Field(description="The ticket a nonconformity opened")


class FindingPage(BaseModel):
    items: list[FindingOut]
    next_cursor: str | None
