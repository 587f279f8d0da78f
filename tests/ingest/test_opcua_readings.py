"""DataValue to RawReading rules, without a server: timestamps, sequence numbers, quality."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

import pytest
from asyncua import ua

from contracts.records import Quality, ms_to_iso
from ingest.metrics import GatewayMetrics
from ingest.opcua_config import OpcUaPoint
from ingest.opcua_readings import ReadingMaker


def _maker(first_seq: int = 0) -> ReadingMaker:
    return ReadingMaker(
        server_name="ua1", metrics=GatewayMetrics(), skew_threshold_s=5, first_seq=first_seq
    )


POINT = OpcUaPoint(node_id="ns=2;s=X", meter_id="M-1", unit="kWh", poll_interval_s=1.0)
T0 = ua.DateTime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


def test_timestamps_fall_back_from_source_to_server_to_receive_time() -> None:
    maker = _maker(first_seq=100)
    value = ua.Variant(1.5, ua.VariantType.Double)
    source = maker.reading(POINT, ua.DataValue(value, SourceTimestamp=T0), T0_MS + 50)
    server = maker.reading(POINT, ua.DataValue(value, ServerTimestamp=T0), T0_MS + 50)
    neither = maker.reading(POINT, ua.DataValue(value), T0_MS + 50)
    assert [source.ts_ms, server.ts_ms, neither.ts_ms] == [T0_MS, T0_MS, T0_MS + 50]
    assert [source.seq, server.seq, neither.seq] == [100, 101, 102]
    assert maker.next_seq == 103


@pytest.mark.parametrize(
    ("status", "value", "quality"),
    [
        (ua.StatusCodes.Good, 2.0, Quality.GOOD),
        (ua.StatusCodes.UncertainLastUsableValue, 2.0, Quality.UNCERTAIN),
        (ua.StatusCodes.BadSensorFailure, 2.0, Quality.BAD),
        (ua.StatusCodes.Good, "n/a", Quality.BAD),
        (ua.StatusCodes.Good, math.inf, Quality.BAD),
        (ua.StatusCodes.Good, True, Quality.BAD),
    ],
)
def test_status_and_value_decide_the_quality_and_bad_readings_carry_nan(
    status: int, value: Any, quality: Quality
) -> None:
    data = ua.DataValue(ua.Variant(value), ua.StatusCode(status), SourceTimestamp=T0)
    reading = _maker().reading(POINT, data, T0_MS)
    assert reading.quality is quality
    assert math.isnan(reading.value) is (quality is Quality.BAD)


@pytest.mark.parametrize(
    "stamp",
    [
        ua.DateTime(1601, 1, 1, tzinfo=UTC),  # OPC UA DateTime MinValue
        ua.DateTime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),  # MaxValue
        ua.DateTime(1900, 1, 1, tzinfo=UTC),
    ],
)
def test_a_device_time_beyond_the_bound_is_counted_and_sent_on_as_stamped(stamp: Any) -> None:
    metrics = GatewayMetrics()
    maker = ReadingMaker(server_name="ua1", metrics=metrics, skew_threshold_s=5, bound_years=100)
    value = ua.Variant(1.5, ua.VariantType.Double)
    reading = maker.reading(POINT, ua.DataValue(value, SourceTimestamp=stamp), T0_MS)
    # Not replaced by another time: the worker quarantines it as TIMESTAMP_OUT_OF_RANGE.
    assert reading.ts_ms == int(stamp.timestamp() * 1000)
    assert ms_to_iso(reading.ts_ms).startswith(stamp.strftime("%Y").rjust(4, "0"))
    inside = maker.reading(POINT, ua.DataValue(value, SourceTimestamp=T0), T0_MS)
    assert inside.ts_ms == T0_MS
    assert metrics.value("opcua_timestamp_out_of_range_readings_total", server="ua1") == 1
