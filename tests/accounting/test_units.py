"""Units and conversions: exact ratios, explicit parameters, errors that name both units."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.carriers import Carrier
from accounting.parameters import ParameterNotFoundError
from accounting.units import (
    GasAtMeteringConditionsError,
    IncompatibleUnitsError,
    Unit,
    UnitError,
    UnknownUnitError,
    conversion_factor,
    dimension,
    gas_m3_to_nm3_factor,
    parse_unit,
    resolve_conversion,
    scale,
)

E = Carrier.ELECTRICITY


@pytest.mark.parametrize(
    ("a", "b", "factor"),
    [
        ("MWh", "kWh", 1e3),
        ("GWh", "kWh", 1e6),
        ("kWh", "GJ", 0.0036),
        ("TJ", "GJ", 1e3),
        ("MJ", "GJ", 1e-3),
        ("GJ", "MWh", 1 / 3.6),
    ],
)
def test_energy_units_convert_by_exact_ratios(a: str, b: str, factor: float) -> None:
    assert conversion_factor(a, b, Carrier.HEAT) == pytest.approx(factor, rel=1e-15)


def test_ten_thousand_normal_cubic_metres_is_10_to_the_4_nm3() -> None:
    assert conversion_factor("10^4 Nm3", "Nm3", Carrier.NATURAL_GAS) == 1e4


def test_tonnes_and_kilograms_and_output_value() -> None:
    assert conversion_factor("kg", "t", Carrier.COKE) == 1e-3
    assert conversion_factor("CNY", "10^4 CNY", Carrier.OUTPUT_VALUE) == 1e-4


def test_parse_unit_ignores_case_and_spaces_and_knows_aliases() -> None:
    assert parse_unit("kwh") is Unit.KWH
    assert parse_unit(" 10^4 nm3 ") is Unit.NM3_10K
    assert parse_unit("万Nm3") is Unit.NM3_10K
    assert parse_unit("m³") is Unit.M3
    assert parse_unit(Unit.GJ) is Unit.GJ


def test_unknown_unit_names_the_text() -> None:
    with pytest.raises(UnknownUnitError, match="'furlongs'"):
        parse_unit("furlongs")


def test_incompatible_units_error_names_both_units_and_the_carrier() -> None:
    with pytest.raises(IncompatibleUnitsError) as err:
        conversion_factor("kWh", "t", E)
    assert "'kWh'" in str(err.value) and "'t'" in str(err.value) and "electricity" in str(err.value)


def test_a_dimension_the_carrier_is_never_metered_in_is_refused() -> None:
    with pytest.raises(IncompatibleUnitsError, match="'L' to 't' for carrier 'raw_coal'"):
        conversion_factor("L", "t", Carrier.RAW_COAL)


def test_plain_m3_of_gas_is_refused_with_a_pointer_to_explicit_normalisation() -> None:
    with pytest.raises(GasAtMeteringConditionsError, match="gas_m3_to_nm3_factor"):
        conversion_factor("m3", "Nm3", Carrier.NATURAL_GAS)


def test_gas_at_standard_conditions_needs_no_correction() -> None:
    assert gas_m3_to_nm3_factor(101.325, 0.0) == pytest.approx(1.0, rel=1e-15)


def test_gas_at_line_pressure_and_temperature_is_normalised_by_ideal_gas_law() -> None:
    # 200 kPa(a), 20 degC: (200 / 101.325) x (273.15 / 293.15) = 1.839219...
    expected = (200 / 101.325) * (273.15 / 293.15)
    assert gas_m3_to_nm3_factor(200.0, 20.0) == pytest.approx(expected, rel=1e-12)
    assert gas_m3_to_nm3_factor(200.0, 20.0, compressibility=0.99) > expected


@pytest.mark.parametrize(("p", "t", "z"), [(0.0, 20.0, 1.0), (100.0, -274.0, 1.0), (100, 20, 0)])
def test_impossible_metering_conditions_are_rejected(p: float, t: float, z: float) -> None:
    with pytest.raises(UnitError, match="implausible"):
        gas_m3_to_nm3_factor(p, t, z)


def test_litres_of_diesel_use_the_versioned_density_row() -> None:
    conv = resolve_conversion("L", "t", Carrier.DIESEL, on=date(2023, 6, 15))
    assert conv.factor == pytest.approx(0.835e-3, rel=1e-12)  # 0.835 kg/L
    (use,) = conv.parameters
    assert use.key == "density.diesel" and use.valid_from == date(2017, 1, 1)


def test_explicit_density_overrides_the_default_and_is_recorded_as_explicit() -> None:
    conv = resolve_conversion("L", "kg", Carrier.DIESEL, density_kg_per_l=0.84)
    assert conv.factor == pytest.approx(0.84, rel=1e-12)
    assert conv.parameters[0].key == "explicit"
    assert conversion_factor("t", "L", Carrier.DIESEL, density_kg_per_l=0.8) == pytest.approx(
        1250.0, rel=1e-12
    )


def test_no_density_row_for_the_carrier_or_date_fails_clearly() -> None:
    with pytest.raises(ParameterNotFoundError, match="density parameter for carrier 'lpg'"):
        conversion_factor("L", "t", Carrier.LPG)
    with pytest.raises(ParameterNotFoundError, match="valid on 2010-01-01"):
        conversion_factor("L", "t", Carrier.DIESEL, on=date(2010, 1, 1))


def test_non_positive_explicit_parameter_is_rejected() -> None:
    with pytest.raises(UnitError, match="density must be positive"):
        conversion_factor("L", "t", Carrier.DIESEL, density_kg_per_l=0.0)


def test_steam_tonnes_to_gj_uses_enthalpy_above_feed_water() -> None:
    # (2800 - 83.74) kJ/kg x 1000 kg/t = 2716260 kJ = 2.71626 GJ per tonne
    factor = conversion_factor("t", "GJ", Carrier.STEAM, steam_enthalpy_kj_per_kg=2800.0)
    assert factor == pytest.approx(2.71626, rel=1e-12)
    back = conversion_factor("GJ", "t", Carrier.STEAM, steam_enthalpy_kj_per_kg=2800.0)
    assert back == pytest.approx(1 / 2.71626, rel=1e-12)


def test_steam_default_enthalpy_row_is_used_and_recorded() -> None:
    conv = resolve_conversion("t", "GJ", Carrier.STEAM)
    assert conv.factor == pytest.approx((2777.1 - 83.74) * 1e-3, rel=1e-12)
    assert [p.key for p in conv.parameters] == [
        "enthalpy.steam.default",
        "enthalpy.water.reference",
    ]


def test_steam_enthalpy_not_above_feed_water_is_rejected() -> None:
    with pytest.raises(UnitError, match="must exceed"):
        conversion_factor("t", "GJ", Carrier.STEAM, steam_enthalpy_kj_per_kg=80.0)


def test_conversion_factor_multiplies_arrays_in_one_operation() -> None:
    readings = np.array([1.0, 2.5, 4.0])
    np.testing.assert_allclose(readings * conversion_factor("MWh", "kWh", E), [1e3, 2.5e3, 4e3])


def test_scale_refuses_units_of_different_dimensions() -> None:
    with pytest.raises(IncompatibleUnitsError, match="'Nm3' to 'GJ'"):
        scale("Nm3", "GJ")
    assert dimension("10^4 CNY") == "currency"


@given(st.sampled_from(list(Unit)), st.sampled_from(list(Unit)))
def test_same_dimension_conversions_round_trip(a: Unit, b: Unit) -> None:
    if dimension(a) == dimension(b):
        assert scale(a, b) * scale(b, a) == pytest.approx(1.0, rel=1e-12)
