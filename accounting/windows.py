"""A meter's window: its key, the activity and coverage summed from its readings, and its result.

Plain values shared by the worker, ``parkcarbon recompute``, the store and the wire contract
(``contracts.windows``). A window is identified by (meter, width, start) (ARCHITECTURE.md,
idempotency); its activity is the sum, over the intervals that overlap it, of each interval's
quantity times the share of the interval inside the window (clause 6.3.1 activity data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WindowKey:
    meter_id: str
    width_s: int
    window_start: datetime


@dataclass(frozen=True, slots=True)
class WindowSums:
    key: WindowKey
    quantity: float  # the meter's unit times its multiplier
    readings_present: float  # each interval counts by the share of it inside the window
    flags: int
    interpolated: bool


@dataclass(frozen=True, slots=True)
class WindowResult:
    key: WindowKey
    window_end: datetime
    enterprise_id: str
    source_category: str
    iso_category: str | None
    activity: float
    activity_unit: str
    gases: dict[str, float]
    tco2e: float
    gwp_set: str | None
    factor_versions: tuple[str, ...]
    readings_present: float
    readings_expected: float
    completeness: float
    flags: int
    interpolated: bool
