"""History of any age (GB/T 32150 clause 6.3.1: an inventory covers whole years): a day of last
March's hourly registers for a three-enterprise park, imported with the real
``parkcarbon backfill`` into the run's real worker and database, gives through the API the same
per-enterprise, per-category and park totals and intensities as the same registers pushed live
for yesterday, and both equal the hand computation below.

Factors (the packaged catalogue, region CN): electricity grid_avg.CN@2023-01-01, 0.5306 kgCO2/kWh
(MEE/NBS 2023 announcement; open-ended, so in force in March and yesterday alike); heat
0.11 tCO2/GJ (NDRC guideline default). Hourly consumption, 24 hours:
  E1 electricity 100 kWh/h = 2400 kWh x 0.5306 kg  = 1.273440 t; output 5 t/h = 120 t product
     intensity 1.273440 / 120                     = 0.010612 tCO2e/t
  E2 electricity  50 kWh/h = 1200 kWh              = 0.636720 t
     heat          2 GJ/h  =   48 GJ x 0.11       = 5.280000 t; E2 total 5.916720 t
  E3 electricity  25 kWh/h =  600 kWh              = 0.318360 t
  park 1.273440 + 5.916720 + 0.318360            = 7.508520 tCO2e
The live day and March are read by two sets of meters of the same enterprises (a set's last
reading and the other's first would otherwise bound a nine-month interval, spread over every
minute window between them); filling history before a meter's live readings is
tests/ingest/test_backfill.py's subject.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from store.registry import add_enterprise, add_park, set_park_inventory_start
from tests.api.conftest import ApiServer
from tests.conftest import ROOT, RunningWorker

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Shanghai")
WAIT_S = 120.0
# meter suffix -> (enterprise, carrier, unit, source category, start register, per hour)
METERS = {
    "e1-el": ("e1", "electricity", "kWh", "purchased_electricity", 10_000, 100),
    "e1-out": ("e1", "production_output", "t", "activity_only", 500, 5),
    "e2-el": ("e2", "electricity", "kWh", "purchased_electricity", 20_000, 50),
    "e2-heat": ("e2", "heat", "GJ", "purchased_heat", 300, 2),
    "e3-el": ("e3", "electricity", "kWh", "purchased_electricity", 7_000, 25),
}
BY_ENTERPRISE_CATEGORY = {
    ("e1", "activity_only"): Decimal("0.000000"),  # the output meter: activity, no emissions
    ("e1", "purchased_electricity"): Decimal("1.273440"),
    ("e2", "purchased_electricity"): Decimal("0.636720"),
    ("e2", "purchased_heat"): Decimal("5.280000"),
    ("e3", "purchased_electricity"): Decimal("0.318360"),
}
BY_ENTERPRISE = {"e1": Decimal("1.273440"), "e2": Decimal("5.916720"), "e3": Decimal("0.318360")}
PARK_TCO2E = Decimal("7.508520")
E1_INTENSITY = Decimal("0.010612")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _registers(unique: str, kind: str, day: datetime) -> list[tuple[str, datetime, float, str]]:
    """25 hourly registers per meter of one set, local midnight to midnight."""
    return [
        (f"{suffix}-{kind}-{unique}", day + timedelta(hours=h), float(start + per_h * h), unit)
        for suffix, (_, _, unit, _, start, per_h) in METERS.items()
        for h in range(25)
    ]


async def _figures(api: httpx.AsyncClient, park: str, day: datetime) -> dict[str, Any]:
    span = {"from": _iso(day), "to": _iso(day + timedelta(days=1))}
    base = {**span, "bucket": "1d", "park_id": park}
    r = await api.get(
        "/v1/emissions", params={**base, "group_by": ["enterprise", "source_category"]}
    )
    assert r.status_code == 200, r.text
    cells = {
        (i["group"]["enterprise"], i["group"]["source_category"]): Decimal(i["tco2e"])
        for i in r.json()["items"]
    }
    r = await api.get("/v1/emissions", params={**base, "group_by": "enterprise"})
    ents = {i["group"]["enterprise"]: Decimal(i["tco2e"]) for i in r.json()["items"]}
    r = await api.get("/v1/emissions", params={**base, "group_by": "park"})
    parks = [Decimal(i["tco2e"]) for i in r.json()["items"]]
    r = await api.get("/v1/intensity", params={**span, "enterprise_id": sorted(ents)})
    assert r.status_code == 200, r.text
    intensity = {
        i["enterprise_id"]: [o["intensity"]["value"] for o in i["outputs"]]
        for i in r.json()["items"]
    }
    return {"cells": cells, "enterprises": ents, "park": parks, "intensity": intensity}


def _expected(unique: str) -> dict[str, Any]:
    return {
        "cells": {(f"{e}-{unique}", c): t for (e, c), t in BY_ENTERPRISE_CATEGORY.items()},
        "enterprises": {f"{e}-{unique}": t for e, t in BY_ENTERPRISE.items()},
        "park": [PARK_TCO2E],
        "intensity": {
            f"e1-{unique}": [str(E1_INTENSITY)],
            f"e2-{unique}": [],
            f"e3-{unique}": [],
        },
    }


async def _wait_for(api: httpx.AsyncClient, park: str, day: datetime, want: dict[str, Any]) -> None:
    deadline = time.monotonic() + WAIT_S
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        got = await _figures(api, park, day)
        if got == want:
            return
        await asyncio.sleep(1.0)
    assert got == want, f"not within {WAIT_S} s"


async def test_last_march_imported_with_backfill_equals_the_same_day_pushed_live(
    api_server: ApiServer,
    admin: httpx.AsyncClient,
    worker: RunningWorker,
    database_url: str,
    unique: str,
    tmp_path: Path,
) -> None:
    park = f"hist-{unique}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO park (park_id, name) VALUES (%s, 'history park')", (park,))
        for e in ("e1", "e2", "e3"):
            conn.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (f"{e}-{unique}", park, e),
            )
    for suffix, kind in [(s, k) for s in METERS for k in ("live", "hist")]:
        ent, carrier, unit, category, _, _ = METERS[suffix]
        r = await admin.post(
            "/v1/meters",
            json={
                "meter_id": f"{suffix}-{kind}-{unique}",
                "enterprise_id": f"{ent}-{unique}",
                "carrier": carrier,
                "unit": unit,
                "register_kind": "cumulative",
                "source_category": category,
                "expected_interval_s": 3600,
                # in service since before the history imported below
                "installed_at": "2025-01-01T00:00:00Z",
            },
        )
        assert r.status_code == 201, r.text

    today = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    march = datetime(today.year - 1 if today.month <= 3 else today.year, 3, 16, tzinfo=TZ)
    want = _expected(unique)

    live = [
        {"meter_id": m, "ts": _iso(t), "value": v, "unit": u}
        for m, t, v, u in _registers(unique, "live", yesterday)
    ]
    r = await admin.post("/v1/readings", json={"readings": live})
    assert r.status_code == 202, r.text
    assert (r.json()["accepted"], r.json()["rejected"]) == (len(live), 0)
    await _wait_for(admin, park, yesterday, want)

    history = tmp_path / "march.csv"
    history.write_text(
        "meter_id,ts,value,unit\n"
        + "".join(
            f"{m},{t.isoformat()},{v},{u}\n" for m, t, v, u in _registers(unique, "hist", march)
        )
    )
    env = {
        **os.environ,
        "PARKCARBON_DATABASE_URL": database_url,
        "PARKCARBON_TOPIC_PREFIX": worker.prefix,
    }
    cmd = [str(ROOT / ".venv/bin/parkcarbon"), "backfill", str(history), "--wait-timeout-s", "90"]
    done = await asyncio.to_thread(
        subprocess.run, cmd, env=env, capture_output=True, text=True, timeout=150
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(database_url) as conn:
        rejected = conn.execute(
            "SELECT count(*) FROM rejected_reading WHERE meter_id LIKE %s", (f"%-{unique}",)
        ).fetchone()
    assert rejected == (0,)  # nothing TOO_OLD, nothing out of order

    await _wait_for(admin, park, march, want)
    assert await _figures(admin, park, yesterday) == want  # the live day is untouched


async def test_an_ems_push_marked_history_is_accepted_from_the_installation_json_and_csv(
    api_server: ApiServer, admin: httpx.AsyncClient, database_url: str, unique: str
) -> None:
    meter_id = f"hist-push-{unique}"
    r = await admin.post(
        "/v1/meters",
        json={
            "meter_id": meter_id,
            "enterprise_id": "apitest-ent-a",
            "carrier": "electricity",
            "unit": "kWh",
            "register_kind": "cumulative",
            "source_category": "purchased_electricity",
            "expected_interval_s": 3600,
            "installed_at": "2025-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    old = {"meter_id": meter_id, "ts": "2025-06-01T00:00:00Z", "value": 100.0, "unit": "kWh"}

    r = await admin.post("/v1/readings", json={"readings": [old]})
    assert r.status_code == 422
    assert r.json()["results"][0]["reason"] == "TOO_OLD"
    assert "mode=history" in r.json()["results"][0]["detail"]

    early = {**old, "ts": "2024-12-31T23:00:00Z"}
    r = await admin.post(
        "/v1/readings", params={"mode": "history"}, json={"readings": [early, old]}
    )
    assert r.status_code == 202, r.text
    assert [i["reason"] for i in r.json()["results"]] == ["BEFORE_INSTALLATION", None]

    csv_body = f"meter_id,ts,value,unit\n{meter_id},2025-06-01T01:00:00Z,110.5,kWh\n"
    r = await admin.post(
        "/v1/readings",
        params={"mode": "history"},
        content=csv_body,
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1

    deadline = time.monotonic() + WAIT_S
    stored: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline and len(stored) < 2:
        with psycopg.connect(database_url) as conn:
            stored = conn.execute(
                "SELECT value, quantity FROM reading WHERE meter_id = %s ORDER BY ts", (meter_id,)
            ).fetchall()
        await asyncio.sleep(0.5)
    assert stored == [(100.0, None), (110.5, 10.5)]


async def test_an_ems_history_push_before_the_parks_inventory_start_is_rejected_with_that_reason(
    api_server: ApiServer, admin: httpx.AsyncClient, db: psycopg.Connection, unique: str
) -> None:
    park, enterprise, meter_id = f"inv-{unique}", f"inv-e-{unique}", f"inv-m-{unique}"
    add_park(db, park_id=park, name="park", actor="test", timezone="Asia/Shanghai")
    add_enterprise(db, enterprise_id=enterprise, park_id=park, name="e", actor="test")
    set_park_inventory_start(db, park_id=park, start=date(2025, 1, 1), actor="carbon-office")
    r = await admin.post(
        "/v1/meters",
        json={
            "meter_id": meter_id,
            "enterprise_id": enterprise,
            "carrier": "electricity",
            "unit": "kWh",
            "register_kind": "cumulative",
            "source_category": "purchased_electricity",
            "expected_interval_s": 3600,
            "installed_at": "2024-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    # 2025-01-01 00:00 Asia/Shanghai is 2024-12-31T16:00Z.
    before = {"meter_id": meter_id, "ts": "2024-12-31T15:00:00Z", "value": 1.0, "unit": "kWh"}
    at_start = {**before, "ts": "2024-12-31T16:00:00Z", "value": 2.0}

    r = await admin.post(
        "/v1/readings", params={"mode": "history"}, json={"readings": [before, at_start]}
    )

    assert r.status_code == 202, r.text
    first, second = r.json()["results"]
    assert first["reason"] == "BEFORE_INVENTORY_START"
    assert first["detail"] == "ts is before the park's inventory start (2024-12-31T16:00:00.000Z)"
    assert second["reason"] is None
