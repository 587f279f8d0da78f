"""Energy in tce by GB/T 2589-2020: coefficients with their sources, and the conversion."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.carriers import Carrier
from accounting.datafile import DataFileError, Evidence
from accounting.energy import (
    COLUMNS,
    ElectricityConvention,
    EnergySums,
    NoCoefficientError,
    energy_of,
    load_coefficients,
    parse_coefficients,
    tce_coefficient,
    to_tce,
)

DAY = date(2024, 6, 1)


def test_every_coefficient_carries_its_source_and_evidence() -> None:
    rows = load_coefficients()
    assert {r.carrier for r in rows} >= {
        Carrier.RAW_COAL,
        Carrier.NATURAL_GAS,
        Carrier.ELECTRICITY,
        Carrier.STEAM,
        Carrier.HEAT,
    }
    for r in rows:
        assert r.source and r.table and r.edition, r.key
    # The published equivalent value could not be confirmed here: it says so.
    equivalent = tce_coefficient(Carrier.ELECTRICITY, DAY, ElectricityConvention.EQUIVALENT)
    assert equivalent.evidence is Evidence.UNVERIFIED


def test_golden_day_of_a_factory_in_tce_by_hand_arithmetic() -> None:
    # Equal value (当量值), GB/T 2589-2020 appendix A:
    #   electricity 10 MWh = 10 000 kWh x 0.1229 kgce/kWh  = 1 229.00 kgce
    #   natural gas 500 Nm3           x 1.2143 kgce/m3   =   607.15 kgce
    #   raw coal    2 t = 2 000 kg    x 0.7143 kgce/kg   = 1 428.60 kgce
    #   steam       3 GJ = 3 000 MJ   x 0.03412 kgce/MJ  =   102.36 kgce
    #   total                                            = 3 367.11 kgce = 3.36711 tce
    parts = [
        to_tce(10.0, "MWh", Carrier.ELECTRICITY, DAY),
        to_tce(500.0, "Nm3", Carrier.NATURAL_GAS, DAY),
        to_tce(2.0, "t", Carrier.RAW_COAL, DAY),
        to_tce(3.0, "GJ", Carrier.STEAM, DAY),
    ]
    assert parts == pytest.approx([1.229, 0.60715, 1.4286, 0.10236], rel=1e-12)
    assert sum(parts) == pytest.approx(3.36711, rel=1e-12)
    # Equivalent value (等价值): 10 000 kWh x 0.3007 kgce/kWh = 3 007 kgce = 3.007 tce.
    eq = to_tce(10_000.0, "kWh", Carrier.ELECTRICITY, DAY, ElectricityConvention.EQUIVALENT)
    assert eq == pytest.approx(3.007, rel=1e-12)


def test_a_liquid_fuel_in_litres_converts_through_its_density_row() -> None:
    # 1 000 L diesel x 0.835 kg/L = 835 kg x 1.4571 kgce/kg = 1 216.6785 kgce
    assert to_tce(1000.0, "L", Carrier.DIESEL, DAY) == pytest.approx(1.2166785, rel=1e-12)


def test_no_coefficient_before_the_standard_or_for_water_is_a_clear_error() -> None:
    with pytest.raises(NoCoefficientError, match=r"raw_coal.*2019-01-01.*gbt2589"):
        to_tce(1.0, "t", Carrier.RAW_COAL, date(2019, 1, 1))
    with pytest.raises(NoCoefficientError, match="'water'"):
        to_tce(1.0, "m3", Carrier.WATER, DAY)


def test_a_row_without_a_convention_or_with_a_bad_unit_is_refused_naming_the_field() -> None:
    head = ",".join(COLUMNS)
    row = "k,electricity,both,0.1229,kgce/kWh,2021-04-01,,src,tbl,2020,unverified,"
    with pytest.raises(DataFileError, match="field 'convention'"):
        parse_coefficients(f"{head}\n{row}\n", "t.csv")
    row = "k,raw_coal,both,0.7143,kg/kg,2021-04-01,,src,tbl,2020,unverified,"
    with pytest.raises(DataFileError, match="field 'unit'"):
        parse_coefficients(f"{head}\n{row}\n", "t.csv")


def test_a_version_that_does_not_span_whole_months_is_refused() -> None:
    # Month sums (emission_month) are converted whole, so a version cannot start mid-month.
    head = ",".join(COLUMNS)
    row = "k,raw_coal,both,0.7143,kgce/kg,2021-04-15,,src,tbl,2020,unverified,"
    with pytest.raises(DataFileError, match="field 'valid_from'"):
        parse_coefficients(f"{head}\n{row}\n", "t.csv")


def test_sums_per_carrier_with_each_parks_convention_and_no_total_over_a_gap() -> None:
    # 1 000 kWh equal value 122.9 kgce + 1 000 kWh equivalent 300.7 kgce = 423.6 kgce;
    # 100 Nm3 x 1.2143 = 121.43 kgce; water is not energy and is left out.
    sums = EnergySums(ElectricityConvention.EQUAL_VALUE)
    sums.add(Carrier.ELECTRICITY, 1000.0, DAY)
    sums.add(Carrier.ELECTRICITY, 1000.0, DAY, ElectricityConvention.EQUIVALENT)
    sums.add(Carrier.NATURAL_GAS, 100.0, DAY)
    sums.add(Carrier.WATER, 5.0, DAY)
    total = sums.total()
    assert [(c.carrier, c.activity, c.unit) for c in total.carriers] == [
        (Carrier.ELECTRICITY, 2000.0, "kWh"),
        (Carrier.NATURAL_GAS, 100.0, "Nm3"),
    ]
    assert total.tce == pytest.approx(0.54503, rel=1e-12)  # (423.6 + 121.43) kgce
    # A day before any coefficient version: that carrier, and the total, are not stated.
    gap = energy_of(
        [(Carrier.RAW_COAL, 1.0, date(2019, 1, 1)), (Carrier.RAW_COAL, 1.0, DAY)],
        ElectricityConvention.EQUAL_VALUE,
    )
    assert gap.tce is None
    assert gap.carriers[0].missing == (date(2019, 1, 1),)
    assert gap.carriers[0].versions == ("tce.raw_coal@2021-04-01",)
