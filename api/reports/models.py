"""The inventory report (clause 6.3.1) and the management-review inputs (9.5.1) as JSON.

Figures are the ``accounting`` dataclasses themselves; these models put them together with the
period, the park and the data-quality summary. tCO2e unless a field says otherwise; a ``None``
figure is *not available*, and the report's ``notes`` say why.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from accounting.report import Breakdown, GasRow, Line, Removal
from accounting.report_compare import BaselineResult, IntensityResult, TargetResult


class PeriodOut(BaseModel):
    kind: str = Field(description="year | month | range")
    label: str
    start: date = Field(description="First local day included")
    end: date = Field(description="Last local day included")
    timezone: str = Field(description="The park's time zone: days are its local days")


class Totals(BaseModel):
    location_tco2e: float = Field(description="Gross emissions, electricity location-based")
    market_tco2e: float | None = Field(
        description="Gross emissions, electricity market-based; null when not available"
    )
    removals_tco2: float = Field(description="Removals by sinks, apart: never netted")


class EnergyCarrierRow(BaseModel):
    carrier: str
    activity: float = Field(description="In the carrier's canonical unit")
    unit: str
    tce: float | None = Field(description="null where a local day has no coefficient")
    coefficient_versions: list[str]
    missing_coefficient_days: list[date]


class EnergyEnterpriseRow(BaseModel):
    enterprise_id: str
    tce: float | None
    tce_per_t_product: float | None = Field(description="null without production output")
    tce_per_cny_10k: float | None = Field(description="tce per 10^4 CNY output value")


class Energy(BaseModel):
    """Comprehensive energy consumption in tce (GB/T 2589-2020, clause 4)."""

    electricity_convention: str = Field(description="equal_value (当量值) or equivalent (等价值)")
    tce: float | None = Field(description="null when any carrier's tce is")
    by_carrier: list[EnergyCarrierRow]
    by_enterprise: list[EnergyEnterpriseRow]


class ElectricityRow(BaseModel):
    enterprise_id: str
    activity_kwh: float
    location_tco2e: float
    market_tco2e: float | None


class VersionRow(BaseModel):
    version: str = Field(description="Factor key @ valid-from date (accounting/data)")
    source_category: str
    activity_unit: str
    windows: int = Field(description="Hourly windows that used the version")
    activity: float
    tco2e: float
    first_window: datetime
    last_window_end: datetime


class QualityRow(BaseModel):
    enterprise_id: str
    meters: int = Field(description="Meters in the registry (activity-only meters excluded)")
    readings_expected: float = Field(description="By the registry: time in service / interval")
    readings_present: float = Field(description="Interval-weighted readings in the windows")
    completeness: float | None = Field(description="present / expected by the registry, 0..1")
    windows: int
    interpolated_windows: int
    unfactored_windows: int = Field(description="Windows with activity but no emission factor")


class Quality(BaseModel):
    completeness: float | None = Field(description="Readings present / expected, 0..1")
    window_completeness: float | None = Field(
        description="Within the windows written: present / expected there"
    )
    windows: int
    interpolated_windows: int
    interpolated_share: float | None = Field(description="Share of windows with split intervals")
    interpolated_tco2e_share: float | None
    unfactored_windows: int
    rejected_readings: int
    rejects_by_reason: dict[str, int]
    by_enterprise: list[QualityRow]


class InventoryReport(BaseModel):
    """The period inventory (clause 6.3.1 f)."""

    report: str = "inventory"
    park_id: str
    park_name: str
    enterprise_id: str | None = Field(description="null: the whole park")
    period: PeriodOut
    generated_at: datetime
    method: list[str] = Field(description="How the figures were computed")
    gwp_sets: list[str]
    totals: Totals
    by_source_category: list[Breakdown]
    by_iso_category: list[Breakdown]
    by_gas: list[GasRow]
    by_enterprise: list[Breakdown]
    by_month: list[Breakdown]
    lines: list[Line]
    electricity: list[ElectricityRow]
    energy: Energy
    removals: list[Removal]
    intensity: list[IntensityResult]
    targets: list[TargetResult]
    baselines: list[BaselineResult]
    factor_versions: list[VersionRow]
    residual_mix_versions: list[str]
    quality: Quality
    notes: list[str]


class MonthRow(BaseModel):
    month: date
    location_tco2e: float
    market_tco2e: float | None
    year_before_tco2e: float | None = Field(description="The same month one year earlier")
    change_share: float | None = Field(description="(this - year before) / year before")


class Projection(BaseModel):
    available: bool
    note: str
    method: str | None = None
    growth_rate_per_year: float | None = None
    peak_year: int | None = None
    annual_tco2e: dict[int, float] = Field(default_factory=dict)


class TicketRow(BaseModel):
    ticket_id: int
    title: str
    state: str
    enterprise_id: str | None
    cause: str | None = Field(
        description="The identified or suggested cause; None: a nonconformity from an audit,"
        " evaluation, complaint or review whose cause is not identified yet"
    )
    opened_at: datetime
    age_days: float
    actions_open: int
    actions_overdue: int
    next_due: datetime | None


class Actions(BaseModel):
    """Status of corrective actions (9.5.1 a) from tickets (clause 10.1)."""

    by_state: dict[str, int] = Field(description="Tickets opened up to the period's end")
    opened_in_period: int
    closed_in_period: int
    dismissed_in_period: int
    actions_overdue: int = Field(description="Actions past due and not done, now")
    open_tickets: list[TicketRow]


class CauseRow(BaseModel):
    cause: str = Field(description="One of the five categories of clause 9.1 b")
    rule: str
    alerts: int
    open_alerts: int
    tickets: int


class ReviewReport(BaseModel):
    """Management-review inputs (clause 9.5.1) generated from the data."""

    report: str = "review"
    park_id: str
    park_name: str
    enterprise_id: str | None
    period: PeriodOut
    generated_at: datetime
    actions: Actions
    trends: list[MonthRow]
    projection: Projection
    nonconformities: list[CauseRow]
    monitoring: Quality
    totals: Totals
    by_enterprise: list[Breakdown]
    by_source_category: list[Breakdown]
    targets: list[TargetResult]
    baselines: list[BaselineResult]
    audit_results: str
    notes: list[str]
