"""Shared builders for the meter validation and interval tests, and a reading-by-reading oracle."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accounting.carriers import Carrier
from accounting.meter import DAY_MS, HOUR_MS, MeterProfile, MeterState, RegisterKind
from accounting.metering import MeteringLevel
from accounting.reasons import Reason

QUARTER_MS = 15 * 60 * 1000
T0 = (1_700_000_000_000 // DAY_MS) * DAY_MS  # a UTC midnight, 2023-11-14


def counter(**overrides: Any) -> MeterProfile:
    """A 15-minute kWh counter at the unit's incoming level that meets GB 17167 class I."""
    base = MeterProfile(
        meter_id="m-1",
        carrier=Carrier.ELECTRICITY,
        unit="kWh",
        register=RegisterKind.CUMULATIVE,
        expected_interval_ms=QUARTER_MS,
        accuracy_class="0.5S",
        metering_level=MeteringLevel.UNIT,
        accuracy_category="user_class_I",
        max_rate_per_h=1_000.0,
        max_age_ms=400 * DAY_MS,
    )
    return replace(base, **overrides)


def power_meter(**overrides: Any) -> MeterProfile:
    """A 15-minute instantaneous kW meter."""
    base = counter(
        unit="kW",
        register=RegisterKind.INSTANTANEOUS,
        max_rate_per_h=None,
        max_step=100.0,
        range_min=0.0,
        range_max=10_000.0,
    )
    return replace(base, **overrides)


def quarters(n: int, start: int = T0) -> NDArray[np.int64]:
    return start + np.arange(n, dtype=np.int64) * QUARTER_MS


def reference_scan(
    profile: MeterProfile,
    state: MeterState,
    ts: NDArray[np.int64],
    values: NDArray[np.float64],
    now_ms: int,
    seq: NDArray[np.int64] | None = None,
) -> list[int]:
    """Quarantine bits of each reading by the plain one-at-a-time reading of the rules."""
    ref_t, ref_v, ref_s = state.last_ts_ms, state.last_value, state.last_seq
    prev_seen = state.last_seen_value
    lo, hi = profile.range_min, profile.range_max
    cumulative = profile.register is RegisterKind.CUMULATIVE
    if cumulative:
        lo = max(lo, 0.0)
    out: list[int] = []
    for i in range(len(ts)):
        t, v = int(ts[i]), float(values[i])
        s = None if seq is None else int(seq[i])
        bits = 0
        if (
            not math.isfinite(v)
            or not lo <= v <= hi
            or (profile.rollover is not None and v >= profile.rollover)
        ):
            bits |= Reason.OUT_OF_RANGE
        if t > now_ms + profile.future_tolerance_ms:
            bits |= Reason.FUTURE_TIMESTAMP
        if t < now_ms - profile.max_age_ms:
            bits |= Reason.TOO_OLD
        if bits:
            out.append(bits)
            continue
        if ref_t is not None and ref_v is not None:
            if t <= ref_t:
                replay = s is not None and ref_s is not None and s <= ref_s
                bits |= Reason.DUPLICATE_TIMESTAMP if t == ref_t or replay else Reason.OUT_OF_ORDER
            elif cumulative:
                delta = v - ref_v
                rate = profile.max_rate_per_h
                too_fast = False
                # The same multiplied-out comparison as the code, so float boundaries agree.
                dt = t - ref_t
                if delta < 0:
                    r = profile.rollover
                    if r is not None and delta + r < 0.5 * r:
                        delta += r
                        if rate:
                            too_fast = delta * (profile.multiplier * HOUR_MS) > rate * dt
                        if too_fast:
                            bits |= Reason.NEGATIVE_DELTA
                    else:
                        bits |= Reason.NEGATIVE_DELTA
                elif rate and delta * (profile.multiplier * HOUR_MS) > rate * dt:
                    bits |= Reason.SPIKE
            elif profile.max_step:
                seen = ref_v if prev_seen is None else prev_seen
                if abs(v - ref_v) > profile.max_step and abs(v - seen) > profile.max_step:
                    bits |= Reason.SPIKE
        prev_seen = v
        if not bits:
            ref_t, ref_v = t, v
            if s is not None:
                ref_s = s
        out.append(int(bits))
    return out
