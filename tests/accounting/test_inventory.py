"""Inventory lines: sinks apart, market-based beside location-based, one GWP set."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.carriers import Carrier
from accounting.categories import AccountingMethod, IsoCategory, SourceCategory
from accounting.co2e import ResolvedFactor, compose_factor, fugitive_factor
from accounting.gwp import Gas, GwpSet
from accounting.inventory import (
    InventoryError,
    electricity_lines,
    emission_line,
    green_space_removal,
    removal_line,
    summarise,
)

DAY = date(2023, 6, 15)


def _per_unit(carrier: Carrier, t_co2: float, gwp_set: GwpSet = GwpSet.AR5) -> ResolvedFactor:
    return compose_factor(carrier, {Gas.CO2: t_co2}, gwp_set=gwp_set, on=DAY, region="CN")


def test_sink_is_never_netted_into_gross() -> None:
    gas = emission_line(
        "E1", SourceCategory.STATIONARY_COMBUSTION, 1000.0, _per_unit(Carrier.NATURAL_GAS, 0.002)
    )
    sink = removal_line("park", 1.5, method_note="12 ha x 45 tCO2/ha/yr x 1/365")
    inv = summarise([gas], [sink])
    assert inv.location.tco2e == pytest.approx(2.0) and inv.market.tco2e == pytest.approx(2.0)
    assert inv.removals_tco2 == 1.5 and inv.removals_by_subject == {"park": 1.5}
    assert SourceCategory.GREEN_SPACE_SINK not in inv.location.by_category


def test_a_sink_cannot_be_entered_as_an_emission_line() -> None:
    with pytest.raises(InventoryError, match="use removal_line"):
        emission_line("park", SourceCategory.GREEN_SPACE_SINK, 1.0, _per_unit(Carrier.HEAT, 1.0))


def test_removals_are_positive_and_say_how_they_were_estimated() -> None:
    with pytest.raises(InventoryError, match="positive"):
        removal_line("park", -1.0, method_note="x")
    with pytest.raises(InventoryError, match="estimation method"):
        removal_line("park", 1.0, method_note=" ")
    line = green_space_removal(
        "park", area_ha=10, rate_tco2_per_ha_year=3.65, days=10, source="survey 2023"
    )
    assert line.tco2_removed == pytest.approx(1.0) and "survey 2023" in line.method_note


def test_negative_activity_is_refused() -> None:
    with pytest.raises(InventoryError, match="negative activity"):
        emission_line("E1", SourceCategory.PURCHASED_HEAT, -1.0, _per_unit(Carrier.HEAT, 0.11))


def test_market_based_is_reported_beside_location_based_never_instead() -> None:
    lines = electricity_lines(
        "E1",
        consumed=10_000.0,
        location_factor=_per_unit(Carrier.ELECTRICITY, 0.00055),
        residual_factor=_per_unit(Carrier.ELECTRICITY, 0.0006096),
        instruments=[(4_000.0, _per_unit(Carrier.ELECTRICITY, 0.0))],
    )
    inv = summarise(lines)
    assert inv.location.tco2e == pytest.approx(5.5)  # 10000 x 0.00055
    assert inv.market.tco2e == pytest.approx(3.6576)  # 4000 x 0 + 6000 x 0.0006096
    assert [line.method for line in lines] == [
        AccountingMethod.LOCATION,
        AccountingMethod.MARKET,
        AccountingMethod.MARKET,
    ]


def test_instruments_cannot_cover_more_than_was_consumed() -> None:
    with pytest.raises(InventoryError, match=r"cover 12000\.0 kWh but only 10000\.0"):
        electricity_lines(
            "E1",
            consumed=10_000.0,
            location_factor=_per_unit(Carrier.ELECTRICITY, 0.00055),
            residual_factor=_per_unit(Carrier.ELECTRICITY, 0.0006),
            instruments=[(12_000.0, _per_unit(Carrier.ELECTRICITY, 0.0))],
        )


def test_an_inventory_refuses_mixed_gwp_sets() -> None:
    a = emission_line(
        "E1", SourceCategory.FUGITIVE, 0.001, fugitive_factor(Gas.SF6, gwp_set=GwpSet.AR5, on=DAY)
    )
    b = emission_line(
        "E2", SourceCategory.FUGITIVE, 0.001, fugitive_factor(Gas.SF6, gwp_set=GwpSet.AR6, on=DAY)
    )
    with pytest.raises(InventoryError, match="exactly one GWP set; lines use AR5, AR6"):
        summarise([a, b])
    with pytest.raises(InventoryError, match="no lines"):
        summarise([])


def test_iso_category_defaults_by_source_and_can_be_overridden() -> None:
    own = emission_line("E1", SourceCategory.MOBILE_COMBUSTION, 1.0, _per_unit(Carrier.DIESEL, 3.1))
    hired = emission_line(
        "E1",
        SourceCategory.MOBILE_COMBUSTION,
        1.0,
        _per_unit(Carrier.DIESEL, 3.1),
        iso_category=IsoCategory.TRANSPORTATION,
    )
    heat = emission_line("E1", SourceCategory.PURCHASED_HEAT, 1.0, _per_unit(Carrier.HEAT, 0.11))
    assert own.iso_category is IsoCategory.DIRECT
    inv = summarise([own, hired, heat])
    assert inv.location.by_iso_category == {
        IsoCategory.DIRECT: pytest.approx(3.1),
        IsoCategory.TRANSPORTATION: pytest.approx(3.1),
        IsoCategory.IMPORTED_ENERGY: pytest.approx(0.11),
    }


def test_each_line_keeps_mass_and_co2e_per_gas() -> None:
    line = emission_line(
        "E1",
        SourceCategory.FUGITIVE,
        0.002,
        fugitive_factor(Gas.HFC_32, gwp_set=GwpSet.AR6, on=DAY),
    )
    (amount,) = line.gases
    assert (amount.gas, amount.tonnes) == (Gas.HFC_32, 0.002)
    assert amount.tco2e == pytest.approx(0.002 * 771)
    assert summarise([line]).location.by_gas == {Gas.HFC_32: pytest.approx(1.542)}
