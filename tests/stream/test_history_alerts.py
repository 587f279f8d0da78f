"""History does not page anyone: deviations are evaluated only within the alert horizon.

Two meters overdue for calibration (every hour window of theirs is a CALIBRATION_OVERDUE
finding): one imported as history from last year, one read live now. Only the live one raises
an alert; the history one's windows are stored and counted, and raise nothing.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date

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
DAY_MS = 24 * HOUR_MS


def _overdue_meter(db: psycopg.Connection, unique: str, meter_id: str) -> None:
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
            calibration_due=date(2020, 1, 1),
        ),
    )
    db.execute(
        "UPDATE meter SET installed_at = '2024-01-01T00:00:00Z' WHERE meter_id = %s", (meter_id,)
    )


def _batch(meter_id: str, key: str, times: list[int], *, history: bool) -> bytes:
    readings = tuple(
        RawReading(meter_id, t, 100.0 + i, "kWh", t) for i, t in enumerate(sorted(times))
    )
    return encode_batch(ReadingBatch(Source.EMS, "g-test", key, readings, history=history))


def _wait(db: psycopg.Connection, sql: str, args: tuple[object, ...], want: int) -> int:
    deadline = time.monotonic() + 90
    got = 0
    while time.monotonic() < deadline:
        row = db.execute(sql, args).fetchone()
        got = int(row[0]) if row else 0
        if got >= want:
            break
        time.sleep(0.5)
    return got


def test_windows_of_history_raise_no_alert_while_live_ones_do(
    db: psycopg.Connection, worker: RunningWorker, kafka_bootstrap: str, unique: str
) -> None:
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="e", actor="test")
    old_meter, live_meter = f"HA-{unique}", f"LA-{unique}"
    _overdue_meter(db, unique, old_meter)
    _overdue_meter(db, unique, live_meter)
    time.sleep(6)  # the worker refreshes its registry every 5 s
    topic = worker.topic(Topic.READINGS_RAW)
    now = int(time.time() * 1000) // HOUR_MS * HOUR_MS
    last_year = now - 400 * DAY_MS
    history = _batch(
        old_meter,
        f"backfill:{old_meter}",
        [last_year + k * 15 * MIN_MS for k in range(9)],  # two complete hours
        history=True,
    )
    asyncio.run(_produce(kafka_bootstrap, topic, old_meter, history))
    hours = _wait(
        db,
        "SELECT count(*) FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (old_meter,),
        2,
    )
    assert hours == 2  # computed (and so evaluated) before the live meter reads

    live = _batch(live_meter, f"live:{live_meter}", [now - HOUR_MS, now], history=False)
    asyncio.run(_produce(kafka_bootstrap, topic, live_meter, live))
    raised = _wait(
        db,
        "SELECT count(*) FROM alert WHERE subject_id = %s AND rule = 'CALIBRATION_OVERDUE'",
        (live_meter,),
        1,
    )
    assert raised == 1  # the stage runs and this rule holds for the live meter's hour
    old_alerts = db.execute(
        "SELECT count(*) FROM alert WHERE subject_id = %s OR (enterprise_id = %s AND"
        " first_window_start < now() - interval '300 days')",
        (old_meter, f"e-{unique}"),
    ).fetchone()
    assert old_alerts == (0,)
    # The history hours themselves are stored and counted like any other.
    activity = db.execute(
        "SELECT sum(activity) FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (old_meter,),
    ).fetchone()
    assert activity == (8.0,)
