"""API models of objectives (6.2), reduction measures and their M&V (6.2.2, 6.3, 6.3.1 a) and
the meter calibration log (9.1 c). Bodies are strict: an unknown field is 422."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accounting.categories import SourceCategory
from api.measures.enums import (
    CalibrationKind,
    CalibrationResult,
    MeasureState,
    MvSubject,
    ObjectiveStatus,
)
from api.registers.xlsx import LongText, ShortText
from contracts.patterns import ID_PATTERN

Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))]
Tonnes = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
Cny = Annotated[float, Field(ge=0, le=1e13, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Owner(_Strict):
    enterprise_id: Id | None = Field(
        default=None, description="The enterprise it belongs to (enterprise keys: their own)"
    )
    park_id: Id | None = Field(default=None, description="For a park-level record only")


class ObjectiveContent(_Strict):
    """What an objective's writer states (a create body, an XLSX row)."""

    title: ShortText = Field(description="The objective (clause 6.2)")
    indicator: LongText = Field(description="The measurable indicator, e.g. tCO2e per year")
    target_id: int = Field(ge=1, le=2**63 - 1, description="The target whose figures measure it")
    owner: ShortText = Field(description="Who is responsible")
    resources: LongText = Field(description="Resources required")
    due_on: Day = Field(description="When it is to be completed")
    evaluation_method: LongText = Field(description="How the results are evaluated")


class ObjectiveIn(ObjectiveContent, Owner):
    pass


class ObjectivePatch(_Strict):
    title: ShortText | None = None
    indicator: LongText | None = None
    owner: ShortText | None = None
    resources: LongText | None = None
    due_on: Day | None = None
    evaluation_method: LongText | None = None
    status: ObjectiveStatus | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class ObjectiveOut(BaseModel):
    record_id: int
    park_id: str
    enterprise_id: str | None
    status: ObjectiveStatus
    title: str
    indicator: str
    target_id: int
    owner: str
    resources: str
    due_on: date
    overdue: bool = Field(description="Active and past its due date (park-local)")
    evaluation_method: str
    progress: dict[str, Any] | None = Field(
        description="The target's progress as /v1/progress reports it; null outside the"
        " target's period"
    )
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class ObjectivePage(BaseModel):
    items: list[ObjectiveOut]
    next_cursor: str | None


class MeasureContent(_Strict):
    """What a measure's writer states (a create body, an XLSX row); its status moves through
    the transitions only."""

    title: ShortText
    description: LongText
    source_category: SourceCategory = Field(description="The emission source it reduces (6.3.1)")
    expected_tco2e_per_year: Tonnes = Field(description="Expected reduction, tCO2e per year")
    expected_tce_per_year: Tonnes | None = Field(
        default=None, description="Expected energy saving, tonnes of coal equivalent per year"
    )
    capex_cny: Cny | None = Field(default=None, description="Capital cost, CNY")
    owner: ShortText
    planned_start: Day
    planned_end: Day
    meter_ids: list[Id] = Field(
        default_factory=list,
        max_length=100,
        description="The meters it affects; empty: the whole enterprise (or park)",
    )

    @model_validator(mode="after")
    def _schedule(self) -> MeasureContent:
        if self.planned_end < self.planned_start:
            raise ValueError("planned_end must not precede planned_start")
        if len(set(self.meter_ids)) != len(self.meter_ids):
            raise ValueError("meter_ids names a meter twice")
        return self


class MeasureIn(MeasureContent, Owner):
    pass


class MeasurePatch(_Strict):
    title: ShortText | None = None
    description: LongText | None = None
    expected_tco2e_per_year: Tonnes | None = None
    expected_tce_per_year: Tonnes | None = None
    capex_cny: Cny | None = None
    owner: ShortText | None = None
    planned_start: Day | None = None
    planned_end: Day | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class MeasureOut(BaseModel):
    record_id: int
    park_id: str
    enterprise_id: str | None
    status: MeasureState
    allowed_transitions: list[MeasureState]
    title: str
    description: str
    source_category: SourceCategory
    expected_tco2e_per_year: float
    expected_tce_per_year: float | None
    capex_cny: float | None
    owner: str
    planned_start: date
    planned_end: date
    meter_ids: list[str]
    implemented_on: date | None
    cancel_reason: str | None
    approved_at: datetime | None
    in_progress_at: datetime | None
    implemented_at: datetime | None
    verified_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class MeasurePage(BaseModel):
    items: list[MeasureOut]
    next_cursor: str | None


class MeasureTransitionIn(_Strict):
    """Move a measure to ``to``: implemented takes ``implemented_on``, cancelled ``reason``."""

    to: MeasureState
    implemented_on: Day | None = Field(default=None, description="-> implemented: went live on")
    reason: LongText | None = Field(default=None, description="-> cancelled: why")
    note: LongText | None = None


class VerificationIn(_Strict):
    period_start: Day = Field(description="First park-local day, on or after implemented_on")
    period_end: Day = Field(description="Exclusive park-local day, not after today")
    note: LongText | None = None


class BaselineUsed(BaseModel):
    subject_id: str
    baseline_id: int
    period_kind: str
    value_tco2e: float = Field(description="tCO2e per period_kind")
    prorated_tco2e: float = Field(description="Its share over the verification period")


class VerificationOut(BaseModel):
    verification_id: int
    measure_id: int
    period_start: date
    period_end: date
    subject_kind: MvSubject
    baselines: list[BaselineUsed]
    baseline_tco2e: float
    actual_tco2e: float
    hour_windows: int = Field(description="Stored hour windows the actual figure adds up")
    verified_savings_tco2e: float = Field(description="baseline - actual; negative: an increase")
    expected_savings_tco2e: float | None
    realisation: float | None = Field(description="verified / expected savings")
    note: str | None
    created_at: datetime
    created_by: str


class RankedMeasure(BaseModel):
    rank: int
    tco2e_per_year_per_10k_cny: float | None = Field(
        description="Expected tCO2e/year per 10^4 CNY capex; null: no capex stated (ranked last)"
    )
    measure: MeasureOut


class Ranking(BaseModel):
    items: list[RankedMeasure]


class CalibrationIn(_Strict):
    kind: CalibrationKind
    performed_on: Day
    result: CalibrationResult
    certificate_no: ShortText | None = Field(
        default=None, description="Required for a calibration or verification"
    )
    laboratory: ShortText | None = Field(
        default=None, description="Required for a calibration or verification"
    )
    next_due: Day | None = Field(
        default=None,
        description="Required for a passing or adjusted calibration or verification; it"
        " becomes the meter's calibration_due",
    )
    note: LongText | None = None

    @model_validator(mode="after")
    def _certificate(self) -> CalibrationIn:
        certifying = self.kind in (CalibrationKind.CALIBRATION, CalibrationKind.VERIFICATION)
        if certifying and (self.certificate_no is None or self.laboratory is None):
            raise ValueError(f"a {self.kind} names its certificate_no and laboratory")
        if certifying and self.result is not CalibrationResult.FAIL and self.next_due is None:
            raise ValueError(f"a {self.result} {self.kind} names its next_due date")
        if self.next_due is not None and self.next_due <= self.performed_on:
            raise ValueError("next_due must follow performed_on")
        return self


class MeterRef(_Strict):
    meter_id: Id = Field(description="The meter the event concerns")


class CalibrationContent(CalibrationIn, MeterRef):
    """One event as a row of the calibration log's XLSX sheet: the meter and the event."""


class CalibrationOut(BaseModel):
    event_id: int
    meter_id: str
    enterprise_id: str
    kind: CalibrationKind
    performed_on: date
    result: CalibrationResult
    certificate_no: str | None
    laboratory: str | None
    next_due: date | None
    note: str | None
    calibration_due_before: date | None = Field(description="The registry's due date before")
    calibration_due_after: date | None = Field(description="... and after this event")
    ticket_id: int | None = Field(description="The nonconformity a failure opened")
    created_at: datetime
    created_by: str


class CalibrationPage(BaseModel):
    items: list[CalibrationOut]
    next_cursor: str | None
