"""Targets (6.2): absolute and intensity limits per period, with progress."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.intensity import OutputUnit
from accounting.targets import (
    Limits,
    Target,
    TargetError,
    TargetKind,
    all_met,
    limits_progress,
    progress,
)

YEAR = (date(2025, 1, 1), date(2026, 1, 1))


def test_absolute_target_projects_linearly_from_the_elapsed_share() -> None:
    target = Target("park", TargetKind.ABSOLUTE, *YEAR, limit=3650.0)
    half = progress(target, as_of=date(2025, 7, 2), tco2e=1900.0)  # 182 of 365 days
    assert half.elapsed_fraction == pytest.approx(182 / 365)
    assert half.projected == pytest.approx(1900.0 * 365 / 182)
    assert half.used_fraction == pytest.approx(1900.0 / 3650.0)
    assert not half.on_track
    assert progress(target, as_of=date(2025, 7, 2), tco2e=1700.0).on_track


def test_intensity_target_compares_the_intensity_so_far() -> None:
    target = Target(
        "E1", TargetKind.INTENSITY, *YEAR, limit=0.2, output_unit=OutputUnit.TONNE_PRODUCT
    )
    result = progress(target, as_of=date(2025, 4, 1), tco2e=30.0, output=160.0)
    assert result.actual == result.projected == pytest.approx(0.1875)
    assert result.on_track


def test_ill_formed_targets_and_requests_are_refused() -> None:
    with pytest.raises(TargetError, match="is empty"):
        Target("p", TargetKind.ABSOLUTE, YEAR[1], YEAR[0], limit=1.0)
    with pytest.raises(TargetError, match="negative target"):
        Target("p", TargetKind.ABSOLUTE, *YEAR, limit=-1.0)
    with pytest.raises(TargetError, match="output unit"):
        Target("p", TargetKind.INTENSITY, *YEAR, limit=1.0)
    target = Target("p", TargetKind.INTENSITY, *YEAR, limit=1.0, output_unit=OutputUnit.CNY_10K)
    with pytest.raises(TargetError, match="needs the output"):
        progress(target, as_of=date(2025, 2, 1), tco2e=1.0)
    with pytest.raises(TargetError, match="before the period starts"):
        progress(target, as_of=date(2024, 12, 1), tco2e=1.0, output=1.0)


def test_a_zero_limit_is_met_only_by_zero_emissions() -> None:
    target = Target("p", TargetKind.ABSOLUTE, *YEAR, limit=0.0)
    assert progress(target, as_of=date(2025, 3, 1), tco2e=0.0).used_fraction == 0.0
    assert progress(target, as_of=date(2025, 3, 1), tco2e=1.0).used_fraction == float("inf")


def test_a_target_with_both_limits_is_met_only_when_both_are() -> None:
    both = Limits("E1", *YEAR, absolute=3650.0, intensity=0.2, output_unit=OutputUnit.TONNE_PRODUCT)
    # Half a year: 1700 t projects to 1700 x 365/182 = 3409 t (met); 1700 / 8000 t = 0.2125
    # tCO2e/t is above 0.2 (missed).
    result = limits_progress(both, as_of=date(2025, 7, 2), tco2e=1700.0, output=8000.0)
    assert [p.on_track for p in result.each] == [True, False]
    assert not result.on_track and result.missed == (TargetKind.INTENSITY,)
    met = limits_progress(both, as_of=date(2025, 7, 2), tco2e=1700.0, output=8500.0)
    assert met.on_track and met.missed == ()  # 0.2 tCO2e/t exactly is within the limit


def test_all_limits_are_judged_three_valued() -> None:
    assert all_met([True, True]) is True
    assert all_met([True, False]) is False
    assert all_met([None, False]) is False
    assert all_met([True, None]) is None
    with pytest.raises(TargetError, match="at least one limit"):
        all_met([])
    with pytest.raises(TargetError, match="absolute or intensity limit"):
        Limits("E1", *YEAR).targets()
