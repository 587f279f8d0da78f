"""The lines of a stored inventory (GB/T 32150 clause 6.3.1 f, reported per 9.5), from metered
windows and confirmed activity records.

Every line is one enterprise's source in one carrier (or process material, or gas) and one
unit, per gas: its activity quantity with its own unit (never a sum across units), the factor
(tonnes of the gas per unit) with the catalogue versions and sources it came from, the GWP, the
tonnes and the tCO2e. The arithmetic is ``accounting.inventory``'s: each source becomes an
``EmissionLine`` (``emission_line``: activity x factor per gas x GWP) and the totals are
``summarise``'s, location- and market-based side by side; sinks are ``RemovalLine``s apart.

Metered windows were computed by the stream worker with the factor versions each window
records; their line's factor is the one those windows applied (tonnes of each gas / activity),
so ``emission_line`` gives back the stored tonnes. Purchased electricity, metered or recorded,
is a location-based line at the grid factor and a market-based line at the residual mix valid
on its UTC day (no contractual instrument is recorded in the platform).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from accounting.activity import ActivityLines
from accounting.carriers import Carrier
from accounting.categories import (
    DEFAULT_ISO_CATEGORY,
    AccountingMethod,
    IsoCategory,
    SourceCategory,
)
from accounting.co2e import ResolvedFactor, compose_factor
from accounting.factor_rows import FactorRow
from accounting.gwp import Gas, GwpSet, load_gwp_table
from accounting.inventory import (
    EmissionLine,
    Inventory,
    InventoryError,
    RemovalLine,
    emission_line,
    removal_line,
    summarise,
)
from accounting.process import load_process_factors
from accounting.report import ACTIVITY_ONLY, ResidualFactor, WindowGroup

METERED = "metered"
_ELECTRICITY = SourceCategory.PURCHASED_ELECTRICITY
_SINK = SourceCategory.GREEN_SPACE_SINK.value

# The catalogue rows of a factor version ("grid_avg.CN@2023-01-01"); () when not in the catalogue.
RowsOf = Callable[[str], tuple[FactorRow, ...]]


@dataclass(frozen=True, slots=True)
class RecordLine:
    """One gas of one source line, as the inventory's lines table shows it."""

    enterprise_id: str  # the subject: an enterprise, or the park for a park-level record
    source_category: str
    iso_category: str
    carrier: str
    material: str | None  # process material, gas or blend key; None for energy carriers
    gas: str | None  # None: activity without an emission factor (data quality says so)
    basis: str  # "location and market", "location_based" or "market_based"
    origin: str  # "metered", or "activity record <id>v<version>"
    activity: float
    activity_unit: str
    factor: float | None  # tonnes of ``gas`` per activity unit
    factor_unit: str | None
    gwp: float | None
    tonnes: float
    tco2e: float
    factor_versions: tuple[str, ...]
    factor_sources: tuple[str, ...]
    gwp_source: str | None


@dataclass(frozen=True, slots=True)
class RemovalRow:
    enterprise_id: str
    source_category: str
    iso_category: str
    origin: str
    tco2_removed: float
    method_note: str


@dataclass(frozen=True, slots=True)
class Sourced:
    """An emission line with where it came from (metered windows or a record)."""

    line: EmissionLine
    origin: str


@dataclass(frozen=True, slots=True)
class RecordFigures:
    inventory: Inventory  # ``summarise`` of every line: totals by category, subject, gas
    market_available: bool
    lines: tuple[RecordLine, ...]
    removals: tuple[RemovalRow, ...]
    notes: tuple[str, ...]


def iso_of(category: SourceCategory, text: str | None) -> IsoCategory:
    """The stored ISO 14064-1 category, or the source category's default where none is stored."""
    try:
        return IsoCategory(text or "")
    except ValueError:
        return DEFAULT_ISO_CATEGORY[category]


def factor_sources(factor: ResolvedFactor) -> tuple[str, ...]:
    """Where each part of ``factor`` comes from: catalogue rows, then process-material keys."""
    out = [f"{row.version}: {row.source}, {row.table} ({row.edition})" for row in factor.rows]
    process = load_process_factors()
    for key in factor.keys:
        found = process.get(key)
        if found is not None:
            out.append(f"{key}: {found.source}, {found.table} ({found.edition})")
        elif "@" in key:
            out.append(f"{key}: not in the packaged catalogue (a factor override)")
    return tuple(out)


def gwp_source(gas: Gas, gwp_set: GwpSet) -> str:
    entry = load_gwp_table().entries[(gwp_set, gas)]
    return f"{gwp_set} {gas} = {entry.value:g}: {entry.source}, {entry.table}"


def metered_factor(
    group_key: tuple[str, ...],
    activity: float,
    tonnes: Mapping[str, float],
    *,
    carrier: Carrier,
    unit: str,
    gwp_set: GwpSet,
    on: date,
    region: str,
    versions: Sequence[str],
    rows_of: RowsOf,
) -> ResolvedFactor:
    """The factor stored windows applied: tonnes of each gas per unit of their activity."""
    if activity <= 0 and any(t != 0 for t in tonnes.values()):
        raise InventoryError(f"{'/'.join(group_key)}: emissions without activity in the windows")
    per_unit = {Gas(g): (t / activity if activity > 0 else 0.0) for g, t in tonnes.items()}
    rows = tuple(row for version in versions for row in rows_of(version))
    found = {row.version for row in rows}
    composed = compose_factor(carrier, per_unit, gwp_set=gwp_set, on=on, region=region, rows=rows)
    return replace(composed, unit=unit, keys=tuple(v for v in versions if v not in found))


@dataclass
class _Metered:
    activity: float = 0.0
    tonnes: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def metered_lines(
    groups: Iterable[WindowGroup],
    *,
    gwp_set: GwpSet,
    on: date,
    region: str,
    rows_of: RowsOf,
) -> tuple[list[Sourced], list[RemovalLine], list[tuple[WindowGroup, IsoCategory]]]:
    """Location lines (one per enterprise, category, carrier, unit and factor versions), sink
    removals per enterprise, and the electricity groups the market-based lines are made of."""
    sums: dict[tuple[str, str, str, str, str, str, tuple[str, ...]], _Metered] = defaultdict(
        _Metered
    )
    sinks: dict[str, float] = defaultdict(float)
    electricity: list[tuple[WindowGroup, IsoCategory]] = []
    for g in groups:
        if g.source_category == ACTIVITY_ONLY:
            continue
        if g.source_category == _SINK:
            sinks[g.enterprise_id] += abs(g.tco2e)  # a sink window holds its removal
            continue
        if g.carrier is None:
            raise InventoryError(f"{g.enterprise_id} {g.source_category}: windows of no meter")
        if g.gwp_set and g.gwp_set != gwp_set.value:
            raise InventoryError(
                f"{g.enterprise_id} {g.source_category}: windows use GWP set {g.gwp_set}, "
                f"the inventory {gwp_set}: recompute the windows with one set"
            )
        category = SourceCategory(g.source_category)
        iso = iso_of(category, g.iso_category)
        key = (g.enterprise_id, category, iso, g.carrier, g.activity_unit, g.gwp_set or "")
        entry = sums[(*key, g.factor_versions)]
        entry.activity += g.activity
        for gas, t in g.gases.items():
            entry.tonnes[gas] += t
        if category is _ELECTRICITY:
            electricity.append((g, iso))
    lines = []
    for (ent, cat, iso_text, carrier, unit, _, versions), entry in sorted(sums.items()):
        factor = metered_factor(
            (ent, cat, carrier, unit),
            entry.activity,
            entry.tonnes,
            carrier=Carrier(carrier),
            unit=unit,
            gwp_set=gwp_set,
            on=on,
            region=region,
            versions=versions,
            rows_of=rows_of,
        )
        category = SourceCategory(cat)
        method = AccountingMethod.LOCATION if category is _ELECTRICITY else None
        line = emission_line(
            ent,
            category,
            entry.activity,
            factor,
            method=method,
            iso_category=IsoCategory(iso_text),
            label=METERED,
        )
        lines.append(Sourced(line, METERED))
    removals = [
        removal_line(
            ent, tco2, method_note="metered green-space sink windows (tCO2 as the windows hold)"
        )
        for ent, tco2 in sorted(sinks.items())
    ]
    return lines, removals, electricity


def market_lines(
    electricity: Iterable[tuple[str, IsoCategory, float, date, str]],
    *,
    gwp_set: GwpSet,
    residual: ResidualFactor,
) -> tuple[list[Sourced], set[date]]:
    """Purchased kWh at the residual mix valid on each UTC day: one market-based line per
    subject, ISO category, origin and residual-mix version; the days without one are returned."""
    sums: dict[tuple[str, IsoCategory, str, tuple[str, ...]], float] = defaultdict(float)
    factors: dict[tuple[str, ...], ResolvedFactor] = {}
    missing: set[date] = set()
    for subject, iso, kwh, day, origin in electricity:
        factor = residual(day, gwp_set.value)
        if factor is None:
            if kwh > 0:
                missing.add(day)
            continue
        factors[factor.versions] = factor
        sums[(subject, iso, origin, factor.versions)] += kwh
    lines = [
        Sourced(
            emission_line(
                subject,
                _ELECTRICITY,
                kwh,
                factors[versions],
                method=AccountingMethod.MARKET,
                iso_category=iso,
                label="residual mix",
            ),
            origin,
        )
        for (subject, iso, origin, versions), kwh in sorted(sums.items())
    ]
    return lines, missing


def record_figures(
    groups: Iterable[WindowGroup],
    records: ActivityLines,
    *,
    gwp_set: GwpSet,
    on: date,
    region: str,
    residual: ResidualFactor,
    rows_of: RowsOf,
) -> RecordFigures:
    """Every line of the inventory, its removals apart, and ``summarise``'s totals."""
    metered, removals, electricity = metered_lines(
        groups, gwp_set=gwp_set, on=on, region=region, rows_of=rows_of
    )
    sourced = list(metered)
    kwh = [(g.enterprise_id, iso, g.activity, g.utc_day, METERED) for g, iso in electricity]
    for line in records.emissions:
        origin = f"activity record {line.label}"
        if line.category is _ELECTRICITY and line.method is None:
            # A recorded electricity bill counts location-based at the grid factor, and
            # market-based at the residual mix, as metered electricity does.
            line = replace(line, method=AccountingMethod.LOCATION)
            kwh.append((line.subject, line.iso_category, line.activity, line.factor.on, origin))
        sourced.append(Sourced(line, origin))
    market, missing = market_lines(kwh, gwp_set=gwp_set, residual=residual)
    sourced.extend(market)
    if not sourced:
        raise InventoryError(
            "no metered window and no confirmed activity record with emissions in the period"
        )
    inventory = summarise([s.line for s in sourced], [*removals, *records.removals])
    notes = [
        "No contractual instrument (green electricity certificate, green power contract) is "
        "recorded in the platform: market-based electricity is every purchased kWh at the "
        "residual mix.",
        "Removals by green-space sinks are reported apart and never subtracted from gross "
        "emissions.",
    ]
    if missing:
        days = sorted(missing)
        notes.append(
            "Market-based totals are not available: no residual-mix factor is valid for "
            f"purchased electricity on {len(days)} UTC day(s) from {days[0]} to {days[-1]}."
        )
    removal_rows = [
        RemovalRow(
            r.subject,
            r.category.value,
            r.iso_category.value,
            METERED,
            r.tco2_removed,
            r.method_note,
        )
        for r in removals
    ] + [
        RemovalRow(
            r.subject,
            r.category.value,
            r.iso_category.value,
            "activity record",
            r.tco2_removed,
            r.method_note,
        )
        for r in records.removals
    ]
    return RecordFigures(
        inventory=inventory,
        market_available=not missing,
        lines=tuple(row for s in sourced for row in table_rows(s)),
        removals=tuple(removal_rows),
        notes=tuple(notes),
    )


def table_rows(sourced: Sourced) -> list[RecordLine]:
    """One row per gas of a line (one row without a gas where the line has no factor)."""
    line, factor = sourced.line, sourced.line.factor
    basis = line.method.value if line.method is not None else "location and market"
    material = ",".join(k for k in factor.keys if "@" not in k) or None
    # The row of a line without a factor; each gas's row fills in its own figures.
    common = RecordLine(
        enterprise_id=line.subject,
        source_category=line.category.value,
        iso_category=line.iso_category.value,
        carrier=factor.carrier.value,
        material=material,
        gas=None,
        basis=basis,
        origin=sourced.origin,
        activity=line.activity,
        activity_unit=factor.unit,
        factor=None,
        factor_unit=None,
        gwp=None,
        tonnes=0.0,
        tco2e=line.tco2e,
        factor_versions=factor.versions,
        factor_sources=factor_sources(factor),
        gwp_source=None,
    )
    coefficients = {g.gas: g for g in factor.gases}
    rows = [
        replace(
            common,
            gas=amount.gas.value,
            factor=coefficients[amount.gas].tonnes_per_unit,
            factor_unit=f"t{amount.gas.value}/{factor.unit}",
            gwp=coefficients[amount.gas].gwp,
            tonnes=amount.tonnes,
            tco2e=amount.tco2e,
            gwp_source=gwp_source(amount.gas, factor.gwp_set),
        )
        for amount in line.gases
    ]
    return rows or [common]
