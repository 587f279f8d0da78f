"""Splitting an encoded ``readings.raw`` batch by size: what each producer sends."""

from __future__ import annotations

import math

import pytest

from contracts.records import Quality, RawReading, ReadingBatch, Source, decode_batch, encode_batch
from contracts.split import MessageTooLargeError, split_message


def _batch(n: int) -> ReadingBatch:
    readings = tuple(
        RawReading(f"M-{i % 97:02d}", 1_767_225_600_000 + i * 1000, i * 1.5, "kWh", 10 * i)
        if i % 50
        else RawReading(
            f"M-{i % 97:02d}", 1_767_225_600_000 + i * 1000, math.nan, "kWh", 10 * i, Quality.BAD
        )
        for i in range(n)
    )
    return ReadingBatch(Source.OPCUA, "gw", "gw/ua", readings)


def test_a_batch_within_the_limit_is_sent_as_it_is() -> None:
    payload = encode_batch(_batch(100))
    assert split_message(payload, len(payload)) == [payload]


@pytest.mark.parametrize("limit", [10_000, 100_000, 900_000])
def test_parts_fit_the_limit_and_keep_envelope_order_and_seq(limit: int) -> None:
    batch = _batch(10_000)
    payload = encode_batch(batch)
    parts = split_message(payload, limit)
    assert len(parts) >= math.ceil(len(payload) / limit) >= 2
    assert all(len(p) <= limit for p in parts)
    decoded = [decode_batch(p) for p in parts]
    assert all(not d.rejections and d.batch for d in decoded)
    envelopes = {
        (d.batch.source, d.batch.gateway_id, d.batch.source_key) for d in decoded if d.batch
    }
    assert envelopes == {(Source.OPCUA, "gw", "gw/ua")}
    again = [r for d in decoded if d.batch for r in d.batch.readings]
    assert [(r.meter_id, r.ts_ms, r.seq, r.quality) for r in again] == [
        (r.meter_id, r.ts_ms, r.seq, r.quality) for r in batch.readings
    ]
    # Re-joined, the parts are the batch byte for byte: nothing re-encoded differently.
    assert encode_batch(ReadingBatch(Source.OPCUA, "gw", "gw/ua", tuple(again))) == payload


def test_one_reading_above_the_limit_cannot_be_split() -> None:
    payload = encode_batch(_batch(200))
    with pytest.raises(MessageTooLargeError, match="one reading makes a"):
        split_message(payload, 150)


def test_a_payload_that_is_no_batch_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="not an encoded batch"):
        split_message(b'{"v": 1, "readings": 3}' + b" " * 100, 50)
