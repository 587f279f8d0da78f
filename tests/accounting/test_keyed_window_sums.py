"""``keyed_window_sums`` against the plain definition: every (window, interval) pair that
overlaps contributes ``quantity x overlap / duration`` (clause 6.3.1, a delta spanning windows is
split in proportion to time). The function itself sums the whole intervals inside a window
without forming the pairs; on random meters and windows both must agree."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from accounting.intervals import keyed_window_sums

MIN = 60_000


def _pairwise(
    group: NDArray[np.int64],
    start: NDArray[np.int64],
    end: NDArray[np.int64],
    quantity: NDArray[np.float64],
    flags: NDArray[np.uint32],
    window_group: NDArray[np.int64],
    window_start: NDArray[np.int64],
    window_end: NDArray[np.int64],
) -> tuple[list[float], list[float], list[int], list[bool], list[int]]:
    """Window by window, interval by interval: the definition, slowly."""
    sums, present, ors, crossed, shortest = [], [], [], [], []
    for wg, ws, we in zip(window_group, window_start, window_end, strict=True):
        q = p = 0.0
        f, x, low = 0, False, 0
        for ig, s, e, qq, ff in zip(group, start, end, quantity, flags, strict=True):
            if ig != wg or e <= ws or s >= we:
                continue
            overlap = (min(e, we) - max(s, ws)) / 1000.0
            duration = (e - s) / 1000.0
            q += qq * overlap / duration
            p += overlap / duration
            f |= int(ff)
            x = x or overlap < duration
            low = int(e - s) if low == 0 else min(low, int(e - s))
        sums.append(q)
        present.append(p)
        ors.append(f)
        crossed.append(x)
        shortest.append(low)
    return sums, present, ors, crossed, shortest


@pytest.mark.parametrize("seed", range(6))
def test_sums_equal_the_pairwise_definition_on_random_meters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups, starts, ends = [], [], []
    for meter in range(5):
        t = 1_764_000_000_000 + int(rng.integers(0, 10 * MIN))
        for _ in range(int(rng.integers(0, 40))):
            if rng.random() < 0.1:
                t += int(rng.integers(1, 90)) * MIN  # a gap: no interval covers it
            length = int(rng.choice([7_001, 15_000, MIN, 4 * MIN, 47 * MIN, 3 * 60 * MIN]))
            groups.append(meter)
            starts.append(t)
            ends.append(t + length)
            t += length
    group = np.array(groups, dtype=np.int64)
    start = np.array(starts, dtype=np.int64)
    end = np.array(ends, dtype=np.int64)
    quantity = rng.random(group.shape[0]) * 100
    flags = np.where(rng.random(group.shape[0]) < 0.2, 1 << rng.integers(0, 20, group.shape[0]), 0)
    flags = flags.astype(np.uint32)
    # Windows of every width, repeated, out of order, on meters with and without intervals.
    window_group, window_start, window_end = [], [], []
    for _ in range(300):
        width = int(rng.choice([60, 300, 900, 3600])) * 1000
        at = 1_764_000_000_000 + int(rng.integers(-2, 20 * 60)) * MIN
        window_group.append(int(rng.integers(0, 6)))
        window_start.append(at - at % width)
        window_end.append(at - at % width + width)
    args = (
        group,
        start,
        end,
        quantity,
        flags,
        np.array(window_group, dtype=np.int64),
        np.array(window_start, dtype=np.int64),
        np.array(window_end, dtype=np.int64),
    )
    got = keyed_window_sums(*args)
    sums, present, ors, crossed, shortest = _pairwise(*args)
    assert got.quantity.tolist() == pytest.approx(sums, rel=1e-12, abs=1e-12)
    assert got.present.tolist() == pytest.approx(present, rel=1e-12, abs=1e-12)
    assert got.flags.tolist() == ors
    assert got.interpolated.tolist() == crossed
    assert got.shortest_ms.tolist() == shortest
    assert sum(1 for s in sums if s > 0) > 50  # the windows do overlap intervals
