"""Activity records of every source category of 6.3.1 c, against hand-computed values."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.activity import (
    ActivityError,
    ActivityInput,
    activity_lines,
    catalogue_energy_factor,
    validate_activity,
)
from accounting.carriers import Carrier
from accounting.categories import IsoCategory, SourceCategory
from accounting.factors import load_catalogue
from accounting.fugitive import load_blends
from accounting.gwp import Gas, GwpSet
from accounting.inventory import summarise
from accounting.process import load_process_factors
from accounting.sinks import load_sink_rates

DAY = date(2025, 3, 1)
ENERGY = catalogue_energy_factor(load_catalogue(), region="CN", gwp_set=GwpSet.AR5)


def record(**given: object) -> ActivityInput:
    base: dict[str, object] = {
        "record": "1v1",
        "subject": "ent-a",
        "quantity": 1.0,
        "period_start": DAY,
        "period_end": DAY,
    }
    return ActivityInput(**(base | given))  # type: ignore[arg-type]


def lines(*items: ActivityInput, gwp_set: GwpSet = GwpSet.AR5):  # type: ignore[no-untyped-def]
    energy = catalogue_energy_factor(load_catalogue(), region="CN", gwp_set=gwp_set)
    return activity_lines(items, gwp_set=gwp_set, energy_factor=energy)


def sf6(kg: float) -> ActivityInput:
    return record(
        category=SourceCategory.FUGITIVE,
        carrier=Carrier.FUGITIVE_GAS,
        quantity=kg,
        unit="kg",
        material="SF6",
    )


def test_two_kilograms_of_sf6_are_47_tco2e_in_ar5() -> None:
    """2 kg x 23,500 (AR5 Table 8.A.1) = 47,000 kg = 47 tCO2e."""
    [line] = lines(sf6(2.0)).emissions
    assert line.tco2e == pytest.approx(47.0, rel=1e-12)
    assert [(g.gas, g.tonnes) for g in line.gases] == [(Gas.SF6, pytest.approx(0.002))]
    assert line.iso_category is IsoCategory.DIRECT and line.category is SourceCategory.FUGITIVE


def test_the_gwp_set_in_force_decides_the_co2e() -> None:
    """The same 2 kg of SF6 in AR4 (22,800) is 45.6 tCO2e."""
    [line] = lines(sf6(2.0), gwp_set=GwpSet.AR4).emissions
    assert line.tco2e == pytest.approx(45.6, rel=1e-12)


def test_a_blend_is_split_into_its_gases() -> None:
    """10 kg R-410A = 5 kg HFC-32 x 677 + 5 kg HFC-125 x 3,170 (AR5) = 3.385 + 15.85 t."""
    item = record(
        category=SourceCategory.FUGITIVE,
        carrier=Carrier.FUGITIVE_GAS,
        quantity=10.0,
        unit="kg",
        material="R-410A",
    )
    [line] = lines(item).emissions
    by_gas = {g.gas: (g.tonnes, g.tco2e) for g in line.gases}
    assert by_gas[Gas.HFC_32] == pytest.approx((0.005, 3.385))
    assert by_gas[Gas.HFC_125] == pytest.approx((0.005, 15.85))
    assert line.tco2e == pytest.approx(19.235)


def test_limestone_calcination_is_stoichiometric_times_purity() -> None:
    """100 t limestone, 90 % CaCO3, fully calcined: 100 x 0.90 x 0.43971 = 39.5739 tCO2."""
    item = record(
        category=SourceCategory.PROCESS,
        carrier=Carrier.PROCESS_MATERIAL,
        quantity=100.0,
        unit="t",
        material="process.caco3",
        purity=0.9,
    )
    [line] = lines(item).emissions
    assert line.tco2e == pytest.approx(39.5739, rel=1e-12)
    assert [g.gas for g in line.gases] == [Gas.CO2]


def test_dolomite_and_magnesite_factors_are_their_molar_mass_ratios() -> None:
    """44.0095 / M(carbonate) per CO3 group: the rows must match their own chemistry."""
    factors = load_process_factors()
    assert factors["process.caco3"].tonnes_per_tonne == pytest.approx(44.0095 / 100.0869, abs=5e-6)
    assert factors["process.mgco3"].tonnes_per_tonne == pytest.approx(44.0095 / 84.3139, abs=5e-6)
    assert factors["process.dolomite"].tonnes_per_tonne == pytest.approx(
        2 * 44.0095 / 184.4008, abs=5e-6
    )
    assert all(f.source and f.table for f in factors.values())


def test_a_fuel_cannot_be_a_process_record() -> None:
    """A fuel marked process must not get the combustion formula: it is refused, naming why."""
    item = record(category=SourceCategory.PROCESS, carrier=Carrier.NATURAL_GAS, unit="Nm3")
    with pytest.raises(ActivityError, match="mass balance") as err:
        validate_activity(item)
    assert err.value.field == "carrier"


def test_green_space_is_a_removal_line_never_netted() -> None:
    """2 ha of tree crown for a whole year at 2.9 tC/ha/yr: 2 x 2.9 x 44/12 = 21.2667 tCO2."""
    sink = record(
        category=SourceCategory.GREEN_SPACE_SINK,
        carrier=Carrier.GREEN_SPACE,
        quantity=20_000.0,
        unit="m2",
        material="sink.urban_tree_crown",
        period_start=date(2025, 1, 1),
        period_end=date(2025, 12, 31),
    )
    result = lines(sink, sf6(2.0))
    assert result.emissions[0].tco2e == pytest.approx(47.0)
    [removal] = result.removals
    assert removal.tco2_removed == pytest.approx(2 * 2.9 * 44 / 12, rel=1e-12)
    inventory = summarise(result.emissions, result.removals)
    assert inventory.location.tco2e == pytest.approx(47.0)  # gross: the sink is not subtracted
    assert inventory.removals_tco2 == pytest.approx(21.266666, rel=1e-6)


def test_a_lab_ncv_replaces_the_catalogue_ncv() -> None:
    """Measured NCV 10 % above the default: the diesel line is 10 % larger, gas by gas."""
    diesel = record(
        category=SourceCategory.STATIONARY_COMBUSTION,
        carrier=Carrier.DIESEL,
        quantity=10.0,
        unit="t",
    )
    default_ncv = next(
        r.normalised for r in ENERGY(Carrier.DIESEL, DAY).rows if r.kind.value == "ncv"
    )
    [plain] = lines(diesel).emissions
    [lab] = lines(record(**{**_fields(diesel), "ncv_gj_per_unit": default_ncv * 1.1})).emissions
    assert lab.tco2e == pytest.approx(plain.tco2e * 1.1, rel=1e-12)


def _fields(item: ActivityInput) -> dict[str, object]:
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


def test_the_iso_category_can_be_overridden() -> None:
    """A hired fleet's diesel is ISO 14064-1 category 3, not the default category 1."""
    hired = record(
        category=SourceCategory.MOBILE_COMBUSTION,
        carrier=Carrier.DIESEL,
        quantity=1000.0,
        unit="L",
        iso_category=IsoCategory.TRANSPORTATION,
    )
    [line] = lines(hired).emissions
    assert line.iso_category is IsoCategory.TRANSPORTATION and line.label == "1v1"


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"unit": "furlong"}, "unit"),
        ({"unit": "kWh"}, "unit"),
        ({"material": "HFC-9999"}, "material"),
        ({"quantity": -1.0}, "quantity"),
        ({"period_end": date(2025, 2, 1)}, "period_end"),
    ],
)
def test_bad_records_are_refused_naming_the_field(given: dict[str, object], field: str) -> None:
    base = _fields(sf6(1.0))
    with pytest.raises(ActivityError) as err:
        validate_activity(record(**(base | given)))
    assert err.value.field == field
    if given.get("unit") == "furlong":
        assert "furlong" in str(err.value)


def test_packaged_data_files_load_with_sources() -> None:
    assert sum(load_blends()["R-410A"].values()) == pytest.approx(1.0)
    assert all(rate.source and rate.table for rate in load_sink_rates().values())
