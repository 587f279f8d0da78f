"""Targets (6.2): absolute and intensity limits per period, with progress."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.intensity import OutputUnit
from accounting.targets import Target, TargetError, TargetKind, progress

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
