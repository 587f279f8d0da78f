"""Backfill: historical CSV readings go through the same validation path as live ones."""

from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from ingest.backfill import BackfillError, Tally, batches, messages, read_rows
from store.registry import Meter, add_enterprise, add_meter, add_park
from stream.records import decode_batch, encode_batch
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
    time.sleep(6)  # the worker refreshes its registry every 5 s
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
