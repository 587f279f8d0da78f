"""Activity -> mass of each gas -> CO2e (clauses 3.3.8 and 6.3.1 e, f).

``resolve_factor`` turns catalogue rows into one ``ResolvedFactor``: tonnes of each gas per
canonical unit of activity, and their sum weighted by the GWP set in force as one coefficient.
Fuels use E = FC x NCV x CC x OF x 44/12 (GB/T 32150); non-CO2 factors per unit of heat use the
same NCV. The arithmetic, ``co2e_tonnes``, is then one multiply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import overload

import numpy as np
from numpy.typing import NDArray

from accounting.carriers import CANONICAL_UNIT, Carrier
from accounting.factor_rows import Basis, FactorKind, FactorRow, Series
from accounting.factors import Catalogue, select
from accounting.gwp import Gas, GwpSet, gwp
from accounting.regions import NATIONAL

CO2_PER_C = 44.0 / 12.0  # molar mass ratio CO2 / C


class FactorResolutionError(ValueError):
    """The selected rows do not make one consistent factor (missing or duplicated parameter)."""


@dataclass(frozen=True, slots=True)
class GasCoefficient:
    gas: Gas
    tonnes_per_unit: float  # t of gas per canonical unit of activity
    gwp: float  # t CO2e per t of gas in the factor's GWP set


@dataclass(frozen=True, slots=True)
class ResolvedFactor:
    """Tonnes of each gas, and of CO2e, per canonical unit of one carrier, with provenance."""

    carrier: Carrier
    unit: str  # canonical unit of the activity
    on: date
    region: str  # region whose rows matched (see regions.region_chain)
    gwp_set: GwpSet
    gases: tuple[GasCoefficient, ...]
    tco2e_per_unit: float
    rows: tuple[FactorRow, ...]  # every catalogue row used: key, version, source
    # Keys of data outside the catalogue the factor used (process material, gas or blend).
    keys: tuple[str, ...] = ()

    @property
    def versions(self) -> tuple[str, ...]:
        return (*(row.version for row in self.rows), *self.keys)


def compose_factor(
    carrier: Carrier,
    tonnes_per_unit: dict[Gas, float],
    *,
    gwp_set: GwpSet,
    on: date,
    region: str,
    rows: tuple[FactorRow, ...] = (),
) -> ResolvedFactor:
    """A ``ResolvedFactor`` from per-gas coefficients (t gas per canonical unit)."""
    gases = tuple(
        GasCoefficient(gas, t, gwp(gas, gwp_set)) for gas, t in sorted(tonnes_per_unit.items())
    )
    total = sum(g.tonnes_per_unit * g.gwp for g in gases)
    return ResolvedFactor(carrier, CANONICAL_UNIT[carrier], on, region, gwp_set, gases, total, rows)


def resolve_factor(
    catalogue: Catalogue,
    *,
    carrier: Carrier,
    region: str | Sequence[str],
    on: date,
    series: Series | Sequence[Series],
    gwp_set: GwpSet,
) -> ResolvedFactor:
    """The factor for ``carrier`` on ``on`` from one or several series (their gases add up).

    ``region`` is one code or an explicit fallback chain (``regions.region_chain``).
    Raises ``NoFactorError`` if a series has nothing valid, ``FactorResolutionError`` if the
    rows are incomplete (a carbon content without NCV) or give one gas twice.
    """
    names = (series,) if isinstance(series, Series) else tuple(series)
    selections = [select(catalogue, carrier=carrier, region=region, on=on, series=s) for s in names]
    rows = tuple(row for sel in selections for row in sel.rows)
    ncv = _single(rows, FactorKind.NCV, carrier, on)
    oxidation = _single(rows, FactorKind.OXIDATION_RATE, carrier, on)
    per_gas: dict[Gas, float] = {}
    for row in rows:
        if row.kind is FactorKind.CARBON_CONTENT:
            if ncv is None or oxidation is None:
                raise FactorResolutionError(
                    f"{row.version}: carbon content needs an NCV and an oxidation rate valid on "
                    f"{on.isoformat()} for '{carrier}'"
                )
            coefficient = ncv.normalised * row.normalised * oxidation.normalised * CO2_PER_C
        elif row.kind is FactorKind.EMISSION_FACTOR and row.basis is Basis.GJ:
            if ncv is None:
                raise FactorResolutionError(f"{row.version}: a factor per GJ needs an NCV")
            coefficient = ncv.normalised * row.normalised
        elif row.kind is FactorKind.EMISSION_FACTOR:
            coefficient = row.normalised
        else:
            continue
        if row.gas is None:  # build_row forbids it for these kinds; kept for the type checker
            raise FactorResolutionError(f"{row.version}: emission row without a gas")
        if row.gas in per_gas:
            raise FactorResolutionError(
                f"{row.gas} for '{carrier}' on {on.isoformat()} is given twice (series "
                f"{', '.join(names)}): choose one series per gas"
            )
        per_gas[row.gas] = coefficient
    if not per_gas:
        raise FactorResolutionError(
            f"series {', '.join(names)} give no emission factor for '{carrier}' on {on}"
        )
    return compose_factor(
        carrier, per_gas, gwp_set=gwp_set, on=on, region=selections[0].region, rows=rows
    )


def _single(
    rows: tuple[FactorRow, ...], kind: FactorKind, carrier: Carrier, on: date
) -> FactorRow | None:
    found = [row for row in rows if row.kind is kind]
    if len(found) > 1:
        raise FactorResolutionError(
            f"{len(found)} {kind} rows for '{carrier}' on {on.isoformat()}: "
            f"{', '.join(row.version for row in found)}"
        )
    return found[0] if found else None


def fugitive_factor(gas: Gas, *, gwp_set: GwpSet, on: date) -> ResolvedFactor:
    """Factor for a measured release of ``gas`` in tonnes (e.g. refrigerant top-up): 1 t/t."""
    return compose_factor(Carrier.FUGITIVE_GAS, {gas: 1.0}, gwp_set=gwp_set, on=on, region=NATIONAL)


@overload
def co2e_tonnes(activity: float, factor: ResolvedFactor) -> float: ...
@overload
def co2e_tonnes(activity: NDArray[np.float64], factor: ResolvedFactor) -> NDArray[np.float64]: ...
def co2e_tonnes(
    activity: float | NDArray[np.float64], factor: ResolvedFactor
) -> float | NDArray[np.float64]:
    """tCO2e of an activity amount (or an array of them) in the factor's canonical unit: one
    multiply by the precomputed ``factor.tco2e_per_unit`` (clause 6.3.1, activity data x
    emission factor). Every window, report line and inventory line is computed by it; convert
    units first (``accounting.units``) and resolve the factor once per window, not per reading.
    """
    return activity * factor.tco2e_per_unit


def tonnes_each(
    activity: NDArray[np.float64], per_unit: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``co2e_tonnes`` (or a gas's tonnes) of many activities, each with its own factor's tonnes
    per unit: windows of many meters at once (``accounting.window_co2e``). The same one multiply,
    element by element; ``per_unit`` of shape (n, gases) with ``activity[:, None]`` gives each
    gas."""
    return activity * per_unit


def gas_tonnes(activity: float, factor: ResolvedFactor) -> dict[Gas, float]:
    """Tonnes of each gas (not CO2e) of one activity amount in the factor's canonical unit."""
    return {g.gas: activity * g.tonnes_per_unit for g in factor.gases}
