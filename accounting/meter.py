"""A meter's registry profile and the small state its validation carries between batches.

The profile is what the meter registry holds (ARCHITECTURE "Contracts"; clause 9.1 c): carrier,
unit, register kind, multiplier, rollover, accuracy class, calibration due date and the
plausibility limits of clause 8.4. Times are int64 epoch milliseconds, UTC, throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from accounting.carriers import Carrier
from accounting.metering import MeteringLevel, parse_accuracy_class

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


class RegisterKind(StrEnum):
    """Cumulative registers count energy (kWh, m3); instantaneous ones read a rate (kW, m3/h)."""

    CUMULATIVE = "cumulative"
    INSTANTANEOUS = "instantaneous"


@dataclass(frozen=True, slots=True)
class MeterProfile:
    """Everything validation needs to know about one meter, in the registry's unit.

    ``range_min``/``range_max`` bound the reading itself (the register value of a counter, the
    rate of an instantaneous meter); a counter is also bounded by 0 and its rollover value.
    ``max_rate_per_h`` is the spike limit of a counter: the most consumption per hour, after
    the multiplier, the metered plant can draw. ``max_step`` is the spike limit of an
    instantaneous meter: the largest jump between two readings that is not confirmed by the
    next one. ``None`` or 0 switches a limit off.
    """

    meter_id: str
    carrier: Carrier
    unit: str
    register: RegisterKind
    expected_interval_ms: int
    accuracy_class: str
    metering_level: MeteringLevel
    calibration_due_ms: int | None = None
    accuracy_category: str | None = None  # GB 17167 table 3 row, e.g. "user_class_I"
    multiplier: float = 1.0  # CT ratio x PT ratio: register units -> primary units
    rollover: float | None = None  # the register reads 0 again when it reaches this value
    range_min: float = -math.inf
    range_max: float = math.inf
    max_rate_per_h: float | None = None
    max_step: float | None = None
    flatline_count: int = 0  # readings with one repeated value that make it STALE; 0 = off
    gap_factor: float = 1.5  # a reading this many expected intervals after the last is a GAP
    # A month: longer than a gateway's store-and-forward buffer is meant to hold, and a monthly
    # accounting period may already be reported (clause 6.3.1).
    max_age_ms: int = 31 * DAY_MS
    future_tolerance_ms: int = 60_000  # clock skew allowed between gateway and worker
    # The registry's installed_at: the earliest time a *history* reading may carry (an import
    # of history is not bound by ``max_age_ms``, only by the meter's life). None: no bound.
    installed_ms: int | None = None
    # The park's inventory start (local midnight of ``park.inventory_start``): history before it
    # is outside the inventory (BEFORE_INVENTORY_START). None: no bound. Live readings ignore it.
    inventory_start_ms: int | None = None

    def __post_init__(self) -> None:
        parse_accuracy_class(self.accuracy_class)
        if self.expected_interval_ms <= 0:
            raise ValueError("expected_interval_ms must be positive")
        if not (self.multiplier > 0 and math.isfinite(self.multiplier)):
            raise ValueError("multiplier must be positive and finite")
        if self.rollover is not None and not self.rollover > 0:
            raise ValueError("rollover must be positive")
        if self.rollover is not None and self.register is not RegisterKind.CUMULATIVE:
            raise ValueError("only cumulative registers roll over")
        if not self.range_min <= self.range_max:
            raise ValueError("range_min must not exceed range_max")
        if self.flatline_count < 0 or self.gap_factor <= 0 or self.max_age_ms <= 0:
            raise ValueError("flatline_count, gap_factor and max_age_ms must be positive")


@dataclass(frozen=True, slots=True)
class MeterState:
    """What validation remembers of a meter between batches, so A then B equals A+B.

    ``last_*`` describe the last accepted reading (the start of the next interval);
    ``last_seen_value`` the last reading that passed the per-reading checks (it confirms or
    refutes an instantaneous step); ``flat_run`` counts accepted readings ending in the current
    value; ``reject_run`` counts readings quarantined since the last accepted one (a long run
    after NEGATIVE_DELTA usually means an unrecorded meter swap: clause 8.3 change control).
    ``replacement_id`` is the last recorded device swap applied to the state
    (``accounting.replacement``), so a replayed batch never applies one twice.
    """

    last_ts_ms: int | None = None
    last_value: float | None = None
    last_seq: int | None = None
    last_seen_value: float | None = None
    flat_run: int = 0
    reject_run: int = 0
    replacement_id: int | None = None

    def to_dict(self) -> dict[str, int | float | None]:
        """Plain dict for a Kafka-backed table (JSON-safe: the values stored are finite)."""
        return {
            "last_ts_ms": self.last_ts_ms,
            "last_value": self.last_value,
            "last_seq": self.last_seq,
            "last_seen_value": self.last_seen_value,
            "flat_run": self.flat_run,
            "reject_run": self.reject_run,
            "replacement_id": self.replacement_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeterState:
        """Inverse of :meth:`to_dict`; unknown keys are refused so a schema drift is loud."""
        unknown = data.keys() - _STATE_KEYS
        if unknown:
            raise ValueError(f"unknown MeterState keys: {sorted(unknown)}")

        def opt_int(key: str) -> int | None:
            value = data.get(key)
            return None if value is None else int(value)

        def opt_float(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(
            last_ts_ms=opt_int("last_ts_ms"),
            last_value=opt_float("last_value"),
            last_seq=opt_int("last_seq"),
            last_seen_value=opt_float("last_seen_value"),
            flat_run=int(data.get("flat_run", 0)),
            reject_run=int(data.get("reject_run", 0)),
            replacement_id=opt_int("replacement_id"),
        )


_STATE_KEYS = frozenset(f.name for f in fields(MeterState))
if set(MeterState().to_dict()) != _STATE_KEYS:  # to_dict spells the fields out, for speed
    raise RuntimeError("MeterState.to_dict must name every field")
