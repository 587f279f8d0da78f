"""One grid level for every year of a park (national, regional grid, province).

The MEE/NBS catalogue has national and regional-grid factors for 2021-2023 but provincial
factors for 2022 only. Choosing by "the most specific region that has a row" made Yunnan's
factor jump 0.4326 (South grid) -> 0.1073 (Yunnan) -> 0.4042 (South grid). A park now states its
level; a day the level has no row for falls back to the next coarser level, and the window is
flagged ``FACTOR_LEVEL_FALLBACK``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounting.gwp import GwpSet
from accounting.reasons import Reason
from accounting.regions import RegionLevel, level_chain
from accounting.window_co2e import EmissionCalculator
from accounting.windows import WindowKey, WindowSums
from tests.stream.test_overrides import _meter


def _year(calc: EmissionCalculator, year: int) -> tuple[float, tuple[str, ...], bool]:
    start = datetime(year, 6, 1, 4, tzinfo=UTC)
    r = calc.result(WindowSums(WindowKey("E-1", 3600, start), 1000.0, 4.0, 0, False), _meter())
    return r.tco2e, r.factor_versions, bool(r.flags & Reason.FACTOR_LEVEL_FALLBACK)


def test_level_chains_start_at_the_chosen_level_and_end_national() -> None:
    assert level_chain("CN-YN", RegionLevel.PROVINCE) == ("CN-YN", "CN-GRID-SOUTH", "CN")
    assert level_chain("CN-YN", RegionLevel.GRID) == ("CN-GRID-SOUTH", "CN")
    assert level_chain("CN-YN", RegionLevel.NATIONAL) == ("CN",)
    # A park registered at grid level has no province: its own region comes first.
    assert level_chain("CN-GRID-EAST", RegionLevel.PROVINCE) == ("CN-GRID-EAST", "CN")
    assert level_chain("CN", RegionLevel.GRID) == ("CN",)


def test_a_yunnan_park_at_grid_level_uses_the_south_grid_every_year() -> None:
    calc = EmissionCalculator(region="CN-YN", gwp_set=GwpSet.AR5, grid_level=RegionLevel.GRID)
    # 1000 kWh x 0.4326 / 0.3869 / 0.4042 kgCO2/kWh (South grid 2021, 2022, 2023)
    assert _year(calc, 2021) == (
        pytest.approx(0.4326),
        ("grid_avg.CN-GRID-SOUTH@2021-01-01",),
        False,
    )
    assert _year(calc, 2022) == (
        pytest.approx(0.3869),
        ("grid_avg.CN-GRID-SOUTH@2022-01-01",),
        False,
    )
    assert _year(calc, 2023) == (
        pytest.approx(0.4042),
        ("grid_avg.CN-GRID-SOUTH@2023-01-01",),
        False,
    )


def test_a_yunnan_park_at_province_level_falls_back_to_its_grid_flagged() -> None:
    calc = EmissionCalculator(region="CN-YN", gwp_set=GwpSet.AR5, grid_level=RegionLevel.PROVINCE)
    assert _year(calc, 2022) == (pytest.approx(0.1073), ("grid_avg.CN-YN@2022-01-01",), False)
    assert _year(calc, 2021) == (
        pytest.approx(0.4326),
        ("grid_avg.CN-GRID-SOUTH@2021-01-01",),
        True,
    )
    assert _year(calc, 2023) == (
        pytest.approx(0.4042),
        ("grid_avg.CN-GRID-SOUTH@2023-01-01",),
        True,
    )


def test_a_national_park_and_national_only_fuel_factors_are_never_flagged() -> None:
    calc = EmissionCalculator(region="CN-YN", gwp_set=GwpSet.AR5, grid_level=RegionLevel.NATIONAL)
    assert _year(calc, 2022) == (pytest.approx(0.5366), ("grid_avg.CN@2022-01-01",), False)
    calc = EmissionCalculator(region="CN-YN", gwp_set=GwpSet.AR5, grid_level=RegionLevel.PROVINCE)
    gas = _meter("G-1", carrier="natural_gas", unit="Nm3", source_category="stationary_combustion")
    start = datetime(2022, 6, 1, 4, tzinfo=UTC)
    r = calc.result(WindowSums(WindowKey("G-1", 3600, start), 100.0, 4.0, 0, False), gas)
    assert r.tco2e > 0
    assert not r.flags & Reason.FACTOR_LEVEL_FALLBACK
