"""Quality flags of accepted readings: counted, but marked (clauses 8.4, 9.1 b and 9.1 c).

ROLLOVER, GAP, STALE (flatline), CALIBRATION_OVERDUE and ACCURACY_CLASS_INSUFFICIENT lower a
reading's quality without making it wrong: rejecting it would turn a known-imperfect value into
missing data, which is worse for the inventory. The flags feed alerts and completeness figures.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from accounting.meter import MeterProfile, MeterState
from accounting.metering import accuracy_sufficient
from accounting.reasons import Reason

_U = np.uint32


def accepted_flags(
    profile: MeterProfile, state: MeterState, at: NDArray[np.int64], av: NDArray[np.float64]
) -> tuple[NDArray[np.uint32], int]:
    """Flags of the accepted readings ``at, av``, and the flat run the batch ends with.

    ``at`` strictly increases (validation guarantees it); ``state`` is the state before them.
    """
    k = at.shape[0]
    flags = np.zeros(k, dtype=_U)
    if k == 0:
        return flags, state.flat_run
    # The previous accepted reading of each; a meter's very first reading is its own previous,
    # which gives it no gap, no rollover and a flat run of one.
    pt = np.empty_like(at)
    pv = np.empty_like(av)
    pt[1:], pv[1:] = at[:-1], av[:-1]
    first_ts = state.last_ts_ms
    first_value = state.last_value
    pt[0] = at[0] if first_ts is None else first_ts
    pv[0] = av[0] if first_value is None else first_value

    if profile.rollover is not None:
        np.bitwise_or(flags, _U(Reason.ROLLOVER), out=flags, where=av < pv)
    gap_ms = profile.gap_factor * profile.expected_interval_ms
    np.bitwise_or(flags, _U(Reason.GAP), out=flags, where=(at - pt) > gap_ms)
    if profile.calibration_due_ms is not None:
        due = profile.calibration_due_ms
        np.bitwise_or(flags, _U(Reason.CALIBRATION_OVERDUE), out=flags, where=at > due)
    if not accuracy_sufficient(
        profile.accuracy_class,
        profile.carrier,
        profile.metering_level,
        profile.accuracy_category,
    ):
        flags |= _U(Reason.ACCURACY_CLASS_INSUFFICIENT)

    changed = av != pv
    changed[0] = changed[0] or first_ts is None
    breaks = np.flatnonzero(changed)
    flat_run = k - int(breaks[-1]) if breaks.size else k + state.flat_run
    if profile.flatline_count > 0:
        idx = np.arange(k)
        last_break = np.maximum.accumulate(np.where(changed, idx, -1))
        run = np.where(last_break >= 0, idx - last_break + 1, idx + 1 + state.flat_run)
        stale = run >= profile.flatline_count
        np.bitwise_or(flags, _U(Reason.STALE), out=flags, where=stale)
    return flags, flat_run
