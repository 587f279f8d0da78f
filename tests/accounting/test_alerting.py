"""Alert de-duplication (clause 9.1 b): raised once, updated while it lasts, resolved."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.alerting import AlertEvent, AlertRecord, AlertState, AlertTracker, step
from accounting.deviation import Finding, Rule, evaluate
from accounting.window_figures import Expectation, SubjectKind, WindowFigures

T0 = 1_718_000_000_000 - 1_718_000_000_000 % 900_000
W = 900_000
NONE = Expectation()


def window(k: int, *, low: bool, subject: str = "m-1", width_s: int = 900) -> WindowFigures:
    """Window ``k`` of a meter; ``low`` makes COMPLETENESS_LOW hold (and nothing else)."""
    return WindowFigures(
        subject_kind=SubjectKind.METER,
        subject_id=subject,
        enterprise_id="ent-1",
        source_category=None,
        width_s=width_s,
        window_start_ms=T0 + k * width_s * 1000,
        window_end_ms=T0 + (k + 1) * width_s * 1000,
        activity=10.0,
        activity_unit="kWh",
        tco2e=0.0,
        completeness=0.5 if low else 1.0,
        accepted_readings=15,
        rejected_readings=0,
    )


def feed(tracker: AlertTracker, figures: WindowFigures) -> list[AlertEvent]:
    return tracker.observe(figures, evaluate(figures, NONE))


def run(
    tracker: AlertTracker, pattern: str, k0: int = 0, **kw: Any
) -> list[tuple[AlertState, int]]:
    """Feed windows k0, k0 + 1, ... where 'x' holds and '.' is clear; (event, window index) out."""
    events = []
    for k, c in enumerate(pattern, start=k0):
        for e in feed(tracker, window(k, low=c == "x", **kw)):
            events.append((e.state, (e.window_start_ms - T0) // W))
    return events


def test_a_persisting_condition_is_raised_once_updated_then_resolved_when_it_clears() -> None:
    assert run(AlertTracker(), "xxx..") == [
        (AlertState.RAISED, 0),
        (AlertState.UPDATED, 1),
        (AlertState.UPDATED, 2),
        (AlertState.RESOLVED, 3),
    ]


def test_resolution_waits_for_n_consecutive_clear_windows_and_a_relapse_restarts_the_count() -> (
    None
):
    assert run(AlertTracker(resolve_after=3), "x..x...") == [
        (AlertState.RAISED, 0),
        (AlertState.UPDATED, 3),
        (AlertState.RESOLVED, 6),
    ]


def test_a_condition_returning_after_resolution_is_a_new_alert_with_its_own_first_window() -> None:
    tracker = AlertTracker()
    events = [e for k, c in enumerate("x.x") for e in feed(tracker, window(k, low=c == "x"))]
    assert [e.state for e in events] == [AlertState.RAISED, AlertState.RESOLVED, AlertState.RAISED]
    assert [e.first_window_start_ms for e in events] == [T0, T0, T0 + 2 * W]


def test_the_same_window_evaluated_twice_raises_once() -> None:
    tracker = AlertTracker()
    assert [e.state for e in feed(tracker, window(0, low=True))] == [AlertState.RAISED]
    assert feed(tracker, window(0, low=True)) == []


def test_a_window_older_than_the_last_seen_changes_nothing() -> None:
    tracker = AlertTracker()
    run(tracker, "..x")
    assert feed(tracker, window(1, low=True)) == []
    assert feed(tracker, window(0, low=False)) == []


def test_resolved_events_carry_the_last_finding_and_the_window_that_cleared_it() -> None:
    tracker = AlertTracker()
    run(tracker, "x")
    (resolved,) = feed(tracker, window(1, low=False))
    assert resolved.state is AlertState.RESOLVED
    assert resolved.finding.window_start_ms == T0
    assert (resolved.window_start_ms, resolved.window_end_ms) == (T0 + W, T0 + 2 * W)


def test_subjects_and_window_widths_are_tracked_apart() -> None:
    tracker = AlertTracker()
    a = feed(tracker, window(0, low=True))
    b = feed(tracker, window(0, low=True, subject="m-2"))
    c = feed(tracker, window(0, low=True, width_s=60))
    assert [e.state for e in a + b + c] == [AlertState.RAISED] * 3


def test_findings_of_another_window_are_refused() -> None:
    other = evaluate(window(1, low=True), NONE)
    with pytest.raises(ValueError, match="findings of another window"):
        AlertTracker().observe(window(0, low=True), other)


def test_resolve_after_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="resolve_after must be >= 1"):
        AlertTracker(resolve_after=0)
    finding: Finding = evaluate(window(0, low=True), NONE)[0]
    with pytest.raises(ValueError, match="resolve_after must be >= 1"):
        step(None, window_start_ms=T0, window_end_ms=T0 + W, finding=finding, resolve_after=0)


def test_a_rule_not_evaluated_for_a_window_leaves_its_alert_open() -> None:
    tracker = AlertTracker()
    run(tracker, "x")
    assert tracker.observe(window(1, low=False), [], rules=[Rule.UNKNOWN_METER]) == []
    assert [e.state for e in feed(tracker, window(2, low=False))] == [AlertState.RESOLVED]


def test_the_state_survives_a_json_round_trip_mid_alert() -> None:
    whole = run(AlertTracker(resolve_after=2), "xx..x")
    tracker = AlertTracker(resolve_after=2)
    first = run(tracker, "xx.")
    restored = AlertTracker.from_json(orjson.loads(orjson.dumps(tracker.to_json())))
    assert first + run(restored, ".x", k0=3) == whole
    for record in restored.records.values():
        assert AlertRecord.from_json(record.to_json()) == record


windows = st.lists(
    st.tuples(st.sampled_from(["m-1", "m-2"]), st.integers(0, 12), st.booleans()), max_size=40
)


@given(sequence=windows, resolve_after=st.integers(1, 3))
def test_replaying_any_sequence_of_windows_yields_the_same_events_as_once(
    sequence: list[tuple[str, int, bool]], resolve_after: int
) -> None:
    def events(tracker: AlertTracker, items: list[tuple[str, int, bool]]) -> list[AlertEvent]:
        return [e for s, k, low in items for e in feed(tracker, window(k, low=low, subject=s))]

    once = events(AlertTracker(resolve_after=resolve_after), sequence)
    twice = events(AlertTracker(resolve_after=resolve_after), sequence + sequence)
    assert twice == once
    # And after a restart from the serialised state, the replay still adds nothing.
    tracker = AlertTracker(resolve_after=resolve_after)
    events(tracker, sequence)
    restored = AlertTracker.from_json(orjson.loads(orjson.dumps(tracker.to_json())))
    assert events(restored, sequence) == []


@given(sequence=windows)
def test_each_alerts_life_is_raised_then_updates_then_at_most_one_resolution(
    sequence: list[tuple[str, int, bool]],
) -> None:
    tracker = AlertTracker()
    lives: dict[tuple[str, int], list[AlertState]] = {}
    for s, k, low in sequence:
        for e in feed(tracker, window(k, low=low, subject=s)):
            lives.setdefault((s, e.first_window_start_ms), []).append(e.state)
    for states in lives.values():
        assert states[0] is AlertState.RAISED
        assert set(states[1:-1]) <= {AlertState.UPDATED}
        assert states.count(AlertState.RESOLVED) <= 1
