from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounting.gwp import GwpSet
from accounting.window_co2e import EmissionCalculator
from accounting.windows import WindowKey, WindowSumColumns, WindowSums
from store.registry import Meter

START = datetime(2026, 3, 1, 8, tzinfo=UTC)


def _meter(**changes: object) -> Meter:
    fields: dict[str, object] = {
        "meter_id": "E-1",
        "enterprise_id": "e",
        "carrier": "electricity",
        "unit": "MWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
    }
    fields.update(changes)
    return Meter(**fields)  # type: ignore[arg-type]


def _sums(quantity: float) -> WindowSums:
    return WindowSums(WindowKey("E-1", 3600, START), quantity, 4.0, 0, False)


def test_activity_is_converted_to_the_canonical_unit_before_the_factor() -> None:
    result = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5).result(_sums(2.0), _meter())
    # 2 MWh = 2000 kWh x 0.5306 kgCO2/kWh (MEE/NBS 2023 national average) = 1.0612 t.
    assert (result.activity, result.activity_unit) == (2000.0, "kWh")
    assert result.tco2e == pytest.approx(1.0612, rel=1e-12)
    assert result.factor_versions == ("grid_avg.CN@2023-01-01",)
    assert result.completeness == 1.0  # 4 readings expected at 900 s in an hour


def test_a_unit_that_cannot_be_converted_gets_no_factor() -> None:
    # Gas at metering conditions (plain m3) is not Nm3: the factor per Nm3 must not apply.
    meter = _meter(carrier="natural_gas", unit="m3", source_category="stationary_combustion")
    result = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5).result(_sums(100.0), meter)
    assert (result.activity, result.activity_unit, result.tco2e) == (100.0, "m3", 0.0)
    assert result.factor_versions == ()


def test_the_calculator_says_why_a_window_has_no_co2e_once_per_meter_to_its_caller() -> None:
    # The domain does no I/O: the worker passes its logger's warning, a test a list's append.
    said: list[str] = []
    calc = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5, warn=said.append)
    meter = _meter(carrier="natural_gas", unit="m3", source_category="stationary_combustion")
    calc.result(_sums(100.0), meter)
    calc.result(_sums(50.0), meter)
    assert len(said) == 1 and said[0].startswith("meter E-1: ")
    assert said[0].endswith("; activity kept, no emission factor")


def test_an_activity_only_meter_has_no_emissions() -> None:
    meter = _meter(carrier="water", unit="m3", source_category="activity_only")
    result = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5).result(_sums(7.0), meter)
    assert (result.activity, result.tco2e, result.gwp_set) == (7.0, 0.0, None)


def test_a_fuel_meter_marked_process_does_not_get_the_combustion_formula() -> None:
    """Gas fed to a reactor as feedstock: its carbon leaves in products and off-gas, so the
    combustion factor (NCV x CC x OF x 44/12) would be wrong. Its activity is kept and no
    factor applies; the CO2 it releases is a process record (carbon mass balance)."""
    meter = _meter(carrier="natural_gas", unit="Nm3", source_category="process")
    result = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5).result(_sums(1000.0), meter)
    assert (result.activity, result.activity_unit) == (1000.0, "Nm3")
    assert (result.tco2e, result.gases, result.factor_versions) == (0.0, {}, ())
    assert result.iso_category == "1 direct emissions and removals"


def test_a_process_material_meter_gets_its_stoichiometric_factor() -> None:
    """A limestone belt scale: 10 t x 0.43971 tCO2/t (IPCC 2006 Vol 3 Table 2.1)."""
    meter = _meter(
        carrier="process_material",
        unit="t",
        source_category="process",
        factor_key="process.caco3",
    )
    result = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5).result(_sums(10.0), meter)
    assert result.tco2e == pytest.approx(4.3971, rel=1e-12)
    assert result.factor_versions == ("process.caco3",)


def test_a_fugitive_gas_meter_weighs_the_gas_by_its_gwp() -> None:
    """An SF6 refill scale in kg: 2 kg x 23,500 (AR5) = 47 tCO2e."""
    meter = _meter(carrier="fugitive_gas", unit="kg", source_category="fugitive", factor_key="SF6")
    result = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5).result(_sums(2.0), meter)
    assert result.tco2e == pytest.approx(47.0, rel=1e-12)
    assert result.gases == {"SF6": pytest.approx(0.002)}


def test_many_windows_at_once_are_each_window_computed_alone() -> None:
    # The flush computes its windows as columns, with the terms of each (meter, local day)
    # worked out once: every window must come out exactly as if it were computed by itself.
    meters = {
        m.meter_id: m
        for m in (
            _meter(meter_id="E-1"),
            _meter(meter_id="E-2", unit="kWh", expected_interval_s=60),
            _meter(
                meter_id="G-1",
                carrier="natural_gas",
                unit="Nm3",
                source_category="stationary_combustion",
            ),
            _meter(
                meter_id="G-2",
                carrier="natural_gas",
                unit="m3",
                source_category="stationary_combustion",
            ),
            _meter(meter_id="A-1", source_category="activity_only"),
            _meter(
                meter_id="F-1",
                carrier="fugitive_gas",
                unit="kg",
                source_category="fugitive",
                factor_key="R-410A",
            ),
        )
    }
    # Beijing midnight falls inside these hours: two local days, two factor years.
    new_year = datetime(2022, 12, 31, 15, tzinfo=UTC)
    sums = [
        WindowSums(WindowKey(m, width, new_year + timedelta(minutes=k * 20)), q, p, f, i)
        for n, m in enumerate(sorted(meters))
        for k, (width, q, p, f, i) in enumerate(
            [(60, 1.25 + n, 1.0, 0, False), (900, 0.1 * n, 0.5, 1 << 3, True)] * 5
        )
    ]
    calc = EmissionCalculator(region="CN-JS", gwp_set=GwpSet.AR5)
    together = calc.results(WindowSumColumns.of(sums), meters).rows()
    alone = [
        EmissionCalculator(region="CN-JS", gwp_set=GwpSet.AR5).result(s, meters[s.key.meter_id])
        for s in sums
    ]
    assert together == alone
    years = {r.factor_versions[0][-10:] for r in together if r.key.meter_id == "E-1"}
    assert years == {"2022-01-01", "2023-01-01"}
    blend = next(r for r in together if r.key.meter_id == "F-1" and r.activity > 0)
    assert set(blend.gases) == {"HFC-125", "HFC-32"}  # one window, two gases of a blend
    assert {tuple(r.gases) for r in together if r.key.meter_id == "G-1"} == {("CO2",)}
    unconvertible = next(r for r in together if r.key.meter_id == "G-2")
    assert (unconvertible.activity_unit, unconvertible.tco2e) == ("m3", 0.0)
