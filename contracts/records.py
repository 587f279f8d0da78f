"""Kafka record contracts: a batch of raw readings from one source, and quarantine records.

A message on ``readings.raw`` carries one source's batch (one device poll cycle, one OPC UA
publish, one EMS push), keyed by ``source_key`` so a meter's readings stay in one partition, in
order. Decoding is strict: a message that is not a batch becomes one MALFORMED_MESSAGE
rejection carrying the original bytes; a bad reading inside a good batch becomes a
MALFORMED_READING rejection and the rest of the batch goes on (clause 8.4: nothing dropped).
A reading whose time lies outside the bounds (``accounting.instants``: ± years around now, and
always years 0001-9999 UTC) becomes a TIMESTAMP_OUT_OF_RANGE rejection carrying the reading as
sent, the same way.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import orjson

from accounting.instants import (
    REPRESENTABLE,
    TimeBounds,
    TimestampOutOfRangeError,
    iso_utc,
    parse_ms,
)
from contracts.patterns import ID_RE, SOURCE_KEY_RE, UNIT_RE
from contracts.split import split_message

WIRE_VERSION = 1
MAX_READINGS_PER_BATCH = 10_000
_ID = ID_RE
_SOURCE_KEY = SOURCE_KEY_RE
_UNIT = UNIT_RE
_INT64_MAX = 2**63 - 1


class Source(StrEnum):
    MODBUS = "modbus"
    OPCUA = "opcua"
    DLT645 = "dlt645"  # DL/T 645-2007 meters read by a gateway
    MQTT = "mqtt"  # an edge gateway or device publishing to an MQTT broker (ingest/mqtt.py)
    IEC104 = "iec104"  # an IEC 60870-5-104 outstation (substation RTU) read by a gateway
    EMS = "ems"


class Quality(StrEnum):
    """The collector's own verdict, e.g. an OPC UA StatusCode; BAD readings carry no value."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


class DecodeReason(StrEnum):
    MALFORMED_MESSAGE = "MALFORMED_MESSAGE"
    MALFORMED_READING = "MALFORMED_READING"
    # The name of accounting.reasons.Reason.TIMESTAMP_OUT_OF_RANGE (a test holds them equal;
    # that module needs numpy, which the gateway does not install).
    TIMESTAMP_OUT_OF_RANGE = "TIMESTAMP_OUT_OF_RANGE"


@dataclass(frozen=True, slots=True)
class RawReading:
    meter_id: str
    ts_ms: int  # UTC, milliseconds since the epoch
    value: float
    unit: str
    seq: int
    quality: Quality = Quality.GOOD


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    source: Source
    gateway_id: str
    source_key: str
    readings: tuple[RawReading, ...]
    # Imported history (``"history": true`` on the wire): judged by the meter's installation
    # instead of the live age limit, and validated into gaps before the meter's newest reading.
    # A message without the field is live, as every message written before it existed.
    history: bool = False


@dataclass(frozen=True, slots=True)
class Rejection:
    """One quarantined reading or message, with a reason code and a human-readable detail."""

    reason: str
    detail: str
    source_key: str | None = None
    source: str | None = None
    gateway_id: str | None = None
    meter_id: str | None = None
    ts_ms: int | None = None
    value: float | None = None
    unit: str | None = None
    seq: int | None = None
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Decoded:
    batch: ReadingBatch | None
    rejections: list[Rejection] = field(default_factory=list)


class _BadInputError(ValueError):
    pass


def ts_to_ms(text: str, bounds: TimeBounds = REPRESENTABLE) -> int:
    """ISO 8601 with an explicit offset -> UTC epoch ms; a naive time is refused (ambiguous),
    an instant outside ``bounds`` raises TimestampOutOfRangeError (a ValueError)."""
    return bounds.check(parse_ms(text), text)


# Cached: a batch's readings share few instants, and formatting is the costly part of encoding
# them (every encoder of readings and windows, in the gateway, the worker and the API, calls it).
@functools.lru_cache(maxsize=65_536)
def ms_to_iso(ts_ms: int) -> str:
    """``accounting.instants.iso_utc``: never raises, four-digit years (expanded beyond)."""
    return iso_utc(ts_ms)


def _text(obj: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not pattern.match(value):
        raise _BadInputError(f"{key} must be a string matching {pattern.pattern}, got {value!r}")
    return value


def _reading(obj: Any, bounds: TimeBounds) -> RawReading:
    if not isinstance(obj, dict):
        raise _BadInputError(f"a reading must be an object, got {type(obj).__name__}")
    extra = obj.keys() - {"meter_id", "ts", "value", "unit", "seq", "quality"}
    if extra:
        raise _BadInputError(f"unknown fields {sorted(extra)}")
    ts = obj.get("ts")
    if not isinstance(ts, str):
        raise _BadInputError(f"ts must be an ISO 8601 string, got {ts!r}")
    quality = Quality(obj.get("quality", "good"))
    value = obj.get("value")
    # bool is an int in Python; a meter never reads "true" kWh.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        if not (quality is Quality.BAD and value is None):
            raise _BadInputError(f"value must be a finite number, got {value!r}")
        value = math.nan
    seq = obj.get("seq")
    # The database keeps it as bigint: a larger one would stop the worker on every delivery.
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= _INT64_MAX:
        raise _BadInputError(f"seq must be a non-negative integer below 2**63, got {seq!r}")
    meter_id, unit = _text(obj, "meter_id", _ID), _text(obj, "unit", _UNIT)
    # Last: a time out of range is its own reason only for a reading otherwise well formed.
    return RawReading(meter_id, ts_to_ms(ts, bounds), float(value), unit, seq, quality)


def _payload(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """A batch's envelope, its readings still raw JSON items: the worker's columnar decoder
    (``stream.columns``) and ``decode_batch`` both start from it."""

    source: Source
    gateway_id: str
    source_key: str
    items: list[Any]
    history: bool = False


def batch_header(raw: bytes) -> BatchHeader | Rejection:
    """The batch envelope, or the MALFORMED_MESSAGE rejection of a message that is no batch."""
    try:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _BadInputError(f"not JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise _BadInputError("message must be a JSON object")
        if obj.get("v") != WIRE_VERSION:
            raise _BadInputError(
                f"unsupported wire version {obj.get('v')!r}, expected {WIRE_VERSION}"
            )
        source = Source(str(obj.get("source")))
        gateway_id = _text(obj, "gateway_id", _ID)
        source_key = _text(obj, "source_key", _SOURCE_KEY)
        history = obj.get("history", False)
        if not isinstance(history, bool):
            raise _BadInputError(f"history must be true or false, got {history!r}")
        items = obj.get("readings")
        if not isinstance(items, list) or not items:
            raise _BadInputError("readings must be a non-empty list")
        if len(items) > MAX_READINGS_PER_BATCH:
            raise _BadInputError(
                f"{len(items)} readings exceed the batch limit {MAX_READINGS_PER_BATCH}"
            )
    except (_BadInputError, ValueError) as exc:
        return Rejection(DecodeReason.MALFORMED_MESSAGE, str(exc), payload=_payload(raw))
    return BatchHeader(source, gateway_id, source_key, items, history)


def batch_readings(
    header: BatchHeader, bounds: TimeBounds = REPRESENTABLE
) -> tuple[list[RawReading], list[Rejection]]:
    """Each item checked on its own: the reference semantics of decoding."""
    good: list[RawReading] = []
    bad: list[Rejection] = []
    for item in header.items:
        try:
            good.append(_reading(item, bounds))
        except (_BadInputError, ValueError, TypeError) as exc:
            meter = item.get("meter_id") if isinstance(item, dict) else None
            bad.append(
                Rejection(
                    DecodeReason.TIMESTAMP_OUT_OF_RANGE
                    if isinstance(exc, TimestampOutOfRangeError)
                    else DecodeReason.MALFORMED_READING,
                    str(exc),
                    source_key=header.source_key,
                    source=header.source.value,
                    gateway_id=header.gateway_id,
                    meter_id=meter if isinstance(meter, str) else None,
                    payload=item,
                )
            )
    return good, bad


def decode_batch(raw: bytes, *, bounds: TimeBounds = REPRESENTABLE) -> Decoded:
    """Decode one ``readings.raw`` message; never raises on bad input. A reading's time must
    lie within ``bounds`` (the worker's: ± the configured years around the message's time)."""
    header = batch_header(raw)
    if isinstance(header, Rejection):
        return Decoded(None, [header])
    good, bad = batch_readings(header, bounds)
    batch = (
        ReadingBatch(
            header.source, header.gateway_id, header.source_key, tuple(good), header.history
        )
        if good
        else None
    )
    return Decoded(batch, bad)


def encode_batch(batch: ReadingBatch) -> bytes:
    # "history" is written only when set: a live message stays what it always was.
    marker = {"history": True} if batch.history else {}
    return orjson.dumps(
        {
            "v": WIRE_VERSION,
            "source": batch.source.value,
            "gateway_id": batch.gateway_id,
            "source_key": batch.source_key,
            **marker,
            "readings": [
                {
                    "meter_id": r.meter_id,
                    "ts": ms_to_iso(r.ts_ms),
                    "value": None if math.isnan(r.value) else r.value,
                    "unit": r.unit,
                    "seq": r.seq,
                    "quality": r.quality.value,
                }
                for r in batch.readings
            ],
        }
    )


def encode_rejections(rejections: list[Rejection], *, rejected_at_ms: int) -> bytes:
    """A ``readings.rejected`` message: the quarantined items of one source message."""
    return orjson.dumps(
        {
            "v": WIRE_VERSION,
            "rejected_at": ms_to_iso(rejected_at_ms),
            "rejections": [
                {
                    "reason": str(r.reason),
                    "detail": r.detail,
                    "source_key": r.source_key,
                    "source": r.source,
                    "gateway_id": r.gateway_id,
                    "meter_id": r.meter_id,
                    "ts": ms_to_iso(r.ts_ms) if r.ts_ms is not None else None,
                    "value": r.value,
                    "unit": r.unit,
                    "seq": r.seq,
                    "payload": r.payload,
                }
                for r in rejections
            ],
        }
    )


# A rejection's payload on readings.rejected when the message would exceed the size limit:
# above this many bytes it is carried as its digest. The quarantine table (rejected_reading)
# keeps the whole payload: it is stored before the message is sent.
REJECTION_PAYLOAD_LIMIT = 4096
_TEXT_LIMIT = 1024  # a text member (detail, an unreadable meter id) of such a rejection


def _slim(r: Rejection) -> Rejection:
    """``r`` small enough to travel: a large payload as its size and SHA-256, long text cut."""
    payload = r.payload
    encoded = orjson.dumps(payload)
    if len(encoded) > REJECTION_PAYLOAD_LIMIT:
        payload = {
            "truncated": True,
            "bytes": len(encoded),
            "sha256": hashlib.sha256(encoded).hexdigest(),
            "note": "too large for readings.rejected: whole in the quarantine table",
        }

    def cut(text: str | None) -> str | None:
        if text is None or len(text) <= _TEXT_LIMIT:
            return text
        return text[:_TEXT_LIMIT] + f"... ({len(text)} characters)"

    return replace(
        r,
        detail=cut(r.detail) or "",
        source_key=cut(r.source_key),
        source=cut(r.source),
        gateway_id=cut(r.gateway_id),
        meter_id=cut(r.meter_id),
        unit=cut(r.unit),
        payload=payload,
    )


def rejected_messages(
    rejections: list[Rejection], *, rejected_at_ms: int, max_bytes: int
) -> list[bytes]:
    """``readings.rejected`` messages of at most ``max_bytes`` bytes for the rejections of one
    source message: one message when it fits (the usual case, encoded once). Otherwise large
    payloads travel as their digest (``REJECTION_PAYLOAD_LIMIT``; a rejection of a whole
    message carries its original bytes) and the rejections are split over several messages
    in order (``contracts.split``). What the worker stores in the quarantine table is unchanged."""
    whole = encode_rejections(rejections, rejected_at_ms=rejected_at_ms)
    if len(whole) <= max_bytes:
        return [whole]
    slim = encode_rejections([_slim(r) for r in rejections], rejected_at_ms=rejected_at_ms)
    return split_message(slim, max_bytes, field="rejections")


def decode_rejections(raw: bytes) -> list[dict[str, Any]]:
    obj = orjson.loads(raw)
    if not isinstance(obj, dict) or not isinstance(obj.get("rejections"), list):
        raise ValueError("not a readings.rejected message")
    return list(obj["rejections"])


@dataclass(frozen=True, slots=True)
class ValidReading:
    """An accepted reading and the interval it closes (``quantity`` is None for a meter's
    very first reading, which opens the first interval). ``flags`` is the accounting Reason mask.
    """

    meter_id: str
    ts_ms: int
    value: float
    unit: str
    seq: int
    flags: int
    interval_start_ms: int | None
    quantity: float | None  # the meter's unit times its multiplier (primary side)


@dataclass(frozen=True, slots=True)
class ValidBatch:
    source: Source
    gateway_id: str
    source_key: str
    readings: tuple[ValidReading, ...]


def encode_valid(batch: ValidBatch) -> bytes:
    """A ``readings.valid`` message: the accepted readings of one source message."""
    return orjson.dumps(
        {
            "v": WIRE_VERSION,
            "source": batch.source.value,
            "gateway_id": batch.gateway_id,
            "source_key": batch.source_key,
            "readings": [
                [
                    r.meter_id,
                    r.ts_ms,
                    r.value,
                    r.unit,
                    r.seq,
                    r.flags,
                    r.interval_start_ms,
                    r.quantity,
                ]
                for r in batch.readings
            ],
        }
    )


def decode_valid(raw: bytes) -> ValidBatch:
    """Inverse of :func:`encode_valid`; produced by our own workers, so errors raise."""
    obj = orjson.loads(raw)
    return ValidBatch(
        Source(obj["source"]),
        obj["gateway_id"],
        obj["source_key"],
        tuple(ValidReading(*row) for row in obj["readings"]),
    )
