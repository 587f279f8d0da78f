"""History imported into a gap before a meter's newest reading (GB/T 32150 clause 6.3.1).

An inventory covers whole years, so readings of the past are imported long after the meter's
live readings began. Live validation only moves forward (a reading older than the last accepted
one is OUT_OF_ORDER, its interval already closed); history is instead validated against its own
*neighbours*, the stored readings either side of it:

- the stored reading before the gap (``before``, None at the start of the meter's series) opens
  the first interval, exactly as the last accepted reading does for live readings;
- the stored reading after it (``after``) must still follow the last accepted history reading
  by every rule (no negative delta, no spike); its interval then shrinks to start there, and
  the consumption it counted over the whole gap is split among the new intervals: the sum over
  the gap is unchanged for a counter, so nothing is counted twice.

When ``after`` does not fit, the stored reading wins (it has been counted, and possibly
reported): the last accepted history reading is quarantined with the reason ``after`` would have
had, and the check repeats with the one before it (one pass per conflict, not per reading).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from accounting.intervals import meter_intervals
from accounting.meter import MeterProfile, MeterState
from accounting.reasons import QUARANTINE_MASK
from accounting.validation import ValidationResult, validate


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A stored reading bounding a gap: its time and register value (the profile's unit)."""

    ts_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class GapFill:
    """The outcome of validating history readings inside one gap.

    ``reasons[i]`` is reading ``i``'s mask; ``accepted_index`` the accepted readings in order,
    with the intervals they close (``start_ms``/``quantity``; ``has_interval`` False for a
    reading that opens the meter's series). ``conflict`` marks readings quarantined because the
    stored reading after the gap does not follow them. ``after_start_ms``/``after_quantity``/
    ``after_flags`` are the new interval of the stored reading after the gap, None when no
    history reading was accepted (then it keeps its interval).
    """

    reasons: NDArray[np.uint32]
    accepted_index: NDArray[np.intp]
    start_ms: NDArray[np.int64]
    quantity: NDArray[np.float64]
    has_interval: NDArray[np.bool_]
    conflict: NDArray[np.bool_]
    after_start_ms: int | None
    after_quantity: float | None
    after_flags: int | None


def _state(before: StoredReading | None) -> MeterState:
    if before is None:
        return MeterState()
    return MeterState(
        last_ts_ms=before.ts_ms, last_value=before.value, last_seen_value=before.value
    )


def fill_gap(
    profile: MeterProfile,
    before: StoredReading | None,
    after: StoredReading,
    ts_ms: NDArray[np.int64],
    values: NDArray[np.float64],
    *,
    now_ms: NDArray[np.int64],
) -> GapFill:
    """Validate history readings (in arrival order) between ``before`` and ``after``.

    The readings are judged as history (``accounting.validation.validate`` with
    ``history=True``: bounded by the installation, not by age) in the profile's unit; ``after``
    is judged with them, at its own time, as the reading that closes the gap.
    """
    n = ts_ms.shape[0]
    if np.any(ts_ms >= after.ts_ms) or (before is not None and np.any(ts_ms <= before.ts_ms)):
        raise ValueError("history readings must lie strictly inside the gap")
    state = _state(before)
    excluded = np.zeros(n, dtype=np.bool_)
    conflict_bits = np.zeros(n, dtype=np.uint32)
    while True:
        keep = np.flatnonzero(~excluded)
        result = validate(
            profile,
            state,
            np.append(ts_ms[keep], after.ts_ms),
            np.append(values[keep], after.value),
            now_ms=np.append(now_ms[keep], after.ts_ms),
            history=True,
        )
        closing = int(result.reasons[-1])
        taken = result.accepted_index
        history_taken = taken[taken < keep.shape[0]]
        if not closing & int(QUARANTINE_MASK) or not history_taken.shape[0]:
            break
        last = int(keep[history_taken[-1]])
        excluded[last] = True
        conflict_bits[last] = closing & int(QUARANTINE_MASK)
    return _assemble(profile, result, keep, excluded, conflict_bits, closing)


def _assemble(
    profile: MeterProfile,
    result: ValidationResult,
    keep: NDArray[np.intp],
    excluded: NDArray[np.bool_],
    conflict_bits: NDArray[np.uint32],
    closing: int,
) -> GapFill:
    reasons = conflict_bits.copy()
    reasons[keep] = result.reasons[: keep.shape[0]]
    intervals = meter_intervals(profile, result)
    taken = result.accepted_index
    closes = np.zeros(taken.shape[0], dtype=np.bool_)
    closes[taken.shape[0] - intervals.quantity.shape[0] :] = True
    starts = np.zeros(taken.shape[0], dtype=np.int64)
    quantity = np.zeros(taken.shape[0], dtype=np.float64)
    starts[closes] = intervals.start_ms
    quantity[closes] = intervals.quantity
    after_accepted = taken.shape[0] > 0 and int(taken[-1]) == keep.shape[0]
    mine = slice(0, taken.shape[0] - 1 if after_accepted else taken.shape[0])
    moved = after_accepted and taken.shape[0] > 1 and bool(closes[-1])
    return GapFill(
        reasons=reasons,
        accepted_index=keep[taken[mine]],
        start_ms=starts[mine],
        quantity=quantity[mine],
        has_interval=closes[mine],
        conflict=excluded,
        after_start_ms=int(starts[-1]) if moved else None,
        after_quantity=float(quantity[-1]) if moved else None,
        after_flags=closing if moved else None,
    )
