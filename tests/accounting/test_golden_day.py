"""Golden day: one day of hourly register readings in a Jiangsu park, 2023-06-15 (UTC+8).

Registers are in ``golden_day_registers.csv`` beside this file (25 readings, no faults); hourly
consumption is computed here with a plain ``np.diff``, independent of ``accounting.intervals``.
Every expected number below is hand arithmetic from the factor sources, written out as literal
numbers; nothing expected is computed by the code under test.

Factors in force on 2023-06-15 (catalogue rows):
- electricity, Jiangsu has no 2023 provincial row, so the explicit chain CN-JS -> CN-GRID-EAST
  -> CN matches East China grid 2023: 0.5500 kgCO2/kWh (MEE/NBS 2023 announcement)
- market-based residual mix 2023 (national, excl. market-traded non-fossil): 0.6096 kgCO2/kWh
- green electricity certificates: 0 kgCO2/kWh
- natural gas: NCV 389.31 GJ/10^4 Nm3, CC 0.0153 tC/GJ, OF 0.99 (GB/T 32150 defaults)
- diesel: density 0.835 kg/L (project default), NCV 42.652 GJ/t, CC 0.0202 tC/GJ, OF 0.98
- purchased steam: 0.11 tCO2/GJ (NDRC guideline default)

Enterprise E1 (textile dyeing):
  electricity: register 15000.0 -> 15400.0 = 400.0 kWh secondary x CT 300/5 (60) = 24000 kWh
      location: 24000 x 0.5500 / 1000                          = 13.2 tCO2
      market:   6000 kWh GEC x 0 + 18000 x 0.6096 / 1000        = 10.9728 tCO2
  natural gas: 52000.0 -> 54400.0 = 2400 Nm3
      2400 x 389.31/10^4 = 93.4344 GJ; x 0.0153 = 1.42954632 tC; x 0.99 = 1.4152508568 tC;
      x 44/12                                                   = 5.1892531416 tCO2
  output: 3000.0 -> 3120.0 = 120 t product
  total location 13.2 + 5.1892531416 = 18.3892531416; intensity / 120 = 0.15324377618 tCO2e/t
  total market 10.9728 + 5.1892531416 = 16.1620531416

Enterprise E2 (machinery):
  electricity: 8000.0 -> 8450.0 = 450.0 kWh x CT 200/5 (40) = 18000 kWh
      location: 18000 x 0.5500 / 1000 = 9.9 tCO2; market (no instruments): x 0.6096 = 10.9728
  steam: 1200.0 -> 1296.0 = 96 GJ x 0.11                        = 10.56 tCO2
  diesel (forklifts, mobile): 20000.0 -> 20600.0 = 600 L x 0.835 kg/L = 501 kg = 0.501 t
      x 42.652 = 21.368652 GJ; x 0.0202 = 0.4316467704 tC; x 0.98 = 0.423013835 tC;
      x 44/12                                                   = 1.551050728304 tCO2
  output value: 500.0 -> 535.0 = 35 (10^4 CNY)
  total location 9.9 + 10.56 + 1.551050728304 = 22.011050728304
  intensity / 35 = 0.628887163665 tCO2e per 10^4 CNY
  total market 10.9728 + 10.56 + 1.551050728304 = 23.083850728304

Park: location 18.3892531416 + 22.011050728304 = 40.400303869904 tCO2e
      market   16.1620531416 + 23.083850728304 = 39.245903869904 tCO2e
Green space (test input, not a catalogue factor): 12 ha x 10 tCO2/ha/yr x 1/365 d
      = 0.328767123288 tCO2 removed, reported apart, never subtracted.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from accounting.carriers import CANONICAL_UNIT, Carrier
from accounting.categories import SourceCategory
from accounting.co2e import ResolvedFactor, co2e_tonnes, resolve_factor
from accounting.factors import Series, load_catalogue
from accounting.gwp import GwpSet
from accounting.intensity import OutputUnit, intensity
from accounting.inventory import (
    electricity_lines,
    emission_line,
    green_space_removal,
    summarise,
)
from accounting.regions import region_chain
from accounting.units import conversion_factor

DAY = date(2023, 6, 15)
REL = 1e-9
REGISTERS = Path(__file__).with_name("golden_day_registers.csv")

E1_ELEC_LOCATION = 13.2
E1_ELEC_MARKET = 10.9728
E1_GAS = 5.1892531416
E1_TOTAL = 18.3892531416
E1_MARKET_TOTAL = 16.1620531416
E1_INTENSITY = 0.15324377618
E2_ELEC_LOCATION = 9.9
E2_ELEC_MARKET = 10.9728
E2_STEAM = 10.56
E2_DIESEL = 1.551050728304
E2_TOTAL = 22.011050728304
E2_MARKET_TOTAL = 23.083850728304
E2_INTENSITY = 0.628887163665  # 22.011050728304 / 35, rounded to 12 significant digits
PARK_LOCATION = 40.400303869904
PARK_MARKET = 39.245903869904
PARK_REMOVALS = 0.328767123288  # 120 / 365, rounded


def _registers() -> dict[str, NDArray[np.float64]]:
    with REGISTERS.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        name: np.array([float(row[name]) for row in rows])
        for name in rows[0]
        if name != "hour_start_utc8"
    }


def _hourly(name: str, multiplier: float, unit: str, carrier: Carrier) -> NDArray[np.float64]:
    """Hourly consumption in the carrier's canonical unit: diff x CT ratio x unit factor."""
    to_canonical = conversion_factor(unit, CANONICAL_UNIT[carrier], carrier, on=DAY)
    return np.diff(_registers()[name]) * multiplier * to_canonical


def _factor(carrier: Carrier, series: Series) -> ResolvedFactor:
    return resolve_factor(
        load_catalogue(),
        carrier=carrier,
        region=region_chain("CN-JS"),
        on=DAY,
        series=series,
        gwp_set=GwpSet.AR5,
    )


@pytest.fixture(scope="module")
def day() -> dict[str, float]:
    grid = _factor(Carrier.ELECTRICITY, Series.MEE_NBS_GRID_AVERAGE)
    gas = _factor(Carrier.NATURAL_GAS, Series.GBT32150_FUEL_DEFAULTS)
    diesel = _factor(Carrier.DIESEL, Series.GBT32150_FUEL_DEFAULTS)
    steam = _factor(Carrier.STEAM, Series.NDRC_HEAT_DEFAULT)
    hourly = {
        "e1_elec": co2e_tonnes(
            _hourly("e1_elec_kwh_secondary", 300 / 5, "kWh", Carrier.ELECTRICITY), grid
        ),
        "e1_gas": co2e_tonnes(_hourly("e1_gas_nm3", 1, "Nm3", Carrier.NATURAL_GAS), gas),
        "e2_elec": co2e_tonnes(
            _hourly("e2_elec_kwh_secondary", 200 / 5, "kWh", Carrier.ELECTRICITY), grid
        ),
        "e2_steam": co2e_tonnes(_hourly("e2_steam_gj", 1, "GJ", Carrier.STEAM), steam),
        "e2_diesel": co2e_tonnes(_hourly("e2_diesel_l", 1, "L", Carrier.DIESEL), diesel),
    }
    assert all(series.shape == (24,) for series in hourly.values())
    return {name: float(series.sum()) for name, series in hourly.items()} | {
        "hour_10_e1_elec": float(hourly["e1_elec"][9])
    }


def test_hourly_electricity_uses_ct_ratio_and_east_grid_factor(day: dict[str, float]) -> None:
    # 09:00-10:00: 15133.2 - 15108.2 = 25.0 kWh secondary x 60 = 1500 kWh x 0.00055 = 0.825 t
    assert day["hour_10_e1_elec"] == pytest.approx(0.825, rel=REL)


def test_daily_tco2e_per_source_from_hourly_batches(day: dict[str, float]) -> None:
    assert day["e1_elec"] == pytest.approx(E1_ELEC_LOCATION, rel=REL)
    assert day["e1_gas"] == pytest.approx(E1_GAS, rel=REL)
    assert day["e2_elec"] == pytest.approx(E2_ELEC_LOCATION, rel=REL)
    assert day["e2_steam"] == pytest.approx(E2_STEAM, rel=REL)
    assert day["e2_diesel"] == pytest.approx(E2_DIESEL, rel=REL)


def _inventory_inputs() -> tuple[dict[str, float], dict[str, ResolvedFactor]]:
    regs = _registers()
    total = {name: float(values[-1] - values[0]) for name, values in regs.items()}
    factors = {
        "grid": _factor(Carrier.ELECTRICITY, Series.MEE_NBS_GRID_AVERAGE),
        "residual": _factor(Carrier.ELECTRICITY, Series.MEE_NBS_RESIDUAL_MIX),
        "gec": _factor(Carrier.ELECTRICITY, Series.CONTRACTUAL_GEC),
        "gas": _factor(Carrier.NATURAL_GAS, Series.GBT32150_FUEL_DEFAULTS),
        "diesel": _factor(Carrier.DIESEL, Series.GBT32150_FUEL_DEFAULTS),
        "steam": _factor(Carrier.STEAM, Series.NDRC_HEAT_DEFAULT),
    }
    return total, factors


def test_inventory_per_source_per_enterprise_and_park() -> None:
    total, f = _inventory_inputs()
    diesel_t = total["e2_diesel_l"] * conversion_factor("L", "t", Carrier.DIESEL, on=DAY)
    lines = [
        *electricity_lines(
            "E1",
            consumed=total["e1_elec_kwh_secondary"] * 60,
            location_factor=f["grid"],
            residual_factor=f["residual"],
            instruments=[(6000.0, f["gec"])],
        ),
        emission_line("E1", SourceCategory.STATIONARY_COMBUSTION, total["e1_gas_nm3"], f["gas"]),
        *electricity_lines(
            "E2",
            consumed=total["e2_elec_kwh_secondary"] * 40,
            location_factor=f["grid"],
            residual_factor=f["residual"],
        ),
        emission_line("E2", SourceCategory.PURCHASED_HEAT, total["e2_steam_gj"], f["steam"]),
        emission_line("E2", SourceCategory.MOBILE_COMBUSTION, diesel_t, f["diesel"]),
    ]
    sink = green_space_removal(
        "park", area_ha=12, rate_tco2_per_ha_year=10, days=1, source="golden-test input"
    )
    inv = summarise(lines, [sink])

    loc, mkt = inv.location, inv.market
    assert loc.by_subject["E1"] == pytest.approx(E1_TOTAL, rel=REL)
    assert loc.by_subject["E2"] == pytest.approx(E2_TOTAL, rel=REL)
    assert loc.tco2e == pytest.approx(PARK_LOCATION, rel=REL)
    assert mkt.by_subject["E1"] == pytest.approx(E1_MARKET_TOTAL, rel=REL)
    assert mkt.by_subject["E2"] == pytest.approx(E2_MARKET_TOTAL, rel=REL)
    assert mkt.tco2e == pytest.approx(PARK_MARKET, rel=REL)
    elec = SourceCategory.PURCHASED_ELECTRICITY
    assert loc.by_category[elec] == pytest.approx(E1_ELEC_LOCATION + E2_ELEC_LOCATION, rel=REL)
    assert mkt.by_category[elec] == pytest.approx(E1_ELEC_MARKET + E2_ELEC_MARKET, rel=REL)
    assert loc.by_category[SourceCategory.STATIONARY_COMBUSTION] == pytest.approx(E1_GAS, rel=REL)
    assert loc.by_category[SourceCategory.MOBILE_COMBUSTION] == pytest.approx(E2_DIESEL, rel=REL)
    assert loc.by_category[SourceCategory.PURCHASED_HEAT] == pytest.approx(E2_STEAM, rel=REL)
    assert inv.removals_tco2 == pytest.approx(PARK_REMOVALS, rel=REL)
    assert inv.gwp_set is GwpSet.AR5


def test_intensity_per_tonne_and_per_output_value() -> None:
    total, _ = _inventory_inputs()
    e1 = intensity("E1", E1_TOTAL, total["e1_output_t"], OutputUnit.TONNE_PRODUCT)
    e2 = intensity("E2", E2_TOTAL, total["e2_output_value_10k_cny"], OutputUnit.CNY_10K)
    assert e1.value == pytest.approx(E1_INTENSITY, rel=REL)
    assert e2.value == pytest.approx(E2_INTENSITY, rel=REL)
    assert e2.unit == "tCO2e/10^4 CNY"
