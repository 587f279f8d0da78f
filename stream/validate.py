"""One ``readings.raw`` message in, accepted readings and quarantined ones out (clause 8.4).

Pure wiring: decoding is ``stream.records``, every rule is ``accounting.validation``. The
caller passes the meter profiles, each meter's carried state, and ``now_ms`` — the Kafka
timestamp of the message, so a replay judges FUTURE/TOO_OLD exactly as the first pass did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from accounting.intervals import meter_intervals
from accounting.meter import MeterProfile, MeterState
from accounting.reasons import QUARANTINE_MASK, reason_names
from accounting.validation import validate
from stream.records import (
    Decoded,
    Quality,
    RawReading,
    Rejection,
    ValidBatch,
    ValidReading,
    decode_batch,
)


class StreamReason(StrEnum):
    UNKNOWN_METER = "UNKNOWN_METER"  # a scope deviation: the meter is outside the registry (4.3)
    BAD_QUALITY = "BAD_QUALITY"  # the collector marked the value bad (e.g. OPC UA StatusCode)


@dataclass(frozen=True)
class Outcome:
    valid: ValidBatch | None
    rejections: list[Rejection]
    states: dict[str, MeterState] = field(default_factory=dict)


def _reject(reading: RawReading, reason: str, detail: str, batch_info: dict[str, str]) -> Rejection:
    return Rejection(
        reason,
        detail,
        meter_id=reading.meter_id,
        ts_ms=reading.ts_ms,
        value=None if np.isnan(reading.value) else reading.value,
        unit=reading.unit,
        seq=reading.seq,
        **batch_info,
    )


def validate_message(
    raw: bytes,
    *,
    now_ms: int,
    profiles: Mapping[str, MeterProfile],
    state_of: Callable[[str], MeterState],
    decoded: Decoded | None = None,
) -> Outcome:
    """``decoded`` is ``decode_batch(raw)`` when the caller has decoded the message already."""
    if decoded is None:
        decoded = decode_batch(raw)
    rejections = list(decoded.rejections)
    batch = decoded.batch
    if batch is None:
        return Outcome(None, rejections)
    info = {
        "source_key": batch.source_key,
        "source": batch.source.value,
        "gateway_id": batch.gateway_id,
    }
    by_meter: dict[str, list[RawReading]] = {}
    for reading in batch.readings:
        by_meter.setdefault(reading.meter_id, []).append(reading)

    accepted: list[ValidReading] = []
    states: dict[str, MeterState] = {}
    for meter_id, readings in by_meter.items():
        profile = profiles.get(meter_id)
        if profile is None:
            rejections.extend(
                _reject(
                    r, StreamReason.UNKNOWN_METER, f"meter {meter_id} is not in the registry", info
                )
                for r in readings
            )
            continue
        usable = [r for r in readings if r.quality is not Quality.BAD]
        if len(usable) < len(readings):
            rejections.extend(
                _reject(r, StreamReason.BAD_QUALITY, "the collector marked this value bad", info)
                for r in readings
                if r.quality is Quality.BAD
            )
        if not usable:
            continue
        result = validate(
            profile,
            state_of(meter_id),
            np.fromiter((r.ts_ms for r in usable), np.int64, len(usable)),
            np.fromiter((r.value for r in usable), np.float64, len(usable)),
            now_ms=now_ms,
            units=[r.unit for r in usable],
            seq=np.fromiter((r.seq for r in usable), np.int64, len(usable)),
        )
        states[meter_id] = result.state
        quarantine = int(QUARANTINE_MASK)
        for i in np.flatnonzero(result.reasons & QUARANTINE_MASK):
            names = reason_names(int(result.reasons[i]) & quarantine)
            rejections.append(_reject(usable[i], names[0], "validation: " + ", ".join(names), info))
        intervals = meter_intervals(profile, result)
        # The first accepted reading of a new meter opens the first interval and closes none.
        offset = len(result.accepted_index) - len(intervals.quantity)
        # Plain Python numbers once per meter: indexing numpy arrays per reading is slow.
        reasons = result.reasons.tolist()
        starts: list[int | None] = [None] * offset + intervals.start_ms.tolist()
        quantities: list[float | None] = [None] * offset + intervals.quantity.tolist()
        for k, i in enumerate(result.accepted_index.tolist()):
            r = usable[i]
            accepted.append(
                ValidReading(
                    r.meter_id,
                    r.ts_ms,
                    r.value,
                    r.unit,
                    r.seq,
                    int(reasons[i]),
                    starts[k],
                    quantities[k],
                )
            )
    valid = (
        ValidBatch(batch.source, batch.gateway_id, batch.source_key, tuple(accepted))
        if accepted
        else None
    )
    return Outcome(valid, rejections, states)
