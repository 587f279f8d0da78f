"""The period inventory (clause 6.3.1) from the database: queries, then ``accounting`` sums.

Shared by the API and ``parkcarbon report``; keyword-only, one async connection in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from psycopg import AsyncConnection

from accounting.carriers import Carrier
from accounting.categories import SourceCategory
from accounting.co2e import FactorResolutionError, ResolvedFactor, resolve_factor
from accounting.energy import CarrierEnergy, ElectricityConvention, EnergySums
from accounting.factor_rows import Series
from accounting.factors import Catalogue, NoFactorError, load_catalogue
from accounting.gwp import GwpSet
from accounting.intensity import OUTPUT_CARRIER, OutputUnit
from accounting.regions import region_chain
from accounting.report import ACTIVITY_ONLY, Figures, WindowGroup, figures
from accounting.report_compare import (
    DailyOutput,
    compare_baseline,
    compare_target,
    intensities,
)
from accounting.report_period import ReportPeriod
from api.reports.models import (
    ElectricityRow,
    Energy,
    EnergyCarrierRow,
    EnergyEnterpriseRow,
    InventoryReport,
    PeriodOut,
    Quality,
    QualityRow,
    Totals,
    VersionRow,
)
from store import reports as store
from store.reports import ParkInfo, Scope

METHOD = [
    "Activity data x emission factor per meter and hourly window (clause 6.3.1 e), summed over "
    "the period's local days; factors from the versioned catalogue (accounting/data).",
    "Boundary: meters in the registry of the park (or enterprise) with in_boundary true, each "
    "with its source category; sub-meters are detail of their parent and not added; exported "
    "electricity and heat are deducted from the seller (net purchased, GB/T 32150); ISO "
    "14064-1:2018 category as stored with each window.",
    "Per gas: tonnes as the windows hold them; tCO2e per gas by the GWP set of the windows.",
    "Location-based electricity: the grid-average factor the windows were computed with. "
    "Market-based: purchased kWh at the residual-mix factor valid on each day.",
]
INVENTORY_STEPS = 6  # calls of ``step`` per inventory, for a progress bar
Step = Callable[[str], None]


def quiet(_: str) -> None:
    """A ``step`` that reports nothing."""


# Output and water meters, and sinks (removals, whatever their meter measures), consume no energy.
_NOT_ENERGY = {ACTIVITY_ONLY, SourceCategory.GREEN_SPACE_SINK.value}
_OUTPUT_UNITS = {carrier.value: unit.value for unit, carrier in OUTPUT_CARRIER.items()}


@dataclass
class ResidualMix:
    """Resolves (and caches) the residual-mix factor per local day for the park's region."""

    region: str
    catalogue: Catalogue = field(default_factory=load_catalogue)
    _cache: dict[tuple[date, str | None], ResolvedFactor | None] = field(default_factory=dict)

    def __call__(self, day: date, gwp_set: str | None) -> ResolvedFactor | None:
        key = (day, gwp_set)
        if key not in self._cache:
            try:
                self._cache[key] = resolve_factor(
                    self.catalogue,
                    carrier=Carrier.ELECTRICITY,
                    region=region_chain(self.region),
                    on=day,
                    series=Series.MEE_NBS_RESIDUAL_MIX,
                    gwp_set=GwpSet(gwp_set or GwpSet.AR5.value),
                )
            except (NoFactorError, FactorResolutionError, ValueError, LookupError):
                self._cache[key] = None
        return self._cache[key]


def period_out(period: ReportPeriod, timezone: str) -> PeriodOut:
    return PeriodOut(
        kind=period.kind.value,
        label=period.label,
        start=period.start,
        end=period.last,
        timezone=timezone,
    )


def scope_of(park: ParkInfo, enterprise_id: str | None, period: ReportPeriod) -> Scope:
    return Scope(park.park_id, park.timezone, enterprise_id, period.start, period.end)


def daily_outputs(groups: list[WindowGroup]) -> DailyOutput:
    """Production and output value per enterprise, unit and local day (intensity, 3.3.10)."""
    out: dict[tuple[str, str, date], float] = defaultdict(float)
    for g in groups:
        if g.source_category == ACTIVITY_ONLY and g.carrier in _OUTPUT_UNITS:
            out[(g.enterprise_id, _OUTPUT_UNITS[g.carrier], g.local_day)] += g.activity
    return dict(out)


async def quality(
    conn: AsyncConnection[Any], *, scope: Scope, groups: list[WindowGroup]
) -> Quality:
    """Completeness, interpolated share, windows lacking a factor, rejects by reason (8.4)."""
    emitting = [g for g in groups if g.source_category != ACTIVITY_ONLY]
    rejects = dict(await store.rejects_by_reason(conn, scope=scope))
    coverage = {c.enterprise_id: c for c in await store.meter_coverage(conn, scope=scope)}
    rows = []
    for ent in sorted({g.enterprise_id for g in emitting} | set(coverage)):
        mine = [g for g in emitting if g.enterprise_id == ent]
        cov = coverage.get(ent)
        expected = cov.readings_expected if cov else 0.0
        present = sum(g.readings_present for g in mine)
        rows.append(
            QualityRow(
                enterprise_id=ent,
                meters=cov.meters if cov else 0,
                readings_expected=expected,
                readings_present=present,
                completeness=min(1.0, present / expected) if expected > 0 else None,
                windows=sum(g.windows for g in mine),
                interpolated_windows=sum(g.interpolated_windows for g in mine),
                unfactored_windows=sum(g.unfactored_windows for g in mine),
            )
        )
    expected = sum(r.readings_expected for r in rows)
    present = sum(r.readings_present for r in rows)
    in_windows = sum(g.readings_expected for g in emitting)
    windows = sum(g.windows for g in emitting)
    interpolated = sum(g.interpolated_windows for g in emitting)
    # Shares of emissions: a sink's removal is no emission (and may carry either sign).
    sources = [g for g in emitting if g.source_category != SourceCategory.GREEN_SPACE_SINK.value]
    tco2e = sum(g.tco2e for g in sources)
    return Quality(
        completeness=min(1.0, present / expected) if expected > 0 else None,
        window_completeness=min(1.0, present / in_windows) if in_windows > 0 else None,
        windows=windows,
        interpolated_windows=interpolated,
        interpolated_share=interpolated / windows if windows else None,
        interpolated_tco2e_share=(
            sum(g.interpolated_tco2e for g in sources) / tco2e if tco2e else None
        ),
        unfactored_windows=sum(r.unfactored_windows for r in rows),
        rejected_readings=sum(rejects.values()),
        rejects_by_reason=rejects,
        by_enterprise=rows,
    )


def electricity(figs: Figures) -> list[ElectricityRow]:
    """Purchased electricity per enterprise, location- and market-based side by side."""
    return [
        ElectricityRow(
            enterprise_id=line.enterprise_id,
            activity_kwh=line.activity,
            location_tco2e=line.location_tco2e,
            market_tco2e=line.market_tco2e,
        )
        for line in figs.lines
        if line.source_category == SourceCategory.PURCHASED_ELECTRICITY.value
    ]


def _carrier_row(c: CarrierEnergy) -> EnergyCarrierRow:
    return EnergyCarrierRow(
        carrier=c.carrier.value,
        activity=c.activity,
        unit=c.unit,
        tce=c.tce,
        coefficient_versions=list(c.versions),
        missing_coefficient_days=list(c.missing),
    )


def energy(groups: list[WindowGroup], outputs: DailyOutput, convention: str) -> Energy:
    """The period's energy in tce per carrier and enterprise, with tce per output unit: each
    group's activity (canonical unit) at the coefficient of its local day (GB/T 2589-2020)."""
    conv = ElectricityConvention(convention)
    park = EnergySums(conv)
    per_ent: dict[str, EnergySums] = {}
    for g in groups:
        if g.carrier is None or g.source_category in _NOT_ENERGY:
            continue
        carrier = Carrier(g.carrier)
        park.add(carrier, g.activity, g.local_day)
        per_ent.setdefault(g.enterprise_id, EnergySums(conv)).add(carrier, g.activity, g.local_day)
    produced: dict[tuple[str, str], float] = defaultdict(float)
    for (ent, unit, _), amount in outputs.items():
        produced[(ent, unit)] += amount

    def per(tce: float | None, ent: str, unit: OutputUnit) -> float | None:
        amount = produced.get((ent, unit.value), 0.0)
        return None if tce is None or amount <= 0 else tce / amount

    rows = []
    for ent, sums in sorted(per_ent.items()):
        tce = sums.total().tce
        if not sums.total().carriers:
            continue  # no energy meter
        rows.append(
            EnergyEnterpriseRow(
                enterprise_id=ent,
                tce=tce,
                tce_per_t_product=per(tce, ent, OutputUnit.TONNE_PRODUCT),
                tce_per_cny_10k=per(tce, ent, OutputUnit.CNY_10K),
            )
        )
    total = park.total()
    return Energy(
        electricity_convention=conv.value,
        tce=total.tce,
        by_carrier=[_carrier_row(c) for c in total.carriers],
        by_enterprise=rows,
    )


async def inventory(
    conn: AsyncConnection[Any],
    *,
    park: ParkInfo,
    enterprise_id: str | None,
    period: ReportPeriod,
    now: datetime | None = None,
    step: Step = quiet,
) -> InventoryReport:
    """The inventory of the park (or one enterprise) over ``period`` (clause 6.3.1 f).

    ``step`` is called ``INVENTORY_STEPS`` times, once before each stage, naming it.
    """
    scope = scope_of(park, enterprise_id, period)
    step("reading hourly windows")
    groups = await store.window_groups(conn, scope=scope)
    step("summing location- and market-based figures")
    figs = figures(groups, residual=ResidualMix(park.region))
    outputs = daily_outputs(groups)
    step("comparing with targets")
    targets = [
        compare_target(t, period, figs.by_day, outputs)
        for t in await store.targets(conn, scope=scope)
    ]
    step("comparing with baselines")
    baselines = [
        compare_baseline(b, period, figs.by_day) for b in await store.baselines(conn, scope=scope)
    ]
    step("listing factor versions")
    versions = [VersionRow(**vars_of(v)) for v in await store.version_uses(conn, scope=scope)]
    step("summarising data quality")
    return InventoryReport(
        park_id=park.park_id,
        park_name=park.name,
        enterprise_id=enterprise_id,
        period=period_out(period, park.timezone),
        generated_at=now or datetime.now(UTC),
        method=METHOD,
        gwp_sets=list(figs.gwp_sets),
        totals=Totals(
            location_tco2e=figs.location_tco2e,
            market_tco2e=figs.market_tco2e,
            removals_tco2=figs.removals_tco2,
        ),
        by_source_category=list(figs.by_category),
        by_iso_category=list(figs.by_iso_category),
        by_gas=list(figs.by_gas),
        by_enterprise=list(figs.by_enterprise),
        by_month=list(figs.by_month),
        lines=list(figs.lines),
        electricity=electricity(figs),
        energy=energy(groups, outputs, park.tce_electricity_convention),
        removals=list(figs.removals),
        intensity=list(intensities(figs.by_enterprise, outputs, period)),
        targets=targets,
        baselines=baselines,
        factor_versions=versions,
        residual_mix_versions=list(figs.residual_versions),
        quality=await quality(conn, scope=scope, groups=groups),
        notes=list(figs.notes),
    )


def vars_of(obj: Any) -> dict[str, Any]:
    """A slotted dataclass's fields as a dict (``vars`` needs a ``__dict__``)."""
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}
