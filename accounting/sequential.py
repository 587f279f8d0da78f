"""The checks of a reading against the last accepted one, vectorised (clause 8.4).

Duplicates, out-of-order readings, backward registers, rollovers and spikes depend on which
earlier reading was accepted, which makes them sequential. They are computed in one numpy pass
that assumes the previous reading was accepted, which holds up to the first rejection; from
there a stretch is re-checked against the fixed last accepted reading until one passes (found
by galloping over growing chunks), and the optimistic results hold again after it. The Python
loop thus runs once per fault episode; the result equals a reading-by-reading scan.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from accounting.meter import HOUR_MS, MeterProfile, MeterState, RegisterKind
from accounting.reasons import Reason

_U = np.uint32
_FIRST_CHUNK = 8  # most faults are single readings: the next one usually passes


def quarantine_sequential(
    profile: MeterProfile,
    state: MeterState,
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    s: NDArray[np.int64] | None,
) -> NDArray[np.uint32] | None:
    """Quarantine bits of readings that passed the per-reading checks; None if all pass."""
    m = t.shape[0]
    if m == 0:
        return None
    if state.last_ts_ms is None or state.last_value is None:
        # A meter's first reading has nothing to be checked against.
        bits = np.zeros(m, dtype=_U)
        if m > 1:
            s_cur = None if s is None else s[1:]
            s_ref = None if s is None else s[:-1]
            bits[1:] = _check(profile, t[1:], v[1:], s_cur, t[:-1], v[:-1], s_ref, v[:-1])
    else:
        ref_t = np.concatenate(([state.last_ts_ms], t[:-1]))
        ref_v = np.concatenate(([state.last_value], v[:-1]))
        prev_v = ref_v
        if profile.register is RegisterKind.INSTANTANEOUS:
            prev_v = ref_v.copy()
            prev_v[0] = state.last_value if state.last_seen_value is None else state.last_seen_value
        ref_s = None
        if s is not None:
            last_seq = -(2**62) if state.last_seq is None else state.last_seq
            ref_s = np.concatenate(([last_seq], s[:-1]))
        bits = _check(profile, t, v, s, ref_t, ref_v, ref_s, prev_v)

    fails = np.flatnonzero(bits)
    if fails.size == 0:
        return None
    _resolve_episodes(profile, state, t, v, s, bits, fails)
    return bits


def _resolve_episodes(
    profile: MeterProfile,
    state: MeterState,
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    s: NDArray[np.int64] | None,
    bits: NDArray[np.uint32],
    fails: NDArray[np.intp],
) -> None:
    """Correct ``bits`` in place after each rejection, as a reading-by-reading scan would."""
    m = t.shape[0]
    done = 0  # readings before this index are final
    k = 0
    while True:
        while k < fails.size and fails[k] < done:
            k += 1
        if k == fails.size:
            return
        f = int(fails[k])
        # Readings done..f-1 passed against an accepted predecessor, so f's bits are right and
        # the last accepted reading is f-1 (or the state's, for the batch's first reading).
        if f > 0:
            ref_t, ref_v = int(t[f - 1]), float(v[f - 1])
            ref_s = None if s is None else int(s[f - 1])
        else:
            assert state.last_ts_ms is not None and state.last_value is not None
            ref_t, ref_v, ref_s = state.last_ts_ms, state.last_value, state.last_seq
            if s is not None and ref_s is None:
                ref_s = -(2**62)
        start, chunk = f + 1, _FIRST_CHUNK
        while start < m:
            end = min(m, start + chunk)
            b = _check(
                profile,
                t[start:end],
                v[start:end],
                None if s is None else s[start:end],
                ref_t,
                ref_v,
                ref_s,
                v[start - 1 : end - 1],
            )
            passing = np.flatnonzero(b == 0)
            if passing.size:
                # The first passing reading is accepted; past it the optimistic bits hold again.
                first = int(passing[0])
                bits[start : start + first + 1] = b[: first + 1]
                start += first
                break
            bits[start:end] = b
            start, chunk = end, chunk * 4
        done = start + 1


def _check(
    profile: MeterProfile,
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    s: NDArray[np.int64] | None,
    ref_t: NDArray[np.int64] | int,
    ref_v: NDArray[np.float64] | float,
    ref_s: NDArray[np.int64] | int | None,
    prev_v: NDArray[np.float64],
) -> NDArray[np.uint32]:
    """Quarantine bits of readings ``t, v`` against reference readings (arrays or scalars).

    ``ref_*`` is the last accepted reading; ``prev_v`` the value read just before (accepted or
    not), which confirms a step of an instantaneous meter.
    """
    bits = np.zeros(t.shape[0], dtype=_U)
    dt = t - ref_t
    late = dt <= 0
    any_late = bool(late.any())
    if any_late:
        dup = dt == 0
        if s is not None and ref_s is not None:
            dup |= late & (s <= ref_s)  # a replayed message, not a late reading
        np.bitwise_or(bits, _U(Reason.DUPLICATE_TIMESTAMP), out=bits, where=dup)
        np.bitwise_or(bits, _U(Reason.OUT_OF_ORDER), out=bits, where=late & ~dup)

    if profile.register is RegisterKind.CUMULATIVE:
        bad_neg, spike = _counter_faults(profile, dt, v - ref_v)
    else:
        spike = None
        bad_neg = None
        if profile.max_step:
            step = profile.max_step
            # A step confirmed by the reading before it is a change of load, not a spike.
            spike = (np.abs(v - ref_v) > step) & (np.abs(v - prev_v) > step)
    on_time = ~late if any_late else True
    if bad_neg is not None:
        np.bitwise_or(bits, _U(Reason.NEGATIVE_DELTA), out=bits, where=bad_neg & on_time)
    if spike is not None:
        np.bitwise_or(bits, _U(Reason.SPIKE), out=bits, where=spike & on_time)
    return bits


def _counter_faults(
    profile: MeterProfile, dt: NDArray[np.int64], raw: NDArray[np.float64]
) -> tuple[NDArray[np.bool_] | None, NDArray[np.bool_] | None]:
    """(backward, spike) masks of register deltas ``raw`` over ``dt`` ms, or None when clean.

    A backward step is a ROLLOVER when the register has a rollover value, the wrapped delta is
    under half the register span (the unwrap rule: a wrap is a short step past the top) and the
    wrapped rate is plausible. Otherwise it is NEGATIVE_DELTA, never a spike: a spike is a rise.
    """
    neg = raw < 0
    any_neg = bool(neg.any())
    rate = profile.max_rate_per_h
    if not any_neg and not rate:
        return None, None
    delta = raw
    wrap: NDArray[np.bool_] | None = None
    rollover = profile.rollover
    if any_neg and rollover is not None:
        wrapped = raw + rollover
        wrap = neg & (wrapped < 0.5 * rollover)
        delta = np.where(wrap, wrapped, raw)
    bad_neg = (neg & ~wrap if wrap is not None else neg) if any_neg else None
    spike = None
    if rate:
        # delta*multiplier per hour above the rate; multiplied out to avoid dividing by dt
        too_fast = delta * (profile.multiplier * HOUR_MS) > rate * dt
        spike = too_fast & ~neg if any_neg else too_fast
        if wrap is not None and bad_neg is not None:
            bad_neg |= wrap & too_fast
    return bad_neg, spike
