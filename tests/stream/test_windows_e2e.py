"""CO2e windows end to end through the worker, checked against hand-computed figures.

Factors (accounting/data): electricity, MEE/NBS 2023 national grid average 0.5306 kgCO2/kWh
(open-ended until a newer year is published); natural gas, GB/T 32150 defaults
NCV 389.31 GJ/10^4 Nm3 x carbon content 0.0153 tC/GJ x oxidation 0.99 x 44/12.
"""

from __future__ import annotations

import asyncio
import math
import time

import psycopg
import pytest

from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from contracts.topics import Topic
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.conftest import RunningWorker
from tests.stream.test_worker import _produce, _wait_rows

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
QUARTER_MS = 900_000
T0 = (int(time.time() * 1000) // HOUR_MS - 3) * HOUR_MS  # an hour boundary three hours ago

GRID_T_PER_KWH = 0.5306 / 1000
GAS_T_PER_NM3 = 389.31 / 10_000 * 0.0153 * 0.99 * 44 / 12


@pytest.fixture
def park(db: psycopg.Connection, unique: str) -> tuple[str, str]:
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    for ent in ("a", "b"):
        add_enterprise(
            db, enterprise_id=f"{ent}-{unique}", park_id=f"p-{unique}", name=ent, actor="test"
        )
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=f"E-{unique}",
            enterprise_id=f"a-{unique}",
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
            multiplier=40.0,
            accuracy_class="0.5S",
        ),
    )
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=f"G-{unique}",
            enterprise_id=f"b-{unique}",
            carrier="natural_gas",
            unit="Nm3",
            register_kind="cumulative",
            source_category="stationary_combustion",
            accuracy_class="2.0",
        ),
    )
    time.sleep(0.5)
    return f"E-{unique}", f"G-{unique}"


def _message(unique: str, meter: str, registers: list[float], seq0: int = 0) -> bytes:
    readings = tuple(
        RawReading(meter, T0 + i * QUARTER_MS, v, "kWh" if meter[0] == "E" else "Nm3", seq0 + i)
        for i, v in enumerate(registers)
    )
    return encode_batch(
        ReadingBatch(Source.MODBUS, f"gw-{unique}", f"gw-{unique}/{meter}", readings)
    )


async def test_window_co2e_equals_hand_computed_figures_and_replays_change_nothing(
    worker: RunningWorker,
    kafka_bootstrap: str,
    db: psycopg.Connection,
    park: tuple[str, str],
    unique: str,
) -> None:
    electricity, gas = park
    # Electricity registers (CT 40): deltas 2.5, 3.5, 0, 4.0 -> 100, 140, 0, 160 kWh.
    e_msg = _message(unique, electricity, [1000.0, 1002.5, 1006.0, 1006.0, 1010.0])
    # Gas registers: deltas 50, 70, 30, 50 Nm3 -> 200 Nm3 in the hour.
    g_msg = _message(unique, gas, [0.0, 50.0, 120.0, 150.0, 200.0])
    await _produce(
        kafka_bootstrap,
        worker.topic(Topic.READINGS_RAW),
        f"gw-{unique}/{electricity}",
        e_msg,
        e_msg,
    )  # with a replay
    await _produce(kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"gw-{unique}/{gas}", g_msg)

    quarters = _wait_rows(
        db,
        "SELECT tco2e, completeness FROM emission_window "
        "WHERE meter_id = %s AND width_s = 900 ORDER BY window_start",
        (electricity,),
        4,
    )
    expected = [kwh * GRID_T_PER_KWH for kwh in (100.0, 140.0, 0.0, 160.0)]
    assert [q[0] for q in quarters] == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert [q[1] for q in quarters] == [1.0, 1.0, 1.0, 1.0]

    hours = dict(
        _wait_rows(
            db,
            "SELECT enterprise_id, tco2e FROM emission_window "
            "WHERE meter_id IN (%s, %s) AND width_s = 3600",
            park,
            2,
        )
    )
    assert hours[f"a-{unique}"] == pytest.approx(400.0 * GRID_T_PER_KWH, rel=1e-9)
    assert hours[f"b-{unique}"] == pytest.approx(200.0 * GAS_T_PER_NM3, rel=1e-9)
    assert sum(hours.values()) == pytest.approx(0.21224 + 200 * 0.002162188809, rel=1e-9)

    minutes = _wait_rows(
        db,
        "SELECT tco2e FROM emission_window WHERE meter_id = %s AND width_s = 60",
        (electricity,),
        60,
    )
    assert len(minutes) == 60
    assert math.fsum(m[0] for m in minutes) == pytest.approx(400.0 * GRID_T_PER_KWH, rel=1e-9)

    gas_row = db.execute(
        "SELECT activity, activity_unit, gases ? 'CO2', factor_versions "
        "FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (gas,),
    ).fetchone()
    assert gas_row is not None
    assert gas_row[:3] == (200.0, "Nm3", True)
    assert "fuel.natural_gas.ncv@2016-06-01" in gas_row[3]

    rolling = db.execute(
        "SELECT tco2e FROM emission_rolling_hour WHERE meter_id = %s "
        "AND window_end = to_timestamp(%s)",
        (electricity, (T0 + HOUR_MS) / 1000),
    ).fetchone()
    assert rolling is not None and rolling[0] == pytest.approx(400.0 * GRID_T_PER_KWH, rel=1e-9)


async def test_a_late_reading_recomputes_the_window_it_belongs_to(
    worker: RunningWorker,
    kafka_bootstrap: str,
    db: psycopg.Connection,
    park: tuple[str, str],
    unique: str,
) -> None:
    electricity, _ = park
    await _produce(
        kafka_bootstrap,
        worker.topic(Topic.READINGS_RAW),
        f"gw-{unique}/{electricity}",
        _message(unique, electricity, [10.0, 11.0]),
    )
    first = _wait_rows(
        db,
        "SELECT tco2e FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (electricity,),
        1,
    )
    assert first == [(pytest.approx(40.0 * GRID_T_PER_KWH, rel=1e-9),)]
    # The rest of the hour arrives late (e.g. a gateway draining its buffer).
    late = encode_batch(
        ReadingBatch(
            Source.MODBUS,
            f"gw-{unique}",
            f"gw-{unique}/{electricity}",
            (
                RawReading(electricity, T0 + 2 * QUARTER_MS, 12.0, "kWh", 2),
                RawReading(electricity, T0 + 4 * QUARTER_MS, 15.0, "kWh", 3),
            ),
        )
    )
    await _produce(
        kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"gw-{unique}/{electricity}", late
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = db.execute(
            "SELECT tco2e FROM emission_window WHERE meter_id = %s AND width_s = 3600",
            (electricity,),
        ).fetchone()
        if row and row[0] > first[0][0]:
            break
        await asyncio.sleep(0.3)
    # 5 kWh x 40 over the hour, whatever order and timing the readings came in.
    assert row is not None and row[0] == pytest.approx(200.0 * GRID_T_PER_KWH, rel=1e-9)
