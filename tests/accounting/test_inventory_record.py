"""The stored inventory's lines (accounting/inventory_record.py): one line per carrier, unit and
gas with its own factor; electricity location- and market-based; sinks apart."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.activity import ActivityLines
from accounting.carriers import Carrier
from accounting.co2e import ResolvedFactor, compose_factor
from accounting.gwp import Gas, GwpSet
from accounting.inventory import InventoryError
from accounting.inventory_record import record_figures
from accounting.report import WindowGroup

DAY = date(2026, 3, 1)
RESIDUAL = compose_factor(
    Carrier.ELECTRICITY, {Gas.CO2: 0.6e-3}, gwp_set=GwpSet.AR5, on=DAY, region="CN"
)


def _group(
    cat: str, carrier: str, unit: str, activity: float, gases: dict[str, float]
) -> WindowGroup:
    return WindowGroup(
        enterprise_id="e1",
        source_category=cat,
        iso_category=None,
        carrier=carrier,
        activity_unit=unit,
        gwp_set="AR5",
        local_day=DAY,
        utc_day=DAY,
        activity=activity,
        tco2e=0.0,  # the lines are rebuilt from the gases, not from this
        gases=gases,
        readings_present=4,
        readings_expected=4,
        windows=1,
        interpolated_windows=0,
        interpolated_tco2e=0.0,
        unfactored_windows=0,
        factor_versions=("v@2023-01-01",),
    )


def _residual(day: date, _: str | None) -> ResolvedFactor | None:
    return RESIDUAL


def test_each_carrier_and_gas_is_a_line_with_its_own_unit_factor_and_totals_by_basis() -> None:
    groups = [
        _group("stationary_combustion", "natural_gas", "Nm3", 1000.0, {"CO2": 2.0, "CH4": 0.001}),
        _group("stationary_combustion", "diesel", "t", 2.0, {"CO2": 6.0}),
        _group("purchased_electricity", "electricity", "kWh", 1000.0, {"CO2": 0.5}),
        _group("green_space_sink", "water", "ha", 0.0, {}),
    ]
    figs = record_figures(
        groups,
        ActivityLines((), ()),
        gwp_set=GwpSet.AR5,
        on=DAY,
        region="CN",
        residual=_residual,
        rows_of=lambda v: (),
    )
    rows = {(ln.carrier, ln.gas, ln.basis): ln for ln in figs.lines}
    gas_ch4 = rows[("natural_gas", "CH4", "location and market")]
    assert (gas_ch4.activity, gas_ch4.activity_unit) == (1000.0, "Nm3")
    assert gas_ch4.factor == pytest.approx(1e-6) and gas_ch4.gwp == 28
    assert gas_ch4.tco2e == pytest.approx(0.028)
    assert rows[("diesel", "CO2", "location and market")].activity_unit == "t"
    assert rows[("electricity", "CO2", "market_based")].tco2e == pytest.approx(0.6)
    inv = figs.inventory
    assert inv.location.tco2e == pytest.approx(2.0 + 0.028 + 6.0 + 0.5)
    assert inv.market.tco2e == pytest.approx(2.0 + 0.028 + 6.0 + 0.6)
    assert figs.market_available and inv.removals_tco2 == 0.0


def test_windows_in_another_gwp_set_are_refused_naming_both() -> None:
    group = _group("stationary_combustion", "diesel", "t", 2.0, {"CO2": 6.0})
    with pytest.raises(InventoryError, match=r"AR5.*AR6"):
        record_figures(
            [group],
            ActivityLines((), ()),
            gwp_set=GwpSet.AR6,
            on=DAY,
            region="CN",
            residual=_residual,
            rows_of=lambda v: (),
        )
