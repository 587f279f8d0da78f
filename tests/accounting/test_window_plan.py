from __future__ import annotations

import numpy as np
import pytest

from accounting.intervals import keyed_window_sums
from accounting.meter import HOUR_MS
from accounting.window_plan import DAY_MS, WindowPlan

MIN = 60_000
NOW = 1_790_000_000_000 - 1_790_000_000_000 % HOUR_MS  # on an hour boundary
NINE_MONTHS = 273 * DAY_MS


def _count(plan: WindowPlan, width_s: int, start: int, end: int) -> int:
    return len(plan.starts(width_s, start, end, NOW))


def test_every_quarter_and_hour_window_of_any_age_is_materialised() -> None:
    plan = WindowPlan()
    start = NOW - NINE_MONTHS
    assert _count(plan, 3600, start, NOW) == 273 * 24
    assert _count(plan, 900, start, NOW) == 273 * 96
    assert plan.starts(3600, start, NOW, NOW)[0] == start


def test_fine_windows_stop_at_the_horizon_whatever_the_length_of_the_stretch() -> None:
    plan = WindowPlan(fine_horizon_ms=DAY_MS)
    assert _count(plan, 60, NOW - NINE_MONTHS, NOW) == 1440
    assert _count(plan, 300, NOW - NINE_MONTHS, NOW) == 288
    # The window holding the horizon ends after it: it is kept.
    starts = plan.starts(60, NOW - NINE_MONTHS, NOW, NOW - 30_000)
    assert starts[0] == NOW - DAY_MS - MIN and starts[-1] == NOW - MIN


def test_a_stretch_older_than_the_horizon_touches_no_fine_window() -> None:
    plan = WindowPlan(fine_horizon_ms=7 * DAY_MS)
    old_end = NOW - 40 * DAY_MS
    assert _count(plan, 60, old_end - DAY_MS, old_end) == 0
    assert _count(plan, 300, old_end - DAY_MS, old_end) == 0
    assert _count(plan, 900, old_end - DAY_MS, old_end) == 96


def test_fine_windows_that_only_long_intervals_overlap_are_not_kept() -> None:
    plan = WindowPlan(fine_max_interval_ms=6 * HOUR_MS)
    widths = np.array([60, 300, 900, 3600, 60, 60], dtype=np.int64)
    shortest = np.array(
        [NINE_MONTHS, 7 * HOUR_MS, NINE_MONTHS, NINE_MONTHS, 15 * MIN, 0], dtype=np.int64
    )
    assert plan.keep(widths, shortest).tolist() == [False, False, True, True, True, True]


def test_keyed_sums_report_the_shortest_interval_overlapping_each_window() -> None:
    # A nine-month interval, then a 15-minute one: the minute window across their boundary
    # sees both, the one before sees only the long one.
    t0 = NOW - NINE_MONTHS
    start = np.array([t0, NOW], dtype=np.int64)
    end = np.array([NOW, NOW + 15 * MIN], dtype=np.int64)
    got = keyed_window_sums(
        np.zeros(2, dtype=np.int64),
        start,
        end,
        np.array([273.0 * 24, 1.0]),
        np.zeros(2, dtype=np.uint32),
        np.zeros(3, dtype=np.int64),
        np.array([NOW - MIN, NOW - MIN // 2, NOW + 20 * MIN], dtype=np.int64),
        np.array([NOW, NOW + MIN // 2, NOW + 21 * MIN], dtype=np.int64),
    )
    assert got.shortest_ms.tolist() == [NINE_MONTHS, 15 * MIN, 0]
    assert got.quantity[0] == pytest.approx(273.0 * 24 * MIN / NINE_MONTHS)


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        WindowPlan(fine_horizon_ms=0)
    with pytest.raises(ValueError, match="positive"):
        WindowPlan(widths_s=(0, 3600))
