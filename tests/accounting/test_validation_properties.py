"""Properties of meter validation: it equals a reading-by-reading scan, resumes exactly from its
state, treats rollovers as consumption and never double counts (clause 8.4)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting.intervals import meter_intervals
from accounting.meter import DAY_MS, HOUR_MS, MeterProfile, MeterState
from accounting.reasons import QUARANTINE_MASK, Reason
from accounting.validation import validate

from .meter_helpers import QUARTER_MS, T0, counter, power_meter, reference_scan

SETTINGS = settings(max_examples=150, deadline=None)

STEPS = [QUARTER_MS] * 6 + [0, -QUARTER_MS, 3 * QUARTER_MS, QUARTER_MS // 2, 5 * DAY_MS]
FAULTS = ["none"] * 8 + ["nan", "glitch_low", "glitch_high", "repeat", "negative"]


@dataclass(frozen=True)
class Case:
    profile: MeterProfile
    ts: np.ndarray
    values: np.ndarray
    seq: np.ndarray | None
    now_ms: int


@st.composite
def profiles(draw: st.DrawFn) -> MeterProfile:
    if draw(st.booleans()):
        return power_meter(
            flatline_count=draw(st.sampled_from([0, 3])),
            max_step=draw(st.sampled_from([None, 50.0])),
            max_age_ms=draw(st.sampled_from([400 * DAY_MS, 6 * HOUR_MS])),
        )
    return counter(
        rollover=draw(st.sampled_from([None, 10_000.0])),
        multiplier=draw(st.sampled_from([1.0, 2.5])),
        max_rate_per_h=draw(st.sampled_from([None, 1_000.0])),
        flatline_count=draw(st.sampled_from([0, 3])),
        max_age_ms=draw(st.sampled_from([400 * DAY_MS, 6 * HOUR_MS])),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    profile = draw(profiles())
    n = draw(st.integers(0, 40))
    steps = draw(st.lists(st.sampled_from(STEPS), min_size=n, max_size=n))
    increments = draw(st.lists(st.floats(0, 400), min_size=n, max_size=n))
    faults = draw(st.lists(st.sampled_from(FAULTS), min_size=n, max_size=n))
    ts = T0 + np.cumsum(np.array(steps, dtype=np.int64))
    values = np.cumsum(np.array(increments, dtype=np.float64))
    if profile.rollover is not None:
        values %= profile.rollover
    for i, fault in enumerate(faults):
        if fault == "nan":
            values[i] = np.nan
        elif fault == "glitch_low":
            values[i] = values[i] * 0.5
        elif fault == "glitch_high":
            values[i] = values[i] + 3_000
        elif fault == "repeat" and i:
            values[i] = values[i - 1]
        elif fault == "negative":
            values[i] = -1.0
    seq = np.arange(n, dtype=np.int64) if draw(st.booleans()) else None
    now_ms = int(ts.max()) if n else T0
    now_ms -= draw(st.sampled_from([0, 2 * HOUR_MS]))  # some readings then lie in the future
    return Case(profile, ts, values, seq, now_ms)


def run(case: Case, state: MeterState, lo: int, hi: int):  # type: ignore[no-untyped-def]
    seq = None if case.seq is None else case.seq[lo:hi]
    return validate(
        case.profile, state, case.ts[lo:hi], case.values[lo:hi], now_ms=case.now_ms, seq=seq
    )


@SETTINGS
@given(cases())
def test_vectorised_validation_equals_a_reading_by_reading_scan(case: Case) -> None:
    result = run(case, MeterState(), 0, len(case.ts))
    expected = reference_scan(
        case.profile, MeterState(), case.ts, case.values, case.now_ms, case.seq
    )
    assert (result.reasons & QUARANTINE_MASK).tolist() == expected


@SETTINGS
@given(cases(), st.data())
def test_batch_a_then_b_equals_a_plus_b(case: Case, data: st.DataObject) -> None:
    n = len(case.ts)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    whole = run(case, MeterState(), 0, n)
    state = MeterState()
    reasons, quantities = [], []
    for lo, hi in zip([0, *cuts], [*cuts, n], strict=True):
        part = run(case, state, lo, hi)
        reasons.append(part.reasons)
        quantities.append(meter_intervals(case.profile, part).quantity)
        # the stream layer keeps the state as a dict in a Kafka-backed table
        state = MeterState.from_dict(json.loads(json.dumps(part.state.to_dict())))
    assert np.concatenate(reasons).tolist() == whole.reasons.tolist()
    assert state == whole.state
    np.testing.assert_array_equal(
        np.concatenate(quantities), meter_intervals(case.profile, whole).quantity
    )


@SETTINGS
@given(
    st.lists(st.floats(0, 240), min_size=2, max_size=60),
    st.floats(500, 20_000),
    st.floats(0, 1),
    st.sampled_from([1.0, 0.4, 40.0]),
)
def test_rollover_never_yields_a_spike(
    increments: list[float], rollover: float, start_frac: float, multiplier: float
) -> None:
    # increments up to 240 per quarter stay under the 1000/h rate after any multiplier
    profile = counter(rollover=rollover, multiplier=multiplier, max_rate_per_h=1_000.0 * multiplier)
    total = np.cumsum(increments) - increments[0]
    start = start_frac * rollover * 0.999
    values = (start + total) % rollover
    result = validate(
        profile,
        MeterState(),
        T0 + np.arange(len(values)) * QUARTER_MS,
        values,
        now_ms=T0 + DAY_MS * 2,
    )
    quarantine = result.reasons & QUARANTINE_MASK
    assert not (result.reasons & np.uint32(Reason.SPIKE)).any()
    assert not quarantine.any()
    consumed = meter_intervals(profile, result).quantity.sum()
    np.testing.assert_allclose(consumed, total[-1] * multiplier, rtol=1e-9, atol=1e-6)


@st.composite
def series_with_duplicates(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[int]]:
    n = draw(st.integers(2, 40))
    ts = T0 + np.arange(n, dtype=np.int64) * QUARTER_MS
    values = np.cumsum(draw(st.lists(st.floats(0, 200), min_size=n, max_size=n)))
    copies = draw(st.lists(st.integers(0, n - 1), max_size=20))
    return ts, values, copies


@SETTINGS
@given(series_with_duplicates(), st.randoms(use_true_random=False))
def test_shuffled_duplicates_never_double_count(
    series: tuple[np.ndarray, np.ndarray, list[int]], rnd: object
) -> None:
    ts, values, copies = series
    profile = counter(max_rate_per_h=None)
    true_total = values[-1] - values[0]
    # Redelivered readings, each after its original: the total is exactly the clean total.
    order = list(range(len(ts)))
    for c in copies:
        order.insert(order.index(c) + 1 + rnd.randint(0, len(order) - order.index(c) - 1), c)  # type: ignore[attr-defined]
    redelivered = validate(profile, MeterState(), ts[order], values[order], now_ms=T0 + DAY_MS)
    total = meter_intervals(profile, redelivered).quantity.sum()
    np.testing.assert_allclose(total, true_total, rtol=1e-12, atol=1e-9)
    assert np.unique(redelivered.accepted_ts_ms).size == redelivered.accepted_ts_ms.size
    # Fully shuffled: late readings are quarantined, never counted twice.
    rnd.shuffle(order)  # type: ignore[attr-defined]
    shuffled = validate(profile, MeterState(), ts[order], values[order], now_ms=T0 + DAY_MS)
    assert meter_intervals(profile, shuffled).quantity.sum() <= true_total + 1e-9
    assert (np.diff(shuffled.accepted_ts_ms) > 0).all()
