"""Query responses. Numbers are decimal strings (exact, rounded in PostgreSQL as numeric), each
with its unit named beside it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.queries.compare import Compare
from api.queries.enums import Bucket, CalibrationStatus, GroupBy
from api.queries.shapes import Metric, NodeKind

DecimalStr = str  # a decimal number as a string, e.g. "12.345000"


class Quantity(BaseModel):
    value: DecimalStr
    unit: str


class Page(BaseModel):
    limit: int
    offset: int
    next: str | None = Field(description="The next page's URL, or null on the last page")


_CHANGE = "This row's figure less the earlier bucket's; null when either is missing"
_CHANGE_PCT = (
    "The change in per cent of the earlier figure's magnitude, to 2 places; null when the"
    " earlier figure is zero or missing"
)
_PREVIOUS = (
    "With compare=yoy|mom: the same bucket one local calendar year / month earlier (同比 /"
    " 环比), or null when that bucket does not exist in the calendar (e.g. 31 March a month"
    " earlier) or compare is not asked for"
)


class ComparedEmissions(BaseModel):
    bucket_start: datetime
    bucket_end: datetime
    tco2e: DecimalStr | None = Field(
        description="tCO2e of the earlier bucket; null when it has no stored window or when"
        " grouped by gas"
    )
    mass_t: DecimalStr | None = Field(description="Tonnes of the gas; only when grouped by gas")
    change: DecimalStr | None = Field(description=_CHANGE + " (tCO2e, or t of the gas)")
    change_pct: DecimalStr | None = Field(description=_CHANGE_PCT)


class ComparedEnergy(BaseModel):
    bucket_start: datetime
    bucket_end: datetime
    tce: DecimalStr | None = Field(
        description="tce of the earlier bucket; null when it has no energy window or a day"
        " without a coefficient"
    )
    change: DecimalStr | None = Field(description=_CHANGE + " (tce)")
    change_pct: DecimalStr | None = Field(description=_CHANGE_PCT)


class EmissionRow(BaseModel):
    bucket_start: datetime
    bucket_end: datetime
    group: dict[str, str | None] = Field(description="The value of each group_by dimension")
    tco2e: DecimalStr | None = Field(description="tCO2e; null when grouped by gas")
    mass_t: DecimalStr | None = Field(description="Tonnes of the gas; only when grouped by gas")
    activity: list[Quantity] = Field(description="Activity summed per unit (never across units)")
    completeness: DecimalStr | None = Field(description="Readings present / expected, 0..1")
    windows: int = Field(description="Stored windows summed into this row")
    market_tco2e: DecimalStr | None = Field(
        default=None,
        description="Market-based tCO2e beside the location-based tco2e (include_market=true):"
        " purchased electricity under a contractual instrument at its factor, other purchased"
        " kWh at the residual mix; null when not asked for or not available",
    )
    previous: ComparedEmissions | None = Field(default=None, description=_PREVIOUS)


class Emissions(Page):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    bucket: Bucket
    width_s: int = Field(description="Width of the stored windows summed")
    group_by: list[GroupBy]
    detail: bool = Field(
        description="false: counted totals (docs/boundary.md); true: every meter as measured"
    )
    unit: str = "tCO2e"
    compare: Compare | None = Field(default=None, description="The comparison asked for")
    items: list[EmissionRow]


class CarrierEnergy(BaseModel):
    carrier: str
    activity: Quantity = Field(description="In the carrier's canonical unit")
    tce: DecimalStr | None = Field(
        description="Tonnes of standard coal equivalent; null where a day has no coefficient"
    )
    coefficient_versions: list[str] = Field(description="GB/T 2589 coefficient versions used")
    missing_coefficient_days: list[date] = Field(
        description="Local days (or months' first days) without a coefficient version"
    )


class EnergyRow(BaseModel):
    bucket_start: datetime
    bucket_end: datetime
    group: dict[str, str | None] = Field(description="The value of each group_by dimension")
    tce: DecimalStr | None = Field(description="Sum over carriers; null if any carrier's is")
    carriers: list[CarrierEnergy]
    windows: int = Field(description="Stored windows of energy meters summed into this row")
    previous: ComparedEnergy | None = Field(default=None, description=_PREVIOUS)


class Energy(Page):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    bucket: Bucket
    group_by: list[GroupBy]
    unit: str = "tce"
    compare: Compare | None = Field(default=None, description="The comparison asked for")
    items: list[EnergyRow]


class OutputIntensity(BaseModel):
    output: Quantity
    intensity: Quantity | None = Field(description="tCO2e per output unit; null without output")
    energy_intensity: Quantity | None = Field(
        default=None, description="tce per output unit (GB/T 2589-2020); null without output"
    )


class EnterpriseIntensity(BaseModel):
    enterprise_id: str
    tco2e: Quantity
    energy: Quantity | None = Field(
        default=None, description="Energy consumption in tce; null where a coefficient is missing"
    )
    outputs: list[OutputIntensity]


class IntensityPage(Page):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    items: list[EnterpriseIntensity]


class BaselineRef(BaseModel):
    baseline_id: int
    method: str
    period_kind: str
    value: Quantity
    projected_share: DecimalStr | None = Field(
        description="Projected tCO2e / baseline, when the baseline's period kind is the target's"
    )


class LimitProgress(BaseModel):
    limit: Quantity
    actual: Quantity | None = Field(description="Period to date; an intensity needs output")
    used_share: DecimalStr | None = Field(description="actual / limit")
    projected: Quantity | None = Field(description="Linear end-of-period figure")
    on_track: bool | None


class TargetProgress(BaseModel):
    target_id: int
    subject_kind: str
    subject_id: str
    period_kind: str
    period_start: date
    period_end: date
    timezone: str
    elapsed_share: DecimalStr
    absolute: LimitProgress | None
    intensity: LimitProgress | None
    on_track: bool | None = Field(
        description="Every limit set is on track (met only when both are); null while one"
        " cannot be judged and none is missed"
    )
    limits_off_track: list[Literal["absolute", "intensity"]] = Field(
        description="The limits missed"
    )
    baseline: BaselineRef | None


class ProgressPage(Page):
    as_of: datetime
    items: list[TargetProgress]


class MeterQuality(BaseModel):
    meter_id: str
    enterprise_id: str
    status: str
    completeness: DecimalStr | None = Field(description="Readings present / expected in windows")
    windows: int = Field(description="Hour windows stored in the range")
    rejected: dict[str, int] = Field(description="Quarantined readings by reason")
    calibration_due: date | None
    calibration: CalibrationStatus


class EnterpriseQuality(BaseModel):
    enterprise_id: str
    meters: int
    completeness: DecimalStr | None
    calibration_overdue: int
    calibration_due_soon: int
    rejected: dict[str, int]


class QualityPage(Page):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    enterprises: list[EnterpriseQuality]
    unattributed_rejected: dict[str, int] | None = Field(
        description="Rejects naming no registered meter (park-wide keys only; null otherwise)"
    )
    meters: list[MeterQuality] = Field(description="Paginated by limit/offset, by meter_id")


class FlowNode(BaseModel):
    id: str = Field(description="kind/key, e.g. enterprise/E-01 or carrier/electricity")
    kind: NodeKind
    key: str = Field(description="The park, enterprise, carrier or source category id")
    name: str | None = Field(description="The registry's name of a park or enterprise")
    tco2e: DecimalStr = Field(description="Counted tCO2e through the node (negative: removals)")
    tce: DecimalStr | None = Field(
        description="Energy in tce (GB/T 2589-2020); null without an energy carrier or where a"
        " day has no coefficient"
    )


class FlowLink(BaseModel):
    source: str = Field(description="A node id")
    target: str = Field(description="A node id")
    tco2e: DecimalStr
    tce: DecimalStr | None


class EnergyFlows(BaseModel):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    levels: list[NodeKind] = Field(description="The node kinds, from the source of the flow")
    nodes: list[FlowNode] = Field(description="By level, then largest tCO2e first")
    links: list[FlowLink] = Field(description="From one level to the next, largest first")


class HeatmapCell(BaseModel):
    park_id: str
    day: date = Field(description="The park-local day")
    hour: int = Field(ge=0, le=23, description="The park-local hour of the day, 0..23")
    value: DecimalStr | None = Field(description="The metric summed over the hour")
    windows: int = Field(description="Stored hour windows summed into the cell")


class Heatmap(BaseModel):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    metric: Metric
    unit: str
    cells: list[HeatmapCell] = Field(description="By park, day, hour; hours without data left out")
