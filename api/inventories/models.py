"""Request and response bodies of ``/v1/inventories``, and the stored content (GB/T 32150).

``InventoryContent`` is what is stored and hashed: the reporting entity and boundary, the
period, the emission sources, every line (activity with its own unit, factor and source, per
gas), removals apart, totals location- and market-based side by side, the factor versions and
GWP set used, the activity records counted and the meters they replaced, and data quality.
tCO2e unless a field says otherwise; a ``None`` figure is *not available* (``notes`` say why).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from accounting.inventory_record import RecordLine, RemovalRow
from accounting.report import Breakdown
from api.inventories.enums import Boundary, VersionState
from api.reports.models import PeriodOut, Quality

Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class InventoryIn(BaseModel):
    """The period (a local ``year``, or ``from`` and ``to`` local days, both included) and the
    boundary (``enterprise_id``; null: the park — for an enterprise key, its own enterprise)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    park_id: Id | None = Field(
        default=None, description="The park; may be left out when there is one, or with enterprise"
    )
    enterprise_id: Id | None = None
    year: int | None = Field(default=None, ge=1990, le=2100, examples=[2025])
    first: date | None = Field(
        default=None, alias="from", description="First local day (with `to`)"
    )
    to: date | None = Field(default=None, description="Last local day, included (with `from`)")

    @model_validator(mode="after")
    def _one_period(self) -> InventoryIn:
        ranged = self.first is not None or self.to is not None
        if (self.year is None) == (not ranged) or (ranged and None in (self.first, self.to)):
            raise ValueError("give either year, or both from and to")
        return self


class EnterpriseRef(BaseModel):
    enterprise_id: str
    name: str


class Entity(BaseModel):
    """The reporting entity and its boundary (GB/T 32150 clause 5.1)."""

    park_id: str
    park_name: str
    boundary: Boundary
    enterprise_id: str | None = Field(description="null: the park's boundary")
    enterprise_name: str | None
    enterprises: list[EnterpriseRef] = Field(description="Enterprises inside the boundary")


class InventoryTotals(BaseModel):
    location_tco2e: float = Field(description="Gross emissions, electricity location-based")
    market_tco2e: float | None = Field(
        description="Gross emissions, electricity market-based; null when not available"
    )
    removals_tco2: float = Field(description="Removals by sinks, apart: never netted")


class EmissionSource(BaseModel):
    """One emission source of 6.3.1 c in the boundary: enterprise, category, carrier or
    material."""

    enterprise_id: str
    source_category: str
    iso_category: str
    carrier: str
    material: str | None
    origins: list[str] = Field(description="metered, or the activity records it comes from")


class GasTotal(BaseModel):
    gas: str
    location_tco2e: float
    market_tco2e: float | None


class EnterpriseTotal(BaseModel):
    enterprise_id: str
    location_tco2e: float
    market_tco2e: float | None
    removals_tco2: float


class FactorSource(BaseModel):
    version: str = Field(description="Factor key @ valid-from, or a process/fugitive key")
    source: str


class RecordUsed(BaseModel):
    """A confirmed activity record counted, with the share of it inside the period."""

    record: str = Field(description="<record id>v<version>")
    enterprise_id: str | None = Field(description="null: a park-level record")
    source_category: str
    carrier: str
    material: str | None
    quantity: float = Field(description="The record's whole quantity, in unit")
    unit: str
    period_start: date
    period_end: date
    share: float = Field(description="Days of the record inside the period / its days")
    document_ref: str
    evidence_sha256: str | None
    replaces_meters: list[str]


class ExcludedMeter(BaseModel):
    """A meter whose windows a record replaces: left out from ``starts_at`` to ``ends_at``."""

    meter_id: str
    record: str
    starts_at: datetime
    ends_at: datetime


class InventoryContent(BaseModel):
    """The stored inventory in the structure of a GB/T 32150 report."""

    standard: str
    entity: Entity
    period: PeriodOut
    gwp_set: str
    method: list[str]
    totals: InventoryTotals
    emission_sources: list[EmissionSource]
    lines: list[RecordLine] = Field(
        description="Per enterprise, source category, carrier or material, origin and gas: "
        "activity with its own unit (never summed across units), factor and source"
    )
    removals: list[RemovalRow]
    by_source_category: list[Breakdown]
    by_iso_category: list[Breakdown]
    by_gas: list[GasTotal]
    by_enterprise: list[EnterpriseTotal]
    factor_versions: list[FactorSource]
    activity_records: list[RecordUsed]
    excluded_meters: list[ExcludedMeter]
    quality: Quality
    notes: list[str]


class InventorySummary(BaseModel):
    inventory_id: int
    park_id: str
    enterprise_id: str | None = Field(description="null: the park's boundary")
    boundary: Boundary
    period_start: date
    period_end: date
    period_label: str
    version: int
    supersedes: int | None = Field(description="The version this one recomputes")
    state: VersionState
    gwp_set: str
    location_tco2e: float
    market_tco2e: float | None
    removals_tco2: float
    content_sha256: str = Field(description="sha256 of the content's canonical JSON")
    created_by: str
    created_at: datetime


class InventoryOut(InventorySummary):
    content: InventoryContent


class InventoryPage(BaseModel):
    items: list[InventorySummary]
    next_cursor: str | None
