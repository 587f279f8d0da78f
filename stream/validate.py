"""Decoded ``readings.raw`` messages in, accepted readings and quarantined ones out (clause 8.4).

Pure wiring: decoding is ``stream.records``, every rule is ``accounting.validation``. The
caller passes the meter profiles, each meter's carried state, and for each message ``now_ms`` —
the Kafka timestamp of the message, so a replay judges FUTURE/TOO_OLD exactly as the first pass
did.

A batch of messages is validated meter by meter: each meter's readings of every message, in
message order, in one ``accounting.validation.validate`` call with each reading's own
``now_ms``. Validation carries a meter's state reading by reading (validating A then B equals
validating A+B), so this is exactly the outcome of validating the messages one by one, with one
numpy call per meter instead of one per meter and message, and no Python object per reading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain

import numpy as np
from numpy.typing import NDArray

from accounting.intervals import meter_intervals
from accounting.meter import MeterProfile, MeterState
from accounting.reasons import QUARANTINE_MASK, reason_names
from accounting.replacement import Replacement, Swap, apply_swap, pending
from accounting.validation import validate
from stream.authorization import GATEWAY_SOURCES, SourceAuthorization
from stream.columns import DecodedColumns, ReadingColumns, ValidColumns
from stream.records import Rejection


class StreamReason(StrEnum):
    UNKNOWN_METER = "UNKNOWN_METER"  # a scope deviation: the meter is outside the registry (4.3)
    BAD_QUALITY = "BAD_QUALITY"  # the collector marked the value bad (e.g. OPC UA StatusCode)
    # A gateway sent a meter it was not granted (``stream.authorization``); the name of the
    # quarantine bit ``accounting.reasons.Reason.UNAUTHORIZED_SOURCE``.
    UNAUTHORIZED_SOURCE = "UNAUTHORIZED_SOURCE"


@dataclass
class BatchOutcome:
    valid: ValidColumns
    # Per message: its decoding rejections, then its quarantined readings in message order.
    rejections: list[list[Rejection]]
    states: dict[str, MeterState] = field(default_factory=dict)
    # Per meter, the stretch its new intervals cover: (meter, first interval start, last ts).
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    # Recorded device swaps applied, per meter in time order (``accounting.replacement``).
    swaps: list[tuple[str, Swap]] = field(default_factory=list)


def _empty_valid(k: int) -> ValidColumns:
    return ValidColumns(
        headers=[None] * k,
        bounds=np.zeros(k + 1, dtype=np.intp),
        meter_id=[],
        ts_ms=np.zeros(0, np.int64),
        value=np.zeros(0, np.float64),
        unit=[],
        seq=np.zeros(0, np.int64),
        flags=np.zeros(0, np.uint32),
        interval_start_ms=np.zeros(0, np.int64),
        quantity=np.zeros(0, np.float64),
        has_interval=np.zeros(0, np.bool_),
    )


def _codes(labels: list[str]) -> tuple[dict[str, int], NDArray[np.intp]]:
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(x, len(index)) for x in labels), dtype=np.intp, count=len(labels)
    )
    return index, codes


def validate_batch(
    messages: Sequence[DecodedColumns],
    now_ms: Sequence[int],
    *,
    profiles: Mapping[str, MeterProfile],
    state_of: Callable[[str], MeterState],
    replacements: Mapping[str, Sequence[Replacement]] | None = None,
    authorization: SourceAuthorization | None = None,
) -> BatchOutcome:
    """Validate decoded messages (in arrival order), each judged at its own ``now_ms``.

    ``authorization``: the gateway grants. A guarded meter's readings from a message whose
    gateway may not send it are quarantined as UNAUTHORIZED_SOURCE before validation, so they
    never move the meter's state; asked once per (message, meter), never per reading.

    ``replacements``: each meter's recorded device swaps (any superset of those not yet
    applied). A swap after the state's last reading is applied when the meter's next reading is
    at or after it: the readings before it are validated at ``multiplier_before``, then the swap
    closes the old device's interval and resets the state to the new device's initial register.
    """
    k = len(messages)
    rejections = [list(m.rejections) for m in messages]
    parts = [(i, m.batch) for i, m in enumerate(messages) if m.batch is not None]
    if not parts:
        return BatchOutcome(_empty_valid(k), rejections)
    lengths = np.array([len(b) for _, b in parts], dtype=np.intp)
    message = np.repeat(np.array([i for i, _ in parts], dtype=np.intp), lengths)
    offsets = np.cumsum(lengths) - lengths
    position = np.arange(int(lengths.sum()), dtype=np.intp) - np.repeat(offsets, lengths)
    meter_ids = list(chain.from_iterable(b.meter_id for _, b in parts))
    units = list(chain.from_iterable(b.unit for _, b in parts))
    ts = np.concatenate([b.ts_ms for _, b in parts])
    value = np.concatenate([b.value for _, b in parts])
    seq = np.concatenate([b.seq for _, b in parts])
    now = np.repeat(np.array([now_ms[i] for i, _ in parts], dtype=np.int64), lengths)
    bad: NDArray[np.bool_] | None = None
    if any(b.bad is not None for _, b in parts):
        bad = np.concatenate(
            [b.bad if b.bad is not None else np.zeros(len(b), np.bool_) for _, b in parts]
        )
    batches: list[ReadingColumns | None] = [m.batch for m in messages]
    # Per message, the gateway answerable for its readings (None: not gateway traffic).
    senders = [
        b.gateway_id if b is not None and b.source in GATEWAY_SOURCES else None for b in batches
    ]
    gateways = sorted({s for s in senders if s is not None}) if authorization else []
    code_of = {g: i for i, g in enumerate(gateways)}
    # Per reading, its gateway's code (-1: not gateway traffic): a meter's readings usually all
    # come from one gateway, found with a min and a max instead of a sort.
    sender_code = (
        np.repeat(
            np.array([code_of.get(senders[i] or "", -1) for i, _ in parts], dtype=np.intp),
            lengths,
        )
        if authorization
        else np.zeros(0, np.intp)
    )

    n = len(meter_ids)
    meter_index, meter_code = _codes(meter_ids)
    unit_index, unit_code = _codes(units)
    order = np.argsort(meter_code, kind="stable")
    counts = np.bincount(meter_code, minlength=len(meter_index))
    ends = np.cumsum(counts)
    begins = (ends - counts).tolist()
    ends_list = ends.tolist()

    flags = np.zeros(n, dtype=np.uint32)
    accepted = np.zeros(n, dtype=np.bool_)
    starts = np.zeros(n, dtype=np.int64)
    quantity = np.zeros(n, dtype=np.float64)
    has_interval = np.zeros(n, dtype=np.bool_)
    quarantined: list[tuple[int, str, str]] = []  # (row, reason, detail)
    states: dict[str, MeterState] = {}
    spans: list[tuple[str, int, int]] = []
    quarantine = int(QUARANTINE_MASK)

    swaps: list[tuple[str, Swap]] = []

    def check(
        profile: MeterProfile,
        state: MeterState,
        rows: NDArray[np.intp],
        span: list[int],
    ) -> MeterState:
        """Validate one meter's rows from ``state``; marks them, returns the next state."""
        own_unit = unit_index.get(profile.unit, -1)
        mine_units = unit_code[rows]
        result = validate(
            profile,
            state,
            ts[rows],
            value[rows],
            now_ms=now[rows],
            units=None if (mine_units == own_unit).all() else [units[i] for i in rows.tolist()],
            seq=seq[rows],
        )
        reasons = result.reasons
        flags[rows] = reasons
        for j in np.flatnonzero(reasons & QUARANTINE_MASK).tolist():
            names = reason_names(int(reasons[j]) & quarantine)
            quarantined.append((int(rows[j]), names[0], "validation: " + ", ".join(names)))
        taken = rows[result.accepted_index]
        accepted[taken] = True
        intervals = meter_intervals(profile, result)
        closed = intervals.quantity.shape[0]
        if closed:
            # The first accepted reading of a new meter opens the first interval, closes none.
            tail = taken[taken.shape[0] - closed :]
            starts[tail] = intervals.start_ms
            quantity[tail] = intervals.quantity
            has_interval[tail] = True
            span.extend((int(intervals.start_ms[0]), int(intervals.end_ms[-1])))
        return result.state

    for meter_id, code in meter_index.items():
        rows = order[begins[code] : ends_list[code]]
        profile = profiles.get(meter_id)
        if profile is None:
            detail = f"meter {meter_id} is not in the registry"
            quarantined.extend((i, StreamReason.UNKNOWN_METER, detail) for i in rows.tolist())
            continue
        if authorization is not None and authorization.guards(meter_id):
            rows = _authorized(rows, sender_code, gateways, meter_id, authorization, quarantined)
            if not rows.shape[0]:
                continue
        if bad is not None:
            marked = bad[rows]
            if marked.any():
                quarantined.extend(
                    (i, StreamReason.BAD_QUALITY, "the collector marked this value bad")
                    for i in rows[marked].tolist()
                )
                rows = rows[~marked]
                if not rows.shape[0]:
                    continue
        state = state_of(meter_id)
        todo = pending(state, replacements.get(meter_id, ())) if replacements else []
        span: list[int] = []
        left = rows
        for r in [*todo, None]:
            # Readings before the next swap are the old device's, at its multiplier.
            if r is None:
                cut, multiplier = left.shape[0], profile.multiplier
            else:
                later = np.flatnonzero(ts[left] >= r.replaced_at_ms)
                cut = int(later[0]) if later.shape[0] else left.shape[0]
                multiplier = r.multiplier_before
            if cut:
                mine = profile
                if multiplier != profile.multiplier:
                    mine = dataclasses.replace(profile, multiplier=multiplier)
                state = check(mine, state, left[:cut], span)
            if r is None or cut == left.shape[0]:
                break  # no reading at or after the swap yet: it waits for the new device's
            swap = apply_swap(profile, state, r)
            swaps.append((meter_id, swap))
            if swap.interval_start_ms is not None:
                span.extend((swap.interval_start_ms, r.replaced_at_ms))
            state = swap.state
            left = left[cut:]
        states[meter_id] = state
        if span:
            # Accepted readings and swaps chain (each interval starts where the last one
            # ended): one contiguous stretch per meter.
            spans.append((meter_id, min(span), max(span)))

    for i, reason, detail in sorted(quarantined):
        k_i = int(message[i])
        batch = batches[k_i]
        assert batch is not None  # a reading's message has a batch
        rejections[k_i].append(_reject(batch, int(position[i]), reason, detail))

    picked = np.flatnonzero(accepted)
    everything = picked.shape[0] == n
    valid = ValidColumns(
        headers=[
            (b.source, b.gateway_id, b.source_key) if b is not None else None for b in batches
        ],
        bounds=np.searchsorted(message[picked], np.arange(k + 1)).astype(np.intp),
        meter_id=meter_ids if everything else [meter_ids[i] for i in picked.tolist()],
        ts_ms=ts[picked],
        value=value[picked],
        unit=units if everything else [units[i] for i in picked.tolist()],
        seq=seq[picked],
        flags=flags[picked],
        interval_start_ms=starts[picked],
        quantity=quantity[picked],
        has_interval=has_interval[picked],
    )
    return BatchOutcome(valid, rejections, states, spans, swaps)


def _authorized(
    rows: NDArray[np.intp],
    sender_code: NDArray[np.intp],
    gateways: Sequence[str],
    meter_id: str,
    authorization: SourceAuthorization,
    quarantined: list[tuple[int, str, str]],
) -> NDArray[np.intp]:
    """The rows whose gateway may send ``meter_id``; the others go to ``quarantined``."""
    mine = sender_code[rows]
    low, high = int(mine.min()), int(mine.max())
    senders = [low] if low == high else np.unique(mine).tolist()
    refused: list[int] = []
    for code in senders:
        detail = authorization.refusal(gateways[code], meter_id) if code >= 0 else None
        if detail is not None:
            refused.append(code)
            quarantined.extend(
                (i, StreamReason.UNAUTHORIZED_SOURCE, detail) for i in rows[mine == code].tolist()
            )
    if not refused:
        return rows
    return rows[~np.isin(mine, refused)]


def _reject(batch: ReadingColumns, i: int, reason: str, detail: str) -> Rejection:
    reading = batch.reading(i)
    return Rejection(
        reason,
        detail,
        source_key=batch.source_key,
        source=batch.source.value,
        gateway_id=batch.gateway_id,
        meter_id=reading.meter_id,
        ts_ms=reading.ts_ms,
        value=None if np.isnan(reading.value) else reading.value,
        unit=reading.unit,
        seq=reading.seq,
    )
