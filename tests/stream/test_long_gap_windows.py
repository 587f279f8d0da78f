"""A nine-month gap through the real worker: bounded windows, exact hours and days.

A meter read nine months ago (a history import) and again now (live) closes one interval of
nine months. Its hour and 15-minute windows share that interval in proportion to time (every
one is stored: the day and month rollups are built from the hours); its 1- and 5-minute
windows exist only where a short interval overlaps them (``accounting.window_plan``).
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
from tests.stream.test_worker import _produce

pytestmark = pytest.mark.integration

MIN_MS = 60_000
HOUR_MS = 3_600_000
DAYS = 273  # about nine months


def _wait_for(db: psycopg.Connection, query: str, args: tuple[object, ...], want: object) -> object:
    deadline = time.monotonic() + 120
    got = db.execute(query, args).fetchone()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.5)
        got = db.execute(query, args).fetchone()
    return got


def test_a_nine_month_gap_makes_bounded_windows_and_exact_hour_and_day_sums(
    db: psycopg.Connection, worker: RunningWorker, kafka_bootstrap: str, unique: str
) -> None:
    meter_id = f"GAP-{unique}"
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="e", actor="test")
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=meter_id,
            enterprise_id=f"e-{unique}",
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
        ),
    )
    db.execute(
        "UPDATE meter SET installed_at = '2024-01-01T00:00:00Z' WHERE meter_id = %s", (meter_id,)
    )
    worker.wait_for_registry(db)
    now = int(time.time() * 1000) // HOUR_MS * HOUR_MS  # the last hour boundary
    old = now - DAYS * 24 * HOUR_MS
    # 1 kWh an hour throughout: the register at the old reading, then three live readings 15
    # minutes apart ending on the hour (their windows are complete at once).
    history = ReadingBatch(
        Source.EMS,
        f"g-{unique}",
        f"backfill:{meter_id}",
        (RawReading(meter_id, old, 1000.0, "kWh", old),),
        history=True,
    )
    live = ReadingBatch(
        Source.EMS,
        f"g-{unique}",
        f"live:{meter_id}",
        tuple(
            RawReading(meter_id, t, 1000.0 + (t - old) / HOUR_MS, "kWh", t)
            for t in (now - 30 * MIN_MS, now - 15 * MIN_MS, now)
        ),
    )
    topic = worker.topic(Topic.READINGS_RAW)
    asyncio.run(_produce(kafka_bootstrap, topic, meter_id, encode_batch(history)))
    asyncio.run(_produce(kafka_bootstrap, topic, meter_id, encode_batch(live)))

    hours = DAYS * 24
    counted = _wait_for(
        db,
        "SELECT count(*) FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (meter_id,),
        (hours,),
    )
    assert counted == (hours,)
    time.sleep(2)  # the flush that wrote the hours wrote every other width with them
    by_width = dict(
        db.execute(
            "SELECT width_s, count(*) FROM emission_window WHERE meter_id = %s GROUP BY width_s",
            (meter_id,),
        ).fetchall()
    )
    # Minute windows only over the last 30 minutes (short intervals): 30 and 6, not 393,000.
    assert by_width == {60: 30, 300: 6, 900: DAYS * 96, 3600: hours}
    total = DAYS * 24.0  # kWh between the old reading and now
    rows = db.execute(
        "SELECT activity FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (meter_id,),
    ).fetchall()
    assert math.isclose(math.fsum(a for (a,) in rows), total, rel_tol=1e-12)
    assert all(math.isclose(a, 1.0, rel_tol=1e-9) for (a,) in rows)
    quarters = db.execute(
        "SELECT sum(activity) FROM emission_window WHERE meter_id = %s AND width_s = 900",
        (meter_id,),
    ).fetchone()
    assert quarters is not None and math.isclose(quarters[0], total, rel_tol=1e-12)
    # The daily rollup (park-local days) and the monthly one add up to the same consumption.
    days = db.execute(
        "SELECT sum(activity), sum(windows) FROM emission_day WHERE meter_id = %s", (meter_id,)
    ).fetchone()
    assert days is not None and math.isclose(days[0], total, rel_tol=1e-12)
    assert days[1] == hours
    months = db.execute(
        "SELECT sum(activity) FROM emission_month WHERE meter_id = %s", (meter_id,)
    ).fetchone()
    assert months is not None and math.isclose(months[0], total, rel_tol=1e-12)
