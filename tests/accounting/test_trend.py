"""Trend projection (6.3.1 b): seasonal log-linear fit, peak year, comparison with a target path."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from accounting.trend import TrendError, project_trend

SEASON = 1 + 0.15 * np.cos(2 * np.pi * np.arange(12) / 12)  # winter heating peak


def _monthly(years: int, growth_per_month: float, curvature: float = 0.0) -> np.ndarray:
    t = np.arange(12 * years)
    return 1000.0 * np.exp(growth_per_month * t + curvature * t * t) * np.tile(SEASON, years)


def test_exact_log_linear_data_gives_back_its_growth_rate_and_next_year() -> None:
    monthly = _monthly(3, 0.004)
    result = project_trend(monthly, date(2021, 1, 1), years_ahead=2)
    assert result.growth_rate_per_year == pytest.approx(np.expm1(0.048), rel=1e-9)
    expected_2024 = _monthly(4, 0.004)[36:].sum()
    assert result.annual_tco2e[2024] == pytest.approx(expected_2024, rel=1e-9)
    assert result.projected_years == (2024, 2025)
    assert result.annual_tco2e[2021] == pytest.approx(monthly[:12].sum())


def test_a_rising_path_has_not_peaked_within_the_horizon() -> None:
    result = project_trend(
        _monthly(3, 0.003), date(2021, 1, 1), years_ahead=5, required_peak_year=2030
    )
    assert result.peak_year is None
    assert result.peaks_by_required_year is False


def test_a_falling_path_peaked_in_its_first_full_year() -> None:
    result = project_trend(
        _monthly(3, -0.002), date(2021, 1, 1), years_ahead=3, required_peak_year=2025
    )
    assert result.peak_year == 2021 and result.peaks_by_required_year is True
    assert result.growth_rate_per_year < 0


def test_quadratic_trend_finds_a_peak_ahead_and_compares_with_the_target_path() -> None:
    # ln y = ... + 0.01 t - 0.0001 t^2 peaks at month 50 (2025-03 from a 2021-01 start)
    monthly = _monthly(4, 0.01, -0.0001)
    # projected annual totals are about 15370 (2025), 15027, 14276, 13178 (2028)
    target = {2025: 15000.0, 2026: 14800.0, 2027: 14500.0, 2028: 14000.0}
    result = project_trend(
        monthly,
        date(2021, 1, 1),
        years_ahead=4,
        target_path=target,
        curvature=True,
        required_peak_year=2030,
    )
    assert result.peak_year == 2025 and result.peaks_by_required_year is True
    assert set(result.target_gap) == {2025, 2026, 2027, 2028}
    assert result.first_year_within_target == 2027
    assert result.target_gap[2026] > 0 >= result.target_gap[2027]


def test_a_mid_year_start_counts_only_complete_years_as_history() -> None:
    result = project_trend(_monthly(3, 0.001), date(2021, 7, 1), years_ahead=1)
    assert min(result.annual_tco2e) == 2022  # 2021 has six months only
    assert 2024 in result.annual_tco2e  # Jan-Jun 2024 observed + Jul-Dec projected


@pytest.mark.parametrize(
    ("monthly", "message"),
    [
        (np.ones(23), "needs at least 24"),
        (np.r_[np.ones(30), 0.0], "finite and positive"),
        (np.r_[np.ones(30), np.nan], "finite and positive"),
    ],
)
def test_too_little_or_non_positive_data_is_refused(monthly: np.ndarray, message: str) -> None:
    with pytest.raises(TrendError, match=message):
        project_trend(monthly, date(2021, 1, 1), years_ahead=1)


def test_the_horizon_is_at_least_one_year() -> None:
    with pytest.raises(TrendError, match="one year ahead"):
        project_trend(np.ones(24), date(2021, 1, 1), years_ahead=0)
