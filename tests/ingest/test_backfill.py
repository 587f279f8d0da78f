"""Backfill: historical CSV readings go through the same validation path as live ones."""

from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from accounting.instants import TimeBounds
from contracts.records import decode_batch, encode_batch
from ingest.backfill import BackfillError, Tally, batches, messages, read_rows
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.conftest import ROOT, RunningWorker

QUARTER_MS = 15 * 60 * 1000
T0 = (int(time.time() * 1000) // QUARTER_MS - 96 * 3) * QUARTER_MS  # three days ago


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ms / 1000))


def test_rows_become_per_meter_batches_in_file_order() -> None:
    text = (
        "meter_id,ts,value,unit\n"
        "A,2026-01-01T00:00:00+08:00,1.5,kWh\n"
        "B,2026-01-01T00:00:00Z,7,kWh\n"
        "A,2026-01-01T00:15:00+08:00,2.5,kWh\n"
    )
    tally = Tally()
    out = list(batches(read_rows(io.StringIO(text)), tally, gateway_id="g", batch_size=1000))
    by_key = {b.source_key: [(r.ts_ms, r.value) for r in b.readings] for b in out}
    jan1_cst = 1767196800000  # 2026-01-01T00:00:00+08:00 in epoch ms
    assert by_key["backfill:A"] == [(jan1_cst, 1.5), (jan1_cst + QUARTER_MS, 2.5)]
    assert by_key["backfill:B"] == [(jan1_cst + 8 * 3600 * 1000, 7.0)]
    assert (tally.rows, tally.readings, tally.batches) == (3, 3, 2)
    # seq is the epoch ms: a re-import is recognised reading by reading
    assert [r.seq for r in out[0].readings] == [r.ts_ms for r in out[0].readings]


def test_a_bad_row_is_reported_with_its_line_and_the_rest_goes_on() -> None:
    text = (
        "meter_id,ts,value,unit\n"
        "A,2026-01-01T00:00:00+08:00,1,kWh\n"
        "A,2026-01-01T00:15:00,2,kWh\n"  # naive time: ambiguous
        "A,2026-01-01T00:30:00+08:00,three,kWh\n"
        "A,2026-01-01T00:45:00+08:00,4\n"
        "A,2026-01-01T01:00:00+08:00,5,kWh\n"
    )
    tally = Tally()
    out = list(batches(read_rows(io.StringIO(text)), tally, gateway_id="g"))
    assert [r.value for b in out for r in b.readings] == [1.0, 5.0]
    assert [(b.line, b.reason.split(" ")[0]) for b in tally.bad] == [
        (3, "ts:"),
        (4, "value"),
        (5, "expected"),
    ]


def test_a_file_without_the_header_is_refused_as_a_whole() -> None:
    with pytest.raises(BackfillError, match="header"):
        list(read_rows(io.StringIO("A,2026-01-01T00:00:00Z,1,kWh\n")))


@pytest.mark.integration
def test_backfill_stores_history_through_the_worker_and_a_second_import_is_recognised(
    db: psycopg.Connection, database_url: str, worker: RunningWorker, unique: str, tmp_path: Path
) -> None:
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="e", actor="test")
    meter_id = f"BF-{unique}"
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
    # History is accepted from the meter's installation on (registered today, it is now).
    db.execute("UPDATE meter SET installed_at = %s WHERE meter_id = %s", ("2024-01-01Z", meter_id))
    worker.wait_for_registry(db)
    rows = [f"{meter_id},{_iso(T0 + i * QUARTER_MS)},{1000 + 10 * i},kWh" for i in range(96)]
    csv_file = tmp_path / "history.csv"
    csv_file.write_text("meter_id,ts,value,unit\n" + "\n".join(rows) + "\nnot,a,row\n")
    env = {
        **os.environ,
        "PARKCARBON_DATABASE_URL": database_url,
        "PARKCARBON_TOPIC_PREFIX": worker.prefix,
    }
    cmd = [str(ROOT / ".venv/bin/parkcarbon"), "backfill", str(csv_file), "--wait-timeout-s", "90"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "sent 96 readings of 97 rows" in first.stdout
    assert "1 rows could not be read (first: line 98" in first.stdout
    assert (tmp_path / "history.rejected.csv").read_text().splitlines()[1].startswith("98,")
    stored = db.execute(
        "SELECT count(*), sum(quantity) FROM reading WHERE meter_id = %s", (meter_id,)
    ).fetchone()
    # 96 registers 10 kWh apart: 95 intervals of 10 kWh (the first reading opens the series)
    assert stored is not None and stored[0] == 96 and stored[1] == pytest.approx(950.0)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)
    assert second.returncode == 0, second.stdout + second.stderr
    again = db.execute(
        "SELECT count(*), sum(quantity) FROM reading WHERE meter_id = %s", (meter_id,)
    ).fetchone()
    assert again == stored


def _history_meter(db: psycopg.Connection, unique: str, meter_id: str) -> None:
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
            expected_interval_s=3600,
        ),
    )
    db.execute(
        "UPDATE meter SET installed_at = '2024-01-01T00:00:00Z' WHERE meter_id = %s", (meter_id,)
    )


def _run_backfill(
    database_url: str, worker: RunningWorker, path: Path, rows: list[str]
) -> subprocess.CompletedProcess[str]:
    path.write_text("meter_id,ts,value,unit\n" + "\n".join(rows) + "\n")
    env = {
        **os.environ,
        "PARKCARBON_DATABASE_URL": database_url,
        "PARKCARBON_TOPIC_PREFIX": worker.prefix,
    }
    cmd = [str(ROOT / ".venv/bin/parkcarbon"), "backfill", str(path), "--wait-timeout-s", "90"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)


@pytest.mark.integration
def test_history_older_than_a_year_fills_a_gap_between_stored_readings_exactly(
    db: psycopg.Connection, database_url: str, worker: RunningWorker, unique: str, tmp_path: Path
) -> None:
    meter_id = f"OLD-{unique}"
    _history_meter(db, unique, meter_id)
    worker.wait_for_registry(db)
    hour = "2025-02-03T{:02d}:00:00+00:00"  # nearly two years ago
    first = _run_backfill(
        database_url,
        worker,
        tmp_path / "ends.csv",
        [f"{meter_id},{hour.format(0)},100,kWh", f"{meter_id},{hour.format(4)},140,kWh"],
    )
    assert first.returncode == 0, first.stdout + first.stderr
    # Then the hours between, after the meter's state has moved past them.
    middle = [f"{meter_id},{hour.format(h)},{100 + 10 * h},kWh" for h in (1, 2, 3)]
    second = _run_backfill(database_url, worker, tmp_path / "middle.csv", middle)
    assert second.returncode == 0, second.stdout + second.stderr

    def stored() -> list[tuple[int, float | None]]:
        rows = db.execute(
            "SELECT extract(hour FROM ts AT TIME ZONE 'UTC')::int, quantity FROM reading"
            " WHERE meter_id = %s ORDER BY ts",
            (meter_id,),
        ).fetchall()
        return [(int(h), q) for h, q in rows]

    # Hour 4 counted 40 kWh over the gap; now each hour counts its own 10 kWh.
    assert stored() == [(0, None), (1, 10.0), (2, 10.0), (3, 10.0), (4, 10.0)]
    rejected = db.execute(
        "SELECT count(*) FROM rejected_reading WHERE meter_id = %s", (meter_id,)
    ).fetchone()
    assert rejected == (0,)
    deadline = time.monotonic() + 60
    hours: list[tuple[float, ...]] = []
    while time.monotonic() < deadline:
        hours = db.execute(
            "SELECT activity FROM emission_window WHERE meter_id = %s AND width_s = 3600"
            " ORDER BY window_start",
            (meter_id,),
        ).fetchall()
        if hours == [(10.0,)] * 4:
            break
        time.sleep(0.5)
    assert hours == [(10.0,)] * 4  # the hour windows were recomputed from the filled gap
    again = _run_backfill(database_url, worker, tmp_path / "middle.csv", middle)
    assert again.returncode == 0, again.stdout + again.stderr
    assert stored() == [(0, None), (1, 10.0), (2, 10.0), (3, 10.0), (4, 10.0)]  # a replay


@pytest.mark.integration
def test_a_live_message_with_an_old_reading_is_still_quarantined_too_old(
    db: psycopg.Connection, worker: RunningWorker, kafka_bootstrap: str, unique: str
) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    from contracts.records import RawReading, ReadingBatch, Source, encode_batch, ts_to_ms
    from contracts.topics import Topic

    meter_id = f"LIVE-{unique}"
    _history_meter(db, unique, meter_id)
    worker.wait_for_registry(db)
    ts = ts_to_ms("2025-02-03T00:00:00+00:00")
    batch = ReadingBatch(
        Source.EMS, f"g-{unique}", f"live:{meter_id}", (RawReading(meter_id, ts, 1.0, "kWh", 1),)
    )

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(worker.topic(Topic.READINGS_RAW), encode_batch(batch))
        finally:
            await producer.stop()

    asyncio.run(send())
    deadline = time.monotonic() + 60
    reasons: list[tuple[str]] = []
    while time.monotonic() < deadline and not reasons:
        reasons = db.execute(
            "SELECT reason FROM rejected_reading WHERE meter_id = %s", (meter_id,)
        ).fetchall()
        time.sleep(0.5)
    assert reasons == [("TOO_OLD",)]


def test_a_time_out_of_range_is_a_bad_row_with_its_reason_and_never_sent() -> None:
    text = (
        "meter_id,ts,value,unit\n"
        "A,9999-12-31T23:59:59-23:59,1,kWh\n"  # 10000-01-01 in UTC
        "A,0999-06-01T00:00:00Z,2,kWh\n"  # a real instant, centuries outside the bound
        f"A,{_iso(T0)},3,kWh\n"
    )
    tally = Tally()
    bounds = TimeBounds.around(T0, 100)
    out = list(batches(read_rows(io.StringIO(text)), tally, gateway_id="g", bounds=bounds))
    assert [r.value for b in out for r in b.readings] == [3.0]
    assert [(b.line, b.reason.split(":")[0]) for b in tally.bad] == [
        (2, "TIMESTAMP_OUT_OF_RANGE"),
        (3, "TIMESTAMP_OUT_OF_RANGE"),
    ]
    assert tally.bad[0].row == ["A", "9999-12-31T23:59:59-23:59", "1", "kWh"]  # kept as read


def test_a_full_size_batch_of_long_meter_ids_goes_out_below_the_message_limit() -> None:
    meter = "BF-" + "x" * 61  # the longest meter id the wire allows (64)
    rows = [
        (n + 2, [meter, f"2025-06-01T00:{n // 60 % 60:02d}:{n % 60:02d}.{n // 3600:03d}+08:00",
                 f"{1_000_000 + n}.125", "kWh"])
        for n in range(10_000)
    ]  # fmt: skip
    [batch] = list(batches(rows, Tally(), gateway_id="backfill-t", batch_size=10_000))
    assert len(encode_batch(batch)) > 1_048_576
    parts = messages(batch, 900_000)
    assert len(parts) >= 2 and all(len(p) <= 900_000 for p in parts)
    again = [r for p in parts for r in (decode_batch(p).batch or batch).readings]
    assert again == list(batch.readings)  # every reading, in file order, its seq kept
