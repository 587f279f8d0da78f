"""Meter replacement (a device swap at one metering point, clause 8.3) in the stream worker.

Hand computation used throughout: old device 1000, 1010, 1020; swap recorded with final
register 1025 and initial register 5; new device 10, 20. Consumption after the first reading:
(1010 - 1000) + (1020 - 1010) + (1025 - 1020) + (10 - 5) + (20 - 10) = 10 + 10 + 5 + 5 + 10 = 40,
nothing quarantined.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest

from accounting.carriers import Carrier
from accounting.meter import MeterProfile, MeterState, RegisterKind
from accounting.metering import MeteringLevel
from accounting.reasons import Reason
from accounting.replacement import Replacement, apply_swap, pending
from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from contracts.topics import Topic
from store.registry import Meter, add_enterprise, add_meter, add_park
from stream.columns import DecodedColumns, ReadingColumns
from stream.validate import validate_batch
from tests.conftest import RunningWorker
from tests.stream.test_worker import _produce

QUARTER_MS = 900_000
T0 = (int(time.time() * 1000) // QUARTER_MS - 12) * QUARTER_MS  # three hours ago, on a quarter
SWAP_MS = T0 + 2 * QUARTER_MS + 5 * 60_000  # between the old device's last and the new one's


def _profile(multiplier: float = 1.0, rollover: float | None = None) -> MeterProfile:
    return MeterProfile(
        meter_id="M-1",
        carrier=Carrier.ELECTRICITY,
        unit="kWh",
        register=RegisterKind.CUMULATIVE,
        expected_interval_ms=QUARTER_MS,
        accuracy_class="0.5S",
        metering_level=MeteringLevel.UNIT,
        multiplier=multiplier,
        rollover=rollover,
    )


def _replacement(before: float = 1.0, after: float = 1.0) -> Replacement:
    return Replacement(7, SWAP_MS, 1025.0, 5.0, before, after)


def _decoded(values: list[tuple[int, float]], seq0: int = 0) -> DecodedColumns:
    batch = ReadingBatch(
        Source.MODBUS,
        "gw",
        "gw/M-1",
        tuple(RawReading("M-1", t, v, "kWh", seq0 + i) for i, (t, v) in enumerate(values)),
    )
    return DecodedColumns(ReadingColumns.from_batch(batch))


OLD = [(T0, 1000.0), (T0 + QUARTER_MS, 1010.0), (T0 + 2 * QUARTER_MS, 1020.0)]
NEW = [(T0 + 3 * QUARTER_MS, 10.0), (T0 + 4 * QUARTER_MS, 20.0)]
NOW = T0 + 5 * QUARTER_MS


def test_a_swap_closes_the_old_device_and_restarts_from_the_new_initial_register() -> None:
    state = MeterState(last_ts_ms=OLD[-1][0], last_value=1020.0, last_seq=2)
    assert pending(state, [_replacement()]) == [_replacement()]
    swap = apply_swap(_profile(), state, _replacement(before=2.0))
    assert (swap.interval_start_ms, swap.quantity) == (OLD[-1][0], 5.0 * 2.0)
    assert swap.flags == Reason.REPLACEMENT
    assert swap.state == MeterState(SWAP_MS, 5.0, 2, 5.0, 0, 0, replacement_id=7)
    assert pending(swap.state, [_replacement()]) == []  # applied once
    # The old register wrapped before it came out: counted through the rollover.
    wrapped = apply_swap(
        _profile(rollover=10_000.0), MeterState(OLD[-1][0], 9990.0), _replacement()
    )
    assert wrapped.quantity == pytest.approx(1035.0)
    assert wrapped.flags == Reason.REPLACEMENT | Reason.ROLLOVER


@pytest.mark.parametrize("split", [True, False], ids=["two messages", "one message"])
def test_validation_counts_across_the_swap_at_each_device_multiplier(split: bool) -> None:
    profile = _profile(multiplier=3.0)  # the registry's, after the swap
    replacements = {"M-1": [_replacement(before=2.0, after=3.0)]}
    messages = [_decoded(OLD), _decoded(NEW, 3)] if split else [_decoded(OLD + NEW)]
    state = MeterState()
    quantities: list[float] = []
    swaps = []
    for m in messages:
        out = validate_batch(
            [m],
            [NOW],
            profiles={"M-1": profile},
            state_of={"M-1": state}.__getitem__,
            replacements=replacements,
        )
        assert out.rejections == [[]]
        quantities += out.valid.quantity[out.valid.has_interval].tolist()
        swaps += out.swaps
        state = out.states["M-1"]
        replay = validate_batch(
            [m],
            [NOW],
            profiles={"M-1": profile},
            state_of={"M-1": state}.__getitem__,
            replacements=replacements,
        )
        assert replay.swaps == [] and len(replay.valid) == 0  # a replay applies nothing twice
    assert quantities == [10 * 2.0, 10 * 2.0, 5 * 3.0, 10 * 3.0]
    assert [(m, s.quantity) for m, s in swaps] == [("M-1", 5 * 2.0)]
    # One stretch: from the first interval to the new device's last reading.
    assert (state.last_ts_ms, state.last_value, state.replacement_id) == (NEW[-1][0], 20.0, 7)
    total = math_sum(quantities) + sum(s.quantity or 0 for _, s in swaps)
    assert total == 20 * 2.0 + 5 * 2.0 + 5 * 3.0 + 10 * 3.0


def math_sum(values: list[float]) -> float:
    return float(np.sum(values))


def test_without_the_record_the_new_device_is_quarantined() -> None:
    state = MeterState(last_ts_ms=OLD[-1][0], last_value=1020.0, last_seq=2)
    out = validate_batch(
        [_decoded(NEW, 3)], [NOW], profiles={"M-1": _profile()}, state_of=lambda _: state
    )
    assert [r.reason for r in out.rejections[0]] == ["NEGATIVE_DELTA", "NEGATIVE_DELTA"]


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def meter(db: psycopg.Connection, unique: str) -> str:
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="e", actor="test")
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=f"S-{unique}",
            enterprise_id=f"e-{unique}",
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
            accuracy_class="0.5S",
        ),
    )
    time.sleep(0.5)  # longer than the worker's registry refresh interval
    return f"S-{unique}"


def _message(meter: str, values: list[tuple[int, float]], seq0: int) -> bytes:
    return encode_batch(
        ReadingBatch(
            Source.MODBUS,
            "gw-swap",
            f"gw-swap/{meter}",
            tuple(RawReading(meter, t, v, "kWh", seq0 + i) for i, (t, v) in enumerate(values)),
        )
    )


def _record(db: psycopg.Connection, meter: str) -> None:
    db.execute(
        "INSERT INTO meter_replacement (meter_id, replaced_at, new_serial, final_register,"
        " initial_register, multiplier_before, multiplier_after, reason, created_by)"
        " VALUES (%s, %s, 'NEW-1', 1025, 5, 1, 1, 'device swap', 'test')",
        (meter, datetime.fromtimestamp(SWAP_MS / 1000, UTC)),
    )


async def _wait(
    db: psycopg.Connection, query: str, args: tuple[object, ...], want: object
) -> object:
    deadline = time.monotonic() + 30
    while True:
        row = db.execute(query, args).fetchone()
        got = row[0] if row else None
        if got == want or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.3)


_TOTAL = "SELECT sum(quantity) FROM reading WHERE meter_id = %s"
_ROWS = "SELECT count(*) FROM reading WHERE meter_id = %s"
_QUARANTINED = "SELECT count(*) FROM rejected_reading WHERE meter_id = %s"


@pytest.mark.integration
async def test_a_recorded_swap_loses_nothing_and_quarantines_nothing(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, meter: str
) -> None:
    topic, key = worker.topic(Topic.READINGS_RAW), f"gw-swap/{meter}"
    await _produce(kafka_bootstrap, topic, key, _message(meter, OLD, 0))
    assert await _wait(db, _ROWS, (meter,), 3) == 3
    _record(db, meter)
    new = _message(meter, NEW, 3)
    await _produce(kafka_bootstrap, topic, key, new, new)  # with a replay
    assert await _wait(db, _ROWS, (meter,), 6) == 6  # 3 + the swap + 2
    assert db.execute(_TOTAL, (meter,)).fetchone() == (40.0,)
    assert db.execute(_QUARANTINED, (meter,)).fetchone() == (0,)
    swap = db.execute(
        "SELECT value, quantity, flags, gateway_id FROM reading WHERE meter_id = %s AND ts = %s",
        (meter, datetime.fromtimestamp(SWAP_MS / 1000, UTC)),
    ).fetchone()
    assert swap is not None and swap[:2] == (1025.0, 5.0) and swap[2] & Reason.REPLACEMENT
    assert swap[3].startswith("replacement:")
    state = db.execute("SELECT state FROM meter_state WHERE meter_id = %s", (meter,)).fetchone()
    assert state is not None and state[0]["last_value"] == 20.0 and state[0]["replacement_id"]
    # The hour windows add up to the readings: 40 kWh.
    hours = await _wait(
        db,
        "SELECT sum(activity) FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (meter,),
        40.0,
    )
    assert hours == pytest.approx(40.0, rel=1e-12)
    # Replayed again later: nothing changes.
    await _produce(kafka_bootstrap, topic, key, _message(meter, OLD, 0), new)
    await asyncio.sleep(2)
    assert db.execute(_TOTAL, (meter,)).fetchone() == (40.0,)
    assert db.execute(_QUARANTINED, (meter,)).fetchone() == (0,)


@pytest.mark.integration
async def test_a_swap_recorded_late_is_recovered_by_pushing_the_quarantined_readings_again(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, meter: str
) -> None:
    topic, key = worker.topic(Topic.READINGS_RAW), f"gw-swap/{meter}"
    await _produce(kafka_bootstrap, topic, key, _message(meter, OLD, 0))
    assert await _wait(db, _ROWS, (meter,), 3) == 3
    # The new device's readings arrive before the swap is recorded: quarantined.
    await _produce(kafka_bootstrap, topic, key, _message(meter, NEW, 3))
    assert await _wait(db, _QUARANTINED, (meter,), 2) == 2
    _record(db, meter)
    # Pushed again (a backfill or an EMS push of the same readings) before the meter's next
    # reading: the swap applies first, then they validate against the new device.
    await _produce(kafka_bootstrap, topic, key, _message(meter, NEW, 3))
    assert await _wait(db, _ROWS, (meter,), 6) == 6
    assert db.execute(_TOTAL, (meter,)).fetchone() == (40.0,)
    assert db.execute(_QUARANTINED, (meter,)).fetchone() == (2,)  # the first attempt, kept


def test_a_swap_recorded_late_applies_at_the_next_reading_and_loses_no_consumption() -> None:
    # The new device's 10 and 20 were quarantined (no record yet); the state is still at 1020.
    state = MeterState(last_ts_ms=OLD[-1][0], last_value=1020.0, last_seq=2, reject_run=2)
    later = [(T0 + 5 * QUARTER_MS, 30.0)]
    out = validate_batch(
        [_decoded(later, 5)],
        [NOW + QUARTER_MS],
        profiles={"M-1": _profile()},
        state_of={"M-1": state}.__getitem__,
        replacements={"M-1": [_replacement()]},
    )
    assert out.rejections == [[]]
    assert [s.quantity for _, s in out.swaps] == [5.0]
    # 30 - 5 over [swap, 30's time): the quarantined readings' consumption, in one interval.
    assert out.valid.quantity.tolist() == [25.0]
    assert out.valid.interval_start_ms.tolist() == [SWAP_MS]
