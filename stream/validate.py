"""Decoded ``readings.raw`` messages in, accepted readings and quarantined ones out (clause 8.4).

Pure wiring: decoding is ``contracts.records``, every rule is ``accounting.validation``. The
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

from accounting.history import StoredReading, fill_gap
from accounting.intervals import meter_intervals
from accounting.meter import MeterProfile, MeterState
from accounting.reasons import QUARANTINE_MASK, Reason, reason_names
from accounting.replacement import Replacement, Swap, apply_swap, pending
from accounting.validation import validate
from contracts.records import Rejection, ms_to_iso
from stream.authorization import GATEWAY_SOURCES, SourceAuthorization
from stream.columns import DecodedColumns, ReadingColumns, ValidColumns


@dataclass(frozen=True, slots=True)
class Neighbours:
    """A meter's stored readings around the history readings behind its state, in time order:
    the one before the earliest (if any), every one between, and the one after the latest.
    ``replacement`` marks the rows a recorded device swap wrote (flag REPLACEMENT)."""

    ts_ms: NDArray[np.int64]
    value: NDArray[np.float64]
    replacement: NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class MovedInterval:
    """A stored reading whose interval history filled: it now starts at ``start_ms``."""

    meter_id: str
    ts_ms: int
    start_ms: int
    quantity: float
    flags: int


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
    # Stored readings whose interval shrank because history was accepted before them.
    moved: list[MovedInterval] = field(default_factory=list)


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
    neighbours: Mapping[str, Neighbours] | None = None,
) -> BatchOutcome:
    """Validate decoded messages (in arrival order), each judged at its own ``now_ms``.

    ``authorization``: the gateway grants. A guarded meter's readings from a message whose
    gateway may not send it are quarantined as UNAUTHORIZED_SOURCE before validation, so they
    never move the meter's state; asked once per (message, meter), never per reading.

    Readings of history messages (``ReadingColumns.history``) are bounded by the meter's
    installation instead of the live age limit. Those at or before the meter's state (its
    newest accepted reading) go into the gaps between its stored readings
    (``accounting.history.fill_gap``), which ``neighbours`` holds per meter (see
    :func:`behind_state`); the state itself does not move for them.

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
    history: NDArray[np.bool_] | None = None
    if any(b.history for _, b in parts):
        history = np.repeat(np.array([b.history for _, b in parts], dtype=np.bool_), lengths)
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
            history=False if history is None else history[rows],
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

    moved: list[MovedInterval] = []

    def fill(meter_id: str, profile: MeterProfile, rows: NDArray[np.intp]) -> None:
        """History readings behind the meter's state, into the gaps of its stored readings."""
        own_unit = unit_index.get(profile.unit, -1)
        foreign = unit_code[rows] != own_unit
        for i in rows[foreign].tolist():
            flags[i] = int(Reason.UNIT_MISMATCH)
            quarantined.append((i, Reason.UNIT_MISMATCH.name or "", "validation: UNIT_MISMATCH"))
        rows = rows[~foreign]
        near = (neighbours or {}).get(meter_id)
        if near is None:  # the caller looked up no neighbours: nothing to fill against
            near = Neighbours(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.bool_))
        at = np.searchsorted(near.ts_ms, ts[rows])
        count = near.ts_ms.shape[0]
        stored = np.zeros(rows.shape[0], dtype=np.bool_)
        if count:
            stored = near.ts_ms[np.minimum(at, count - 1)] == ts[rows]
        for i in rows[stored].tolist():
            # A reading already stored at this time: a replay when the value is the same
            # (the intake recognises it), else a conflicting DUPLICATE_TIMESTAMP.
            flags[i] = int(Reason.DUPLICATE_TIMESTAMP)
            quarantined.append((i, "DUPLICATE_TIMESTAMP", "validation: DUPLICATE_TIMESTAMP"))
        rows, at = rows[~stored], at[~stored]
        for gap in np.unique(at).tolist():
            mine = rows[at == gap]
            if gap >= near.ts_ms.shape[0] or near.replacement[max(gap - 1, 0) : gap + 1].any():
                why = (
                    "history next to a recorded meter replacement: import it before the"
                    " replacement is recorded, or correct the readings by hand"
                    if gap < near.ts_ms.shape[0]
                    else "no stored reading after it: the meter's state is ahead of its readings"
                )
                for i in mine.tolist():
                    flags[i] = int(Reason.OUT_OF_ORDER)
                    quarantined.append((i, "OUT_OF_ORDER", f"validation: OUT_OF_ORDER ({why})"))
                continue
            before = (
                StoredReading(int(near.ts_ms[gap - 1]), float(near.value[gap - 1]))
                if gap > 0
                else None
            )
            after = StoredReading(int(near.ts_ms[gap]), float(near.value[gap]))
            got = fill_gap(profile, before, after, ts[mine], value[mine], now_ms=now[mine])
            flags[mine] = got.reasons
            for j in np.flatnonzero(got.reasons & QUARANTINE_MASK).tolist():
                names = reason_names(int(got.reasons[j]) & quarantine)
                detail = "validation: " + ", ".join(names)
                if got.conflict[j]:
                    detail += (
                        f" (the stored reading at {ms_to_iso(after.ts_ms)} does not follow it)"
                    )
                quarantined.append((int(mine[j]), names[0], detail))
            taken = mine[got.accepted_index]
            accepted[taken] = True
            starts[taken] = got.start_ms
            quantity[taken] = got.quantity
            has_interval[taken] = got.has_interval
            if got.after_start_ms is not None and got.after_quantity is not None:
                moved.append(
                    MovedInterval(
                        meter_id,
                        after.ts_ms,
                        got.after_start_ms,
                        got.after_quantity,
                        int(got.after_flags or 0),
                    )
                )
            if taken.shape[0]:
                first = int(got.start_ms[0]) if got.has_interval[0] else int(ts[taken[0]])
                spans.append((meter_id, first, after.ts_ms))

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
        if history is not None and state.last_ts_ms is not None:
            behind = history[rows] & (ts[rows] <= state.last_ts_ms)
            if behind.any():
                fill(meter_id, profile, rows[behind])
                rows = rows[~behind]
                if not rows.shape[0]:
                    continue
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
    return BatchOutcome(valid, rejections, states, spans, swaps, moved)


def behind_state(
    messages: Sequence[DecodedColumns], state_of: Callable[[str], MeterState]
) -> dict[str, tuple[int, int]]:
    """Per meter, the time span of its history readings at or before its state's newest
    reading: the stretch whose stored neighbours :func:`validate_batch` needs."""
    spans: dict[str, tuple[int, int]] = {}
    for m in messages:
        b = m.batch
        if b is None or not b.history:
            continue
        ids = np.array(b.meter_id)
        for meter_id in set(b.meter_id):
            last = state_of(meter_id).last_ts_ms
            if last is None:
                continue
            t = b.ts_ms[(ids == meter_id) & (b.ts_ms <= last)]
            if t.shape[0]:
                lo, hi = spans.get(meter_id, (int(t.min()), int(t.max())))
                spans[meter_id] = (min(lo, int(t.min())), max(hi, int(t.max())))
    return spans


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
