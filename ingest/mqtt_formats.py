"""MQTT payloads to meter values: EMQX Neuron's upload message and plain JSON. Pure, no I/O.

Neuron (MQTT north app, "Upload Format"): one message per south node group and read cycle,
``{"node", "group", "timestamp", "values": {tag: value}, "errors": {tag: code}}`` in
values-format or ``{"node", "group", "timestamp", "tags": [{"name", "value" | "error"}]}`` in
tags-format; ``timestamp`` is the read time in ms since the epoch; other keys (``metas``) are
ignored. A tag in ``errors`` (or with an ``error``) is a failed read: a mapped one becomes a BAD
reading with no value, never a silent gap (clause 8.4 completeness).

Plain JSON: an object, or an array of objects, each with the reading time under the
subscription's ``time_key`` (integer ms since the epoch, or ISO 8601 text with an offset) and
values under the points' keys.

A message that cannot be read at all raises :class:`MalformedPayloadError` with the reason; a mapped
value that is not a finite number becomes a BAD reading (the message's other values go on).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from paho.mqtt.client import topic_matches_sub

from contracts.records import MAX_READINGS_PER_BATCH, Quality
from ingest.mqtt_config import MqttPoint, MqttSubscription, PayloadFormat

_INT64 = 2**63


class MalformedPayloadError(ValueError):
    """The payload is not a message of its subscription's format."""


@dataclass(frozen=True, slots=True)
class PointValue:
    """One mapped value of a message: a GOOD value, or BAD (value NaN) with the reason."""

    point: MqttPoint
    ts_ms: int
    value: float
    quality: Quality
    problem: str = ""  # why it is BAD: the device's error code or the value that was sent


@dataclass(frozen=True, slots=True)
class Decoded:
    values: list[PointValue]
    unmapped: int  # values of the message that no point maps (a Neuron group's other tags)
    origin: str  # "node/group" for Neuron, the topic for JSON: where unmapped values came from


class PointIndex:
    """The points of one subscription, looked up by (node, group, tag) or by (topic, key)."""

    def __init__(self, subscription: MqttSubscription) -> None:
        self.subscription = subscription
        self._neuron: dict[tuple[str, str, str], MqttPoint] = {}
        self._json: dict[tuple[str | None, str], MqttPoint] = {}
        for p in subscription.points:
            if p.node is not None and p.group is not None and p.tag is not None:
                self._neuron[(p.node, p.group, p.tag)] = p
            elif p.key is not None:
                self._json[(p.topic, p.key)] = p

    def decode(self, topic: str, payload: bytes) -> Decoded:
        """The mapped values of one message; raises MalformedPayloadError."""
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise MalformedPayloadError(f"not JSON: {exc}") from exc
        if self.subscription.format is PayloadFormat.NEURON:
            return self._neuron_message(doc)
        return self._json_message(topic, doc)

    def _neuron_message(self, doc: Any) -> Decoded:
        if not isinstance(doc, dict):
            raise MalformedPayloadError("a Neuron upload is a JSON object")
        node, group = doc.get("node"), doc.get("group")
        if not isinstance(node, str) or not isinstance(group, str):
            raise MalformedPayloadError("a Neuron upload needs 'node' and 'group' strings")
        ts_ms = _epoch_ms(doc.get("timestamp"), "timestamp")
        values, errors = _neuron_tags(doc)
        out: list[PointValue] = []
        unmapped = 0
        for tag, raw in values.items():
            point = self._neuron.get((node, group, tag))
            if point is None:
                unmapped += 1
            else:
                out.append(_value(point, ts_ms, raw))
        for tag, code in errors.items():
            point = self._neuron.get((node, group, tag))
            if point is None:
                unmapped += 1
            else:
                out.append(PointValue(point, ts_ms, math.nan, Quality.BAD, f"error {code!r}"))
        return Decoded(out, unmapped, f"{node}/{group}")

    def _json_message(self, topic: str, doc: Any) -> Decoded:
        items = doc if isinstance(doc, list) else [doc]
        if not items or len(items) > MAX_READINGS_PER_BATCH:
            raise MalformedPayloadError(f"expected 1 to {MAX_READINGS_PER_BATCH} objects")
        key = self.subscription.time_key
        out: list[PointValue] = []
        unmapped = 0
        for item in items:
            if not isinstance(item, dict):
                raise MalformedPayloadError("plain JSON is an object or an array of objects")
            ts_ms = _time(item.get(key), key)
            for name, raw in item.items():
                if name == key:
                    continue
                point = self._json.get((topic, name)) or self._json.get((None, name))
                if point is None:
                    unmapped += 1
                else:
                    out.append(_value(point, ts_ms, raw))
        return Decoded(out, unmapped, topic)


def _neuron_tags(doc: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values by tag, error codes by tag) of values-format or tags-format."""
    if "tags" in doc:
        tags = doc["tags"]
        if not isinstance(tags, list):
            raise MalformedPayloadError("'tags' must be an array")
        values: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for tag in tags:
            if not isinstance(tag, dict) or not isinstance(tag.get("name"), str):
                raise MalformedPayloadError("each element of 'tags' needs a 'name' string")
            if "error" in tag:
                errors[tag["name"]] = tag["error"]
            elif "value" in tag:
                values[tag["name"]] = tag["value"]
            else:
                raise MalformedPayloadError(f"tag {tag['name']!r} has neither 'value' nor 'error'")
        return values, errors
    values, errors = doc.get("values", {}), doc.get("errors", {})
    if not isinstance(values, dict) or not isinstance(errors, dict):
        raise MalformedPayloadError("'values' and 'errors' must be objects")
    if "values" not in doc and "errors" not in doc:
        raise MalformedPayloadError("a Neuron upload needs 'values'/'errors' or 'tags'")
    return values, errors


def _value(point: MqttPoint, ts_ms: int, raw: Any) -> PointValue:
    # bool is an int in Python; a meter never reads "true" kWh.
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = (float(raw) * point.scale + point.offset) * point.multiplier
        if math.isfinite(value):
            return PointValue(point, ts_ms, value, Quality.GOOD)
    return PointValue(point, ts_ms, math.nan, Quality.BAD, f"value {_short(raw)}")


def _epoch_ms(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -_INT64 < value < _INT64:
        raise MalformedPayloadError(
            f"'{key}' must be an integer of ms since the epoch, got {_short(value)}"
        )
    return value


def _time(value: Any, key: str) -> int:
    """Integer ms since the epoch, or ISO 8601 text with an offset (a naive time is refused)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise MalformedPayloadError(f"'{key}' {_short(value)} is not ISO 8601") from exc
        if moment.tzinfo is None:
            raise MalformedPayloadError(f"'{key}' {_short(value)} has no UTC offset")
        return _ms(moment)
    return _epoch_ms(value, key)


def _ms(moment: datetime) -> int:
    offset = moment.utcoffset()
    assert offset is not None
    # In timedeltas, never datetimes: 0001-01-01T00:00+01:00 is before year 1 in UTC.
    delta = moment.replace(tzinfo=None) - datetime(1970, 1, 1) - offset
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def matching(indexes: list[PointIndex], topic: str) -> Iterator[PointIndex]:
    """The subscriptions whose filter matches ``topic``, in config order."""
    return (i for i in indexes if topic_matches_sub(i.subscription.topic, topic))
