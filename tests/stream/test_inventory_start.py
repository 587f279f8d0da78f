"""A park's inventory start bounds the history its meters take (GB/T 32150 6.3.1), through the
real ``parkcarbon backfill`` and worker: history before the start's local midnight is
quarantined BEFORE_INVENTORY_START with the reading kept; from that midnight on it is stored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from store.registry import Meter, add_enterprise, add_meter, add_park, set_park_inventory_start
from tests.conftest import RunningWorker
from tests.ingest.test_backfill import _run_backfill

pytestmark = pytest.mark.integration


def test_history_before_the_parks_inventory_start_is_quarantined_with_its_reason(
    db: psycopg.Connection, database_url: str, worker: RunningWorker, unique: str, tmp_path: Path
) -> None:
    park, meter_id = f"p-{unique}", f"INV-{unique}"
    add_park(db, park_id=park, name="park", actor="test", timezone="Asia/Shanghai")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=park, name="e", actor="test")
    set_park_inventory_start(db, park_id=park, start=date(2025, 1, 1), actor="carbon-office")
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
    # Installed long before: only the inventory start can refuse these readings.
    db.execute(
        "UPDATE meter SET installed_at = '2024-01-01T00:00:00Z' WHERE meter_id = %s", (meter_id,)
    )
    # 2025-01-01 00:00 Asia/Shanghai is 2024-12-31T16:00Z: two readings before, three from it.
    times = ["14:00", "15:00", "16:00", "17:00", "18:00"]
    rows = [f"{meter_id},2024-12-31T{t}:00+00:00,{100.0 + 10 * i},kWh" for i, t in enumerate(times)]

    done = _run_backfill(database_url, worker, tmp_path / "history.csv", rows)

    assert done.returncode == 0, done.stdout + done.stderr
    rejected = db.execute(
        "SELECT (ts AT TIME ZONE 'UTC')::text, value, reason FROM rejected_reading"
        " WHERE meter_id = %s ORDER BY ts",
        (meter_id,),
    ).fetchall()
    assert rejected == [
        ("2024-12-31 14:00:00", 100.0, "BEFORE_INVENTORY_START"),
        ("2024-12-31 15:00:00", 110.0, "BEFORE_INVENTORY_START"),
    ]
    stored = db.execute(
        "SELECT value, quantity FROM reading WHERE meter_id = %s ORDER BY ts", (meter_id,)
    ).fetchall()
    # The first reading inside the inventory opens it: no interval reaches back across the start.
    assert stored == [(120.0, None), (130.0, 10.0), (140.0, 10.0)]
