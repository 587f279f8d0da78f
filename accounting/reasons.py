"""Reason codes of meter validation, as bits of one uint32 mask per reading (clause 8.4).

Bits 0-15 are *quarantine* reasons: the reading is rejected, kept with its reasons and never
enters accounting. Bits 16-31 are *flags*: the reading is accepted and counted, and the flag
records why its quality is lower (9.1 b "unreliable measurement", 9.1 c calibration).
The bit values are a storage and wire contract: add new codes, never renumber.
"""

from __future__ import annotations

from enum import IntFlag

import numpy as np
from numpy.typing import NDArray


class Reason(IntFlag):
    # -- quarantine: the value cannot be trusted as activity data --------------------------------
    OUT_OF_RANGE = 1 << 0
    """Value not finite or outside the meter's rated range (register range for counters)."""
    NEGATIVE_DELTA = 1 << 1
    """Cumulative register went backwards (meter swap or fault): never negative consumption."""
    SPIKE = 1 << 2
    """Implausible rise: consumption rate (counters) or step (instantaneous) above the limit."""
    DUPLICATE_TIMESTAMP = 1 << 3
    """Same timestamp as the last accepted reading, or a replayed seq: dropped, never recounted."""
    OUT_OF_ORDER = 1 << 4
    """Older than the last accepted reading: the interval it would bound is already closed."""
    FUTURE_TIMESTAMP = 1 << 5
    """Timestamp beyond ``now`` plus the clock-skew tolerance."""
    TOO_OLD = 1 << 6
    """Older than the meter's maximum age: the period it belongs to may already be reported."""
    UNIT_MISMATCH = 1 << 7
    """The reading's unit label differs from the unit in the meter registry."""
    UNAUTHORIZED_SOURCE = 1 << 8
    """A gateway sent a meter the registry does not let it send (clause 8.4, data-source control:
    a park with registered gateways accepts a meter only from the gateways granted it)."""
    BEFORE_INSTALLATION = 1 << 10
    """A history reading timed before the meter's installation (``meter.installed_at``)."""
    TIMESTAMP_OUT_OF_RANGE = 1 << 9
    """Time outside the hard sanity bound (± years around now, and always years 0001-9999 UTC;
    ``accounting.instants``): refused by the decoder, before FUTURE_TIMESTAMP/TOO_OLD judge."""
    BEFORE_INVENTORY_START = 1 << 11
    """A history reading timed before its park's inventory start (``park.inventory_start``, the
    first local day the inventory covers, GB/T 32150 6.3.1). Apart from BEFORE_INSTALLATION: the
    meter existed, the park chose not to account that far back; moving the start re-admits it."""
    # -- flags: accepted, counted, but marked ----------------------------------------------------
    ROLLOVER = 1 << 16
    """Register wrapped past its rollover value; the wrapped delta is counted (not a fault)."""
    GAP = 1 << 17
    """The interval closed by this reading spans missing readings; its delta covers the gap."""
    STALE = 1 << 18
    """Flatline: the value repeated for at least the profile's flatline count of readings."""
    CALIBRATION_OVERDUE = 1 << 19
    """Read after the meter's calibration/verification due date (clause 9.1 c, GB 17167)."""
    ACCURACY_CLASS_INSUFFICIENT = 1 << 20
    """The meter's accuracy class is coarser than GB 17167-2006 table 3 requires."""
    INTERPOLATED = 1 << 21
    """A window quantity that contains a share of a delta split across windows by time."""
    REPLACEMENT = 1 << 22
    """Interval closed by a recorded meter replacement: the old device's final register."""
    FACTOR_LEVEL_FALLBACK = 1 << 28
    """Window flag: the park's grid level (national, regional grid, province) has no factor
    for the window's day, so the next coarser level's was used (``regions.level_chain``)."""


QUARANTINE_MASK = np.uint32(0x0000FFFF)
FLAG_MASK = np.uint32(0xFFFF0000)


def reason_names(mask: int) -> tuple[str, ...]:
    """Names of the reasons set in one mask, in bit order (for logs, topics and the database)."""
    mask = int(mask)
    return tuple(r.name for r in Reason if r & mask and r.name is not None)


def is_quarantined(mask: int) -> bool:
    """True when the mask holds any quarantine reason."""
    return bool(int(mask) & int(QUARANTINE_MASK))


def quarantined(masks: NDArray[np.uint32]) -> NDArray[np.bool_]:
    """Per-reading quarantine test over a mask array."""
    result: NDArray[np.bool_] = (masks & QUARANTINE_MASK) != 0
    return result


def reason_counts(masks: NDArray[np.uint32]) -> dict[Reason, int]:
    """How many readings carry each reason (data-quality completeness figures, clause 8.4)."""
    counts: dict[Reason, int] = {}
    for reason in Reason:
        n = int(np.count_nonzero(masks & np.uint32(reason.value)))
        if n:
            counts[reason] = n
    return counts
