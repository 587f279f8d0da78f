"""Bodies of the factor catalogue routes: a park's new version of a packaged factor or
conversion parameter, and the catalogue as listed (clauses 6.3.1 e, 6.5, 6.7, 7.3)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accounting.carriers import Carrier
from accounting.datafile import Evidence
from accounting.factor_rows import Series
from accounting.gwp import Gas
from api.registry.enums import FactorCatalogue


class OverrideCreate(BaseModel):
    """A new version of a catalogue key, the park's or one enterprise's, or the first version of
    a new key; every version carries its source (required)."""

    model_config = ConfigDict(extra="forbid")

    factor_key: str = Field(min_length=1, max_length=128, description="e.g. grid_avg.CN")
    enterprise_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The enterprise whose meters only it applies to (its measured NCV, carbon"
        " content, oxidation rate, its supplier's steam factor); null: the whole park",
    )
    series: Series | None = Field(
        default=None, description="New emission-factor key only: the series it belongs to"
    )
    carrier: Carrier | None = Field(default=None, description="New key only (else the key's)")
    parameter: str | None = Field(
        default=None,
        max_length=64,
        description="New key only: emission_factor, ncv, carbon_content, oxidation_rate"
        " (emission factors) or density, steam_enthalpy, reference_water_enthalpy (conversion"
        " parameters)",
    )
    region: str | None = Field(
        default=None, max_length=64, description="New emission-factor key only: a region code"
    )
    gas: Gas | None = Field(default=None, description="If given, must be the key's gas")
    value: float = Field(ge=0, strict=True, allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=32, description="As the source prints it")
    valid_from: date
    valid_to: date | None = Field(default=None, description="Inclusive; null: open-ended")
    source: str = Field(min_length=1, max_length=500, description="Document that publishes it")
    source_table: str = Field(min_length=1, max_length=500)
    edition: str = Field(min_length=1, max_length=200, description="Edition, number or year")
    evidence: Evidence
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _period(self) -> OverrideCreate:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        for name in ("source", "source_table", "edition"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} is blank")
        return self


class Override(BaseModel):
    override_id: int
    catalogue: FactorCatalogue
    factor_key: str
    enterprise_id: str | None
    series: str | None
    carrier: str | None
    parameter: str | None
    region: str | None
    gas: str | None
    value: float
    unit: str
    valid_from: date
    valid_to: date | None
    source: str
    source_table: str
    edition: str
    evidence: Evidence
    note: str
    created_by: str
    created_at: datetime


class Factor(BaseModel):
    """One version of a catalogue key, packaged or the park's, with the period it covers."""

    catalogue: FactorCatalogue
    key: str
    version: str  # key@valid_from, as emission windows record the versions they used
    series: str | None  # emission factors only: what a meter's factor_key names
    carrier: Carrier
    parameter: str  # emission_factor / ncv / carbon_content / oxidation_rate / density ...
    gas: str | None
    region: str | None
    value: float
    unit: str
    valid_from: date
    valid_to: date | None
    effective_to: date | None = Field(description="valid_to, or the day before a later version")
    source: str
    table: str
    edition: str
    evidence: Evidence
    note: str
    origin: str  # data file and line, or "override"
    override_id: int | None
    enterprise_id: str | None = Field(
        default=None, description="The enterprise whose version it is; null: park or packaged"
    )
