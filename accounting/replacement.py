"""A device swap at a metering point, applied to the meter's validation state (clause 8.3).

A replacement record (``meter_replacement``) states when the old device came out, its final
register, the new device's initial register and the multiplier before and after. Consumption
across the swap is

    (final_register - last register read before the swap) x multiplier_before
    + (next register read after it - initial_register) x multiplier_after,

so nothing is lost and the register's drop is neither a NEGATIVE_DELTA nor a rollover. The
first term is the *swap interval* ``[last accepted reading, replaced_at)``; applying the swap
resets the state to the new device's initial register at ``replaced_at``, from which the next
reading's interval counts the second term. Readings are read in time order, so a replacement
applies when the meter's next reading is at or after ``replaced_at`` and the state's last
reading is before it. The state records the replacement applied: a replayed batch (its state
already past ``replaced_at``) never applies it twice. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from accounting.meter import MeterProfile, MeterState, RegisterKind
from accounting.reasons import Reason


@dataclass(frozen=True, slots=True)
class Replacement:
    replacement_id: int
    replaced_at_ms: int
    final_register: float  # old device
    initial_register: float  # new device
    multiplier_before: float
    multiplier_after: float


@dataclass(frozen=True, slots=True)
class Swap:
    """The outcome of applying one replacement to a meter's state."""

    replacement: Replacement
    # The old device's last interval, [interval_start_ms, replaced_at): None when the meter had
    # no accepted reading before the swap (nothing to count from).
    interval_start_ms: int | None
    quantity: float | None  # in the meter's unit, times multiplier_before
    flags: int  # REPLACEMENT (and ROLLOVER when the old register wrapped before it came out)
    state: MeterState  # the new device at its initial register, at replaced_at


def pending(state: MeterState, replacements: Iterable[Replacement]) -> list[Replacement]:
    """The replacements not yet applied to ``state``, in time order: those after its last
    accepted reading (all of them for a meter never read)."""
    last = state.last_ts_ms
    done = state.replacement_id
    return sorted(
        (
            r
            for r in replacements
            if (last is None or r.replaced_at_ms > last) and r.replacement_id != done
        ),
        key=lambda r: r.replaced_at_ms,
    )


def apply_swap(profile: MeterProfile, state: MeterState, r: Replacement) -> Swap:
    """Close the old device's last interval at ``r.replaced_at_ms`` and start the new one.

    A final register below the last reading is a wrap when the register rolls over; otherwise
    the record contradicts the readings and the interval counts 0 (never negative consumption).
    """
    after = MeterState(
        last_ts_ms=r.replaced_at_ms,
        last_value=r.initial_register,
        last_seq=state.last_seq,
        last_seen_value=r.initial_register,
        flat_run=0,
        reject_run=0,
        replacement_id=r.replacement_id,
    )
    if (
        state.last_ts_ms is None
        or state.last_value is None
        or profile.register is not RegisterKind.CUMULATIVE
        or state.last_ts_ms >= r.replaced_at_ms
    ):
        return Swap(r, None, None, int(Reason.REPLACEMENT), after)
    flags = int(Reason.REPLACEMENT)
    delta = r.final_register - state.last_value
    if delta < 0:
        if profile.rollover is not None:
            delta += profile.rollover
            flags |= int(Reason.ROLLOVER)
        else:
            delta = 0.0
    return Swap(r, state.last_ts_ms, delta * r.multiplier_before, flags, after)
