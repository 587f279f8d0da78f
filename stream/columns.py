"""The stream worker's columnar view of the batch records (``contracts.records``).

A batch's readings as numpy columns, decoded without a Python object per reading, and the
accepted readings of an intake batch as columns. Kept apart from ``contracts.records``, which the
edge gateway shares and which must not import numpy (the gateway installs without it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from accounting.instants import REPRESENTABLE, TimeBounds, parse_ms
from contracts.patterns import ID_RE, UNIT_RE
from contracts.records import (
    WIRE_VERSION,
    BatchHeader,
    Quality,
    RawReading,
    ReadingBatch,
    Rejection,
    Source,
    ValidBatch,
    ValidReading,
    batch_header,
    batch_readings,
)


@dataclass(frozen=True, slots=True)
class ReadingColumns:
    """One message's good readings as columns: what the stream worker validates and stores.

    Row ``i`` is the ``i``-th good reading of the message, in message order. ``value`` is NaN
    for a BAD reading that carried none; ``bad`` marks the readings the collector marked bad
    (None when there are none). Of the quality, only BAD matters downstream: UNCERTAIN
    readings validate as GOOD ones do, and are not told apart here.
    """

    source: Source
    gateway_id: str
    source_key: str
    meter_id: list[str]
    ts_ms: NDArray[np.int64]
    value: NDArray[np.float64]
    unit: list[str]
    seq: NDArray[np.int64]
    bad: NDArray[np.bool_] | None = None
    history: bool = False  # the batch's wire marker (``ReadingBatch.history``)

    def __len__(self) -> int:
        return len(self.meter_id)

    def reading(self, i: int) -> RawReading:
        return RawReading(
            self.meter_id[i],
            int(self.ts_ms[i]),
            float(self.value[i]),
            self.unit[i],
            int(self.seq[i]),
            Quality.BAD if self.bad is not None and self.bad[i] else Quality.GOOD,
        )

    @classmethod
    def from_batch(cls, batch: ReadingBatch) -> ReadingColumns:
        rs = batch.readings
        n = len(rs)
        bad = np.fromiter((r.quality is Quality.BAD for r in rs), np.bool_, n)
        return cls(
            batch.source,
            batch.gateway_id,
            batch.source_key,
            [r.meter_id for r in rs],
            np.fromiter((r.ts_ms for r in rs), np.int64, n),
            np.fromiter((r.value for r in rs), np.float64, n),
            [r.unit for r in rs],
            np.fromiter((r.seq for r in rs), np.int64, n),
            bad if bad.any() else None,
            batch.history,
        )


@dataclass(frozen=True, slots=True)
class DecodedColumns:
    batch: ReadingColumns | None
    rejections: list[Rejection] = field(default_factory=list)


# Strings already checked, and timestamps already parsed: a park has a few thousand meter ids
# and units, and the meters of one poll cycle share its timestamp. Bounded by clearing.
_GOOD_IDS: set[str] = set()
_GOOD_UNITS: set[str] = set()
_TS_MS: dict[str, int] = {}
_CACHE_LIMIT = 100_000
_QUALITIES = frozenset(q.value for q in Quality)


def _all_match(values: list[Any], known: set[str], pattern: re.Pattern[str]) -> bool:
    new = set(values) - known
    if not new:
        return True
    if not all(type(v) is str and pattern.match(v) for v in new):
        return False
    if len(known) > _CACHE_LIMIT:
        known.clear()
    known.update(new)
    return True


def _columns(header: BatchHeader, bounds: TimeBounds) -> ReadingColumns | None:
    """Every reading of the batch as columns when every one of them is good, else None.

    Checks the same rules as :func:`_reading`, over columns: each distinct meter id, unit and
    timestamp once, numbers as arrays. Whatever it cannot prove good (a bad reading, a BAD
    reading without a value, anything unusual) is left to the reading-by-reading path.
    """
    items = header.items
    n = len(items)
    try:
        meter_ids = [o["meter_id"] for o in items]
        stamps = [o["ts"] for o in items]
        values = [o["value"] for o in items]
        units = [o["unit"] for o in items]
        seqs = [o["seq"] for o in items]
        lengths = set(map(len, items))
        bad = None
        if lengths != {5}:  # exactly the five required fields, or those and "quality"
            qualities = [o.get("quality") for o in items]
            if list(map(len, items)) != [5 if q is None else 6 for q in qualities]:
                return None
            kinds = set(qualities) - {None}
            if not kinds <= _QUALITIES:
                return None
            if Quality.BAD.value in kinds:
                bad = np.fromiter((q == Quality.BAD.value for q in qualities), np.bool_, n)
        if not (
            _all_match(meter_ids, _GOOD_IDS, ID_RE) and _all_match(units, _GOOD_UNITS, UNIT_RE)
        ):
            return None
        new_stamps = set(stamps) - _TS_MS.keys()
        if new_stamps:
            if len(_TS_MS) > _CACHE_LIMIT:
                _TS_MS.clear()
            for text in new_stamps:
                if type(text) is not str:
                    return None
                _TS_MS[text] = parse_ms(text)  # unbounded: the bound is per message
        value_types = set(map(type, values))
        if not value_types <= {float, int}:  # bool, None, str ... : the careful path
            return None
        value = np.array(values, dtype=np.float64)
        if not np.isfinite(value).all():
            return None
        if set(map(type, seqs)) != {int}:
            return None
        seq = np.array(seqs, dtype=np.int64)
        if (seq < 0).any():
            return None
        ts = np.fromiter(map(_TS_MS.__getitem__, stamps), np.int64, n)
        if int(ts.min()) < bounds.lo_ms or int(ts.max()) > bounds.hi_ms:
            return None  # the careful path names the reading and its reason
    except (TypeError, KeyError, ValueError, OverflowError):
        return None
    return ReadingColumns(
        header.source,
        header.gateway_id,
        header.source_key,
        meter_ids,
        ts,
        value,
        units,
        seq,
        bad,
        header.history,
    )


def decode_columns(raw: bytes, *, bounds: TimeBounds = REPRESENTABLE) -> DecodedColumns:
    """:func:`decode_batch` as columns, without a Python object per reading; never raises.

    Same outcome as ``decode_batch`` with the same ``bounds`` (the tests hold them equal): a
    message whose readings are all good is decoded column-wise, any other reading by reading.
    """
    header = batch_header(raw)
    if isinstance(header, Rejection):
        return DecodedColumns(None, [header])
    columns = _columns(header, bounds)
    if columns is not None:
        return DecodedColumns(columns, [])
    good, bad = batch_readings(header, bounds)
    if not good:
        return DecodedColumns(None, bad)
    batch = ReadingBatch(
        header.source, header.gateway_id, header.source_key, tuple(good), header.history
    )
    return DecodedColumns(ReadingColumns.from_batch(batch), bad)


@dataclass(frozen=True, slots=True)
class ValidColumns:
    """The accepted readings of several messages as columns, in message order.

    Message ``k``'s readings are rows ``bounds[k]:bounds[k + 1]``; ``headers[k]`` is its
    (source, gateway_id, source_key), None for a message without a batch. A row whose
    ``has_interval`` is False opens its meter's first interval (``quantity`` None on the wire).
    """

    headers: list[tuple[Source, str, str] | None]
    bounds: NDArray[np.intp]
    meter_id: list[str]
    ts_ms: NDArray[np.int64]
    value: NDArray[np.float64]
    unit: list[str]
    seq: NDArray[np.int64]
    flags: NDArray[np.uint32]
    interval_start_ms: NDArray[np.int64]
    quantity: NDArray[np.float64]
    has_interval: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.meter_id)

    def _rows(self, lo: int, hi: int) -> list[tuple[Any, ...]]:
        has = self.has_interval[lo:hi]
        starts: list[int | None] = self.interval_start_ms[lo:hi].tolist()
        quantities: list[float | None] = self.quantity[lo:hi].tolist()
        if not has.all():
            starts = [s if h else None for s, h in zip(starts, has.tolist(), strict=True)]
            quantities = [q if h else None for q, h in zip(quantities, has.tolist(), strict=True)]
        return list(
            zip(
                self.meter_id[lo:hi],
                self.ts_ms[lo:hi].tolist(),
                self.value[lo:hi].tolist(),
                self.unit[lo:hi],
                self.seq[lo:hi].tolist(),
                self.flags[lo:hi].tolist(),
                starts,
                quantities,
                strict=True,
            )
        )

    def batch(self, k: int) -> ValidBatch | None:
        """Message ``k``'s accepted readings as a :class:`ValidBatch` (None if none)."""
        lo, hi = int(self.bounds[k]), int(self.bounds[k + 1])
        header = self.headers[k]
        if header is None or lo == hi:
            return None
        return ValidBatch(*header, tuple(ValidReading(*row) for row in self._rows(lo, hi)))

    def encode(self, k: int) -> bytes | None:
        """Message ``k``'s ``readings.valid`` message, as :func:`encode_valid` writes it."""
        lo, hi = int(self.bounds[k]), int(self.bounds[k + 1])
        header = self.headers[k]
        if header is None or lo == hi:
            return None
        source, gateway_id, source_key = header
        return orjson.dumps(
            {
                "v": WIRE_VERSION,
                "source": source.value,
                "gateway_id": gateway_id,
                "source_key": source_key,
                "readings": self._rows(lo, hi),
            }
        )
