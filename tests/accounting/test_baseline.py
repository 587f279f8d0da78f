"""Baselines (6.5): base year or regression on production; restatements keep both figures."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from accounting.baseline import (
    BaselineData,
    BaselineError,
    BaselineMethod,
    RestatementReason,
    SubjectKind,
    build_baseline,
    restate,
)
from accounting.carriers import Carrier
from accounting.co2e import ResolvedFactor, resolve_factor
from accounting.factors import Series, load_catalogue
from accounting.gwp import GwpSet

MONTHS = tuple(date(2021, m, 1) for m in range(1, 13))
# Monthly electricity (kWh) = 50000 + 200 x production (t); steam (GJ) = 100 + 0.5 x production
PRODUCTION = np.array([100, 120, 90, 150, 160, 140, 130, 170, 180, 110, 100, 150], dtype=float)
ACTIVITY = np.column_stack([50_000 + 200 * PRODUCTION, 100 + 0.5 * PRODUCTION])


def _factors(year: int) -> tuple[ResolvedFactor, ResolvedFactor]:
    def one(carrier: Carrier, series: Series) -> ResolvedFactor:
        return resolve_factor(
            load_catalogue(),
            carrier=carrier,
            region="CN",
            on=date(year, 6, 1),
            series=series,
            gwp_set=GwpSet.AR5,
        )

    return one(Carrier.ELECTRICITY, Series.MEE_NBS_GRID_AVERAGE), one(
        Carrier.STEAM, Series.NDRC_HEAT_DEFAULT
    )


def _data() -> BaselineData:
    return BaselineData(
        MONTHS,
        (Carrier.ELECTRICITY, Carrier.STEAM),
        ACTIVITY,
        PRODUCTION[:, None],
        ("production_t",),
    )


def test_base_year_baseline_is_the_total_of_base_period_emissions() -> None:
    base = build_baseline(
        "E1", SubjectKind.ENTERPRISE, BaselineMethod.BASE_YEAR, _data(), _factors(2021)
    )
    kwh, gj = ACTIVITY.sum(axis=0)
    assert base.total_tco2e == pytest.approx(kwh * 0.5568e-3 + gj * 0.11, rel=1e-12)
    assert base.expected(np.zeros((2, 1))) == pytest.approx([base.total_tco2e / 12] * 2)


def test_regression_baseline_recovers_intercept_and_slope_on_production() -> None:
    base = build_baseline(
        "E1", SubjectKind.ENTERPRISE, BaselineMethod.REGRESSION, _data(), _factors(2021)
    )
    # tCO2e = 50000 x 0.0005568 + 100 x 0.11 + (200 x 0.0005568 + 0.5 x 0.11) x production
    assert base.intercept == pytest.approx(27.84 + 11.0, rel=1e-9)
    assert base.slopes == pytest.approx((0.11136 + 0.055,), rel=1e-9)
    assert base.r_squared == pytest.approx(1.0)
    assert base.expected(np.array([[200.0]])) == pytest.approx([38.84 + 0.16636 * 200], rel=1e-9)


def test_regression_needs_more_periods_than_parameters_and_varying_drivers() -> None:
    few = BaselineData(
        MONTHS[:2], (Carrier.ELECTRICITY, Carrier.STEAM), ACTIVITY[:2], PRODUCTION[:2, None], ("p",)
    )
    with pytest.raises(BaselineError, match="more than 2 periods, has 2"):
        build_baseline("E1", SubjectKind.ENTERPRISE, BaselineMethod.REGRESSION, few, _factors(2021))
    flat = BaselineData(
        MONTHS, (Carrier.ELECTRICITY, Carrier.STEAM), ACTIVITY, np.ones((12, 1)), ("p",)
    )
    with pytest.raises(BaselineError, match="collinear or constant"):
        build_baseline(
            "E1", SubjectKind.ENTERPRISE, BaselineMethod.REGRESSION, flat, _factors(2021)
        )


def test_baseline_data_shapes_and_factor_order_are_checked() -> None:
    with pytest.raises(BaselineError, match="12 periods x 2 carriers"):
        BaselineData(MONTHS, (Carrier.ELECTRICITY, Carrier.STEAM), ACTIVITY[:, :1])
    with pytest.raises(BaselineError, match="factors are for"):
        build_baseline(
            "E1", SubjectKind.PARK, BaselineMethod.BASE_YEAR, _data(), _factors(2021)[::-1]
        )


def test_factor_change_restates_the_baseline_and_keeps_both_figures_with_the_reason() -> None:
    before = build_baseline(
        "E1", SubjectKind.ENTERPRISE, BaselineMethod.BASE_YEAR, _data(), _factors(2021)
    )
    change = restate(
        before,
        reason=RestatementReason.FACTORS_OR_METHOD,
        note="MEE/NBS 2022 grid factor adopted for the base year",
        effective=date(2025, 1, 1),
        factors=_factors(2022),
    )
    kwh = ACTIVITY[:, 0].sum()
    assert change.previous is before  # the original figure is kept, not overwritten
    assert change.delta_tco2e == pytest.approx(kwh * (0.5366 - 0.5568) * 1e-3, rel=1e-9)
    assert change.versions_removed == ("grid_avg.CN@2021-01-01",)
    assert change.versions_added == ("grid_avg.CN@2022-01-01",)
    assert change.reason.startswith("6.5 c)")


def test_method_change_is_a_restatement_too() -> None:
    before = build_baseline(
        "P", SubjectKind.PARK, BaselineMethod.BASE_YEAR, _data(), _factors(2021)
    )
    change = restate(
        before,
        reason=RestatementReason.FACTORS_OR_METHOD,
        note="regression on production",
        effective=date(2025, 1, 1),
        method=BaselineMethod.REGRESSION,
    )
    assert change.restated.method is BaselineMethod.REGRESSION
    assert change.delta_tco2e == pytest.approx(0.0, abs=1e-9)  # same data and factors


def test_a_restatement_claiming_a_change_that_did_not_happen_is_refused() -> None:
    before = build_baseline(
        "E1", SubjectKind.ENTERPRISE, BaselineMethod.BASE_YEAR, _data(), _factors(2021)
    )
    with pytest.raises(BaselineError, match="neither changed"):
        restate(
            before, reason=RestatementReason.FACTORS_OR_METHOD, note="x", effective=date(2025, 1, 1)
        )
    with pytest.raises(BaselineError, match="needs a note"):
        restate(
            before, reason=RestatementReason.STATIC_FACTORS, note=" ", effective=date(2025, 1, 1)
        )
