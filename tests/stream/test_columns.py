"""The worker's columnar path equals the reading-by-reading reference.

``decode_columns`` must decode exactly what ``decode_batch`` decodes; ``validate_batch`` over
many messages must accept, flag and quarantine exactly what validating each message on its own
(per meter, at the message's own time) does; and the COPY text of the accepted readings must
store exactly the rows the row-by-row sink stores.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import psycopg
import pytest

from accounting.carriers import Carrier
from accounting.intervals import meter_intervals
from accounting.meter import MeterProfile, MeterState, RegisterKind
from accounting.metering import MeteringLevel
from accounting.reasons import QUARANTINE_MASK, reason_names
from accounting.validation import validate
from contracts.records import (
    RawReading,
    ReadingBatch,
    Rejection,
    Source,
    ValidReading,
    decode_batch,
    decode_valid,
    encode_batch,
    encode_valid,
)
from stream.columns import ValidColumns, decode_columns
from stream.sink import store_readings, store_valid
from stream.validate import StreamReason, validate_batch

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z


def _message(readings: list[Any], **header: Any) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "source": "modbus",
            "gateway_id": "gw-1",
            "source_key": "gw-1/dev-1",
            "readings": readings,
            **header,
        }
    )


def _good(i: int, **changes: Any) -> dict[str, Any]:
    reading: dict[str, Any] = {
        "meter_id": f"E-{i % 3}",
        "ts": f"2026-01-01T00:{i % 60:02d}:00.000Z",
        "value": 1000.0 + i,
        "unit": "kWh",
        "seq": i,
    }
    reading.update(changes)
    return reading


def _same_decoding(raw: bytes) -> None:
    reference = decode_batch(raw)
    columns = decode_columns(raw)
    assert columns.rejections == reference.rejections
    if reference.batch is None:
        assert columns.batch is None
        return
    assert columns.batch is not None
    got = [columns.batch.reading(i) for i in range(len(columns.batch))]
    # Columns carry only whether a reading is BAD (UNCERTAIN validates as GOOD); NaN != NaN:
    # compare a BAD reading's missing value by its repr.
    assert repr([_essence(r) for r in got]) == repr([_essence(r) for r in reference.batch.readings])
    assert (columns.batch.source, columns.batch.gateway_id, columns.batch.source_key) == (
        reference.batch.source,
        reference.batch.gateway_id,
        reference.batch.source_key,
    )


def _essence(r: RawReading) -> tuple[Any, ...]:
    return (r.meter_id, r.ts_ms, r.value, r.unit, r.seq, r.quality.value == "bad")


ODD_READINGS: list[Any] = [
    _good(1, quality="good"),
    _good(2, quality="uncertain"),
    _good(3, quality="bad"),
    _good(4, quality="bad", value=None),
    _good(5, quality=None),
    _good(6, quality="awful"),
    _good(7, value=True),
    _good(8, value="12"),
    _good(9, value=None),
    _good(10, value=7),
    _good(11, value=2**62),
    _good(12, seq=-1),
    _good(13, seq=1.0),
    _good(14, seq=False),
    _good(15, seq=2**64 - 1),
    _good(16, ts="2026-01-01T00:00:00"),  # naive
    _good(17, ts="2026-01-01T08:00:00+08:00"),
    _good(18, ts="yesterday"),
    _good(19, ts=1767225600000),
    _good(20, meter_id="E 1"),
    _good(21, meter_id=""),
    _good(22, meter_id=["E-1"]),
    _good(23, unit="k\\Wh"),
    _good(24, unit="x" * 17),
    _good(25, extra=1),
    {k: v for k, v in _good(26).items() if k != "seq"},
    {k: v for k, v in _good(27).items() if k != "unit"},
    ["E-1", "2026-01-01T00:00:00Z", 1.0, "kWh", 1],
    "E-1",
    None,
    7,
]


@pytest.mark.parametrize("odd", range(len(ODD_READINGS)))
def test_columns_decode_every_odd_reading_as_the_reference_does(odd: int) -> None:
    _same_decoding(_message([_good(0), ODD_READINGS[odd], _good(40)]))
    _same_decoding(_message([ODD_READINGS[odd]]))


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        _message([]),
        _message([_good(0)], v=2),
        _message([_good(0)], source="carrier-pigeon"),
        _message([_good(0)], gateway_id="gw 1"),
        _message([_good(i) for i in range(10_001)]),
        b"\xff\xfe",
    ],
)
def test_columns_decode_malformed_messages_as_the_reference_does(raw: bytes) -> None:
    _same_decoding(raw)


def test_columns_decode_random_mixtures_as_the_reference_does() -> None:
    rng = random.Random(5)
    for _ in range(300):
        readings = [
            rng.choice(ODD_READINGS) if rng.random() < 0.1 else _good(rng.randrange(1000))
            for _ in range(rng.randrange(1, 30))
        ]
        _same_decoding(_message(readings))


# ---------------------------------------------------------------- validation


def _profile(meter_id: str, **changes: Any) -> MeterProfile:
    fields: dict[str, Any] = {
        "meter_id": meter_id,
        "carrier": Carrier.ELECTRICITY,
        "unit": "kWh",
        "register": RegisterKind.CUMULATIVE,
        "expected_interval_ms": 60_000,
        "accuracy_class": "0.5S",
        "multiplier": 40.0,
        "rollover": 1_000_000.0,
        "metering_level": MeteringLevel.UNIT,
        "accuracy_category": "user_class_I",
        "max_rate_per_h": 10_000.0,
    }
    fields.update(changes)
    return MeterProfile(**fields)


def _reference(
    messages: list[tuple[bytes, int]], profiles: Mapping[str, MeterProfile]
) -> tuple[list[list[ValidReading]], list[list[Rejection]], dict[str, MeterState]]:
    """Each message on its own, meter by meter: what the worker did before batches."""
    states: dict[str, MeterState] = {}
    valid_out: list[list[ValidReading]] = []
    rejected_out: list[list[Rejection]] = []
    for raw, now_ms in messages:
        decoded = decode_batch(raw)
        rejections = list(decoded.rejections)
        accepted: list[ValidReading] = []
        batch = decoded.batch
        if batch is not None:
            info = {
                "source_key": batch.source_key,
                "source": batch.source.value,
                "gateway_id": batch.gateway_id,
            }

            def reject(
                r: RawReading,
                reason: str,
                detail: str,
                info: dict[str, str] = info,
                rejections: list[Rejection] = rejections,
            ) -> None:
                value = None if np.isnan(r.value) else r.value
                rejections.append(
                    Rejection(
                        reason,
                        detail,
                        meter_id=r.meter_id,
                        ts_ms=r.ts_ms,
                        value=value,
                        unit=r.unit,
                        seq=r.seq,
                        **info,
                    )
                )

            by_meter: dict[str, list[RawReading]] = {}
            for r in batch.readings:
                by_meter.setdefault(r.meter_id, []).append(r)
            for meter_id, readings in by_meter.items():
                profile = profiles.get(meter_id)
                if profile is None:
                    for r in readings:
                        reject(
                            r,
                            StreamReason.UNKNOWN_METER,
                            f"meter {meter_id} is not in the registry",
                        )
                    continue
                usable = [r for r in readings if r.quality.value != "bad"]
                for r in readings:
                    if r.quality.value == "bad":
                        reject(r, StreamReason.BAD_QUALITY, "the collector marked this value bad")
                if not usable:
                    continue
                result = validate(
                    profile,
                    states.get(meter_id, MeterState()),
                    np.array([r.ts_ms for r in usable], np.int64),
                    np.array([r.value for r in usable], np.float64),
                    now_ms=now_ms,
                    units=[r.unit for r in usable],
                    seq=np.array([r.seq for r in usable], np.int64),
                )
                states[meter_id] = result.state
                for i in np.flatnonzero(result.reasons & QUARANTINE_MASK):
                    names = reason_names(int(result.reasons[i]) & int(QUARANTINE_MASK))
                    reject(usable[i], names[0], "validation: " + ", ".join(names))
                intervals = meter_intervals(profile, result)
                offset = len(result.accepted_index) - len(intervals.quantity)
                starts = [None] * offset + intervals.start_ms.tolist()
                quantities = [None] * offset + intervals.quantity.tolist()
                for k, i in enumerate(result.accepted_index.tolist()):
                    r = usable[i]
                    accepted.append(
                        ValidReading(
                            r.meter_id,
                            r.ts_ms,
                            r.value,
                            r.unit,
                            r.seq,
                            int(result.reasons[i]),
                            starts[k],
                            quantities[k],
                        )
                    )
        valid_out.append(accepted)
        rejected_out.append(rejections)
    return valid_out, rejected_out, states


def _key(r: Rejection) -> tuple[Any, ...]:
    return (r.meter_id or "", r.ts_ms or 0, r.seq or 0, r.reason, r.detail, str(r.payload))


def test_a_batch_validates_exactly_as_its_messages_one_by_one() -> None:
    rng = random.Random(17)
    meters = [f"M-{i}" for i in range(6)]
    profiles = {m: _profile(m) for m in meters[:5]}  # M-5 is unknown
    profiles["M-4"] = _profile("M-4", unit="MWh", calibration_due_ms=T0)
    registers = dict.fromkeys(meters, 1000.0)
    clock = dict.fromkeys(meters, T0)
    seqs = dict.fromkeys(meters, 0)
    sent: list[tuple[bytes, int]] = []
    history: list[dict[str, Any]] = []
    for k in range(60):
        readings: list[dict[str, Any]] = []
        for m in rng.sample(meters, 3):
            for _ in range(rng.randrange(1, 6)):
                fault = rng.random()
                clock[m] += 60_000 * rng.choice([1, 1, 1, 3])
                registers[m] += rng.uniform(0, 5)
                seqs[m] += 1
                reading = {
                    "meter_id": m,
                    "ts": _iso(clock[m]),
                    "value": registers[m],
                    "unit": "kWh",
                    "seq": seqs[m],
                }
                if fault < 0.04:
                    reading["value"] = registers[m] - 50  # negative delta
                elif fault < 0.07:
                    reading["value"] = registers[m] + 1e5  # spike
                elif fault < 0.10:
                    reading["quality"] = "bad"
                elif fault < 0.12:
                    reading["unit"] = "MWh"
                elif fault < 0.14:
                    reading["ts"] = _iso(clock[m] + 10**9)  # future
                elif fault < 0.16 and history:
                    reading = rng.choice(history)  # a replayed reading
                elif fault < 0.17:
                    reading["value"] = None
                    reading["quality"] = "bad"
                history.append(reading)
                readings.append(reading)
        if rng.random() < 0.05:
            readings.append({"meter_id": "M-1", "ts": "nope", "value": 1, "unit": "kWh", "seq": 1})
        sent.append(
            (_message(readings, source_key=f"gw-1/dev-{k % 4}"), T0 + 3_600_000 + k * 300_000)
        )
    if True:  # and a malformed message in the middle
        sent.insert(30, (b"{", T0))

    ref_valid, ref_rejected, ref_states = _reference(sent, profiles)
    states: dict[str, MeterState] = {}
    outcome = validate_batch(
        [decode_columns(raw) for raw, _ in sent],
        [now for _, now in sent],
        profiles=profiles,
        state_of=lambda m: states.get(m, MeterState()),
    )
    assert outcome.states == ref_states
    for k, (expected_valid, expected_rejected) in enumerate(
        zip(ref_valid, ref_rejected, strict=True)
    ):
        batch = outcome.valid.batch(k)
        assert (list(batch.readings) if batch else []) == expected_valid, k
        assert sorted(map(_key, outcome.rejections[k])) == sorted(map(_key, expected_rejected))
        assert sorted(outcome.rejections[k], key=_key) == sorted(expected_rejected, key=_key)
        encoded = outcome.valid.encode(k)
        if batch is None:
            assert encoded is None
        else:
            assert encoded == encode_valid(batch)
            assert decode_valid(encoded) == batch
    assert sum(len(v) for v in ref_valid) == len(outcome.valid) > 100
    seen = {str(r.reason) for rs in ref_rejected for r in rs}
    assert seen >= {
        "UNKNOWN_METER",
        "BAD_QUALITY",
        "NEGATIVE_DELTA",
        "SPIKE",
        "UNIT_MISMATCH",
        "FUTURE_TIMESTAMP",
        "MALFORMED_READING",
        "MALFORMED_MESSAGE",
    }, seen
    assert seen & {"DUPLICATE_TIMESTAMP", "OUT_OF_ORDER"}, seen
    # One stretch per meter covering exactly its new intervals.
    for meter_id, start, end in outcome.spans:
        mine = [r for v in ref_valid for r in v if r.meter_id == meter_id and r.quantity]
        assert (start, end) == (mine[0].interval_start_ms, mine[-1].ts_ms)


def _iso(ms: int) -> str:
    from contracts.records import ms_to_iso

    return ms_to_iso(ms)


# ---------------------------------------------------------------- storing


def _rows(db: psycopg.Connection[Any], meter_prefix: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT substr(meter_id, 2), ts, value, unit, flags, source, gateway_id, seq, "
        "interval_start, quantity, quantity_unit FROM reading WHERE meter_id LIKE %s "
        "ORDER BY meter_id, ts",
        (meter_prefix + "%",),
    ).fetchall()


@pytest.mark.integration
async def test_the_copy_text_stores_what_the_row_by_row_sink_stores(
    database_url: str, db: psycopg.Connection[Any], unique: str
) -> None:
    def valid_of(side: str) -> ValidColumns:
        sent = []
        for k in range(4):
            readings = tuple(
                RawReading(
                    f"{side}{unique}-{i}",
                    T0 + 1 + (k * 5 + j) * 60_123,
                    10.1 + (k * 5 + j) * 1.37 + i,
                    "kWh",
                    k * 5 + j,
                )
                for i in range(3)
                for j in range(5)
            )
            batch = ReadingBatch(Source.OPCUA, "gw-1", f"gw-1/d{k}", readings)
            sent.append((encode_batch(batch), T0 + 10**9))
        profiles = {f"{side}{unique}-{i}": _profile(f"{side}{unique}-{i}") for i in range(3)}
        states: dict[str, MeterState] = {}
        valid = validate_batch(
            [decode_columns(raw) for raw, _ in sent],
            [now for _, now in sent],
            profiles=profiles,
            state_of=lambda m: states.get(m, MeterState()),
        ).valid
        # Text COPY must escape what it writes: a gateway id the decoder would refuse.
        headers = list(valid.headers)
        headers[1] = (Source.EMS, "gw\\odd\tone", "k")
        return dataclasses.replace(valid, headers=headers)

    ours = valid_of("A")
    theirs = valid_of("B")
    partly = valid_of("C")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert await store_valid(conn, ours) == len(ours)
        assert await store_valid(conn, ours) == 0  # a replay stores nothing
        batches = [b for k in range(len(theirs.headers)) if (b := theirs.batch(k))]
        assert await store_readings(conn, batches) == len(theirs)
        # Some already stored (e.g. a meter state reset by hand): only the others go in, and
        # the transaction around it goes on.
        first = partly.batch(0)
        assert first is not None
        async with conn.transaction():
            assert await store_readings(conn, [first]) == len(first.readings)
            assert await store_valid(conn, partly) == len(partly) - len(first.readings)
            await conn.execute("SELECT 1")
    assert len(_rows(db, f"C{unique}")) == len(partly)
    a, b_rows = _rows(db, f"A{unique}"), _rows(db, f"B{unique}")
    assert len(a) == len(ours) == 60
    assert a == b_rows
    assert {row[6] for row in a} == {"gw-1", "gw\\odd\tone"}
    assert sum(row[8] is None for row in a) == 3  # each meter's first reading opens an interval
