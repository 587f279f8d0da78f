"""API models of activity records (clause 6.3.1 e): what is entered, and what is read back."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accounting.activity import ActivityInput
from accounting.carriers import Carrier
from accounting.categories import IsoCategory, SourceCategory
from api.activity.enums import RecordState
from api.registry.common import ID_PATTERN, METER_ID_PATTERN
from api.tickets.models import LongText, ShortText

EnterpriseId = Annotated[str, Field(pattern=ID_PATTERN)]
MeterId = Annotated[str, Field(pattern=METER_ID_PATTERN)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex")]
Fraction = Annotated[float, Field(gt=0, le=1)]


class ActivityContent(BaseModel):
    """The figures of one version: what, how much, when, by which category, on what evidence."""

    model_config = ConfigDict(extra="forbid")

    period_start: date = Field(description="First local day (park time zone), inclusive")
    period_end: date = Field(description="Last local day, inclusive; not in the future")
    source_category: SourceCategory
    iso_category: IsoCategory | None = Field(
        default=None, description="Overrides the category's default ISO 14064-1 category"
    )
    carrier: Carrier
    material: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="Process material (process.caco3), gas or blend (SF6, R-410A), or "
        "vegetation (sink.urban_tree_crown); none for energy carriers",
    )
    quantity: float = Field(ge=0)
    unit: Annotated[str, Field(min_length=1, max_length=16)]
    purity: Fraction = Field(default=1.0, description="Process: carbonate mass fraction")
    calcination: Fraction = Field(default=1.0, description="Process: fraction calcined")
    ncv_gj_per_unit: float | None = Field(
        default=None, gt=0, description="Lab-measured NCV, GJ per canonical unit of the fuel"
    )
    density_kg_per_l: float | None = Field(default=None, gt=0)
    replaces_meters: list[MeterId] = Field(
        default_factory=list,
        max_length=100,
        description="Meters whose windows this record replaces for its period",
    )
    document_ref: ShortText = Field(description="Invoice, ledger page or report number")
    evidence_file_name: ShortText | None = None
    evidence_sha256: Sha256 | None = None
    note: Annotated[str, Field(max_length=2000)] = ""

    @field_validator("quantity", "ncv_gj_per_unit", "density_kg_per_l")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def parameters(self) -> dict[str, float]:
        """The factor parameters stored with the version (defaults left out)."""
        found = {
            "purity": self.purity,
            "calcination": self.calcination,
            "ncv_gj_per_unit": self.ncv_gj_per_unit,
            "density_kg_per_l": self.density_kg_per_l,
        }
        defaults = {"purity": 1.0, "calcination": 1.0}
        return {k: v for k, v in found.items() if v is not None and defaults.get(k) != v}

    def to_input(self, *, record: str, subject: str) -> ActivityInput:
        return ActivityInput(
            record=record,
            subject=subject,
            category=self.source_category,
            carrier=self.carrier,
            quantity=self.quantity,
            unit=self.unit,
            material=self.material,
            period_start=self.period_start,
            period_end=self.period_end,
            iso_category=self.iso_category,
            purity=self.purity,
            calcination=self.calcination,
            ncv_gj_per_unit=self.ncv_gj_per_unit,
            density_kg_per_l=self.density_kg_per_l,
        )


class ActivityIn(ActivityContent):
    """A new record. An enterprise key enters records of its own enterprise (``enterprise_id``
    defaults to it); a park-wide key names the enterprise, or the park for a park-level one."""

    enterprise_id: EnterpriseId | None = None
    park_id: EnterpriseId | None = Field(default=None, description="Park-level records only")


class CorrectionIn(ActivityContent):
    """A correction: the whole new content of the record and why it changed."""

    reason: LongText


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Literal[RecordState.CONFIRMED, RecordState.WITHDRAWN]
    reason: LongText | None = Field(default=None, description="Required to withdraw")


class VersionOut(BaseModel):
    record_id: int
    version: int
    period_start: date
    period_end: date
    source_category: SourceCategory
    iso_category: IsoCategory | None
    carrier: Carrier
    material: str | None
    quantity: float
    unit: str
    activity: float = Field(description="Quantity in the carrier's canonical unit")
    activity_unit: str
    parameters: dict[str, Any]
    replaces_meters: list[str]
    document_ref: str
    evidence_file_name: str | None
    evidence_sha256: str | None
    evidence_uploaded: bool
    note: str
    entered_by: str
    entered_at: datetime
    reason: str


class RecordOut(BaseModel):
    record_id: int
    park_id: str
    enterprise_id: str | None = Field(description="None: a park-level record")
    state: RecordState
    version: int = Field(description="The current version")
    allowed_events: list[str]
    created_by: str
    created_at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    withdrawn_by: str | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    updated_at: datetime
    current: VersionOut


class RecordDetail(RecordOut):
    versions: list[VersionOut] = Field(description="Every version, oldest first")


class RecordPage(BaseModel):
    items: list[RecordOut]
    next_cursor: str | None


class RowResult(BaseModel):
    """The outcome of one row of an uploaded file (row 2 is the first row under the header)."""

    row: int
    outcome: Literal["created", "valid", "rejected"]
    record_id: int | None = None
    errors: list[str] = Field(default_factory=list)


class UploadResult(BaseModel):
    stored: bool = Field(description="False: nothing of the file was stored")
    rows: list[RowResult]
