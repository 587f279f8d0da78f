"""Intensity limits raise deviation alerts (clauses 6.4, 9.1 b), through the real worker.

An enterprise's hour is judged against the intensity limit of its finest covering target,
in the output unit that limit is stated in: tCO2e of the hour (as the boundary rule counts it)
over the hour's output from the enterprise's output meters. An hour without output has no
intensity: it neither raises nor resolves; an hour within the limit resolves.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import psycopg
import pytest

from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from contracts.topics import Topic
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.conftest import RunningWorker
from tests.stream.test_alerts_e2e import _alerts_for
from tests.stream.test_kafka_contracts import _end_offsets
from tests.stream.test_worker import _produce, _wait_rows

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
QUARTER_MS = 900_000
# Three closed hours, well inside the alert horizon.
T0 = (int(time.time() * 1000) // HOUR_MS - 4) * HOUR_MS
GRID_T_PER_KWH = 0.5306 / 1000  # the packaged national grid factor, kg/kWh -> t/kWh


def _meter(meter_id: str, enterprise: str, carrier: str, unit: str, category: str) -> Meter:
    return Meter(
        meter_id=meter_id,
        enterprise_id=enterprise,
        carrier=carrier,
        unit=unit,
        register_kind="cumulative",
        source_category=category,
        multiplier=100.0 if carrier == "electricity" else 1.0,
        accuracy_class="0.2S",
        # GB 17167 sets meter accuracy for energy, not for output meters.
        accuracy_category="user_class_I" if carrier == "electricity" else None,
    )


def _batch(unique: str, meter: str, unit: str, registers: list[float]) -> bytes:
    """One reading every quarter hour from T0: 13 registers span hours H0, H1 and H2."""
    readings = tuple(
        RawReading(meter, T0 + i * QUARTER_MS, v, unit, i) for i, v in enumerate(registers)
    )
    return encode_batch(
        ReadingBatch(Source.MODBUS, f"gw-{unique}", f"gw-{unique}/{meter}", readings)
    )


def _intensity_limit(db: psycopg.Connection, enterprise: str, limit: float, unit: str) -> None:
    """A daily intensity limit (no absolute one) on every day the three hours touch."""
    days = {datetime.fromtimestamp((T0 + h * HOUR_MS) / 1000, UTC).date() for h in range(3)}
    for day in days:
        db.execute(
            "INSERT INTO target (subject_kind, subject_id, period_kind, period_start, intensity,"
            " intensity_unit, created_by) VALUES ('enterprise', %s, 'day', %s, %s, %s, 'test')",
            (enterprise, day, limit, unit),
        )


async def test_an_hour_above_the_intensity_limit_raises_an_idle_hour_keeps_it_a_good_one_resolves(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, unique: str
) -> None:
    by_product, by_value = f"ea-{unique}", f"eb-{unique}"
    add_park(db, park_id=f"p-{unique}", name="park", actor="test", timezone="UTC")
    for ent in (by_product, by_value):
        add_enterprise(db, enterprise_id=ent, park_id=f"p-{unique}", name=ent, actor="test")
        add_meter(
            db,
            actor="test",
            meter=_meter(f"{ent}.E", ent, "electricity", "kWh", "purchased_electricity"),
        )
    add_meter(
        db,
        actor="test",
        meter=_meter(f"{by_product}.P", by_product, "production_output", "t", "activity_only"),
    )
    add_meter(
        db,
        actor="test",
        meter=_meter(f"{by_value}.V", by_value, "output_value", "10^4 CNY", "activity_only"),
    )
    _intensity_limit(db, by_product, 0.05, "t product")
    _intensity_limit(db, by_value, 0.1, "10^4 CNY")
    await asyncio.sleep(0.5)  # the worker's registry refresh
    start = await _end_offsets(kafka_bootstrap, worker.topic(Topic.ALERTS))

    # Electricity: 4 register units x CT 100 = 400 kWh every hour = 0.21224 tCO2e an hour.
    power = [float(i) for i in range(13)]
    # Product: H0 2 t (0.21224 / 2 = 0.10612 t/t, above 0.05 + 5 %); H1 the register stands
    # still (no output, no intensity); H2 8 t (0.21224 / 8 = 0.02653 t/t, within).
    product = [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    # Output value: 1 x 10^4 CNY every hour: 0.21224 t per 10^4 CNY, above 0.1 in every hour.
    value = [i / 4 for i in range(13)]
    messages = [
        (f"{by_product}.E", "kWh", power),
        (f"{by_product}.P", "t", product),
        (f"{by_value}.E", "kWh", power),
        (f"{by_value}.V", "10^4 CNY", value),
    ]
    for meter, unit, registers in messages:
        message = _batch(unique, meter, unit, registers)
        await _produce(kafka_bootstrap, worker.topic(Topic.READINGS_RAW), f"gw-{unique}", message)

    raised, resolved = (
        await _alerts_for(kafka_bootstrap, worker.topic(Topic.ALERTS), start, by_product, 2)
    )[:2]
    hour_t = 400 * GRID_T_PER_KWH
    assert (raised.rule, raised.state) == ("INTENSITY_ABOVE_TARGET", "RAISED")
    assert raised.window_start_ms == T0
    assert raised.measured == pytest.approx(hour_t / 2, rel=1e-9)
    assert raised.expected == pytest.approx(0.05)
    assert raised.unit == "tCO2e/t product"
    assert raised.cause == "other"
    # The idle hour H1 did not resolve it: the hour within the limit, H2, did.
    assert (resolved.rule, resolved.state) == ("INTENSITY_ABOVE_TARGET", "RESOLVED")
    assert resolved.window_start_ms == T0 + 2 * HOUR_MS

    first, *later = (
        await _alerts_for(kafka_bootstrap, worker.topic(Topic.ALERTS), start, by_value, 3)
    )[:3]
    assert (first.rule, first.state, first.unit) == (
        "INTENSITY_ABOVE_TARGET",
        "RAISED",
        "tCO2e/10^4 CNY",
    )
    assert first.measured == pytest.approx(hour_t / 1.0, rel=1e-9)
    assert [a.state for a in later] == ["UPDATED", "UPDATED"]
    stored = _wait_rows(
        db,
        "SELECT subject_id, rule, state FROM alert WHERE subject_id IN (%s, %s)"
        " AND state IN ('RESOLVED', 'UPDATED') ORDER BY subject_id",
        (by_product, by_value),
        2,
    )
    assert stored == [
        (by_product, "INTENSITY_ABOVE_TARGET", "RESOLVED"),
        (by_value, "INTENSITY_ABOVE_TARGET", "UPDATED"),
    ]
