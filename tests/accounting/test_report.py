"""The period inventory's sums (accounting/report.py, report_compare.py, report_period.py)."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.carriers import Carrier
from accounting.co2e import ResolvedFactor, compose_factor
from accounting.gwp import Gas, GwpSet
from accounting.report import WindowGroup, figures
from accounting.report_compare import BaselineSpec, TargetSpec, baseline_expected, compare_target
from accounting.report_period import (
    PeriodKind,
    ReportPeriodError,
    parse_period,
    period_between,
)

RESIDUAL = compose_factor(
    Carrier.ELECTRICITY, {Gas.CO2: 0.6e-3}, gwp_set=GwpSet.AR5, on=date(2026, 1, 1), region="CN"
)


def _group(cat: str, day: date, activity: float, tco2e: float, **kw: object) -> WindowGroup:
    return WindowGroup(
        enterprise_id=str(kw.get("ent", "e1")),
        source_category=cat,
        iso_category="iso",
        carrier=None if kw.get("carrier") is None else str(kw["carrier"]),
        activity_unit=str(kw.get("unit", "kWh")),
        gwp_set="AR5",
        local_day=day,
        utc_day=day,
        activity=activity,
        tco2e=tco2e,
        gases=dict(kw.get("gases", {"CO2": tco2e})),  # type: ignore[call-overload]
        readings_present=4,
        readings_expected=4,
        windows=1,
        interpolated_windows=0,
        interpolated_tco2e=0.0,
        unfactored_windows=0,
    )


def _residual_from(first: date) -> object:
    def residual(day: date, _: str | None) -> ResolvedFactor | None:
        return RESIDUAL if day >= first else None

    return residual


def test_sinks_are_removals_apart_and_market_uses_the_residual_mix() -> None:
    groups = [
        _group("purchased_electricity", date(2026, 3, 1), 1000.0, 0.5),
        _group("process", date(2026, 3, 2), 2.0, 0.3),
        _group("green_space_sink", date(2026, 3, 2), 0.0, -2.0),
        _group("activity_only", date(2026, 3, 2), 50.0, 0.0, unit="t"),
    ]
    figs = figures(groups, residual=_residual_from(date(2020, 1, 1)))  # type: ignore[arg-type]
    assert figs.location_tco2e == pytest.approx(0.8)
    assert figs.market_tco2e == pytest.approx(0.6 + 0.3)
    assert figs.removals_tco2 == 2.0
    assert {b.key for b in figs.by_category} == {"purchased_electricity", "process"}
    co2 = next(g for g in figs.by_gas if g.gas == "CO2")
    assert co2.market_tonnes == pytest.approx(0.9)


def test_market_based_is_not_available_without_a_residual_factor_and_says_why() -> None:
    groups = [
        _group("purchased_electricity", date(2019, 6, 1), 10.0, 0.005),
        _group("purchased_electricity", date(2026, 6, 1), 10.0, 0.005),
    ]
    figs = figures(groups, residual=_residual_from(date(2021, 1, 1)))  # type: ignore[arg-type]
    assert figs.location_tco2e == pytest.approx(0.01)
    assert figs.market_tco2e is None
    assert any("not available" in n and "2019-06-01" in n for n in figs.notes)


def test_activity_is_summed_only_within_one_carrier_and_unit() -> None:
    """An enterprise burning natural gas (Nm3) and diesel (t) gets a line per carrier and unit:
    tonnes are never added to cubic metres (GB/T 32150 activity data per fuel)."""
    day = date(2026, 3, 1)
    groups = [
        _group("stationary_combustion", day, 7000.0, 15.0, carrier="natural_gas", unit="Nm3"),
        _group("stationary_combustion", day, 700.0, 1.5, carrier="natural_gas", unit="Nm3"),
        _group("stationary_combustion", day, 24.041, 75.0, carrier="diesel", unit="t"),
    ]
    figs = figures(groups, residual=_residual_from(date(2020, 1, 1)))  # type: ignore[arg-type]
    by_unit = {r.activity_unit: r.activity for r in figs.lines}
    assert by_unit == {"Nm3": pytest.approx(7700.0), "t": pytest.approx(24.041)}
    rows = {(r.carrier, r.activity_unit): (r.activity, r.location_tco2e) for r in figs.lines}
    assert rows == {
        ("natural_gas", "Nm3"): (pytest.approx(7700.0), pytest.approx(16.5)),
        ("diesel", "t"): (pytest.approx(24.041), pytest.approx(75.0)),
    }
    assert figs.location_tco2e == pytest.approx(91.5)


def test_periods_are_local_years_months_or_inclusive_spans() -> None:
    year = parse_period("2026")
    assert (year.kind, year.start, year.end, year.days) == (
        PeriodKind.YEAR,
        date(2026, 1, 1),
        date(2027, 1, 1),
        365,
    )
    december = parse_period("2025-12")
    assert (december.end, december.months()) == (date(2026, 1, 1), (date(2025, 12, 1),))
    span = period_between(date(2026, 2, 27), date(2026, 3, 2))
    assert (span.end, span.last, span.days) == (date(2026, 3, 3), date(2026, 3, 2), 4)
    assert parse_period("2024-02").year_before().end == date(2023, 3, 1)
    for bad in ("26", "2026-00", "2026-1", "1900", "2026-03-01"):
        with pytest.raises(ReportPeriodError):
            parse_period(bad)
    with pytest.raises(ReportPeriodError):
        period_between(date(2026, 3, 2), date(2026, 3, 1))


def test_a_year_baseline_is_prorated_by_the_days_of_each_calendar_year() -> None:
    baseline = BaselineSpec(
        1, "park", "p", "base_year", 2020, "year", 365.0, (), False, date(2021, 1, 1)
    )
    # 2023-12-01 .. 2024-01-31: 31 days of 2023 (365 d) and 31 of 2024 (366 d).
    span = period_between(date(2023, 12, 1), date(2024, 1, 31))
    assert baseline_expected(baseline, span) == pytest.approx(365 * 31 / 365 + 365 * 31 / 366)


def test_a_target_is_compared_over_the_days_the_report_covers() -> None:
    target = TargetSpec(
        1,
        "park",
        "p",
        "month",
        date(2026, 3, 1),
        date(2026, 4, 1),
        "location_based",
        3.1,
        None,
        None,
    )
    figs = figures(
        [_group("process", date(2026, 3, d), 1.0, 0.1, ent=e) for d in (1, 2, 20) for e in "ab"],
        residual=_residual_from(date(2020, 1, 1)),  # type: ignore[arg-type]
    )
    result = compare_target(
        target, period_between(date(2026, 3, 1), date(2026, 3, 10)), figs.by_day, {}
    )
    assert result.covered_share == pytest.approx(10 / 31)
    assert result.limit_for_covered == pytest.approx(1.0)
    assert result.actual == pytest.approx(0.4)  # two days x two enterprises, park-wide
    assert result.within_limit is True
