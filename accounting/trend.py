"""Trend projection and peak path from monthly totals (clause 6.3.1 assessment b).

Method (seasonal log-linear trend, least squares): for month index t = 0..n-1,

    ln y_t = a + b t [+ c t^2] + s_m(t),   s_January = 0 (11 month-of-year dummies)

fitted with ``numpy.linalg.lstsq`` on at least 24 positive monthly totals. The projection is
exp(fitted) times Duan's smearing factor mean(exp(residual)), which corrects the bias of
back-transforming a log fit. With b alone the path is monotone (growth exp(12 b) - 1 a year);
``curvature=True`` adds c t^2, letting the fitted path turn and peak. Annual totals are the
observed calendar years, the current year (observed months plus projected rest) and the
projected years. The path peaks in the year of its maximum unless that is the last year of the
horizon and still rising, which is reported as "not peaked within the horizon".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

MIN_MONTHS = 24


class TrendError(ValueError):
    """Too little or non-positive data to fit the trend."""


@dataclass(frozen=True, slots=True)
class TrendProjection:
    method: str
    annual_tco2e: Mapping[int, float]  # observed (complete or completed-by-projection) + projected
    projected_years: tuple[int, ...]
    growth_rate_per_year: float  # exp(12 b) - 1 at the end of the data
    peak_year: int | None  # None: still rising at the end of the horizon
    target_gap: Mapping[int, float]  # projected - target, for years in both paths
    first_year_within_target: int | None
    peaks_by_required_year: bool | None  # None when no required peak year was given


def _design(months: NDArray[np.int64], first_month: int, curvature: bool) -> NDArray[np.float64]:
    t = months.astype(np.float64)
    month_of_year = (first_month - 1 + months) % 12
    seasonal = (month_of_year[:, None] == np.arange(1, 12)[None, :]).astype(np.float64)
    columns = [np.ones_like(t), t, *([t * t] if curvature else []), *seasonal.T]
    return np.column_stack(columns)


def project_trend(
    monthly_tco2e: NDArray[np.float64],
    first_month: date,
    *,
    years_ahead: int,
    target_path: Mapping[int, float] | None = None,
    required_peak_year: int | None = None,
    curvature: bool = False,
) -> TrendProjection:
    """Fit monthly totals starting ``first_month`` and project ``years_ahead`` calendar years."""
    y = np.asarray(monthly_tco2e, dtype=np.float64)
    n = y.size
    if n < MIN_MONTHS:
        raise TrendError(f"{n} months given; the seasonal fit needs at least {MIN_MONTHS}")
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise TrendError("monthly totals must be finite and positive for a log-linear fit")
    if years_ahead < 1:
        raise TrendError("project at least one year ahead")
    observed = np.arange(n)
    coef, *_ = np.linalg.lstsq(
        _design(observed, first_month.month, curvature), np.log(y), rcond=None
    )
    residual = np.log(y) - _design(observed, first_month.month, curvature) @ coef
    smearing = float(np.mean(np.exp(residual)))

    start_index = first_month.year * 12 + first_month.month - 1
    last_year = (start_index + n - 1) // 12
    horizon_end = (last_year + years_ahead + 1) * 12  # exclusive month index
    future = np.arange(n, horizon_end - start_index)
    fitted = np.exp(_design(future, first_month.month, curvature) @ coef) * smearing

    years_obs = (start_index + observed) // 12
    years_fut = (start_index + future) // 12
    first_full = first_month.year if first_month.month == 1 else first_month.year + 1
    annual: dict[int, float] = {}
    for year in range(first_full, last_year + years_ahead + 1):
        annual[year] = float(y[years_obs == year].sum() + fitted[years_fut == year].sum())
    projected_years = tuple(range(last_year + 1, last_year + years_ahead + 1))

    years = sorted(annual)
    peak = max(years, key=lambda yr: annual[yr])
    rising_at_end = len(years) > 1 and annual[years[-1]] > annual[years[-2]]
    peak_year = None if peak == years[-1] and rising_at_end else peak

    targets = target_path or {}
    gap = {yr: annual[yr] - targets[yr] for yr in projected_years if yr in targets}
    within = next((yr for yr in sorted(gap) if gap[yr] <= 0), None)
    slope = coef[1] + (2 * coef[2] * (n - 1) if curvature else 0.0)
    return TrendProjection(
        method="seasonal log-linear" + (" with quadratic term" if curvature else "") + " (lstsq)",
        annual_tco2e=annual,
        projected_years=projected_years,
        growth_rate_per_year=float(np.expm1(12 * slope)),
        peak_year=peak_year,
        target_gap=gap,
        first_year_within_target=within,
        peaks_by_required_year=(
            None
            if required_peak_year is None
            else peak_year is not None and peak_year <= required_peak_year
        ),
    )
