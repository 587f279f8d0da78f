"""Bodies of targets (clause 6.2) and baselines with their restatements (clause 6.5)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accounting.categories import AccountingMethod
from accounting.gwp import GwpSet
from accounting.intensity import OutputUnit
from api.registry.common import METER_ID_PATTERN
from api.registry.enums import BaselineMethod, PeriodKind, RestatementReason, SubjectKind

Tonnes = Field(default=None, ge=0, strict=True, allow_inf_nan=False)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetCreate(Strict):
    """A limit for one subject over one local calendar period: absolute tCO2e and/or an
    intensity (tCO2e per output unit, 3.3.10)."""

    subject_kind: SubjectKind
    subject_id: str = Field(pattern=METER_ID_PATTERN)
    period_kind: PeriodKind
    period_start: date = Field(description="1 January for a year, the 1st for a month")
    method: AccountingMethod = AccountingMethod.LOCATION
    absolute_tco2e: float | None = Tonnes
    intensity: float | None = Tonnes
    intensity_unit: OutputUnit | None = None

    @model_validator(mode="after")
    def _shape(self) -> TargetCreate:
        if self.absolute_tco2e is None and self.intensity is None:
            raise ValueError("a target needs absolute_tco2e, intensity or both")
        if (self.intensity is None) != (self.intensity_unit is None):
            raise ValueError("intensity and intensity_unit go together")
        start = self.period_start
        if not 1990 <= start.year <= 2100:
            raise ValueError(f"period_start {start} is outside 1990..2100")
        if (self.period_kind is PeriodKind.MONTH and start.day != 1) or (
            self.period_kind is PeriodKind.YEAR and (start.month, start.day) != (1, 1)
        ):
            raise ValueError(f"a {self.period_kind} period cannot start on {start}")
        return self


class Target(BaseModel):
    target_id: int
    subject_kind: SubjectKind
    subject_id: str
    period_kind: PeriodKind
    period_start: date
    period_end: date  # exclusive
    method: AccountingMethod
    absolute_tco2e: float | None
    intensity: float | None
    intensity_unit: OutputUnit | None
    created_at: datetime
    created_by: str


class Regression(Strict):
    """tCO2e per period = intercept + sum(slope x driver)."""

    intercept: float = Field(strict=True, allow_inf_nan=False)
    slopes: dict[str, float] = Field(min_length=1)
    r_squared: float | None = Field(default=None, ge=0, le=1, strict=True)


class BaselineFigures(Strict):
    """What a baseline states; a restatement restates all of it."""

    method: BaselineMethod
    base_year: int | None = Field(default=None, ge=1990, le=2100, strict=True)
    regression: Regression | None = None
    period_kind: PeriodKind = PeriodKind.YEAR
    value_tco2e: float = Field(ge=0, strict=True, allow_inf_nan=False)
    factor_versions: list[str] = Field(default_factory=list, description="key@valid_from")
    effective: date

    @model_validator(mode="after")
    def _method(self) -> BaselineFigures:
        if self.method is BaselineMethod.BASE_YEAR and self.base_year is None:
            raise ValueError("a base_year baseline needs base_year")
        if self.method is BaselineMethod.REGRESSION and self.regression is None:
            raise ValueError("a regression baseline needs regression")
        return self


class BaselineCreate(BaselineFigures):
    subject_kind: SubjectKind
    subject_id: str = Field(pattern=METER_ID_PATTERN)
    note: str = Field(default="", max_length=2000)


class RestatementCreate(BaselineFigures):
    """A recalculation of a baseline for one of the triggers of clause 6.5."""

    reason: RestatementReason
    note: str = Field(min_length=1, max_length=2000, description="What changed and why")


class Baseline(BaseModel):
    baseline_id: int
    subject_kind: SubjectKind
    subject_id: str
    method: BaselineMethod
    base_year: int | None
    regression: dict[str, Any] | None
    period_kind: PeriodKind
    value_tco2e: float
    factor_versions: list[str]
    reason: RestatementReason | None
    reason_text: str | None  # the 6.5 trigger spelled out
    note: str
    recalculated_from: int | None
    restated_by: int | None  # the restatement that replaced this one; null: current
    effective: date
    created_at: datetime
    created_by: str


class ProposalTrigger(StrEnum):
    FACTOR_VERSION = "factor_version"  # a park factor version was added (/v1/factor-overrides)
    ON_DEMAND = "on_demand"


class ProposalStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a newer proposal for the same baseline replaced it


class ProposalCreate(Strict):
    """Compute a restatement proposal now (clause 6.5 c)."""

    gwp_set: GwpSet | None = Field(
        default=None,
        description="The GWP set to restate with; default: the one the stored windows used",
    )
    note: str = Field(default="", max_length=2000, description="Why it is asked for")


class ProposalAccept(Strict):
    effective: date | None = Field(
        default=None, description="From when the restated baseline applies; default: today (UTC)"
    )
    note: str = Field(default="", max_length=2000, description="Added to the restatement's note")


class ProposalReject(Strict):
    note: str = Field(min_length=1, max_length=2000, description="Why the proposal is rejected")


class Proposal(BaseModel):
    """A proposed restatement: the baseline's figure and the one recomputed from the base
    period's stored activity with the factors in force now, and which versions changed."""

    proposal_id: int
    baseline_id: int
    trigger: ProposalTrigger
    trigger_ref: str | None = Field(description="The factor version (key@valid_from) that made it")
    reason: RestatementReason
    reason_text: str
    period_start: date = Field(description="Base period, the park's local days")
    period_end: date = Field(description="Exclusive")
    gwp_set: str
    hour_windows: int
    stored_tco2e: float = Field(description="The base period's windows as stored")
    restated_tco2e: float = Field(description="The same activity with the factors in force now")
    previous_value_tco2e: float = Field(description="The baseline's figure per period_kind")
    proposed_value_tco2e: float = Field(description="restated_tco2e per period_kind")
    factor_versions_before: list[str]
    factor_versions_after: list[str]
    versions_removed: list[str]
    versions_added: list[str]
    lacking_factor: list[str] = Field(description="meter@day that no factor covers now")
    note: str
    status: ProposalStatus
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str
    restatement_id: int | None = Field(description="The baseline row an acceptance recorded")
    created_at: datetime
    created_by: str
