"""CO2e conversion: per-gas coefficients, GWP set recorded, one multiply on the hot path."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.carriers import Carrier
from accounting.co2e import (
    FactorResolutionError,
    ResolvedFactor,
    co2e_tonnes,
    fugitive_factor,
    gas_tonnes,
    resolve_factor,
)
from accounting.factors import COLUMNS, Catalogue, Series, load_catalogue, parse_catalogue
from accounting.gwp import Gas, GwpSet

DAY = date(2023, 6, 15)
TAIL = "2016-06-01,,s,t,e,unverified,"  # validity, source, table, edition, evidence, note


def _fuel(carrier: Carrier, *series: Series, gwp_set: GwpSet = GwpSet.AR5) -> ResolvedFactor:
    return resolve_factor(
        load_catalogue(), carrier=carrier, region="CN", on=DAY, series=series, gwp_set=gwp_set
    )


def test_fuel_factor_is_ncv_x_carbon_content_x_oxidation_x_44_over_12() -> None:
    f = resolve_factor(
        load_catalogue(),
        carrier=Carrier.NATURAL_GAS,
        region="CN",
        on=DAY,
        series=Series.GBT32150_FUEL_DEFAULTS,
        gwp_set=GwpSet.AR5,
    )
    # 389.31 GJ/10^4 Nm3 = 0.038931 GJ/Nm3; x 0.0153 x 0.99 x 44/12 = 0.002162188809 tCO2/Nm3
    assert f.tco2e_per_unit == pytest.approx(0.002162188809, rel=1e-12)
    assert f.unit == "Nm3" and [g.gas for g in f.gases] == [Gas.CO2]
    assert f.versions == (
        "fuel.natural_gas.ncv@2016-06-01",
        "fuel.natural_gas.carbon_content@2016-06-01",
        "fuel.natural_gas.oxidation@2016-06-01",
    )


def test_result_records_factor_rows_region_and_gwp_set() -> None:
    f = resolve_factor(
        load_catalogue(),
        carrier=Carrier.ELECTRICITY,
        region=("CN-JS", "CN-GRID-EAST", "CN"),
        on=DAY,
        series=Series.MEE_NBS_GRID_AVERAGE,
        gwp_set=GwpSet.AR6,
    )
    assert (f.region, f.gwp_set, f.versions) == (
        "CN-GRID-EAST",
        GwpSet.AR6,
        ("grid_avg.CN-GRID-EAST@2023-01-01",),
    )
    assert f.rows[0].source.startswith("MEE/NBS")


def test_co2e_is_activity_times_the_precomputed_coefficient() -> None:
    f = resolve_factor(
        load_catalogue(),
        carrier=Carrier.STEAM,
        region="CN",
        on=DAY,
        series=Series.NDRC_HEAT_DEFAULT,
        gwp_set=GwpSet.AR5,
    )
    got = [co2e_tonnes(a, f) for a in (0.0, 1.0, 96.0, 2.5)]
    assert got == pytest.approx([0.0, 0.11, 10.56, 0.275], rel=1e-12)


def test_non_co2_gases_make_the_gwp_set_matter() -> None:
    ar4 = _fuel(
        Carrier.DIESEL,
        Series.GBT32150_FUEL_DEFAULTS,
        Series.IPCC2006_MOBILE_NONCO2,
        gwp_set=GwpSet.AR4,
    )
    ar6 = _fuel(
        Carrier.DIESEL,
        Series.GBT32150_FUEL_DEFAULTS,
        Series.IPCC2006_MOBILE_NONCO2,
        gwp_set=GwpSet.AR6,
    )
    # per t diesel: 42.652 GJ x 3.9 kg/TJ = 0.0001663428 t CH4 and the same of N2O
    ch4 = 42.652 * 3.9e-6
    assert {g.gas: g.tonnes_per_unit for g in ar4.gases}[Gas.CH4] == pytest.approx(ch4, rel=1e-12)
    co2 = 42.652 * 0.0202 * 0.98 * 44 / 12
    assert ar4.tco2e_per_unit == pytest.approx(co2 + ch4 * 25 + ch4 * 298, rel=1e-12)
    assert ar6.tco2e_per_unit == pytest.approx(co2 + ch4 * 27.0 + ch4 * 273, rel=1e-12)


def test_one_gas_from_two_series_is_refused_rather_than_double_counted() -> None:
    with pytest.raises(FactorResolutionError, match=r"CO2 for 'electricity' .* given twice"):
        _fuel(Carrier.ELECTRICITY, Series.MEE_NBS_GRID_AVERAGE, Series.CN_ETS_GRID)


def test_a_factor_per_gj_without_an_ncv_is_refused() -> None:
    with pytest.raises(FactorResolutionError, match="a factor per GJ needs an NCV"):
        _fuel(Carrier.DIESEL, Series.IPCC2006_MOBILE_NONCO2)


def test_carbon_content_without_ncv_or_oxidation_is_refused() -> None:
    header = ",".join(COLUMNS)
    cc = "gbt32150_fuel_defaults,fuel.coke.cc,coke,carbon_content,CO2,CN,0.0294,tC/GJ," + TAIL
    catalogue = Catalogue(parse_catalogue(f"{header}\n{cc}\n", "f.csv"))
    with pytest.raises(
        FactorResolutionError, match="carbon content needs an NCV and an oxidation rate"
    ):
        resolve_factor(
            catalogue,
            carrier=Carrier.COKE,
            region="CN",
            on=DAY,
            series=Series.GBT32150_FUEL_DEFAULTS,
            gwp_set=GwpSet.AR5,
        )


def test_a_series_with_only_parameters_gives_no_factor() -> None:
    header = ",".join(COLUMNS)
    ncv = "gbt32150_fuel_defaults,fuel.coke.ncv,coke,ncv,,CN,28.435,GJ/t," + TAIL
    catalogue = Catalogue(parse_catalogue(f"{header}\n{ncv}\n", "f.csv"))
    with pytest.raises(FactorResolutionError, match="give no emission factor"):
        resolve_factor(
            catalogue,
            carrier=Carrier.COKE,
            region="CN",
            on=DAY,
            series=Series.GBT32150_FUEL_DEFAULTS,
            gwp_set=GwpSet.AR5,
        )


def test_fugitive_release_is_mass_times_gwp() -> None:
    f = fugitive_factor(Gas.HFC_134A, gwp_set=GwpSet.AR5, on=DAY)
    assert co2e_tonnes(0.010, f) == pytest.approx(13.0, rel=1e-12)  # 10 kg x 1300
    assert f.carrier is Carrier.FUGITIVE_GAS and f.rows == ()


def test_gas_tonnes_reports_the_mass_of_each_gas() -> None:
    f = fugitive_factor(Gas.SF6, gwp_set=GwpSet.AR6, on=DAY)
    assert gas_tonnes(0.002, f) == {Gas.SF6: 0.002}
