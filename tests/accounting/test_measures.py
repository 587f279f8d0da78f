"""Measurement and verification of reduction measures, and the ranking of opportunities
(clauses 6.2.2, 6.3, 6.3.1 a): every figure below is worked out by hand in its comment."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.measures import (
    BaselineFigure,
    Opportunity,
    PeriodKind,
    VerificationError,
    prorated,
    rank,
    verify,
)


def _yearly(value: float, subject: str = "m1") -> BaselineFigure:
    return BaselineFigure(subject, 1, PeriodKind.YEAR, value)


def test_a_whole_calendar_period_counts_the_baseline_figure_in_full() -> None:
    assert prorated(100.0, PeriodKind.YEAR, date(2024, 1, 1), date(2025, 1, 1)) == 100.0
    assert prorated(31.0, PeriodKind.MONTH, date(2025, 2, 1), date(2025, 3, 1)) == 31.0


def test_a_monthly_baseline_is_prorated_by_the_days_of_each_month() -> None:
    # 16 January to 14 February inclusive: 16/31 of January and 14/28 of February;
    # 31 t/month -> 16 + 15.5 = 31.5 t.
    assert prorated(31.0, PeriodKind.MONTH, date(2025, 1, 16), date(2025, 2, 15)) == 31.5


def test_a_yearly_baseline_across_new_year_uses_each_years_own_length() -> None:
    # December 2024 is 31/366 of a leap year, January 2025 31/365: 366 t/y and 365 t/y
    # would each give 31; a flat 732 t/y gives 732*31/366 + 732*31/365 = 62 + 62.1698...
    got = prorated(732.0, PeriodKind.YEAR, date(2024, 12, 1), date(2025, 2, 1))
    assert got == pytest.approx(62.0 + 732.0 * 31 / 365)


def test_verified_savings_are_the_prorated_baseline_minus_the_actual_emissions() -> None:
    # 365 t/y over March 2025 (31 of 365 days) = 31 t expected without the measure; 25 t were
    # emitted: 6 t saved. The measure promised 73 t/y = 6.2 t over the month: 6/6.2 realised.
    v = verify(
        [_yearly(365.0)],
        actual_tco2e=25.0,
        start=date(2025, 3, 1),
        end=date(2025, 4, 1),
        expected_tco2e_per_year=73.0,
    )
    assert (v.days, v.baseline_tco2e, v.actual_tco2e) == (31, 31.0, 25.0)
    assert v.verified_savings_tco2e == 6.0
    assert v.expected_savings_tco2e == pytest.approx(6.2)
    assert v.realisation == pytest.approx(6.0 / 6.2)


def test_the_baselines_of_several_affected_meters_add_up() -> None:
    # Ten days of 2025: meter 1 at 365 t/y gives 10 t, meter 2 at 2 t/day gives 20 t; 33 t
    # emitted is 3 t more than the baseline: negative savings, an increase.
    v = verify(
        [_yearly(365.0), BaselineFigure("m2", 2, PeriodKind.DAY, 2.0)],
        actual_tco2e=33.0,
        start=date(2025, 5, 1),
        end=date(2025, 5, 11),
    )
    assert v.baseline_tco2e == 30.0
    assert v.verified_savings_tco2e == -3.0
    assert v.expected_savings_tco2e is None and v.realisation is None


def test_an_empty_period_or_no_baseline_cannot_be_verified() -> None:
    with pytest.raises(VerificationError, match="empty"):
        verify([_yearly(1.0)], actual_tco2e=0.0, start=date(2025, 1, 2), end=date(2025, 1, 2))
    with pytest.raises(VerificationError, match="no baseline"):
        verify([], actual_tco2e=0.0, start=date(2025, 1, 1), end=date(2025, 1, 2))


def test_opportunities_rank_by_tco2e_per_year_per_10k_cny_then_uncosted_by_tco2e() -> None:
    # 1: 50 t/y for 100 x 10^4 CNY = 0.5; 2: 30 t/y for 20 x 10^4 = 1.5; 3: 10 t/y for
    # 5 x 10^4 = 2.0; 4: no capex, 80 t/y; 5: zero capex, 90 t/y; 6: as good as 2 (ties: id).
    ranked = rank(
        [
            Opportunity(1, 50.0, 1_000_000.0),
            Opportunity(2, 30.0, 200_000.0),
            Opportunity(3, 10.0, 50_000.0),
            Opportunity(4, 80.0, None),
            Opportunity(5, 90.0, 0.0),
            Opportunity(6, 15.0, 100_000.0),
        ]
    )
    assert [(r.rank, r.measure_id) for r in ranked] == [
        (1, 3),
        (2, 2),
        (3, 6),
        (4, 1),
        (5, 5),
        (6, 4),
    ]
    assert [r.tco2e_per_year_per_10k_cny for r in ranked] == [2.0, 1.5, 1.5, 0.5, None, None]


def test_nothing_to_rank_is_an_empty_list() -> None:
    assert rank([]) == []


def test_a_capex_too_small_to_state_in_ten_thousand_cny_ranks_as_uncosted() -> None:
    # 5e-324 CNY / 10^4 underflows to 0: no finite ratio, so it ranks with the uncosted ones
    # (by tCO2e/year) instead of failing the whole ranking.
    ranked = rank(
        [
            Opportunity(1, 10.0, 5e-324),
            Opportunity(2, 20.0, 10_000.0),
            Opportunity(3, 30.0, None),
        ]
    )
    assert [(r.measure_id, r.tco2e_per_year_per_10k_cny) for r in ranked] == [
        (2, 20.0),
        (3, None),
        (1, None),
    ]
