"""Decoding MQTT payloads (pure): Neuron's upload formats and plain JSON, and what is malformed."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from contracts.records import Quality
from ingest.mqtt_config import MqttSubscription
from ingest.mqtt_formats import MalformedPayloadError, PointIndex

NEURON = PointIndex(
    MqttSubscription.model_validate(
        {
            "topic": "/neuron/#",
            "format": "neuron",
            "points": [
                {
                    "node": "n",
                    "group": "g",
                    "tag": "kwh",
                    "meter_id": "E-1",
                    "unit": "kWh",
                    "multiplier": 1e300,
                },
                {"node": "n", "group": "g", "tag": "kw", "meter_id": "E-1.kw", "unit": "kW"},
            ],
        }
    )
)
JSON = PointIndex(
    MqttSubscription.model_validate(
        {"topic": "p/#", "format": "json", "points": [{"key": "v", "meter_id": "V", "unit": "m3"}]}
    )
)


def values(index: PointIndex, doc: Any, topic: str = "t") -> list[tuple[str, int, Any, Quality]]:
    decoded = index.decode(topic, orjson.dumps(doc))
    return [
        (v.point.meter_id, v.ts_ms, None if math.isnan(v.value) else v.value, v.quality)
        for v in decoded.values
    ]


def test_neuron_values_that_are_not_finite_numbers_are_bad_readings() -> None:
    doc = {"node": "n", "group": "g", "timestamp": 5, "values": {"kwh": 1e10, "kw": True}}
    # 1e10 x 1e300 overflows to infinity: flagged, never sent as a number.
    assert values(NEURON, doc) == [("E-1", 5, None, Quality.BAD), ("E-1.kw", 5, None, Quality.BAD)]


def test_another_node_or_group_maps_nothing_and_is_counted_as_unmapped() -> None:
    doc = {"node": "n", "group": "other", "timestamp": 5, "values": {"kwh": 1}, "errors": {"kw": 1}}
    decoded = NEURON.decode("t", orjson.dumps(doc))
    assert (decoded.values, decoded.unmapped, decoded.origin) == ([], 2, "n/other")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "not JSON"),
        (b"[]", "a Neuron upload is a JSON object"),
        (b'{"node": "n", "timestamp": 5, "values": {}}', "needs 'node' and 'group'"),
        (b'{"node": "n", "group": "g", "timestamp": true, "values": {}}', "'timestamp' must be"),
        (b'{"node": "n", "group": "g", "timestamp": 1.5, "values": {}}', "'timestamp' must be"),
        (b'{"node": "n", "group": "g", "timestamp": 5}', "needs 'values'/'errors' or 'tags'"),
        (b'{"node": "n", "group": "g", "timestamp": 5, "values": []}', "must be objects"),
        (b'{"node": "n", "group": "g", "timestamp": 5, "tags": [{"value": 1}]}', "'name' string"),
        (b'{"node": "n", "group": "g", "timestamp": 5, "tags": [{"name": "kw"}]}', "neither"),
    ],
)
def test_a_message_that_is_not_a_neuron_upload_is_malformed_with_its_reason(
    payload: bytes, reason: str
) -> None:
    with pytest.raises(MalformedPayloadError, match=reason):
        NEURON.decode("t", payload)


def test_json_times_are_ms_or_iso_8601_with_an_offset_even_before_1970() -> None:
    assert values(
        JSON,
        [
            {"ts": "1969-12-31T23:59:59.999-00:00", "v": 1},
            {"ts": "0001-01-01T00:30:00+01:00", "v": 2},
        ],
    ) == [
        ("V", -1, 1.0, Quality.GOOD),
        ("V", -62135598600000, 2.0, Quality.GOOD),
    ]


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"v": 1}, "'ts' must be an integer"),
        ({"ts": "2025-11-25T08:00:00", "v": 1}, "has no UTC offset"),
        ({"ts": "yesterday", "v": 1}, "is not ISO 8601"),
        ({"ts": 2**63, "v": 1}, "'ts' must be an integer"),
        ([], "expected 1 to 10000 objects"),
        ([1], "an object or an array of objects"),
    ],
)
def test_a_json_message_without_a_usable_time_is_malformed(doc: Any, reason: str) -> None:
    with pytest.raises(MalformedPayloadError, match=reason):
        JSON.decode("p/x", orjson.dumps(doc))
