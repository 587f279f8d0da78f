"""Interval consumption from accepted readings, and its sums over fixed windows (clause 6.3.1).

The consumption between two accepted readings belongs to the interval they bound,
[previous ts, ts): the reading at 24:00 closes the 23:00-24:00 interval. A delta across a gap is
kept whole (its reading is flagged GAP); a duplicate never forms an interval. Windows are
half-open [start, start + width) aligned on ``origin_ms``; an interval that crosses window
boundaries is split in proportion to time and its windows flagged INTERPOLATED, so the window
sums always add up to the interval quantities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accounting.meter import HOUR_MS, MeterProfile, RegisterKind
from accounting.reasons import Reason
from accounting.validation import ValidationResult

_U = np.uint32


@dataclass(frozen=True, slots=True)
class Intervals:
    """Consumption per interval [start_ms, end_ms), with the flags of its closing reading.

    ``quantity`` is in the profile's unit times the multiplier (primary side); for an
    instantaneous meter it is that rate unit times hours (kW -> kWh).
    """

    start_ms: NDArray[np.int64]
    end_ms: NDArray[np.int64]
    quantity: NDArray[np.float64]
    flags: NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class Windows:
    """Quantity per window [start_ms, start_ms + width); only windows some interval touches."""

    start_ms: NDArray[np.int64]
    quantity: NDArray[np.float64]
    interpolated: NDArray[np.bool_]
    flags: NDArray[np.uint32]  # OR of the flags of the intervals in the window, and INTERPOLATED


def meter_intervals(profile: MeterProfile, result: ValidationResult) -> Intervals:
    """Intervals bounded by consecutive accepted readings, continuing from the previous state.

    Counters: register delta (a ROLLOVER-flagged step adds the rollover value) times the
    multiplier. Instantaneous meters: trapezoid rule, the mean of the two rates times the
    elapsed hours times the multiplier; exact for a linear ramp and symmetric in time, unlike a
    left rectangle that lags every load change by one interval.
    """
    at, av = result.accepted_ts_ms, result.accepted_values
    fl = result.accepted_reasons
    prev = result.previous
    if prev.last_ts_ms is None or prev.last_value is None:
        start, end = at[:-1], at[1:]
        v0, v1, flags = av[:-1], av[1:], fl[1:]
    else:
        start = np.concatenate(([prev.last_ts_ms], at[:-1]))
        v0 = np.concatenate(([prev.last_value], av[:-1]))
        end, v1, flags = at, av, fl
    if profile.register is RegisterKind.CUMULATIVE:
        quantity = counter_deltas(v0, v1, profile.rollover) * profile.multiplier
    else:
        hours = (end - start) / HOUR_MS
        quantity = (v0 + v1) * (0.5 * profile.multiplier) * hours
    return Intervals(start, end, quantity, flags)


def counter_deltas(
    v0: NDArray[np.float64], v1: NDArray[np.float64], rollover: float | None
) -> NDArray[np.float64]:
    """Register deltas, unwrapped once past ``rollover`` where the register went backwards.

    Only use on readings validation accepted: there a backward step is always a rollover.
    """
    delta = v1 - v0
    if rollover is not None:
        delta = np.where(delta < 0, delta + rollover, delta)
    return delta


def window_sums(
    start_ms: NDArray[np.int64],
    end_ms: NDArray[np.int64],
    quantity: NDArray[np.float64],
    width_ms: int,
    *,
    origin_ms: int = 0,
    flags: NDArray[np.uint32] | None = None,
) -> Windows:
    """Sum interval quantities into windows of ``width_ms``, splitting by time where they cross.

    Windows start at ``origin_ms + k * width_ms``; for local days in China (UTC+8) pass
    ``origin_ms=-8 * HOUR_MS``. Output windows are sorted by start; input order is free. An
    interval gives a head piece (its first window), a tail piece (its last window: the rest of
    its quantity, so the pieces add up) and one full-window piece per window in between.
    """
    if width_ms <= 0:
        raise ValueError("width_ms must be positive")
    s = np.asarray(start_ms, dtype=np.int64) - origin_ms
    e = np.asarray(end_ms, dtype=np.int64) - origin_ms
    q = np.asarray(quantity, dtype=np.float64)
    n = q.shape[0]
    fl = np.zeros(n, dtype=_U) if flags is None else np.asarray(flags, dtype=_U)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Windows(empty, np.zeros(0), np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=_U))
    w0 = s // width_ms
    # End-exclusive: an interval ending on a boundary stays in the window before it.
    w1 = np.maximum((e - 1) // width_ms, w0)
    split = w1 > w0
    if not split.any():
        return _aggregate([(w0, q, fl)], width_ms, origin_ms)

    duration = e - s
    head_end = np.minimum(e, (w0 + 1) * width_ms)
    head_share = np.divide(head_end - s, duration, out=np.ones(n), where=duration > 0)
    head = q * head_share
    fl = fl | np.where(split, _U(Reason.INTERPOLATED), _U(0))
    cut = np.flatnonzero(split)
    tail = q[cut] - head[cut]  # the rest, so that the pieces add up to the interval
    pieces = [(w0, head, fl), (w1[cut], tail, fl[cut])]
    inner = w1[cut] - w0[cut] - 1
    wide = inner > 0
    if wide.any():
        # Full windows strictly inside a wide interval, taken out of its tail.
        owner = np.repeat(cut[wide], inner[wide])
        count = inner[wide]
        offset = np.arange(owner.shape[0]) - np.repeat(np.cumsum(count) - count, count)
        inner_q = q[owner] * (width_ms / duration[owner])
        tail -= np.bincount(np.repeat(np.flatnonzero(wide), count), inner_q, cut.shape[0])
        pieces.append((w0[owner] + 1 + offset, inner_q, fl[owner]))
    return _aggregate(pieces, width_ms, origin_ms)


_Pieces = list[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.uint32]]]


def _aggregate(pieces: _Pieces, width_ms: int, origin_ms: int) -> Windows:
    """Sum (window index, quantity, flags) pieces per window with bincount, in any order."""
    lo = min(int(w.min()) for w, _, _ in pieces if w.size)
    hi = max(int(w.max()) for w, _, _ in pieces if w.size)
    total = sum(w.shape[0] for w, _, _ in pieces)
    if hi - lo > 4 * total + 1024:  # sparse over a long time span: index the used windows only
        keys = np.unique(np.concatenate([w for w, _, _ in pieces]))
        index = [np.searchsorted(keys, w) for w, _, _ in pieces]
        size = keys.shape[0]
    else:
        index = [w - lo for w, _, _ in pieces]
        size = hi - lo + 1
        keys = None
    used = np.zeros(size, dtype=np.bool_)
    sums = np.zeros(size)
    ors = np.zeros(size, dtype=_U)
    for i, (_, q, fl) in zip(index, pieces, strict=True):
        used[i] = True
        sums += np.bincount(i, weights=q, minlength=size)
        present = int(np.bitwise_or.reduce(fl)) if fl.size else 0
        for bit in Reason:
            if present & bit:
                has = np.bincount(i, weights=(fl & _U(bit)) != 0, minlength=size) > 0
                np.bitwise_or(ors, _U(bit), out=ors, where=has)
    if keys is None:
        keys = np.flatnonzero(used) + lo
        sums, ors = sums[used], ors[used]
    interpolated = (ors & _U(Reason.INTERPOLATED)) != 0
    return Windows(keys * width_ms + origin_ms, sums, interpolated, ors)


@dataclass(frozen=True, slots=True)
class KeyedWindows:
    """Figures of requested windows (one entry per requested window, in request order)."""

    quantity: NDArray[np.float64]  # sum of interval quantity x share of the interval inside
    present: NDArray[np.float64]  # sum of the shares: interval-weighted readings present
    flags: NDArray[np.uint32]  # OR of the flags of the intervals that overlap the window
    interpolated: NDArray[np.bool_]  # an interval crosses the window's boundary
    # The shortest interval overlapping the window (ms), 0 when none does: what
    # ``accounting.window_plan.WindowPlan.keep`` bounds the fine windows by.
    shortest_ms: NDArray[np.int64]


_GROUP_SHIFT = 40  # 2**40 ms is 34 years: group and time share one sortable int64 key


def keyed_window_sums(
    group: NDArray[np.int64],
    start_ms: NDArray[np.int64],
    end_ms: NDArray[np.int64],
    quantity: NDArray[np.float64],
    flags: NDArray[np.uint32],
    window_group: NDArray[np.int64],
    window_start_ms: NDArray[np.int64],
    window_end_ms: NDArray[np.int64],
) -> KeyedWindows:
    """Sums of intervals over given windows [start, end) of their group (e.g. their meter).

    The intervals must be sorted by (group, end) and, within a group, not overlap (a meter's
    intervals chain: each starts where the previous one ended). Each interval counts by its
    share of time inside the window, ``quantity * overlap / duration``, so a window's sum is
    exact however the interval is split; shares are in seconds, as the database computes them.
    Windows may be of any widths, overlap each other and repeat.
    """
    n_win = window_group.shape[0]
    quantity_sum = np.zeros(n_win)
    present = np.zeros(n_win)
    ors = np.zeros(n_win, dtype=_U)
    crossed = np.zeros(n_win, dtype=np.bool_)
    shortest = np.zeros(n_win, dtype=np.int64)
    if n_win == 0 or start_ms.shape[0] == 0:
        return KeyedWindows(quantity_sum, present, ors, crossed, shortest)
    origin = min(int(start_ms.min()), int(window_start_ms.min()))
    span = max(int(end_ms.max()), int(window_end_ms.max())) - origin
    groups = max(int(group.max()), int(window_group.max()))
    if span >= 1 << _GROUP_SHIFT or groups >= 1 << (62 - _GROUP_SHIFT):
        raise ValueError("times or groups out of range for one sort key")
    g = group.astype(np.int64) << _GROUP_SHIFT
    wg = window_group.astype(np.int64) << _GROUP_SHIFT
    # First interval ending after the window's start, and the end of those starting before
    # the window's end: the overlapping ones are [lo, hi) (none overlap within a group).
    lo = np.searchsorted(g + (end_ms - origin), wg + (window_start_ms - origin), side="right")
    hi = np.searchsorted(g + (start_ms - origin), wg + (window_end_ms - origin), side="left")
    # Windows that some interval overlaps, by first interval: the ranges are then reduced in
    # one left-to-right pass each (``_range_reduce``).
    some = np.flatnonzero(hi > lo)
    some = some[np.argsort(lo[some], kind="stable")]
    first, stop = lo[some], hi[some]
    last = stop - 1
    ws, we = window_start_ms[some], window_end_ms[some]
    # Only the first and the last overlapping interval can stick out of the window: every
    # one between them lies inside it whole and counts whole (share 1, its full quantity).
    duration_first = (end_ms[first] - start_ms[first]) / 1000.0
    overlap_first = (np.minimum(end_ms[first], we) - np.maximum(start_ms[first], ws)) / 1000.0
    duration_last = (end_ms[last] - start_ms[last]) / 1000.0
    overlap_last = (np.minimum(end_ms[last], we) - np.maximum(start_ms[last], ws)) / 1000.0
    two = last > first  # the last is another interval than the first
    inner = np.maximum(stop - first - 2, 0)
    quantity_sum[some] = (
        quantity[first] * overlap_first / duration_first
        + _range_reduce(np.add, quantity, first + 1, np.maximum(last, first + 1), 0.0)
        + np.where(two, quantity[last] * overlap_last / duration_last, 0.0)
    )
    present[some] = (
        overlap_first / duration_first + inner + np.where(two, overlap_last / duration_last, 0.0)
    )
    crossed[some] = (overlap_first < duration_first) | (two & (overlap_last < duration_last))
    ors[some] = _range_reduce(np.bitwise_or, flags.astype(_U), first, stop, 0)
    shortest[some] = _range_reduce(np.minimum, end_ms - start_ms, first, stop, 0)
    return KeyedWindows(quantity_sum, present, ors, crossed, shortest)


def _range_reduce(
    op: np.ufunc,
    values: NDArray[Any],
    starts: NDArray[np.intp],
    stops: NDArray[np.intp],
    empty: Any,
) -> NDArray[Any]:
    """``op`` over ``values[starts[i]:stops[i]]`` for each i (``empty`` where the range is
    empty). ``starts`` ascending: ``reduceat`` then walks ``values`` once, plus the ranges'
    overlaps."""
    if starts.shape[0] == 0:
        return values[:0]
    padded = np.append(values, values[:1])  # a stop may be len(values)
    at = np.empty(2 * starts.shape[0], dtype=np.intp)
    at[0::2] = starts
    at[1::2] = stops
    return np.where(stops > starts, op.reduceat(padded, at)[0::2], empty)
