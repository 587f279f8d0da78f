"""GB 17167-style validation of one meter's batch of readings (clauses 8.4 and 9.1 c).

Semantics are those of reading the batch one reading at a time, in arrival order: each reading
is checked against the last *accepted* reading (carried in :class:`MeterState`), so validating
batch A then batch B gives exactly the result of A+B. The work is vectorised: one optimistic
numpy pass assumes every reading is accepted; only after a rejection is a stretch re-checked
against the fixed last accepted reading, so the Python loop runs once per fault, not per reading.

Timestamps are int64 epoch milliseconds UTC (datetime64 arrays are converted); values are
float64 in the profile's unit. ``now_ms`` is injected: nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accounting.flags import accepted_flags
from accounting.meter import MeterProfile, MeterState, RegisterKind
from accounting.reasons import Reason
from accounting.sequential import quarantine_sequential

_U = np.uint32
_FMAX = float(np.finfo(np.float64).max)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Reasons for every reading, the accepted readings, and the state to carry forward.

    ``reasons[i]`` is the mask of input reading ``i``; the ``accepted_*`` arrays hold the
    accepted readings in order (time order: accepted timestamps strictly increase). ``previous``
    is the state the batch started from: its last accepted reading opens the first interval.
    The accepted arrays may share memory with the caller's inputs: treat them as read-only.
    """

    reasons: NDArray[np.uint32]
    accepted_index: NDArray[np.intp]
    accepted_ts_ms: NDArray[np.int64]
    accepted_values: NDArray[np.float64]  # after unit_scale
    previous: MeterState
    state: MeterState

    @property
    def accepted(self) -> NDArray[np.bool_]:
        mask = np.zeros(self.reasons.shape[0], dtype=np.bool_)
        mask[self.accepted_index] = True
        return mask

    @property
    def accepted_reasons(self) -> NDArray[np.uint32]:
        """Flag masks of the accepted readings (GAP, ROLLOVER ... carried into intervals)."""
        return self.reasons[self.accepted_index]


def as_epoch_ms(ts: ArrayLike) -> NDArray[np.int64]:
    """int64 epoch milliseconds from int64 milliseconds or any datetime64 array."""
    arr = np.asarray(ts)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ms]").astype(np.int64)
    return arr.astype(np.int64, copy=False)


def validate(
    profile: MeterProfile,
    state: MeterState,
    ts_ms: ArrayLike,
    values: ArrayLike,
    *,
    now_ms: int | NDArray[np.int64],
    units: str | Sequence[str] | NDArray[np.str_] | None = None,
    unit_scale: float = 1.0,
    seq: ArrayLike | None = None,
    history: bool | NDArray[np.bool_] = False,
) -> ValidationResult:
    """Validate one meter's batch; return per-reading reason masks and the next state.

    ``now_ms`` is one instant for the batch or one per reading (readings that arrived at
    different times, e.g. several messages of one meter validated together: validating A then
    B equals validating A+B with each reading's own ``now_ms``).
    ``units`` are the readings' unit labels (one for the batch or one each; None means the
    profile's unit); a label other than ``profile.unit`` is UNIT_MISMATCH. A batch in a unit of
    the same dimension (MWh for a kWh meter) is converted by the caller: pass the factor from
    ``accounting.units.conversion_factor`` as ``unit_scale`` (values are multiplied by it first)
    and the profile's unit. ``seq`` (per-source sequence numbers) marks an older reading as a
    replayed DUPLICATE rather than OUT_OF_ORDER. A reading carries every per-reading reason
    that applies (range, time, unit); only readings passing those are checked against the last
    accepted one.

    ``history`` (one flag for the batch or one per reading) marks readings imported as history
    (GB/T 32150 clause 6.3.1: an inventory covers whole years, a base year included): they are
    not bound by ``max_age_ms`` but by the meter's installation (BEFORE_INSTALLATION) and the
    park's inventory start (BEFORE_INVENTORY_START; both bits when both apply), and are judged
    by every other rule exactly like live ones.
    """
    ts = as_epoch_ms(ts_ms)
    v = np.asarray(values, dtype=np.float64)
    if unit_scale != 1.0:
        v = v * unit_scale
    if ts.ndim != 1 or v.shape != ts.shape:
        raise ValueError("ts_ms and values must be 1-D arrays of the same length")
    s = None if seq is None else np.asarray(seq, dtype=np.int64)
    if s is not None and s.shape != ts.shape:
        raise ValueError("seq must have one entry per reading")
    n = ts.shape[0]

    reasons = _per_reading_reasons(profile, ts, v, units, now_ms, history)
    cand: NDArray[np.intp] | None = None
    ct, cv, cs = ts, v, s
    if reasons is not None:
        cand = np.flatnonzero(reasons == 0)
        ct, cv = ts[cand], v[cand]
        cs = None if s is None else s[cand]
    cbits = quarantine_sequential(profile, state, ct, cv, cs)

    if cbits is None:  # every candidate accepted: no index arrays to build
        acc_local = None
        at, av = ct, cv
        acc_index = np.arange(n) if cand is None else cand
    else:
        acc_local = np.flatnonzero(cbits == 0)
        at, av = ct[acc_local], cv[acc_local]
        acc_index = acc_local if cand is None else cand[acc_local]

    flags, flat_run = accepted_flags(profile, state, at, av)
    if reasons is None:
        reasons = np.zeros(n, dtype=_U)
    if cbits is not None:
        if cand is None:
            reasons |= cbits
        else:
            reasons[cand] |= cbits
    if acc_local is None and cand is None:
        reasons |= flags
    else:
        reasons[acc_index] |= flags

    new_state = _next_state(state, n, acc_index, at, av, cv, cs, acc_local, flat_run)
    return ValidationResult(reasons, acc_index, at, av, state, new_state)


def _per_reading_reasons(
    profile: MeterProfile,
    ts: NDArray[np.int64],
    v: NDArray[np.float64],
    units: str | Sequence[str] | NDArray[np.str_] | None,
    now_ms: int | NDArray[np.int64],
    history: bool | NDArray[np.bool_] = False,
) -> NDArray[np.uint32] | None:
    """Quarantine bits that need no other reading; None when every reading passes them."""
    # Clamped to the finite floats so that an infinite value fails even an open range.
    lo = max(profile.range_min, -_FMAX)
    hi = min(profile.range_max, _FMAX)
    if profile.register is RegisterKind.CUMULATIVE:
        lo = max(lo, 0.0)  # an energy counter never reads below zero
        if profile.rollover is not None:
            hi = min(hi, np.nextafter(profile.rollover, -np.inf))  # it shows 0 at rollover
    future = now_ms + profile.future_tolerance_ms
    # Live readings must be recent (a stale one would land in a period already reported);
    # history is bounded by the meter's installation instead.
    too_old = ts < now_ms - profile.max_age_ms
    before_installation: NDArray[np.bool_] | None = None
    before_inventory: NDArray[np.bool_] | None = None
    if history is not False:
        if profile.installed_ms is not None:
            before_installation = (ts < profile.installed_ms) & history
        if profile.inventory_start_ms is not None:
            before_inventory = (ts < profile.inventory_start_ms) & history
        too_old &= ~np.asarray(history, dtype=np.bool_)
    # NaN fails both comparisons, so it lands in OUT_OF_RANGE too
    in_range = (v >= lo) & (v <= hi)
    ok = in_range & (ts <= future) & ~too_old
    if before_installation is not None:
        ok &= ~before_installation
    if before_inventory is not None:
        ok &= ~before_inventory
    mismatch: NDArray[np.bool_] | None = None
    if units is not None:
        if isinstance(units, str):
            if units != profile.unit:
                mismatch = np.ones(ts.shape[0], dtype=np.bool_)
        else:
            mismatch = np.asarray(units) != profile.unit
        if mismatch is not None:
            if mismatch.shape != ts.shape:
                raise ValueError("units must be one label or one per reading")
            ok &= ~mismatch
    if ok.all():
        return None
    reasons = np.zeros(ts.shape[0], dtype=_U)
    for bit, bad in (
        (Reason.OUT_OF_RANGE, ~in_range),
        (Reason.FUTURE_TIMESTAMP, ts > future),
        (Reason.TOO_OLD, too_old),
        (Reason.BEFORE_INSTALLATION, before_installation),
        (Reason.BEFORE_INVENTORY_START, before_inventory),
        (Reason.UNIT_MISMATCH, mismatch),
    ):
        if bad is not None:
            np.bitwise_or(reasons, _U(bit), out=reasons, where=bad)
    return reasons


def _next_state(
    state: MeterState,
    n: int,
    acc_index: NDArray[np.intp],
    at: NDArray[np.int64],
    av: NDArray[np.float64],
    cv: NDArray[np.float64],
    cs: NDArray[np.int64] | None,
    acc_local: NDArray[np.intp] | None,
    flat_run: int,
) -> MeterState:
    """The state after the batch: its last accepted reading, or the old one if none."""
    last_seen = float(cv[-1]) if cv.shape[0] else state.last_seen_value
    if at.shape[0] == 0:
        return MeterState(
            last_ts_ms=state.last_ts_ms,
            last_value=state.last_value,
            last_seq=state.last_seq,
            last_seen_value=last_seen,
            flat_run=state.flat_run,
            reject_run=state.reject_run + n,
            replacement_id=state.replacement_id,
        )
    last_seq = state.last_seq
    if cs is not None:
        last_seq = int(cs[-1] if acc_local is None else cs[acc_local[-1]])
    return MeterState(
        last_ts_ms=int(at[-1]),
        last_value=float(av[-1]),
        last_seq=last_seq,
        last_seen_value=last_seen,
        flat_run=flat_run,
        reject_run=n - 1 - int(acc_index[-1]),
        replacement_id=state.replacement_id,
    )
