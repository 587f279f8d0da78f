from __future__ import annotations

from collections import Counter

from accounting.window_plan import WindowPlan
from stream.windows import WindowTracker

MIN = 60_000
T = 1_767_225_600_000  # 2026-01-01T00:00Z, on every window boundary


def test_a_window_is_due_once_its_meter_has_read_past_its_end() -> None:
    tracker = WindowTracker(widths_s=(900,))
    tracker.touch("E", T, T + 10 * MIN, now_ms=T + 10 * MIN)
    assert tracker.due(T + 10 * MIN) == []
    tracker.touch("E", T + 10 * MIN, T + 15 * MIN, now_ms=T + 15 * MIN)
    assert tracker.due(T + 15 * MIN) == [("E", 900, T)]
    assert tracker.due(T + 15 * MIN) == []  # computed once


def test_an_interval_spanning_windows_touches_each_of_them() -> None:
    tracker = WindowTracker(widths_s=(60, 900))
    tracker.touch("E", T + 30_000, T + 3 * MIN, now_ms=T)
    assert sorted(k for k in tracker.pending if k[1] == 60) == [
        ("E", 60, T),
        ("E", 60, T + MIN),
        ("E", 60, T + 2 * MIN),
    ]
    assert [k for k in tracker.pending if k[1] == 900] == [("E", 900, T)]
    assert sorted(tracker.due(T)) == [("E", 60, T), ("E", 60, T + MIN), ("E", 60, T + 2 * MIN)]


def test_a_silent_meter_window_is_computed_after_the_wait_and_again_when_data_arrives() -> None:
    tracker = WindowTracker(widths_s=(900,), max_wait_ms=2 * MIN)
    tracker.touch("E", T, T + 5 * MIN, now_ms=T + 5 * MIN)
    assert tracker.due(T + 16 * MIN) == []
    assert tracker.due(T + 17 * MIN) == [("E", 900, T)]
    tracker.touch("E", T + 5 * MIN, T + 20 * MIN, now_ms=T + 40 * MIN)  # late reading
    assert ("E", 900, T) in tracker.due(T + 40 * MIN)


def test_meters_have_their_own_watermarks() -> None:
    tracker = WindowTracker(widths_s=(900,))
    tracker.touch("A", T, T + 5 * MIN, now_ms=T)
    tracker.touch("B", T + 5 * MIN, T + 30 * MIN, now_ms=T)
    assert tracker.due(T) == [("B", 900, T), ("B", 900, T + 15 * MIN)]


def test_a_nine_month_interval_touches_every_hour_and_quarter_but_few_fine_windows() -> None:
    # A reading nine months ago, the next one now: the hour and 15-minute windows stay exact,
    # the minute and 5-minute ones end at the fine horizon (the worker drops those only the
    # long interval overlaps when it computes them).
    now = T + 273 * 1440 * MIN
    tracker = WindowTracker(plan=WindowPlan(fine_horizon_ms=1440 * MIN))
    tracker.touch("E", T, now, now_ms=now)
    by_width = Counter(w for _, w, _ in tracker.pending)
    assert by_width == {3600: 273 * 24, 900: 273 * 96, 300: 288, 60: 1440}


def test_by_default_fine_windows_reach_back_seven_days() -> None:
    now = T + 273 * 1440 * MIN
    tracker = WindowTracker()
    tracker.touch("E", T, now, now_ms=now)
    by_width = Counter(w for _, w, _ in tracker.pending)
    assert (by_width[60], by_width[300]) == (7 * 1440, 7 * 288)
