"""API models of compliance obligations (6.6) and compliance evaluations (9.2)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from api.activity.models import Sha256
from api.obligations.enums import Applicability, EvaluationResult, ObligationKind, ObligationStatus
from api.registers.spec import RecordStatus
from api.registers.views import OwnerFields, StatusField
from api.registers.xlsx import ListItem, LongText, ShortText
from api.registry.common import ID_PATTERN

_EARLIEST, _LATEST = date(2000, 1, 1), date(9000, 1, 1)
RecordRef = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _plausible(value: date) -> date:
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("dates lie between 2000-01-01 and 9000-01-01")
    return value


def _enterprise_id(value: str) -> str:
    if re.fullmatch(ID_PATTERN, value) is None:
        raise ValueError(f"{value!r} is not an enterprise id ({ID_PATTERN})")
    return value


Day = Annotated[date, AfterValidator(_plausible)]
EnterpriseRef = Annotated[ListItem, AfterValidator(_enterprise_id)]


class ObligationContent(BaseModel):
    """A legal or other requirement related to carbon management that the park or an
    enterprise must or chooses to meet (6.6), from its source document and clause, with the
    frequency of its compliance evaluation (9.2)."""

    model_config = ConfigDict(extra="forbid")

    title: ShortText
    kind: ObligationKind
    source_document: ShortText = Field(description="e.g. GB 17167-2006, or the permit's number")
    clause: ShortText | None = Field(default=None, description="The clause or article, if one")
    summary: LongText = Field(description="What the requirement asks of the park")
    applicability: Applicability
    applies_to: list[EnterpriseRef] = Field(
        default_factory=list,
        max_length=200,
        description="The enterprises bound (applicability named_enterprises only)",
    )
    owner: ShortText = Field(description="Who keeps the obligation and sees it evaluated")
    evaluation_frequency_months: int = Field(ge=1, le=120)
    next_evaluation_due: Day = Field(
        description="Raises obligation.evaluation_due when it passes (while in force); each "
        "evaluation moves it to its date plus the frequency"
    )
    obligation_status: ObligationStatus

    @model_validator(mode="after")
    def _named_when_named(self) -> ObligationContent:
        named = self.applicability is Applicability.NAMED_ENTERPRISES
        if named != bool(self.applies_to):
            raise ValueError(
                "applies_to names the enterprises exactly when applicability is named_enterprises"
            )
        if len(set(self.applies_to)) != len(self.applies_to):
            raise ValueError("applies_to names an enterprise twice")
        return self


class ObligationIn(OwnerFields, ObligationContent):
    pass


class ObligationUpdate(StatusField, ObligationContent):
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


class ObligationOut(ObligationContent, _System):
    model_config = ConfigDict(extra="ignore")


class ObligationPage(BaseModel):
    items: list[ObligationOut]
    next_cursor: str | None


class EvaluationContent(BaseModel):
    """One evaluation of one obligation over one period (9.2): the result, what was found, the
    evidence (a document reference, and optionally a file declared by name and sha256 and
    uploaded to ``PUT .../{record_id}/evidence``), who evaluated and when."""

    model_config = ConfigDict(extra="forbid")

    obligation_id: RecordRef
    period_start: Day
    period_end: Day
    result: EvaluationResult
    finding: LongText = Field(description="What was found; a non-compliance's ticket says it")
    evidence_ref: ShortText = Field(description="The document the result rests on")
    evidence_file_name: ShortText | None = None
    evidence_sha256: Sha256 | None = None
    evaluator: ShortText
    evaluated_on: Day

    @model_validator(mode="after")
    def _consistent(self) -> EvaluationContent:
        if self.period_start > self.period_end:
            raise ValueError("period_start is after period_end")
        if (self.evidence_file_name is None) != (self.evidence_sha256 is None):
            raise ValueError("declare an evidence file by both evidence_file_name and sha256")
        return self


class EvaluationIn(OwnerFields, EvaluationContent):
    pass


class EvaluationUpdate(StatusField, EvaluationContent):
    """The whole record: its content and status (archive: ``archived``)."""


class EvaluationOut(EvaluationContent, _System):
    model_config = ConfigDict(extra="ignore")

    ticket_id: int | None = Field(description="The ticket a non-compliant result opened")


class EvaluationPage(BaseModel):
    items: list[EvaluationOut]
    next_cursor: str | None
