"""Interval consumption and window sums (clause 6.3.1 activity data, 8.4 completeness)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting.intervals import counter_deltas, meter_intervals, window_sums
from accounting.meter import DAY_MS, HOUR_MS, MeterState
from accounting.reasons import QUARANTINE_MASK, Reason
from accounting.validation import validate

from .meter_helpers import QUARTER_MS, T0, counter, power_meter, quarters

NOW = T0 + 2 * DAY_MS
SETTINGS = settings(max_examples=150, deadline=None)


def test_reading_at_midnight_closes_the_last_hour_of_the_day() -> None:
    ts = np.array([T0 + 23 * HOUR_MS, T0 + DAY_MS], dtype=np.int64)
    result = validate(counter(), MeterState(), ts, [100.0, 130.0], now_ms=NOW)
    iv = meter_intervals(counter(), result)
    windows = window_sums(iv.start_ms, iv.end_ms, iv.quantity, HOUR_MS)
    assert windows.start_ms.tolist() == [T0 + 23 * HOUR_MS]
    assert windows.quantity.tolist() == [30.0]
    assert not windows.interpolated.any()
    daily = window_sums(iv.start_ms, iv.end_ms, iv.quantity, DAY_MS)
    assert daily.start_ms.tolist() == [T0]  # the day that ends at 24:00, not the next one


def test_delta_across_a_gap_is_kept_and_flagged_not_lost() -> None:
    ts = np.array([T0, T0 + QUARTER_MS, T0 + 5 * QUARTER_MS], dtype=np.int64)
    result = validate(counter(), MeterState(), ts, [0.0, 10.0, 90.0], now_ms=NOW)
    iv = meter_intervals(counter(), result)
    assert iv.quantity.tolist() == [10.0, 80.0]
    assert iv.flags[1] & Reason.GAP
    assert (iv.start_ms[1], iv.end_ms[1]) == (T0 + QUARTER_MS, T0 + 5 * QUARTER_MS)


def test_multiplier_scales_register_deltas_to_primary_side() -> None:
    profile = counter(multiplier=200.0)  # CT 1000/5
    result = validate(profile, MeterState(), quarters(3), [1.0, 1.5, 2.25], now_ms=NOW)
    assert meter_intervals(profile, result).quantity.tolist() == [100.0, 150.0]


def test_first_batch_after_restart_continues_from_the_state() -> None:
    first = validate(counter(), MeterState(), quarters(2), [0.0, 5.0], now_ms=NOW)
    second = validate(counter(), first.state, quarters(1, T0 + 2 * QUARTER_MS), [7.0], now_ms=NOW)
    iv = meter_intervals(counter(), second)
    assert (iv.start_ms.tolist(), iv.end_ms.tolist(), iv.quantity.tolist()) == (
        [T0 + QUARTER_MS],
        [T0 + 2 * QUARTER_MS],
        [2.0],
    )


def test_instantaneous_power_integrates_by_trapezoid() -> None:
    profile = power_meter(max_step=None)
    ts = np.array([T0, T0 + HOUR_MS, T0 + 2 * HOUR_MS], dtype=np.int64)
    result = validate(profile, MeterState(), ts, [10.0, 10.0, 30.0], now_ms=NOW)
    assert meter_intervals(profile, result).quantity.tolist() == [10.0, 20.0]  # kWh


def test_counter_deltas_unwrap_rollover() -> None:
    deltas = counter_deltas(np.array([9_990.0, 5.0]), np.array([5.0, 10.0]), 10_000.0)
    assert deltas.tolist() == [15.0, 5.0]


def test_interval_spanning_windows_is_split_by_time_and_interpolated() -> None:
    start = np.array([T0 + 30 * 60_000], dtype=np.int64)
    end = np.array([T0 + 3 * HOUR_MS], dtype=np.int64)
    windows = window_sums(start, end, np.array([50.0]), HOUR_MS)
    assert windows.start_ms.tolist() == [T0, T0 + HOUR_MS, T0 + 2 * HOUR_MS]
    np.testing.assert_allclose(windows.quantity, [10.0, 20.0, 20.0])
    assert windows.interpolated.all()
    assert (windows.flags & Reason.INTERPOLATED).all()


def test_interval_inside_one_window_is_not_interpolated() -> None:
    windows = window_sums(np.array([T0]), np.array([T0 + HOUR_MS]), np.array([5.0]), HOUR_MS)
    assert not windows.interpolated.any()
    assert windows.flags.tolist() == [0]


def test_window_flags_carry_interval_flags() -> None:
    windows = window_sums(
        np.array([T0, T0 + QUARTER_MS]),
        np.array([T0 + QUARTER_MS, T0 + 2 * QUARTER_MS]),
        np.array([1.0, 2.0]),
        HOUR_MS,
        flags=np.array([0, Reason.GAP], dtype=np.uint32),
    )
    assert windows.flags.tolist() == [Reason.GAP]


def test_local_day_windows_start_at_local_midnight() -> None:
    local_midnight = T0 - 8 * HOUR_MS  # 00:00 in UTC+8
    windows = window_sums(
        np.array([local_midnight + HOUR_MS]),
        np.array([local_midnight + 2 * HOUR_MS]),
        np.array([3.0]),
        DAY_MS,
        origin_ms=-8 * HOUR_MS,
    )
    assert windows.start_ms.tolist() == [local_midnight]


def test_unsorted_and_sparse_intervals_aggregate_the_same() -> None:
    start = np.array([T0 + 400 * DAY_MS, T0, T0 + QUARTER_MS], dtype=np.int64)
    end = start + QUARTER_MS
    windows = window_sums(start, end, np.array([1.0, 2.0, 3.0]), HOUR_MS)
    assert windows.start_ms.tolist() == [T0, T0 + 400 * DAY_MS]
    assert windows.quantity.tolist() == [5.0, 1.0]


def test_empty_input_gives_no_windows() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert window_sums(empty, empty, np.zeros(0), HOUR_MS).start_ms.size == 0
    with pytest.raises(ValueError):
        window_sums(empty, empty, np.zeros(0), 0)


@st.composite
def intervals(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    starts = draw(st.lists(st.integers(-10 * DAY_MS, 10 * DAY_MS), min_size=n, max_size=n))
    lengths = draw(st.lists(st.integers(0, 3 * DAY_MS), min_size=n, max_size=n))
    qs = draw(st.lists(st.floats(0, 1e6), min_size=n, max_size=n))
    s = np.array(starts, dtype=np.int64)
    return s, s + np.array(lengths, dtype=np.int64), np.array(qs)


@SETTINGS
@given(
    intervals(),
    st.sampled_from([QUARTER_MS, HOUR_MS, DAY_MS, 7 * 60_000]),
    st.integers(-DAY_MS, DAY_MS),
)
def test_window_split_sums_equal_the_interval_quantities(
    iv: tuple[np.ndarray, np.ndarray, np.ndarray], width: int, origin: int
) -> None:
    start, end, quantity = iv
    windows = window_sums(start, end, quantity, width, origin_ms=origin)
    np.testing.assert_allclose(windows.quantity.sum(), quantity.sum(), rtol=1e-9, atol=1e-6)
    assert (np.diff(windows.start_ms) > 0).all()
    assert ((windows.start_ms - origin) % width == 0).all()
    # every piece lies in a window that overlaps its interval
    for s, e, q in zip(start, end, quantity, strict=True):
        one = window_sums(np.array([s]), np.array([e]), np.array([q]), width, origin_ms=origin)
        assert one.start_ms.min() <= max(s, e - 1) and one.start_ms.max() + width > s
        assert one.interpolated.all() == (one.start_ms.size > 1)
        np.testing.assert_allclose(one.quantity.sum(), q, rtol=1e-9, atol=1e-6)


@SETTINGS
@given(
    st.lists(st.floats(0, 200), min_size=2, max_size=80),
    st.lists(
        st.sampled_from([QUARTER_MS] * 5 + [3 * QUARTER_MS, 17 * QUARTER_MS]),
        min_size=80,
        max_size=80,
    ),
    st.sampled_from([None, 5_000.0]),
    st.sampled_from([1.0, 30.0]),
)
def test_interval_sum_equals_register_delta_times_multiplier_when_nothing_is_rejected(
    increments: list[float], steps: list[int], rollover: float | None, multiplier: float
) -> None:
    profile = counter(rollover=rollover, multiplier=multiplier, max_rate_per_h=None)
    consumption = np.cumsum(increments) - increments[0]
    values = consumption % rollover if rollover else consumption
    ts = T0 + np.concatenate(([0], np.cumsum(steps[: len(increments) - 1])))
    result = validate(profile, MeterState(), ts, values, now_ms=int(ts[-1]))
    assert not (result.reasons & QUARANTINE_MASK).any()
    iv = meter_intervals(profile, result)
    expected = consumption[-1] * multiplier
    np.testing.assert_allclose(iv.quantity.sum(), expected, rtol=1e-9, atol=1e-6)
    windows = window_sums(iv.start_ms, iv.end_ms, iv.quantity, HOUR_MS, flags=iv.flags)
    np.testing.assert_allclose(windows.quantity.sum(), expected, rtol=1e-9, atol=1e-6)
    assert (windows.flags & Reason.GAP).any() == (iv.flags & Reason.GAP).any()
