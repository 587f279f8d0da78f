from __future__ import annotations

from datetime import date

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting.instants import TimeBounds
from contracts.records import (
    MAX_READINGS_PER_BATCH,
    DecodeReason,
    Quality,
    RawReading,
    ReadingBatch,
    Rejection,
    Source,
    decode_batch,
    decode_rejections,
    encode_batch,
    encode_rejections,
    ms_to_iso,
    ts_to_ms,
)
from stream.columns import decode_columns


def _reading(**changes: object) -> dict[str, object]:
    reading: dict[str, object] = {
        "meter_id": "E-1",
        "ts": "2026-11-25T08:00:00+08:00",
        "value": 1234.5,
        "unit": "kWh",
        "seq": 7,
    }
    reading.update(changes)
    return reading


def _message(*readings: object, **changes: object) -> bytes:
    message: dict[str, object] = {
        "v": 1,
        "source": "modbus",
        "gateway_id": "gw-1",
        "source_key": "gw-1/dev-1",
        "readings": list(readings),
    }
    message.update(changes)
    return orjson.dumps(message)


def test_a_good_batch_decodes_with_utc_milliseconds() -> None:
    decoded = decode_batch(_message(_reading()))
    assert decoded.rejections == []
    assert decoded.batch == ReadingBatch(
        Source.MODBUS,
        "gw-1",
        "gw-1/dev-1",
        (RawReading("E-1", 1_795_564_800_000, 1234.5, "kWh", 7, Quality.GOOD),),
    )


def test_encode_then_decode_is_the_identity() -> None:
    batch = ReadingBatch(
        Source.OPCUA,
        "gw-2",
        "gw-2/opc",
        (
            RawReading("G-1", 1_700_000_000_123, 5.25, "Nm3", 1),
            RawReading("G-1", 1_700_000_060_123, float("nan"), "Nm3", 2, Quality.BAD),
        ),
    )
    again = decode_batch(encode_batch(batch)).batch
    assert again is not None
    assert again.readings[0] == batch.readings[0]
    assert again.readings[1].quality is Quality.BAD and again.readings[1].seq == 2


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (_message(_reading(), v=2), "unsupported wire version 2"),
        (_message(_reading(), source="smoke-signals"), "is not a valid Source"),
        (_message(), "readings must be a non-empty list"),
        (_message(_reading(), gateway_id=""), "gateway_id must be a string"),
        # "$" lets a trailing newline through in Python; the contract's IDs end at the end.
        (_message(_reading(), gateway_id="gw-1\n"), "gateway_id must be a string"),
        (_message(_reading(), source_key="gw-1/dev-1\n"), "source_key must be a string"),
        (
            _message(*[_reading(seq=i) for i in range(MAX_READINGS_PER_BATCH + 1)]),
            "exceed the batch limit",
        ),
    ],
)
def test_a_malformed_message_is_one_rejection_carrying_its_bytes(raw: bytes, why: str) -> None:
    decoded = decode_batch(raw)
    assert decoded.batch is None
    [rejection] = decoded.rejections
    assert rejection.reason == DecodeReason.MALFORMED_MESSAGE
    assert why in rejection.detail
    assert rejection.payload == raw.decode()


def test_undecodable_bytes_are_kept_as_base64() -> None:
    [rejection] = decode_batch(b"\xff\xfe\x00").rejections
    assert rejection.payload == "base64://4A"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (_reading(value=True), "value must be a finite number"),
        (_reading(value="12.5"), "value must be a finite number"),
        (_reading(value=None), "value must be a finite number"),
        (_reading(ts="2026-11-25T08:00:00"), "has no UTC offset"),
        (_reading(ts=1_700_000_000), "ts must be an ISO 8601 string"),
        (_reading(ts="yesterday"), "Invalid isoformat"),
        (_reading(seq=-1), "seq must be a non-negative integer"),
        (_reading(seq=1.5), "seq must be a non-negative integer"),
        (_reading(meter_id="a b"), "meter_id must be a string"),
        (_reading(unit=""), "unit must be a string"),
        (_reading(meter_id="E-0001\n"), "meter_id must be a string"),
        (_reading(unit="kWh\n"), "unit must be a string"),
        (_reading(colour="red"), "unknown fields ['colour']"),
        (_reading(quality="excellent"), "is not a valid Quality"),
        ("E-1;1234.5", "a reading must be an object"),
    ],
)
def test_a_malformed_reading_is_quarantined_and_the_rest_of_the_batch_goes_on(
    bad: object, why: str
) -> None:
    decoded = decode_batch(_message(_reading(seq=1), bad, _reading(seq=3)))
    assert decoded.batch is not None
    assert [r.seq for r in decoded.batch.readings] == [1, 3]
    [rejection] = decoded.rejections
    assert rejection.reason == DecodeReason.MALFORMED_READING
    assert why in rejection.detail
    assert rejection.payload == bad
    assert (rejection.source_key, rejection.gateway_id) == ("gw-1/dev-1", "gw-1")


def test_non_finite_json_numbers_are_refused() -> None:
    raw = _message(_reading()).replace(b"1234.5", b"NaN")
    decoded = decode_batch(raw)
    assert decoded.batch is None
    assert decoded.rejections[0].reason == DecodeReason.MALFORMED_MESSAGE


def test_a_bad_quality_reading_may_carry_no_value() -> None:
    decoded = decode_batch(_message(_reading(value=None, quality="bad")))
    assert decoded.batch is not None and decoded.rejections == []
    assert decoded.batch.readings[0].quality is Quality.BAD


def test_rejections_round_trip_with_reason_and_payload() -> None:
    raw = encode_rejections(
        [
            Rejection(
                "MALFORMED_READING",
                "value must be a finite number",
                source_key="k",
                meter_id="E-1",
                ts_ms=0,
                payload={"value": "x"},
            )
        ],
        rejected_at_ms=1_000,
    )
    [item] = decode_rejections(raw)
    assert item["reason"] == "MALFORMED_READING"
    assert item["ts"] == "1970-01-01T00:00:00.000Z"
    assert item["payload"] == {"value": "x"}


def test_timestamps_convert_both_ways_at_millisecond_precision() -> None:
    assert ts_to_ms("2026-01-01T00:00:00.123Z") == 1_767_225_600_123
    assert ms_to_iso(1_767_225_600_123) == "2026-01-01T00:00:00.123Z"
    assert ts_to_ms("2026-01-01T08:00:00+08:00") == 1_767_225_600_000


def test_the_history_marker_travels_on_the_wire_and_a_message_without_it_is_live() -> None:
    from contracts.records import RawReading, ReadingBatch, Source, decode_batch, encode_batch
    from stream.columns import decode_columns

    reading = RawReading("E-1", 1_700_000_000_000, 1.5, "kWh", 7)
    history = ReadingBatch(Source.EMS, "g", "backfill:E-1", (reading,), history=True)
    live = ReadingBatch(Source.EMS, "g", "k", (reading,))
    assert decode_batch(encode_batch(history)).batch == history
    assert b"history" not in encode_batch(live)  # live messages are unchanged on the wire
    assert decode_batch(encode_batch(live)).batch == live
    columns = decode_columns(encode_batch(history)).batch
    assert columns is not None and columns.history
    old = decode_columns(encode_batch(live)).batch
    assert old is not None and not old.history


def test_a_history_marker_that_is_not_a_boolean_makes_the_message_malformed() -> None:
    from contracts.records import decode_batch

    raw = (
        b'{"v": 1, "source": "ems", "gateway_id": "g", "source_key": "k", "history": "yes",'
        b' "readings": [{"meter_id": "E-1", "ts": "2026-01-01T00:00:00Z", "value": 1,'
        b' "unit": "kWh", "seq": 1}]}'
    )
    decoded = decode_batch(raw)
    assert decoded.batch is None
    assert decoded.rejections[0].reason == "MALFORMED_MESSAGE"
    assert "history must be true or false" in decoded.rejections[0].detail


# -- time bounds: any ISO 8601 time of years 0001-9999 with an offset up to ±23:59 ------------

NOW = 1_767_225_600_000  # 2026-01-01T00:00Z
BOUNDS = TimeBounds.around(NOW, 100)


@st.composite
def _iso_texts(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
    clock = draw(st.times())
    fraction = draw(st.sampled_from(["", ".5", ".123", ".123456"]))
    zone = draw(
        st.one_of(
            st.just("Z"),
            st.builds(
                lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
                st.sampled_from("+-"),
                st.integers(0, 23),
                st.integers(0, 59),
            ),
        )
    )
    return f"{day.isoformat()}T{clock.strftime('%H:%M:%S')}{fraction}{zone}"


def test_the_reviewed_timestamp_is_one_rejection_and_the_rest_of_the_batch_goes_on() -> None:
    bad = _reading(ts="9999-12-31T23:59:59-23:59", seq=1)
    decoded = decode_batch(_message(_reading(seq=0), bad, _reading(seq=2)), bounds=BOUNDS)
    assert decoded.batch is not None and [r.seq for r in decoded.batch.readings] == [0, 2]
    [rejection] = decoded.rejections
    assert rejection.reason == DecodeReason.TIMESTAMP_OUT_OF_RANGE
    assert rejection.meter_id == "E-1" and rejection.ts_ms is None
    assert rejection.payload == bad  # the raw text is kept: nothing lost
    assert "+010000-01-01T23:58:59.000Z" in rejection.detail
    [item] = decode_rejections(encode_rejections(decoded.rejections, rejected_at_ms=NOW))
    assert item["reason"] == "TIMESTAMP_OUT_OF_RANGE"
    assert item["payload"]["ts"] == "9999-12-31T23:59:59-23:59"


def test_a_year_below_1000_is_out_of_the_sanity_bound_but_not_malformed() -> None:
    decoded = decode_batch(_message(_reading(ts="0999-01-01T00:00:00Z")), bounds=BOUNDS)
    assert decoded.batch is None
    assert [r.reason for r in decoded.rejections] == [DecodeReason.TIMESTAMP_OUT_OF_RANGE]
    # Without a sanity bound it is an instant like any other, and it round-trips.
    unbounded = decode_batch(_message(_reading(ts="0999-01-01T00:00:00Z"))).batch
    assert unbounded is not None
    assert ms_to_iso(unbounded.readings[0].ts_ms) == "0999-01-01T00:00:00.000Z"


@given(text=_iso_texts())
@settings(max_examples=300, deadline=None)
def test_any_iso_time_decodes_in_bounds_or_is_rejected_on_its_own(text: str) -> None:
    raw = _message(_reading(seq=0), _reading(ts=text, seq=1))
    for decoded in (decode_batch(raw, bounds=BOUNDS), decode_columns(raw, bounds=BOUNDS)):
        assert decoded.batch is not None
        stamps = (
            [r.ts_ms for r in decoded.batch.readings]
            if isinstance(decoded.batch, ReadingBatch)
            else decoded.batch.ts_ms.tolist()
        )
        assert all(t in BOUNDS for t in stamps)
        if len(stamps) == 2:
            assert decoded.rejections == []
        else:
            [rejection] = decoded.rejections
            assert rejection.reason == DecodeReason.TIMESTAMP_OUT_OF_RANGE
            assert rejection.payload["ts"] == text
            encode_rejections(decoded.rejections, rejected_at_ms=NOW)  # never raises
        encode_batch(
            decoded.batch
            if isinstance(decoded.batch, ReadingBatch)
            else ReadingBatch(
                Source.MODBUS,
                "gw-1",
                "gw-1/dev-1",
                tuple(decoded.batch.reading(i) for i in range(len(decoded.batch))),
            )
        )


@given(ms=st.integers(min_value=BOUNDS.lo_ms, max_value=BOUNDS.hi_ms))
def test_any_in_bound_instant_round_trips_through_the_batch_contract(ms: int) -> None:
    batch = ReadingBatch(
        Source.MODBUS, "gw-1", "gw-1/dev-1", (RawReading("E-1", ms, 1.0, "kWh", 0),)
    )
    assert decode_batch(encode_batch(batch), bounds=BOUNDS).batch == batch
    columns = decode_columns(encode_batch(batch), bounds=BOUNDS).batch
    assert columns is not None and columns.ts_ms.tolist() == [ms]
