"""History readings: bounded by the installation, not by age, and fitted into gaps between stored
readings without counting anything twice (GB/T 32150 clause 6.3.1; GB 17167 rules otherwise)."""

from __future__ import annotations

import numpy as np
import pytest

from accounting.history import StoredReading, fill_gap
from accounting.meter import DAY_MS, MeterState
from accounting.reasons import reason_names
from accounting.validation import validate

from .meter_helpers import QUARTER_MS, T0, counter, quarters

YEAR_MS = 365 * DAY_MS
NOW = T0 + 2 * YEAR_MS  # the readings below are two years old


def test_a_live_reading_older_than_the_age_limit_is_still_too_old() -> None:
    result = validate(
        counter(max_age_ms=31 * DAY_MS), MeterState(), quarters(3), [1.0, 2.0, 3.0], now_ms=NOW
    )
    assert [reason_names(int(m)) for m in result.reasons] == [("TOO_OLD",)] * 3


def test_a_history_reading_of_any_age_after_the_installation_is_accepted() -> None:
    profile = counter(max_age_ms=31 * DAY_MS, installed_ms=T0 - DAY_MS)
    result = validate(profile, MeterState(), quarters(3), [1.0, 2.0, 3.0], now_ms=NOW, history=True)
    assert result.accepted.tolist() == [True, True, True]


def test_a_history_reading_before_the_installation_is_quarantined_with_that_reason() -> None:
    profile = counter(max_age_ms=31 * DAY_MS, installed_ms=T0 + QUARTER_MS)
    result = validate(profile, MeterState(), quarters(3), [1.0, 2.0, 3.0], now_ms=NOW, history=True)
    assert reason_names(int(result.reasons[0])) == ("BEFORE_INSTALLATION",)
    assert result.accepted.tolist() == [False, True, True]


def test_history_before_the_parks_inventory_start_is_quarantined_with_its_own_reason() -> None:
    profile = counter(max_age_ms=31 * DAY_MS, inventory_start_ms=T0 + 2 * QUARTER_MS)
    result = validate(profile, MeterState(), quarters(3), [1.0, 2.0, 3.0], now_ms=NOW, history=True)
    assert [reason_names(int(m)) for m in result.reasons] == [
        ("BEFORE_INVENTORY_START",),
        ("BEFORE_INVENTORY_START",),
        (),  # at the start itself: inside the inventory
    ]
    assert result.accepted.tolist() == [False, False, True]


def test_before_both_the_installation_and_the_inventory_start_carries_both_reasons() -> None:
    profile = counter(
        max_age_ms=31 * DAY_MS, installed_ms=T0 + QUARTER_MS, inventory_start_ms=T0 + QUARTER_MS
    )
    result = validate(profile, MeterState(), quarters(2), [1.0, 2.0], now_ms=NOW, history=True)
    assert reason_names(int(result.reasons[0])) == (
        "BEFORE_INSTALLATION",
        "BEFORE_INVENTORY_START",
    )
    assert result.accepted.tolist() == [False, True]


def test_the_inventory_start_does_not_bound_live_readings() -> None:
    recent = NOW - QUARTER_MS
    profile = counter(inventory_start_ms=NOW)  # a start set ahead, for next year's inventory
    result = validate(profile, MeterState(), [recent], [1.0], now_ms=NOW)
    assert result.accepted.tolist() == [True]


def test_history_is_judged_by_every_other_rule_and_never_in_the_future() -> None:
    profile = counter(max_age_ms=31 * DAY_MS, range_max=1e6)
    ts = np.append(quarters(4), NOW + DAY_MS)
    result = validate(
        profile, MeterState(), ts, [1.0, 5e9, 0.5, 2.0, 3.0], now_ms=NOW, history=True
    )
    assert [reason_names(int(m)) for m in result.reasons] == [
        (),
        ("OUT_OF_RANGE",),
        ("NEGATIVE_DELTA",),
        ("GAP",),  # accepted; its interval spans the two quarantined readings
        ("FUTURE_TIMESTAMP",),
    ]


def test_history_per_reading_marks_only_those_readings() -> None:
    profile = counter(max_age_ms=31 * DAY_MS)
    marks = np.array([True, False, True])
    result = validate(
        profile, MeterState(), quarters(3), [1.0, 2.0, 3.0], now_ms=NOW, history=marks
    )
    assert [reason_names(int(m)) for m in result.reasons] == [(), ("TOO_OLD",), ("GAP",)]


def gap(n: int) -> tuple[np.ndarray, np.ndarray]:
    """History at quarters 1..n, registers 10 kWh apart from 100 (the stored reading at T0)."""
    ts = T0 + np.arange(1, n + 1, dtype=np.int64) * QUARTER_MS
    return ts, 100.0 + 10.0 * np.arange(1, n + 1)


def test_history_between_two_stored_readings_splits_the_interval_of_the_later_one() -> None:
    before = StoredReading(T0, 100.0)
    after = StoredReading(T0 + 5 * QUARTER_MS, 150.0)  # it counted 50 kWh over the whole gap
    ts, values = gap(4)
    got = fill_gap(counter(), before, after, ts, values, now_ms=np.full(4, NOW))
    assert got.accepted_index.tolist() == [0, 1, 2, 3]
    assert got.start_ms.tolist() == [T0 + i * QUARTER_MS for i in range(4)]
    assert got.quantity.tolist() == [10.0, 10.0, 10.0, 10.0]
    assert (got.after_start_ms, got.after_quantity) == (T0 + 4 * QUARTER_MS, 10.0)
    # the gap still holds exactly what the stored reading counted: nothing counted twice
    assert sum(got.quantity.tolist()) + got.after_quantity == 50.0


def test_history_before_the_first_stored_reading_gives_it_its_first_interval() -> None:
    after = StoredReading(T0 + 3 * QUARTER_MS, 130.0)
    ts = T0 + np.arange(3, dtype=np.int64) * QUARTER_MS
    got = fill_gap(
        counter(), None, after, ts, np.array([100.0, 110.0, 120.0]), now_ms=np.full(3, NOW)
    )
    assert got.has_interval.tolist() == [False, True, True]  # the first opens the series
    assert got.quantity[1:].tolist() == [10.0, 10.0]
    assert (got.after_start_ms, got.after_quantity) == (T0 + 2 * QUARTER_MS, 10.0)


def test_history_the_stored_reading_does_not_follow_yields_to_it() -> None:
    before = StoredReading(T0, 100.0)
    after = StoredReading(T0 + 4 * QUARTER_MS, 125.0)
    ts, values = gap(3)  # 110, 120, 130: the last is above the stored 125
    got = fill_gap(counter(), before, after, ts, values, now_ms=np.full(3, NOW))
    assert got.accepted_index.tolist() == [0, 1]
    assert reason_names(int(got.reasons[2])) == ("NEGATIVE_DELTA",)
    assert got.conflict.tolist() == [False, False, True]
    assert (got.after_start_ms, got.after_quantity) == (T0 + 2 * QUARTER_MS, 5.0)


def test_history_out_of_order_inside_a_gap_is_out_of_order() -> None:
    before = StoredReading(T0, 100.0)
    after = StoredReading(T0 + 5 * QUARTER_MS, 150.0)
    ts = T0 + np.array([1, 3, 2], dtype=np.int64) * QUARTER_MS
    got = fill_gap(
        counter(), before, after, ts, np.array([110.0, 130.0, 120.0]), now_ms=np.full(3, NOW)
    )
    assert reason_names(int(got.reasons[2])) == ("OUT_OF_ORDER",)
    assert got.after_quantity == 20.0


def test_readings_outside_the_gap_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="inside the gap"):
        fill_gap(
            counter(),
            StoredReading(T0, 1.0),
            StoredReading(T0 + QUARTER_MS, 2.0),
            np.array([T0 + QUARTER_MS], dtype=np.int64),
            np.array([1.5]),
            now_ms=np.array([NOW], dtype=np.int64),
        )
