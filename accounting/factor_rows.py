"""One row of the emission-factor catalogue: a validated, normalised factor version.

A row states value and unit as its source prints them (``kgCO2/kWh``, ``GJ/10^4 Nm3``,
``tC/GJ``); ``build_row`` checks the unit against the kind of factor and carrier and stores the
value normalised to tonnes (or GJ) per canonical unit, so resolving a factor is arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from accounting.carriers import CANONICAL_UNIT, Carrier
from accounting.datafile import Evidence
from accounting.gwp import Gas
from accounting.regions import load_regions
from accounting.units import Dimension, Unit, UnitError, dimension, parse_unit, scale


class Series(StrEnum):
    """Independent factor series; never mixed unless the caller names several."""

    MEE_NBS_GRID_AVERAGE = "mee_nbs_grid_average"  # location-based electricity
    MEE_NBS_RESIDUAL_MIX = "mee_nbs_residual_mix"  # market-based, uncovered electricity
    MEE_NBS_FOSSIL_POWER = "mee_nbs_fossil_power"
    CN_ETS_GRID = "cn_ets_grid"  # national carbon market compliance factor
    GBT32150_FUEL_DEFAULTS = "gbt32150_fuel_defaults"
    IPCC2006_STATIONARY_NONCO2 = "ipcc2006_stationary_nonco2"
    IPCC2006_MOBILE_NONCO2 = "ipcc2006_mobile_nonco2"
    NDRC_HEAT_DEFAULT = "ndrc_heat_default"
    CONTRACTUAL_GEC = "contractual_gec"  # green electricity certificates
    CONTRACTUAL_GREEN_POWER = "contractual_green_power"  # green power trading contracts


# Contractual instruments: they give a market-based figure only, reported beside the
# location-based one and never inside it (GHG Protocol Scope 2 Guidance 2015, ch. 6 and 7.5).
MARKET_INSTRUMENTS = frozenset({Series.CONTRACTUAL_GEC, Series.CONTRACTUAL_GREEN_POWER})


class FactorKind(StrEnum):
    EMISSION_FACTOR = "emission_factor"  # mass of gas per unit of activity or of energy
    NCV = "ncv"  # net calorific value, energy per unit of activity
    CARBON_CONTENT = "carbon_content"  # carbon per unit of heat (tC/GJ)
    OXIDATION_RATE = "oxidation_rate"  # fraction of the carbon oxidised


class Basis(StrEnum):
    """What ``FactorRow.normalised`` is per."""

    ACTIVITY = "per canonical unit of the carrier"
    GJ = "per GJ of fuel heat"
    NONE = "dimensionless"


_MASS_T = {"t": 1.0, "kg": 1e-3, "g": 1e-6}


class FactorRowError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"field '{field}': {problem}")


@dataclass(frozen=True, slots=True)
class FactorRow:
    """One version of one factor; valid from ``valid_from`` to ``valid_to`` inclusive."""

    series: Series
    key: str
    carrier: Carrier
    kind: FactorKind
    gas: Gas | None
    region: str
    value: float
    unit: str
    valid_from: date
    valid_to: date | None
    source: str
    table: str
    edition: str
    evidence: Evidence
    note: str
    origin: str  # "file.csv:line" or "override"
    normalised: float  # value in t (or GJ, tC, fraction) per ``basis``
    basis: Basis

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def version(self) -> str:
        return f"{self.key}@{self.valid_from.isoformat()}"


def _normalise(
    kind: FactorKind, carrier: Carrier, gas: Gas | None, value: float, unit: str
) -> tuple[float, Basis]:
    """``value`` in t (GJ for an NCV) per canonical unit or per GJ, after checking ``unit``."""
    if kind is FactorKind.OXIDATION_RATE:
        if unit != "fraction" or not 0 < value <= 1:
            raise FactorRowError(
                "unit", f"oxidation rate is a 'fraction' in (0, 1], got {value} {unit!r}"
            )
        return value, Basis.NONE
    numerator, sep, denominator = unit.partition("/")
    if not sep:
        raise FactorRowError("unit", f"{unit!r} is not of the form <numerator>/<unit>")
    try:
        per = parse_unit(denominator)
        canonical = parse_unit(CANONICAL_UNIT[carrier])
        if kind is FactorKind.NCV:
            if gas is not None or dimension(numerator) is not Dimension.ENERGY:
                raise FactorRowError("unit", f"NCV is energy per unit and has no gas, got {unit!r}")
            return value * scale(numerator, Unit.GJ) / scale(per, canonical), Basis.ACTIVITY
        mass = next((m for m in ("kg", "t", "g") if numerator.startswith(m)), None)
        species = numerator[len(mass) :] if mass else ""
        expected = "C" if kind is FactorKind.CARBON_CONTENT else (gas.value if gas else "")
        if mass is None or species != expected or gas is None:
            raise FactorRowError(
                "unit",
                f"{unit!r} must be a mass of {expected or 'a gas'} per unit, gas column set",
            )
        if kind is FactorKind.CARBON_CONTENT and gas is not Gas.CO2:
            raise FactorRowError("gas", "carbon content yields CO2")
        per_t = value * _MASS_T[mass]
        if kind is FactorKind.EMISSION_FACTOR and dimension(per) == dimension(canonical):
            return per_t / scale(per, canonical), Basis.ACTIVITY
        if dimension(per) is Dimension.ENERGY:
            return per_t / scale(per, Unit.GJ), Basis.GJ
        raise FactorRowError("unit", f"{unit!r} is not per '{canonical}' or per unit of energy")
    except UnitError as exc:
        raise FactorRowError("unit", str(exc)) from None


def build_row(
    *,
    series: Series,
    key: str,
    carrier: Carrier,
    kind: FactorKind,
    gas: Gas | None,
    region: str,
    value: float,
    unit: str,
    valid_from: date,
    valid_to: date | None,
    source: str,
    table: str,
    edition: str,
    evidence: Evidence,
    note: str = "",
    origin: str = "override",
) -> FactorRow:
    """A validated ``FactorRow``; raises ``FactorRowError`` naming the offending field."""
    if region not in load_regions():
        raise FactorRowError("region", f"unknown region code {region!r}")
    if value < 0 or (value == 0 and kind is not FactorKind.EMISSION_FACTOR):
        raise FactorRowError("value", f"{value} is not allowed for {kind}")
    if valid_to is not None and valid_to < valid_from:
        raise FactorRowError("valid_to", f"{valid_to} is before valid_from {valid_from}")
    for name, text in (("key", key), ("source", source), ("table", table), ("edition", edition)):
        if not text.strip():
            raise FactorRowError(name, "is empty")
    normalised, basis = _normalise(kind, carrier, gas, value, unit)
    return FactorRow(
        series=series,
        key=key,
        carrier=carrier,
        kind=kind,
        gas=gas,
        region=region,
        value=value,
        unit=unit,
        valid_from=valid_from,
        valid_to=valid_to,
        source=source,
        table=table,
        edition=edition,
        evidence=evidence,
        note=note,
        origin=origin,
        normalised=normalised,
        basis=basis,
    )
