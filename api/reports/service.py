"""The period inventory (clause 6.3.1) from the database: queries, then ``accounting`` sums.

Shared by the API and ``parkcarbon report``; keyword-only, one async connection in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from psycopg import AsyncConnection

from accounting.activity import ActivityError, activity_lines, catalogue_energy_factor
from accounting.carriers import Carrier
from accounting.categories import SourceCategory
from accounting.co2e import FactorResolutionError, ResolvedFactor, resolve_factor
from accounting.energy import CarrierEnergy, ElectricityConvention, EnergySums
from accounting.factor_rows import FactorRow, Series
from accounting.factors import Catalogue, NoFactorError, load_catalogue
from accounting.gwp import GwpSet
from accounting.intensity import OUTPUT_CARRIER, OutputUnit
from accounting.inventory import InventoryError
from accounting.inventory_record import RecordFigures, RowsOf, record_figures, record_groups
from accounting.regions import region_chain
from accounting.report import (
    ACTIVITY_ONLY,
    Breakdown,
    Figures,
    GasRow,
    Removal,
    WindowGroup,
    figures,
)
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
from store import activity as store_activity
from store import reports as store
from store.activity import ActivityRow, ReplacedMeter
from store.reports import ParkInfo, Scope

METHOD = [
    "Activity data x emission factor per meter and hourly window (clause 6.3.1 e), summed over "
    "the period's local days; factors from the versioned catalogue (accounting/data).",
    "Confirmed activity records count by the share of their days inside the period; a meter a "
    "record replaces is left out for the record's period. The figures are those a stored "
    "inventory (POST /v1/inventories) of the same boundary and period holds.",
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


# Activity records that are energy consumed (GB/T 2589-2020 clause 4): fuels burnt, purchased
# electricity and heat. Process feedstock, fugitive gases and sinks are not energy use here.
ENERGY_RECORD_CATEGORIES = frozenset(
    {
        SourceCategory.STATIONARY_COMBUSTION.value,
        SourceCategory.MOBILE_COMBUSTION.value,
        SourceCategory.PURCHASED_ELECTRICITY.value,
        SourceCategory.PURCHASED_HEAT.value,
    }
)


def record_days(row: ActivityRow, period: ReportPeriod) -> list[date]:
    """The record's local days inside ``period``: its ``share`` is their count / its days."""
    first, last = max(row.period_start, period.start), min(row.period_end, period.last)
    return [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal() + 1)]


def energy(
    groups: list[WindowGroup],
    outputs: DailyOutput,
    convention: str,
    records: Sequence[ActivityRow] = (),
    period: ReportPeriod | None = None,
) -> Energy:
    """The period's energy in tce per carrier and enterprise, with tce per output unit: each
    group's activity (canonical unit) at the coefficient of its local day (GB/T 2589-2020), and
    each fuel, electricity or heat record's activity inside the period, an equal part on each
    of its local days there (as its ``share`` counts it), at that day's coefficient."""
    conv = ElectricityConvention(convention)
    park = EnergySums(conv)
    per_ent: dict[str, EnergySums] = {}

    def add(subject: str, carrier: Carrier, activity: float, day: date) -> None:
        park.add(carrier, activity, day)
        per_ent.setdefault(subject, EnergySums(conv)).add(carrier, activity, day)

    for g in groups:
        if g.carrier is None or g.source_category in _NOT_ENERGY:
            continue
        add(g.enterprise_id, Carrier(g.carrier), g.activity, g.local_day)
    for r in records:
        if r.source_category not in ENERGY_RECORD_CATEGORIES or period is None:
            continue
        days = record_days(r, period)
        for day in days:
            add(r.subject, Carrier(r.carrier), r.activity * r.share / len(days), day)
    produced: dict[tuple[str, str], float] = defaultdict(float)
    for (ent, unit, _), amount in outputs.items():
        produced[(ent, unit)] += amount

    def per(tce: float | None, ent: str, unit: OutputUnit) -> float | None:
        amount = produced.get((ent, unit.value), 0.0)
        return None if tce is None or amount <= 0 else tce / amount

    rows = []
    for ent, sums in sorted(per_ent.items()):
        total = sums.total()
        if not total.carriers:
            continue  # no energy meter
        rows.append(
            EnergyEnterpriseRow(
                enterprise_id=ent,
                tce=total.tce,
                tce_per_t_product=per(total.tce, ent, OutputUnit.TONNE_PRODUCT),
                tce_per_cny_10k=per(total.tce, ent, OutputUnit.CNY_10K),
                by_carrier=[_carrier_row(c) for c in total.carriers],
            )
        )
    total = park.total()
    return Energy(
        electricity_convention=conv.value,
        tce=total.tce,
        by_carrier=[_carrier_row(c) for c in total.carriers],
        by_enterprise=rows,
    )


class NotAccountableError(ValueError):
    """The period's windows and records cannot be accounted as stored (mixed GWP sets, a record
    without a factor ...): the message says which."""


DEFAULT_GWP_SET = GwpSet.AR5  # the stream's default set when no window names one


@dataclass(frozen=True, slots=True)
class Counted:
    """What an inventory of a boundary and period counts, and its figures: the one computation
    behind a stored inventory (``api.inventories``) and the inventory report."""

    scope: Scope  # with the meters the records replace left out
    groups: list[WindowGroup]  # the counted hour windows, per enterprise, source and day
    records: list[ActivityRow]  # the confirmed records, current versions, with their shares
    replaced: list[ReplacedMeter]
    gwp_set: GwpSet
    figures: RecordFigures  # every line, location and market totals, removals
    by_time: Figures  # the same windows and records by local day and month (comparisons)
    outputs: DailyOutput
    energy: Energy


def rows_of_catalogue() -> RowsOf:
    by_version: dict[str, list[FactorRow]] = defaultdict(list)
    for row in load_catalogue().rows:
        by_version[row.version].append(row)

    def rows_of(version: str) -> tuple[FactorRow, ...]:
        return tuple(by_version.get(version, ()))

    return rows_of


def gwp_set_of(groups: list[WindowGroup]) -> GwpSet:
    """The windows' GWP set (one, or ``record_figures`` refuses the mix), else the default."""
    sets = sorted({g.gwp_set for g in groups if g.gwp_set})
    return GwpSet(sets[0]) if sets else DEFAULT_GWP_SET


async def counted(
    conn: AsyncConnection[Any], *, park: ParkInfo, enterprise_id: str | None, period: ReportPeriod
) -> Counted:
    """The counted hour windows (sub-meters, out-of-boundary meters and the meters a confirmed
    record replaces left out, exports netted) and the confirmed activity records of the period,
    with their figures (GB/T 32150 clause 6.3.1). Raises ``NotAccountableError``."""
    records = await store_activity.confirmed_activity(
        conn, park_id=park.park_id, enterprise_id=enterprise_id, start=period.start, end=period.last
    )
    replaced = await store_activity.replaced_meters(
        conn, park_id=park.park_id, enterprise_id=enterprise_id, start=period.start, end=period.last
    )
    scope = Scope(
        park.park_id, park.timezone, enterprise_id, period.start, period.end, tuple(replaced)
    )
    groups = await store.window_groups(conn, scope=scope)
    gwp_set = gwp_set_of(groups)
    residual = ResidualMix(park.region)
    try:
        recorded = activity_lines(
            [r.to_input() for r in records],
            gwp_set=gwp_set,
            energy_factor=catalogue_energy_factor(
                load_catalogue(), region=park.region, gwp_set=gwp_set
            ),
        )
        figs = record_figures(
            groups,
            recorded,
            gwp_set=gwp_set,
            on=period.start,
            region=park.region,
            residual=residual,
            rows_of=rows_of_catalogue(),
        )
    except (ActivityError, InventoryError, NoFactorError, FactorResolutionError, ValueError) as exc:
        raise NotAccountableError(str(exc)) from exc
    days = {f"{r.record_id}v{r.version}": record_days(r, period) for r in records}
    by_time = figures([*groups, *record_groups(recorded, days)], residual=residual)
    outputs = daily_outputs(groups)
    return Counted(
        scope=scope,
        groups=groups,
        records=records,
        replaced=replaced,
        gwp_set=gwp_set,
        figures=figs,
        by_time=by_time,
        outputs=outputs,
        energy=energy(groups, outputs, park.tce_electricity_convention, records, period),
    )


def breakdowns(counted: Counted) -> tuple[list[Breakdown], list[Breakdown], list[Breakdown]]:
    """By source category, ISO 14064-1 category and enterprise, both bases, from the counted
    figures; market-based None where not available."""
    inv, available = counted.figures.inventory, counted.figures.market_available

    def rows(location: Mapping[Any, float], market: Mapping[Any, float]) -> list[Breakdown]:
        keys = sorted(set(location) | set(market), key=str)
        return [
            Breakdown(
                getattr(k, "value", k),
                location.get(k, 0.0),
                market.get(k, 0.0) if available else None,
            )
            for k in keys
        ]

    loc, mkt = inv.location, inv.market
    return (
        rows(loc.by_category, mkt.by_category),
        rows(loc.by_iso_category, mkt.by_iso_category),
        rows(loc.by_subject, mkt.by_subject),
    )


_LOCATION_BASES = {"location and market", "location_based"}
_MARKET_BASES = {"location and market", "market_based"}


def gas_rows(counted: Counted) -> list[GasRow]:
    """Tonnes and tCO2e per gas on both bases, from the counted lines."""
    available = counted.figures.market_available
    loc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    mkt: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for line in counted.figures.lines:
        if line.gas is None:
            continue
        for bases, into in ((_LOCATION_BASES, loc), (_MARKET_BASES, mkt)):
            if line.basis in bases:
                into[line.gas][0] += line.tonnes
                into[line.gas][1] += line.tco2e
    return [
        GasRow(
            gas,
            loc[gas][0],
            loc[gas][1],
            mkt[gas][0] if available else None,
            mkt[gas][1] if available else None,
        )
        for gas in sorted(set(loc) | set(mkt))
    ]


async def inventory(
    conn: AsyncConnection[Any],
    *,
    park: ParkInfo,
    enterprise_id: str | None,
    period: ReportPeriod,
    now: datetime | None = None,
    step: Step = quiet,
) -> InventoryReport:
    """The inventory of the park (or one enterprise) over ``period`` (clause 6.3.1 f): the
    figures of ``counted``, as a stored inventory of the same boundary and period has them.

    ``step`` is called ``INVENTORY_STEPS`` times, once before each stage, naming it. Raises
    ``NotAccountableError``.
    """
    step("reading hourly windows and activity records")
    found = await counted(conn, park=park, enterprise_id=enterprise_id, period=period)
    scope, figs, by_time = found.scope, found.figures, found.by_time
    step("summing location- and market-based figures")
    inv = figs.inventory
    by_category, by_iso, by_enterprise = breakdowns(found)
    step("comparing with targets")
    targets = [
        compare_target(t, period, by_time.by_day, found.outputs)
        for t in await store.targets(conn, scope=scope)
    ]
    step("comparing with baselines")
    baselines = [
        compare_baseline(b, period, by_time.by_day)
        for b in await store.baselines(conn, scope=scope)
    ]
    step("listing factor versions")
    versions = [VersionRow(**vars_of(v)) for v in await store.version_uses(conn, scope=scope)]
    step("summarising data quality")
    removals: dict[str, float] = defaultdict(float)
    for r in figs.removals:
        removals[r.enterprise_id] += r.tco2_removed
    return InventoryReport(
        park_id=park.park_id,
        park_name=park.name,
        enterprise_id=enterprise_id,
        period=period_out(period, park.timezone),
        generated_at=now or datetime.now(UTC),
        method=METHOD,
        gwp_sets=list(by_time.gwp_sets) or [found.gwp_set.value],
        totals=Totals(
            location_tco2e=inv.location.tco2e,
            market_tco2e=inv.market.tco2e if figs.market_available else None,
            removals_tco2=inv.removals_tco2,
        ),
        by_source_category=by_category,
        by_iso_category=by_iso,
        by_gas=gas_rows(found),
        by_enterprise=by_enterprise,
        by_month=list(by_time.by_month),
        lines=list(by_time.lines),
        electricity=electricity(by_time),
        energy=found.energy,
        removals=[Removal(e, t) for e, t in sorted(removals.items())],
        intensity=list(intensities(by_time.by_enterprise, found.outputs, period)),
        targets=targets,
        baselines=baselines,
        factor_versions=versions,
        residual_mix_versions=list(by_time.residual_versions),
        activity_records=[f"{r.record_id}v{r.version}" for r in found.records],
        excluded_meters=[
            f"{x.meter_id} ({x.record_id}v{x.version}): {x.starts_at.isoformat()} to "
            f"{x.ends_at.isoformat()}"
            for x in found.replaced
        ],
        quality=await quality(conn, scope=scope, groups=found.groups),
        notes=list(figs.notes),
    )


def vars_of(obj: Any) -> dict[str, Any]:
    """A slotted dataclass's fields as a dict (``vars`` needs a ``__dict__``)."""
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}
