"""API models of risks, their actions and effectiveness reviews, and project screenings
(clauses 6.1, 6.3.5)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from api.registers.xlsx import LongText, ShortText, Title
from api.risks import rules
from api.risks.enums import Decision, RiskCategory, RiskKind, RiskStatus
from api.training.models import Day, Owned

Rating = Annotated[int, Field(ge=1, le=5)]
Ref = Annotated[int, Field(ge=1, le=2**63 - 1)]


class RiskIn(Owned):
    kind: RiskKind
    category: RiskCategory = Field(description="6.1.2 a-d for a risk; opportunity for one")
    title: ShortText
    description: LongText
    context_issue_id: Ref | None = Field(default=None, description="6.1.1 a: /v1/context-issues")
    interested_party_id: Ref | None = Field(
        default=None, description="6.1.1 b: /v1/interested-parties"
    )
    obligation_id: Ref | None = Field(default=None, description="6.1.1 d: /v1/obligations")
    likelihood: Rating
    consequence: Rating
    owner: ShortText
    review_on: Day = Field(description="When the risk is next reviewed; a reminder")

    @model_validator(mode="after")
    def _category_fits(self) -> Self:
        if not rules.category_fits(self.kind, self.category):
            raise ValueError("an opportunity has category opportunity, a risk one of the others")
        return self


class RiskPatch(BaseModel):
    """A re-assessment: the fields sent change (the score follows the ratings)."""

    model_config = ConfigDict(extra="forbid")

    likelihood: Rating | None = None
    consequence: Rating | None = None
    owner: ShortText | None = None
    review_on: Day | None = None
    status: RiskStatus | None = None

    def changes(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.model_fields_set if getattr(self, f) is not None}


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: LongText
    owner: ShortText
    due_on: Day
    review_on: Day = Field(description="When its effectiveness is reviewed; a reminder")


class ReviewIn(BaseModel):
    """6.1.3 b 2): whether the action worked."""

    model_config = ConfigDict(extra="forbid")

    reviewed_on: Day
    effective: StrictBool
    note: LongText


class ReviewOut(BaseModel):
    review_id: int
    action_id: int
    reviewed_on: date
    effective: bool
    note: str
    reviewed_by: str
    recorded_at: datetime


class ActionOut(BaseModel):
    action_id: int
    risk_id: int
    description: str
    owner: str
    due_on: date
    review_on: date
    created_at: datetime
    created_by: str
    reviews: list[ReviewOut] = Field(default_factory=list)


class RiskOut(BaseModel):
    risk_id: int
    park_id: str
    enterprise_id: str | None
    kind: RiskKind
    category: RiskCategory
    title: str
    description: str
    context_issue_id: int | None
    interested_party_id: int | None
    obligation_id: int | None
    likelihood: int
    consequence: int
    score: int = Field(description="likelihood x consequence, 1-25")
    owner: str
    review_on: date
    status: RiskStatus
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class RiskDetail(RiskOut):
    actions: list[ActionOut]


class RiskPage(BaseModel):
    items: list[RiskOut]
    next_cursor: str | None


class Criterion(BaseModel):
    """One admission criterion applied (e.g. the sector's energy-efficiency benchmark)."""

    model_config = ConfigDict(extra="forbid")

    criterion: ShortText
    requirement: ShortText = Field(description="What the criterion asks, e.g. a threshold")
    met: StrictBool
    note: Title = ""


class ScreeningIn(Owned):
    """A new two-high project: its expected annual figures and the criteria applied."""

    project: ShortText
    applicant: ShortText
    industry: ShortText
    annual_energy_tce: float = Field(ge=0, le=1e9, description="Expected, tce per year")
    annual_emissions_tco2e: float = Field(ge=0, le=1e10, description="Expected, tCO2e per year")
    criteria: list[Criterion] = Field(min_length=1, max_length=50)

    @field_validator("annual_energy_tce", "annual_emissions_tco2e")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    conditions: LongText | None = Field(default=None, description="admit_with_conditions only")
    reason: LongText
    decided_by: ShortText = Field(description="Who decided (the park's admission committee)")
    decided_at: datetime = Field(description="When it was decided, with its UTC offset")

    @model_validator(mode="after")
    def _conditions(self) -> Self:
        if (self.decision is Decision.ADMIT_WITH_CONDITIONS) != (self.conditions is not None):
            raise ValueError("conditions are given with admit_with_conditions, and only with it")
        return self

    @field_validator("decided_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("decided_at needs a UTC offset")
        if not 2000 <= value.year <= 9000:
            raise ValueError("decided_at must lie in the years 2000-9000")
        return value


class ScreeningOut(BaseModel):
    screening_id: int
    park_id: str
    enterprise_id: str | None
    project: str
    applicant: str
    industry: str
    annual_energy_tce: float
    annual_emissions_tco2e: float
    criteria: list[Criterion]
    decision: Decision | None
    conditions: str | None
    decision_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    recorded_by: str | None
    created_at: datetime
    created_by: str


class ScreeningPage(BaseModel):
    items: list[ScreeningOut]
    next_cursor: str | None
