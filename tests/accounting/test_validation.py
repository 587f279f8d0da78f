"""Meter validation: each reason code triggered, and not triggered (clause 8.4, 9.1 c)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accounting.carriers import Carrier
from accounting.intervals import meter_intervals
from accounting.meter import DAY_MS, MeterState
from accounting.metering import MeteringLevel
from accounting.reasons import Reason, reason_names
from accounting.validation import ValidationResult, validate

from .meter_helpers import QUARTER_MS, T0, counter, power_meter, quarters

NOW = T0 + DAY_MS


def run(
    values: list[float], ts: list[int] | None = None, **profile_overrides: object
) -> ValidationResult:
    times = quarters(len(values)) if ts is None else np.array(ts, dtype=np.int64)
    return validate(counter(**profile_overrides), MeterState(), times, values, now_ms=NOW)


def names(result: ValidationResult) -> list[tuple[str, ...]]:
    return [reason_names(int(m)) for m in result.reasons]


# -- OUT_OF_RANGE -----------------------------------------------------------------------------


def test_value_above_rated_range_is_quarantined_out_of_range() -> None:
    result = run([10.0, 11.0, 5e9, 12.0], range_max=1e6)
    assert names(result)[2] == ("OUT_OF_RANGE",)
    assert result.accepted.tolist() == [True, True, False, True]


def test_nan_and_infinite_readings_are_out_of_range() -> None:
    result = run([10.0, float("nan"), float("inf"), 12.0])
    assert names(result) == [(), ("OUT_OF_RANGE",), ("OUT_OF_RANGE",), ("GAP",)]


def test_value_on_the_range_limit_is_accepted() -> None:
    result = run([0.0, 100.0], range_max=100.0)
    assert result.reasons.tolist() == [0, 0]


def test_negative_register_value_is_out_of_range_even_without_range() -> None:
    assert names(run([-1.0]))[0] == ("OUT_OF_RANGE",)


# -- NEGATIVE_DELTA ---------------------------------------------------------------------------


def test_register_going_backwards_is_quarantined_and_never_negative_consumption() -> None:
    result = run([100.0, 110.0, 90.0, 120.0])
    assert names(result)[2] == ("NEGATIVE_DELTA",)
    quantities = meter_intervals(counter(), result).quantity
    assert (quantities >= 0).all()
    assert quantities.sum() == pytest.approx(20.0)


def test_unchanged_register_is_zero_consumption_not_negative_delta() -> None:
    result = run([100.0, 100.0, 100.0])
    assert result.reasons.tolist() == [0, 0, 0]


def test_meter_swap_keeps_quarantining_until_state_is_reset() -> None:
    result = run([5000.0, 5010.0, 3.0, 13.0, 23.0])
    assert [n for n in names(result)[2:]] == [("NEGATIVE_DELTA",)] * 3
    assert result.state.reject_run == 3
    # Clause 8.3: the recorded replacement starts the new meter from an empty state.
    after = validate(
        counter(), MeterState(), quarters(2, T0 + 5 * QUARTER_MS), [33.0, 43.0], now_ms=NOW
    )
    assert after.reasons.tolist() == [0, 0]


def test_rejected_glitch_does_not_become_the_reference() -> None:
    result = run([100.0, 50.0, 101.0, 102.0])
    assert names(result) == [(), ("NEGATIVE_DELTA",), ("GAP",), ()]
    assert meter_intervals(counter(), result).quantity.sum() == pytest.approx(2.0)


# -- ROLLOVER ---------------------------------------------------------------------------------


def test_cumulative_counter_rollover_is_not_a_spike() -> None:
    result = run([9_990.0, 9_998.0, 4.0, 9.0], rollover=10_000.0, max_rate_per_h=100.0)
    assert names(result) == [(), (), ("ROLLOVER",), ()]
    assert meter_intervals(counter(rollover=10_000.0), result).quantity.tolist() == [8, 6, 5]


def test_backward_step_mid_register_is_negative_delta_not_rollover() -> None:
    result = run([5_000.0, 4_000.0], rollover=10_000.0)
    assert names(result)[1] == ("NEGATIVE_DELTA",)


def test_wrap_implying_an_impossible_rate_is_negative_delta() -> None:
    # wrapped delta 4_100 in 15 min is 16.4 MW against a 1 MW limit
    result = run([9_000.0, 3_100.0], rollover=10_000.0, max_rate_per_h=1_000.0)
    assert names(result)[1] == ("NEGATIVE_DELTA",)


# -- SPIKE ------------------------------------------------------------------------------------


def test_counter_rise_above_plausible_rate_is_a_spike() -> None:
    # 400 kWh in 15 min = 1.6 MW, above the 1 MW limit; the multiplier counts too
    result = run([0.0, 400.0, 10.0])
    assert names(result) == [(), ("SPIKE",), ("GAP",)]  # the next reading spans the hole
    assert names(run([0.0, 100.0], multiplier=4.0))[1] == ("SPIKE",)


def test_large_delta_across_a_gap_is_not_a_spike() -> None:
    result = run([0.0, 400.0], ts=[T0, T0 + 2 * 3_600_000])
    assert names(result)[1] == ("GAP",)


def test_instantaneous_single_outlier_is_a_spike_and_the_return_is_accepted() -> None:
    result = validate(
        power_meter(), MeterState(), quarters(4), [50.0, 900.0, 55.0, 60.0], now_ms=NOW
    )
    assert [reason_names(int(m)) for m in result.reasons] == [(), ("SPIKE",), ("GAP",), ()]


def test_instantaneous_step_confirmed_by_next_reading_is_a_load_change() -> None:
    result = validate(
        power_meter(), MeterState(), quarters(4), [50.0, 900.0, 905.0, 910.0], now_ms=NOW
    )
    assert [reason_names(int(m)) for m in result.reasons] == [(), ("SPIKE",), ("GAP",), ()]


# -- STALE ------------------------------------------------------------------------------------


def test_repeated_value_for_the_flatline_count_is_flagged_stale_but_accepted() -> None:
    result = validate(
        power_meter(flatline_count=3),
        MeterState(),
        quarters(5),
        [7.0, 7.0, 7.0, 7.0, 8.0],
        now_ms=NOW,
    )
    assert [reason_names(int(m)) for m in result.reasons] == [(), (), ("STALE",), ("STALE",), ()]
    assert result.accepted.all()


def test_varying_values_or_disabled_rule_are_not_stale() -> None:
    values = [7.0, 7.0, 7.0, 7.0]
    assert not validate(power_meter(), MeterState(), quarters(4), values, now_ms=NOW).reasons.any()
    varying = validate(
        power_meter(flatline_count=2), MeterState(), quarters(3), [1.0, 2.0, 3.0], now_ms=NOW
    )
    assert not varying.reasons.any()


def test_flat_run_continues_across_batches() -> None:
    profile = power_meter(flatline_count=3)
    first = validate(profile, MeterState(), quarters(2), [7.0, 7.0], now_ms=NOW)
    second = validate(profile, first.state, quarters(1, T0 + 2 * QUARTER_MS), [7.0], now_ms=NOW)
    assert reason_names(int(second.reasons[0])) == ("STALE",)


# -- GAP --------------------------------------------------------------------------------------


def test_reading_after_missing_readings_closes_a_gap_interval() -> None:
    result = run([0.0, 10.0, 50.0], ts=[T0, T0 + QUARTER_MS, T0 + 4 * QUARTER_MS])
    assert names(result) == [(), (), ("GAP",)]
    intervals = meter_intervals(counter(), result)
    assert intervals.quantity.tolist() == [10.0, 40.0]  # the gap's delta is kept, not lost


def test_jittered_but_timely_reading_is_not_a_gap() -> None:
    result = run([0.0, 10.0], ts=[T0, T0 + QUARTER_MS + 60_000])
    assert result.reasons.tolist() == [0, 0]


# -- DUPLICATE_TIMESTAMP and OUT_OF_ORDER -----------------------------------------------------


def test_duplicate_timestamp_is_dropped_and_never_double_counted() -> None:
    result = run(
        [0.0, 10.0, 10.0, 20.0], ts=[T0, T0 + QUARTER_MS, T0 + QUARTER_MS, T0 + 2 * QUARTER_MS]
    )
    assert names(result)[2] == ("DUPLICATE_TIMESTAMP",)
    assert meter_intervals(counter(), result).quantity.sum() == pytest.approx(20.0)


def test_duplicate_across_batches_is_detected_from_state() -> None:
    first = run([0.0, 10.0])
    again = validate(counter(), first.state, quarters(2), [0.0, 10.0], now_ms=NOW)
    assert [reason_names(int(m)) for m in again.reasons] == [
        ("OUT_OF_ORDER",),
        ("DUPLICATE_TIMESTAMP",),
    ]


def test_replayed_seq_is_a_duplicate_not_out_of_order() -> None:
    first = validate(counter(), MeterState(), quarters(2), [0.0, 10.0], now_ms=NOW, seq=[7, 8])
    replay = validate(counter(), first.state, quarters(2), [0.0, 10.0], now_ms=NOW, seq=[7, 8])
    assert replay.reasons.tolist() == [Reason.DUPLICATE_TIMESTAMP] * 2


def test_late_reading_is_out_of_order() -> None:
    result = run([0.0, 20.0, 10.0], ts=[T0, T0 + 2 * QUARTER_MS, T0 + QUARTER_MS])
    assert names(result)[2] == ("OUT_OF_ORDER",)


def test_distinct_increasing_timestamps_are_neither_duplicate_nor_late() -> None:
    assert not run([0.0, 1.0, 2.0]).reasons.any()


# -- FUTURE_TIMESTAMP and TOO_OLD -------------------------------------------------------------


def test_reading_from_the_future_is_quarantined() -> None:
    result = run([0.0, 1.0], ts=[NOW, NOW + 61_000])
    assert names(result) == [(), ("FUTURE_TIMESTAMP",)]


def test_reading_within_clock_skew_tolerance_is_accepted() -> None:
    assert not run([0.0, 1.0], ts=[NOW - 1, NOW + 60_000]).reasons.any()


def test_reading_older_than_max_age_is_too_old() -> None:
    result = run([0.0, 1.0], ts=[NOW - 3 * DAY_MS, NOW - DAY_MS], max_age_ms=2 * DAY_MS)
    assert names(result) == [("TOO_OLD",), ()]


def test_reading_exactly_max_age_old_is_accepted() -> None:
    assert not run([0.0], ts=[NOW - 2 * DAY_MS], max_age_ms=2 * DAY_MS).reasons.any()


# -- UNIT_MISMATCH ----------------------------------------------------------------------------


def test_reading_in_another_unit_is_unit_mismatch() -> None:
    ts = quarters(3)
    result = validate(
        counter(), MeterState(), ts, [0.0, 1.0, 2.0], now_ms=NOW, units=["kWh", "MWh", "kWh"]
    )
    assert [reason_names(int(m)) for m in result.reasons] == [(), ("UNIT_MISMATCH",), ("GAP",)]
    whole = validate(counter(), MeterState(), ts, [0.0, 1.0, 2.0], now_ms=NOW, units="Nm3")
    assert (whole.reasons == Reason.UNIT_MISMATCH).all()


def test_scaled_batch_in_the_profile_unit_is_accepted_and_converted() -> None:
    result = validate(
        counter(),
        MeterState(),
        quarters(2),
        [1.0, 1.1],
        now_ms=NOW,
        units="kWh",
        unit_scale=1_000.0,
    )  # MWh readings, converted by the caller
    assert not result.reasons.any()
    assert meter_intervals(counter(), result).quantity[0] == pytest.approx(100.0)


# -- CALIBRATION_OVERDUE and ACCURACY_CLASS_INSUFFICIENT --------------------------------------


def test_reading_after_calibration_due_date_is_flagged_and_still_counted() -> None:
    result = run([0.0, 1.0, 2.0], calibration_due_ms=T0 + QUARTER_MS)
    assert names(result) == [(), (), ("CALIBRATION_OVERDUE",)]
    assert result.accepted.all()


def test_reading_before_calibration_due_date_is_not_flagged() -> None:
    assert not run([0.0, 1.0], calibration_due_ms=NOW).reasons.any()


def test_class_1_meter_at_a_class_i_users_incoming_point_is_insufficient() -> None:
    result = run([0.0, 1.0], accuracy_class="1.0")
    assert all(n == ("ACCURACY_CLASS_INSUFFICIENT",) for n in names(result))
    assert result.accepted.all()


def test_sufficient_class_or_no_requirement_is_not_flagged() -> None:
    assert not run([0.0, 1.0], accuracy_class="0.2S").reasons.any()
    assert not run(
        [0.0, 1.0], accuracy_class="2.0", accuracy_category="user_class_IV"
    ).reasons.any()
    heat = run(
        [0.0, 1.0],
        accuracy_class="5",
        carrier=Carrier.HEAT,
        unit="GJ",
        accuracy_category=None,
        metering_level=MeteringLevel.MAJOR_EQUIPMENT,
    )
    assert not heat.reasons.any()  # GB 17167 table 3 sets no class for heat meters


# -- state ------------------------------------------------------------------------------------


def test_state_survives_a_json_round_trip() -> None:
    state = run([0.0, 3.5]).state
    restored = MeterState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    with pytest.raises(ValueError, match="unknown"):
        MeterState.from_dict({"last_ts_ms": 1, "colour": "red"})


def test_empty_batch_keeps_state() -> None:
    state = run([0.0, 3.5]).state
    again = validate(counter(), state, np.zeros(0, np.int64), np.zeros(0), now_ms=NOW)
    assert again.state == state and again.reasons.size == 0


def test_datetime64_timestamps_are_accepted() -> None:
    ts = quarters(2).astype("datetime64[ms]").astype("datetime64[ns]")
    result = validate(counter(), MeterState(), ts, [0.0, 1.0], now_ms=NOW)
    assert result.state.last_ts_ms == T0 + QUARTER_MS
