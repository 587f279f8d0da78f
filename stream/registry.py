"""The meter registry as the validation agent needs it: profiles by meter id, kept fresh.

The registry in the database is the single source of truth (ARCHITECTURE.md); a worker keeps a
copy and reloads it when the registry's fingerprint changes, so a meter added in the API is
known to the stream within one refresh interval.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time

from accounting.carriers import Carrier
from accounting.meter import MeterProfile, RegisterKind
from accounting.metering import MeteringLevel
from store.registry import Meter

_LEVELS = {
    "unit": MeteringLevel.UNIT,
    "secondary_unit": MeteringLevel.SECONDARY_UNIT,
    "equipment": MeteringLevel.MAJOR_EQUIPMENT,
}


def _day_end_ms(day: date) -> int:
    # A calibration due on a day is still valid through that day (UTC).
    return int(datetime.combine(day, time.max, tzinfo=UTC).timestamp() * 1000)


def to_profile(meter: Meter) -> MeterProfile:
    """The validation profile of a registry row (clause 9.1 c, GB 17167)."""
    return MeterProfile(
        meter_id=meter.meter_id,
        carrier=Carrier(meter.carrier),
        unit=meter.unit,
        register=RegisterKind(meter.register_kind),
        expected_interval_ms=meter.expected_interval_s * 1000,
        accuracy_class=meter.accuracy_class,
        metering_level=_LEVELS[meter.metering_level],
        calibration_due_ms=_day_end_ms(meter.calibration_due) if meter.calibration_due else None,
        accuracy_category=meter.accuracy_category,
        multiplier=meter.multiplier,
        rollover=meter.rollover,
        range_min=meter.range_min if meter.range_min is not None else -math.inf,
        range_max=meter.range_max if meter.range_max is not None else math.inf,
        max_rate_per_h=meter.max_rate_per_h,
    )


def to_profiles(meters: list[Meter]) -> dict[str, MeterProfile]:
    return {m.meter_id: to_profile(m) for m in meters}
