"""Emission lines and the period inventory: per source, per subject, per ISO category (6.3.1 f).

Removals by the green-space sink are their own lines and their own total; they are never
subtracted from gross emissions. Market-based electricity (contractual instruments at zero,
residual mix for the rest) is reported beside the location-based figure, never in place of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from accounting.categories import (
    DEFAULT_ISO_CATEGORY,
    AccountingMethod,
    IsoCategory,
    SourceCategory,
)
from accounting.co2e import ResolvedFactor, co2e_tonnes, gas_tonnes
from accounting.gwp import Gas, GwpSet


class InventoryError(ValueError):
    """Lines that cannot be accounted as given (negative activity, a sink as an emission ...)."""


@dataclass(frozen=True, slots=True)
class GasAmount:
    gas: Gas
    tonnes: float
    tco2e: float


@dataclass(frozen=True, slots=True)
class EmissionLine:
    """Emissions of one subject (enterprise, meter group) from one source over a period."""

    subject: str
    category: SourceCategory
    iso_category: IsoCategory
    method: AccountingMethod | None  # None: counts the same in location- and market-based totals
    activity: float  # in ``factor.unit``
    gases: tuple[GasAmount, ...]
    tco2e: float
    factor: ResolvedFactor
    label: str


@dataclass(frozen=True, slots=True)
class RemovalLine:
    """CO2 removed by a green-space sink (a positive number), with how it was estimated."""

    subject: str
    tco2_removed: float
    method_note: str
    category: SourceCategory = SourceCategory.GREEN_SPACE_SINK
    iso_category: IsoCategory = IsoCategory.DIRECT


def emission_line(
    subject: str,
    category: SourceCategory,
    activity: float,
    factor: ResolvedFactor,
    *,
    method: AccountingMethod | None = None,
    iso_category: IsoCategory | None = None,
    label: str = "",
) -> EmissionLine:
    """One emission line: activity (canonical unit) x factor, kept per gas."""
    if category is SourceCategory.GREEN_SPACE_SINK:
        raise InventoryError("a green-space sink is a removal: use removal_line, never an emission")
    if activity < 0:
        raise InventoryError(f"{subject} {category}: negative activity {activity} {factor.unit}")
    tonnes = gas_tonnes(activity, factor)
    gases = tuple(GasAmount(g.gas, tonnes[g.gas], tonnes[g.gas] * g.gwp) for g in factor.gases)
    return EmissionLine(
        subject,
        category,
        iso_category or DEFAULT_ISO_CATEGORY[category],
        method,
        activity,
        gases,
        co2e_tonnes(activity, factor),
        factor,
        label,
    )


def removal_line(subject: str, tco2_removed: float, *, method_note: str) -> RemovalLine:
    """A sink line; ``method_note`` says how the removal was estimated (area x rate, survey ...)."""
    if tco2_removed < 0:
        raise InventoryError(f"{subject}: removals are reported as a positive tCO2 amount")
    if not method_note.strip():
        raise InventoryError(f"{subject}: a removal needs its estimation method")
    return RemovalLine(subject, tco2_removed, method_note)


def green_space_removal(
    subject: str, *, area_ha: float, rate_tco2_per_ha_year: float, days: float, source: str
) -> RemovalLine:
    """Removal by green space over ``days``: area x annual rate x days/365; the rate is cited."""
    if area_ha < 0 or rate_tco2_per_ha_year < 0 or days < 0:
        raise InventoryError(f"{subject}: area, rate and days must not be negative")
    note = f"{area_ha} ha x {rate_tco2_per_ha_year} tCO2/ha/yr x {days}/365 d ({source})"
    return removal_line(subject, area_ha * rate_tco2_per_ha_year * days / 365.0, method_note=note)


def electricity_lines(
    subject: str,
    *,
    consumed: float,
    location_factor: ResolvedFactor,
    residual_factor: ResolvedFactor,
    instruments: Sequence[tuple[float, ResolvedFactor]] = (),
) -> tuple[EmissionLine, ...]:
    """Location-based and market-based lines for ``consumed`` kWh of purchased electricity.

    Location-based: all of it at the grid average. Market-based: each instrument's kWh at its
    factor (zero for green certificates and green power), the rest at the residual mix.
    """
    covered = sum(amount for amount, _ in instruments)
    if covered > consumed:
        raise InventoryError(
            f"{subject}: instruments cover {covered} kWh but only {consumed} kWh was consumed"
        )
    cat = SourceCategory.PURCHASED_ELECTRICITY
    lines = [
        emission_line(
            subject, cat, consumed, location_factor, method=AccountingMethod.LOCATION, label="grid"
        )
    ]
    for amount, factor in instruments:
        label = ",".join(sorted({row.series.value for row in factor.rows})) or "instrument"
        lines.append(
            emission_line(subject, cat, amount, factor, method=AccountingMethod.MARKET, label=label)
        )
    lines.append(
        emission_line(
            subject,
            cat,
            consumed - covered,
            residual_factor,
            method=AccountingMethod.MARKET,
            label="residual mix",
        )
    )
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class Totals:
    """Gross emissions (tCO2e) under one accounting method, broken down four ways."""

    method: AccountingMethod
    tco2e: float
    by_category: Mapping[SourceCategory, float]
    by_subject: Mapping[str, float]
    by_iso_category: Mapping[IsoCategory, float]
    by_gas: Mapping[Gas, float]  # tonnes CO2e per gas


@dataclass(frozen=True, slots=True)
class Inventory:
    """A period's inventory: gross location- and market-based totals, removals on their own."""

    gwp_set: GwpSet
    location: Totals
    market: Totals
    removals_tco2: float
    removals_by_subject: Mapping[str, float]
    lines: tuple[EmissionLine, ...]
    removals: tuple[RemovalLine, ...]


def summarise(
    lines: Iterable[EmissionLine],
    removals: Iterable[RemovalLine] = (),
    *,
    gwp_set: GwpSet | None = None,
) -> Inventory:
    """Sum lines into an inventory; all lines must use one GWP set. ``gwp_set`` is the set of an
    inventory without any line (a period with nothing to count sums to zero in it)."""
    lines, removals = tuple(lines), tuple(removals)
    sets = {line.factor.gwp_set for line in lines}
    if not sets and gwp_set is not None:
        sets = {gwp_set}
    if len(sets) != 1:
        found = ", ".join(sorted(sets)) or "none (no lines)"
        raise InventoryError(f"an inventory uses exactly one GWP set; lines use {found}")
    by_subject: dict[str, float] = defaultdict(float)
    for removal in removals:
        by_subject[removal.subject] += removal.tco2_removed
    return Inventory(
        sets.pop(),
        _totals(lines, AccountingMethod.LOCATION),
        _totals(lines, AccountingMethod.MARKET),
        sum(r.tco2_removed for r in removals),
        dict(by_subject),
        lines,
        removals,
    )


def _totals(lines: tuple[EmissionLine, ...], method: AccountingMethod) -> Totals:
    by_category: dict[SourceCategory, float] = defaultdict(float)
    by_subject: dict[str, float] = defaultdict(float)
    by_iso: dict[IsoCategory, float] = defaultdict(float)
    by_gas: dict[Gas, float] = defaultdict(float)
    for line in lines:
        if line.method is not None and line.method is not method:
            continue
        by_category[line.category] += line.tco2e
        by_subject[line.subject] += line.tco2e
        by_iso[line.iso_category] += line.tco2e
        for amount in line.gases:
            by_gas[amount.gas] += amount.tco2e
    total = sum(by_category.values())
    return Totals(method, total, dict(by_category), dict(by_subject), dict(by_iso), dict(by_gas))
