"""Which CO2e windows are materialised (GB/T 32150 clause 6.3.1 sums, GB 17167 metering).

Every 15-minute and hour window an interval touches is computed and stored, however old or long
the interval: the hour windows are what the daily and monthly rollups (``emission_day``,
``emission_month``) and so every inventory figure are built from, and an interval is shared
among them in proportion to time, so their sums are exact.

The *fine* widths (1 and 5 minutes) exist for the live page and the rolling hour: they are
materialised only where they say something, under two bounds:

- **the fine horizon**: a fine window whose end lies more than ``fine_horizon_ms`` before now
  is not materialised. History imports (``parkcarbon backfill``, ``mode=history``) reach years
  back; a year of 15-minute readings would otherwise make 15 minute windows and 3 five-minute
  ones per reading, 18 times the hour and 15-minute windows together.
- **the fine interval bound**: a fine window that only intervals longer than
  ``fine_max_interval_ms`` overlap is not materialised. The interval between a reading nine
  months ago and one now is spread evenly over its time; 375,000 minute windows of an even
  share describe nothing a minute window is for.

A fine window that a short interval overlaps is computed from every interval overlapping it
(a long one included, by its share), so a materialised window is always exact; the rule only
decides which ones exist. 1-minute buckets of the API therefore cover the fine horizon only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from accounting.meter import HOUR_MS

DAY_MS = 24 * HOUR_MS
# Live minute, 5-minute panes of the rolling hour, 15 minutes, hour.
WIDTHS_S = (60, 300, 900, 3600)
# Widths below this are fine: only the 15-minute and hour windows are kept at any age.
FINE_BELOW_S = 900
# Defaults of the worker settings ``fine_windows_horizon_s`` / ``fine_windows_max_interval_s``.
DEFAULT_FINE_HORIZON_MS = 7 * DAY_MS
DEFAULT_FINE_MAX_INTERVAL_MS = 6 * HOUR_MS


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """The widths computed and the two bounds on the fine ones (see the module docstring)."""

    widths_s: tuple[int, ...] = WIDTHS_S
    fine_horizon_ms: int = DEFAULT_FINE_HORIZON_MS
    fine_max_interval_ms: int = DEFAULT_FINE_MAX_INTERVAL_MS

    def __post_init__(self) -> None:
        if any(w <= 0 for w in self.widths_s):
            raise ValueError("window widths must be positive")
        if self.fine_horizon_ms <= 0 or self.fine_max_interval_ms <= 0:
            raise ValueError("the fine-window bounds must be positive")

    @staticmethod
    def is_fine(width_s: int) -> bool:
        return width_s < FINE_BELOW_S

    def starts(self, width_s: int, start_ms: int, end_ms: int, now_ms: int) -> range:
        """Starts of the ``width_s`` windows a stretch of intervals [start_ms, end_ms) touches
        and that are materialised at ``now_ms`` (a fine window only if it ends after
        ``now_ms - fine_horizon_ms``). Windows are aligned on the epoch (UTC)."""
        width = width_s * 1000
        lo = start_ms
        if self.is_fine(width_s):
            lo = max(lo, now_ms - self.fine_horizon_ms)
        first = lo - lo % width  # the window holding ``lo`` ends after it
        if first >= end_ms:
            return range(0)
        return range(first, end_ms, width)

    def keep(self, width_s: NDArray[np.int64], shortest_ms: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Which computed windows are stored: all but the fine ones whose overlapping intervals
        are all longer than ``fine_max_interval_ms`` (``shortest_ms``: the shortest interval
        overlapping each window, 0 when none does: nothing is left out for a window without)."""
        fine = width_s < FINE_BELOW_S
        return ~fine | (shortest_ms <= self.fine_max_interval_ms)
