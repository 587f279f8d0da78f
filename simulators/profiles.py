"""Load profiles of a Chinese industrial park's meters, and a clock that can run faster.

``load_factor`` is a dimensionless multiplier of a meter's mean rate for a moment in simulated
time: two production shifts (08:00-12:00 and 13:00-17:30, lunch dip) on a base load, an evening
shift at some plants, a lighter Saturday and a near-idle Sunday. Each carrier has its own shape:
process steam and gas follow the shifts with slow ramps, water follows them loosely, production
counters stop at night, electricity never drops below its base (ventilation, lighting, IT).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

CST_OFFSET_S = 8 * 3600  # the park runs on China Standard Time (UTC+8)


class Carrier(StrEnum):
    ELECTRICITY = "electricity"
    GAS = "gas"
    STEAM = "steam"
    WATER = "water"
    PRODUCTION = "production"


# base load (share of mean), shift weight, weekend weight and ramp width in hours, per carrier
_SHAPE: dict[Carrier, tuple[float, float, float, float]] = {
    Carrier.ELECTRICITY: (0.35, 1.0, 0.45, 0.5),
    Carrier.GAS: (0.15, 1.0, 0.30, 1.5),
    Carrier.STEAM: (0.20, 1.0, 0.25, 2.0),
    Carrier.WATER: (0.10, 1.0, 0.40, 0.5),
    Carrier.PRODUCTION: (0.0, 1.0, 0.20, 0.25),
}
_SHIFTS = ((8.0, 12.0), (13.0, 17.5), (18.5, 22.0))
_SHIFT_WEIGHT = (1.0, 1.0, 0.6)


def _plateau(hour: float, start: float, end: float, ramp: float) -> float:
    """1 inside [start, end], 0 outside, with logistic ramps ``ramp`` hours wide."""
    k = 4.0 / ramp
    return 1.0 / (1.0 + math.exp(-k * (hour - start))) - 1.0 / (1.0 + math.exp(-k * (hour - end)))


def load_factor(t_s: float, carrier: Carrier) -> float:
    """Multiplier of the mean rate at UTC epoch second ``t_s``; averages near 1 over a week."""
    base, weight, weekend, ramp = _SHAPE[carrier]
    local = t_s + CST_OFFSET_S
    hour = (local % 86_400) / 3600.0
    weekday = int(local // 86_400 + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    shifts = sum(
        w * _plateau(hour, a, b, ramp) for (a, b), w in zip(_SHIFTS, _SHIFT_WEIGHT, strict=True)
    )
    day = {5: 0.6, 6: weekend}.get(weekday, 1.0)
    # Normalised so the weekly mean is about 1: shifts cover ~10.6 weighted hours a day.
    return (base + weight * day * shifts) / (base + weight * 10.6 / 24 * (5 + 0.6 + weekend) / 7)


def load_curve(t_s: NDArray[np.float64], carrier: Carrier) -> NDArray[np.float64]:
    """``load_factor`` over an array of epoch seconds (plots, tests, bulk generation)."""
    return np.fromiter(
        (load_factor(float(t), carrier) for t in t_s), dtype=np.float64, count=len(t_s)
    )


@dataclass
class SimClock:
    """Simulated UTC seconds: starts at ``start`` and runs ``accelerate`` times real time."""

    accelerate: float = 1.0
    start: float = field(default_factory=time.time)
    _t0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return self.start + (time.monotonic() - self._t0) * self.accelerate
