"""A base-year baseline recomputed from stored activity with the factors in force now (6.5 c).

Each stored meter-day gets the factor the worker would give a window of that meter on that
local day of the park (``accounting.window_co2e.EmissionCalculator.window_factor``, with the
packaged catalogue plus the park's versions, and an enterprise's own versions for its meters),
and ``accounting.baseline.recalculate`` applies it with the worker's arithmetic. The activity is
taken as stored (canonical units): a new version of a conversion parameter (density, steam
enthalpy) changes the activity itself, so for those ``parkcarbon recompute`` the base period
first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from accounting.baseline import BaselineError, Recalculation, StoredActivity, recalculate
from accounting.carriers import CANONICAL_UNIT, Carrier
from accounting.co2e import ResolvedFactor
from accounting.gwp import GwpSet
from accounting.overrides import FactorSet
from accounting.regions import RegionLevel
from accounting.window_co2e import EmissionCalculator, Meter, ignore_warning


def restate_activity(
    activity: Iterable[StoredActivity],
    *,
    meters: Mapping[str, Meter],
    factors: FactorSet,
    region: str,
    gwp_set: GwpSet,
    timezone: str = "Asia/Shanghai",
    grid_level: RegionLevel = RegionLevel.GRID,
    enterprise_factors: Mapping[str, FactorSet] | None = None,
    warn: Callable[[str], None] = ignore_warning,
) -> Recalculation:
    """``activity`` recomputed as the worker would compute its windows now in ``region``: the
    park's ``factors``, or an enterprise's own set (``enterprise_factors``) for its meters.
    ``warn`` receives the calculator's warnings (a missing factor, an unconvertible unit)."""
    calculators: dict[str | None, EmissionCalculator] = {}

    def calculator_of(enterprise_id: str) -> EmissionCalculator:
        own = (enterprise_factors or {}).get(enterprise_id)
        key = enterprise_id if own is not None else None
        if key not in calculators:
            chosen = own or factors
            calculators[key] = EmissionCalculator(
                region=region,
                gwp_set=gwp_set,
                timezone=timezone,
                grid_level=grid_level,
                catalogue=chosen.catalogue,
                parameters=chosen.parameters,
                warn=warn,
            )
        return calculators[key]

    def factor_of(line: StoredActivity) -> ResolvedFactor | None:
        meter = meters.get(line.meter_id)
        if meter is None:
            raise BaselineError(f"meter {line.meter_id!r} of the base period is not registered")
        # The worker keeps activity it cannot convert in the meter's own unit, with no factor.
        canonical = line.unit == CANONICAL_UNIT[Carrier(meter.carrier)]
        return calculator_of(meter.enterprise_id).window_factor(
            meter, line.day, convertible=canonical
        )

    # A stored window names its conversion parameters among its versions: they stay in force,
    # since the activity they converted is kept.
    parameter_keys = {p.key for p in factors.parameters}
    lines = (
        replace(
            line,
            parameter_versions=tuple(
                v for v in line.factor_versions if v.rpartition("@")[0] in parameter_keys
            ),
        )
        for line in activity
    )
    return recalculate(lines, factor_of)
