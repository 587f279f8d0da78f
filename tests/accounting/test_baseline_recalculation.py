"""Restating a base-year baseline from its stored activity when factors change (clause 6.5 c),
with figures worked by hand."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from accounting.baseline import (
    BaselineError,
    StoredActivity,
    base_year_value,
    recalculate,
    restatement_due,
)
from accounting.carriers import Carrier
from accounting.co2e import ResolvedFactor, compose_factor
from accounting.gwp import Gas, GwpSet

OLD = "grid@2023-01-01"
NEW = "grid@2023-07-01"


def _grid(t_per_kwh: float, version: str) -> ResolvedFactor:
    factor = compose_factor(
        Carrier.ELECTRICITY,
        {Gas.CO2: t_per_kwh},
        gwp_set=GwpSet.AR5,
        on=date(2023, 1, 1),
        region="CN",
    )
    return dataclasses.replace(factor, keys=(version,))


def _line(meter: str, day: date, kwh: float, tco2e: float, *versions: str) -> StoredActivity:
    return StoredActivity(meter, day, kwh, "kWh", tco2e, versions or (OLD,), windows=24)


# Two meters, three days of 2023 stored with 0.5 kgCO2/kWh; a park version of 0.6 kgCO2/kWh
# applies from 1 July.
STORED = [
    _line("M1", date(2023, 3, 1), 1000.0, 0.5),
    _line("M1", date(2023, 8, 1), 2000.0, 1.0),
    _line("M2", date(2023, 9, 1), 500.0, 0.25),
]


def _new_factors(line: StoredActivity) -> ResolvedFactor:
    return _grid(0.0006, NEW) if line.day >= date(2023, 7, 1) else _grid(0.0005, OLD)


def test_stored_activity_is_recomputed_with_the_factor_of_each_day() -> None:
    result = recalculate(STORED, _new_factors)
    # 1000 x 0.0005 + 2000 x 0.0006 + 500 x 0.0006 = 0.5 + 1.2 + 0.3
    assert result.restated_tco2e == pytest.approx(2.0, rel=1e-12)
    assert result.stored_tco2e == pytest.approx(1.75, rel=1e-12)
    assert result.delta_tco2e == pytest.approx(0.25, rel=1e-12)
    assert result.versions_before == (OLD,)
    assert result.versions_after == (OLD, NEW)
    assert result.windows == 72 and result.lacking_factor == ()


def test_unchanged_factors_give_the_stored_figure_and_no_restatement() -> None:
    result = recalculate(STORED, lambda _: _grid(0.0005, OLD))
    assert result.restated_tco2e == pytest.approx(result.stored_tco2e, rel=1e-12)
    assert not restatement_due([OLD], result, gwp_before={"AR5"}, gwp_after="AR5")
    # The same factors under another GWP set: a change of method (6.5 c).
    assert restatement_due([OLD], result, gwp_before={"AR5"}, gwp_after="AR6")
    # A baseline that recorded no versions is compared with what its windows were computed with.
    assert not restatement_due([], result, gwp_before={"AR5"}, gwp_after="AR5")


def test_a_new_version_is_a_restatement_against_the_recorded_versions() -> None:
    result = recalculate(STORED, _new_factors)
    assert restatement_due([OLD], result, gwp_before={"AR5"}, gwp_after="AR5")
    assert not restatement_due([OLD, NEW], result, gwp_before={"AR5"}, gwp_after="AR5")


def test_activity_that_loses_its_factor_is_named_and_counts_zero() -> None:
    result = recalculate(STORED, lambda line: None if line.meter_id == "M2" else _new_factors(line))
    assert result.restated_tco2e == pytest.approx(1.7, rel=1e-12)
    assert result.lacking_factor == ("M2@2023-09-01",)


def test_conversion_parameters_of_the_stored_activity_stay_among_the_versions() -> None:
    line = dataclasses.replace(
        STORED[0],
        factor_versions=(OLD, "density.diesel@2000-01-01"),
        parameter_versions=("density.diesel@2000-01-01",),
    )
    result = recalculate([line], lambda _: _grid(0.0006, NEW))
    assert result.versions_after == ("density.diesel@2000-01-01", NEW)
    assert result.restated_tco2e == pytest.approx(0.6, rel=1e-12)


def test_the_restated_figure_is_per_period_of_the_baseline() -> None:
    assert base_year_value(2.0, period_kind="year", base_year=2023) == 2.0
    assert base_year_value(2.4, period_kind="month", base_year=2023) == pytest.approx(0.2)
    assert base_year_value(3.66, period_kind="day", base_year=2024) == pytest.approx(0.01)
    assert base_year_value(3.65, period_kind="day", base_year=2023) == pytest.approx(0.01)
    with pytest.raises(BaselineError, match="unknown period kind"):
        base_year_value(1.0, period_kind="week", base_year=2023)


def test_a_factor_in_another_unit_or_no_activity_is_refused() -> None:
    with pytest.raises(BaselineError, match="no stored activity"):
        recalculate([], _new_factors)
    in_mwh = dataclasses.replace(STORED[0], unit="MWh")
    with pytest.raises(BaselineError, match="activity in 'MWh', factor per 'kWh'"):
        recalculate([in_mwh], _new_factors)
