"""Strict decoding of an EMS push body, JSON or CSV, into readings (clause 8.4).

Strict means: a value is a JSON number (CSV: a JSON-style number literal), never a string,
boolean or null, and finite; a time is ISO 8601 with an explicit offset (a naive time is
ambiguous); no unknown or missing fields. A body with any malformed reading is refused whole
(422, every error listed with its index), so a client bug never half-lands. A well-formed
reading whose time is outside the bounds (``accounting.instants``: ± the configured years
around now, always years 0001-9999 UTC) is not malformed: it is refused on its own
(TIMESTAMP_OUT_OF_RANGE) and the rest of the push goes on.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import isfinite
from typing import Any, NamedTuple

import orjson

from accounting.instants import (
    EXPANDED_YEAR,
    REPRESENTABLE,
    TimeBounds,
    TimestampOutOfRangeError,
)
from api.errors import ApiError
from contracts.patterns import ID_RE, UNIT_RE

_ID = ID_RE
_UNIT = UNIT_RE
_NUMBER = re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_FIELDS = ("meter_id", "ts", "value", "unit")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ERRORS = 100  # listed in a 422; the count says how many there were
# fullmatch, not match: the patterns end in "$", which Python lets a trailing newline pass
# ("E-0001\n"); they are shared with pydantic, whose regex engine has no "\Z".
_ID_MATCH = _ID.fullmatch
_UNIT_MATCH = _UNIT.fullmatch
# An int below 2**1023 always converts to a finite double; larger ones take the slow path.
_INT_FLOAT_LIMIT = 2**1023


class Item(NamedTuple):  # a tuple: a push builds thousands of them
    position: int  # in the pushed batch (CSV: data row), from 0
    meter_id: str
    ts_ms: int  # UTC epoch milliseconds
    value: float
    unit: str


class OutOfRange(NamedTuple):
    """A well-formed reading whose time is outside the bounds: rejected on its own."""

    position: int
    meter_id: str
    ts: str  # as pushed: it names no instant the platform stores
    detail: str


@dataclass(frozen=True, slots=True)
class Parsed:
    """A push's readings: well-formed ones, and those refused for their time alone."""

    items: list[Item]
    out_of_range: list[OutOfRange] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.items) + len(self.out_of_range)


class MediaType:
    JSON = "application/json"
    CSV = "text/csv"


def _ts_ms(text: Any, bounds: TimeBounds = REPRESENTABLE) -> int:
    """UTC epoch ms of an aware ISO 8601 time within ``bounds``; TimestampOutOfRangeError for a
    well-formed time outside them (a year beyond 0001-9999 in expanded form included)."""
    if not isinstance(text, str):
        raise ValueError(f"ts must be an ISO 8601 string, got {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        if EXPANDED_YEAR.match(text):
            raise TimestampOutOfRangeError(f"ts {text!r} has a year beyond 0001-9999") from None
        raise ValueError(f"ts {text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"ts {text!r} has no UTC offset (a naive time is ambiguous)")
    # Aware subtraction: exact also where the offset crosses year 1 or 9999 in UTC.
    return bounds.check((moment - _EPOCH) // _MS, text)


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH


def _value(value: Any) -> float:
    # bool is an int in Python; a meter never reads "true" kWh.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"value must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("value is too large for a double") from None
    if not isfinite(number):
        raise ValueError(f"value must be finite, got {value!r}")
    return number


def _text(value: Any, pattern: re.Pattern[str], name: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{name} must be a string matching {pattern.pattern}, got {value!r}")
    return value


def _well_formed(index: int, obj: Any, times: dict[str, int], bounds: TimeBounds) -> Item | None:
    """The common case, checked fast: exactly the four fields, each of the exact type, a
    finite float or an int, and a time seen before in this batch or parsed once. ``None``
    sends the reading to ``_item``, which applies the same rules and names every problem."""
    if type(obj) is not dict or len(obj) != 4:
        return None
    fields: dict[str, Any] = obj
    meter_id, ts, unit = fields.get("meter_id"), fields.get("ts"), fields.get("unit")
    value: Any = fields.get("value")
    if type(meter_id) is not str or type(unit) is not str or type(ts) is not str:
        return None
    kind = type(value)
    if kind is float:
        if not isfinite(value):
            return None
    elif kind is int and -_INT_FLOAT_LIMIT < value < _INT_FLOAT_LIMIT:
        value = float(value)
    else:
        return None
    if not _ID_MATCH(meter_id) or not _UNIT_MATCH(unit):
        return None
    ts_ms = times.get(ts)
    if ts_ms is None:
        try:
            ts_ms = times[ts] = _ts_ms(ts, bounds)
        except ValueError:
            return None
    return Item(index, meter_id, ts_ms, value, unit)


def _item(
    index: int, obj: Any, errors: list[dict[str, Any]], bounds: TimeBounds
) -> Item | OutOfRange | None:
    if not isinstance(obj, dict):
        errors.append({"index": index, "detail": "a reading must be an object"})
        return None
    problems = [f"unknown field {k!r}" for k in obj if k not in _FIELDS]
    problems += [f"missing field {k!r}" for k in _FIELDS if k not in obj]
    parsed: dict[str, Any] = {}
    out_of_range: str | None = None
    for name, check in (
        ("meter_id", lambda v: _text(v, _ID, "meter_id")),
        ("ts", lambda v: _ts_ms(v, bounds)),
        ("value", _value),
        ("unit", lambda v: _text(v, _UNIT, "unit")),
    ):
        if name in obj:
            try:
                parsed[name] = check(obj[name])
            except TimestampOutOfRangeError as exc:
                out_of_range = str(exc)
            except ValueError as exc:
                problems.append(str(exc))
    if problems:
        if out_of_range is not None:
            problems.append(out_of_range)
        errors.append({"index": index, "detail": "; ".join(problems)})
        return None
    if out_of_range is not None:
        return OutOfRange(index, parsed["meter_id"], obj["ts"], out_of_range)
    return Item(index, parsed["meter_id"], parsed["ts"], parsed["value"], parsed["unit"])


def _json_items(body: bytes) -> list[Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"readings"}:
        raise ApiError(422, 'the body must be an object with exactly one field, "readings"')
    items = doc["readings"]
    if not isinstance(items, list):
        raise ApiError(422, '"readings" must be a list')
    return items


def _number(text: str) -> float | str:
    """A CSV value: a JSON number literal becomes a float; anything else stays text (refused)."""
    return float(text) if _NUMBER.match(text) else text


def _csv_items(body: bytes) -> list[Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(422, f"the CSV body is not valid UTF-8: {exc}") from None
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = next(rows, None)
        if header is None or sorted(header) != sorted(_FIELDS):
            raise ApiError(422, f"the CSV header must be {','.join(_FIELDS)}, got {header!r}")
        items: list[Any] = []
        for row in rows:
            if not row:
                continue  # a blank line carries no reading
            if len(row) != len(header):
                items.append(f"{len(row)} fields where the header has {len(header)}")
                continue
            record: dict[str, Any] = dict(zip(header, row, strict=True))
            record["value"] = _number(record["value"])
            items.append(record)
    except csv.Error as exc:
        raise ApiError(422, f"malformed CSV at line {rows.line_num}: {exc}") from None
    return items


def media_type(content_type: str | None) -> str:
    """The body's media type, or 415; a charset other than UTF-8 is refused too."""
    if not content_type:
        raise ApiError(415, "send Content-Type: application/json or text/csv")
    kind, _, params = content_type.partition(";")
    kind = kind.strip().lower()
    charset = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_-]+)", params)
    if kind not in (MediaType.JSON, MediaType.CSV):
        raise ApiError(415, f"unsupported content type {kind!r}: use application/json or text/csv")
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        raise ApiError(415, f"unsupported charset {charset.group(1)!r}: use UTF-8")
    return kind


def parse_body(
    body: bytes, *, kind: str, max_readings: int, bounds: TimeBounds = REPRESENTABLE
) -> Parsed:
    """The pushed readings, or an ApiError: 413 above ``max_readings``, 422 when malformed.

    Readings whose time is outside ``bounds`` come back apart (``out_of_range``), each to be
    answered as rejected with TIMESTAMP_OUT_OF_RANGE."""
    raw = _json_items(body) if kind == MediaType.JSON else _csv_items(body)
    if not raw:
        raise ApiError(422, "the batch holds no readings")
    if len(raw) > max_readings:
        raise ApiError(
            413,
            f"{len(raw)} readings exceed the limit of {max_readings} per push",
            limit=max_readings,
        )
    errors: list[dict[str, Any]] = []
    items: list[Item] = []
    out_of_range: list[OutOfRange] = []
    times: dict[str, int] = {}  # a push's readings share a few timestamps
    for index, obj in enumerate(raw):
        item = _well_formed(index, obj, times, bounds)
        if item is None:
            if isinstance(obj, str):  # a CSV row of the wrong width
                errors.append({"index": index, "detail": obj})
                continue
            checked = _item(index, obj, errors, bounds)
            if isinstance(checked, OutOfRange):
                out_of_range.append(checked)
                continue
            item = checked
        if item is not None:
            items.append(item)
    if errors:
        raise ApiError(
            422,
            f"{len(errors)} malformed reading(s); nothing was accepted",
            error_count=len(errors),
            errors=errors[:_MAX_ERRORS],
        )
    return Parsed(items, out_of_range)
