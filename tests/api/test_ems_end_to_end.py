"""The EMS push end to end (issue 6, tests): a meter registered through the API, readings pushed
through ``POST /v1/readings``, validated and stored by the run's real ``parkcarbon worker`` from
the real broker, summed into 15-minute and hour emission windows, and read back through
``GET /v1/emissions`` — with tCO2e equal to the hand computation activity x grid factor
(clause 6.3.1: activity data x emission factor)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from tests.api.conftest import ENTERPRISE_A, ApiServer

pytestmark = pytest.mark.integration

# The factor the worker applies (accounting/window_co2e.py): an electricity meter with no factor_key
# takes DEFAULT_SERIES[electricity] = mee_nbs_grid_average; the park's region is 'CN' (park.region
# default, migration 0003); on any day from 2023-01-01 the row in force is
# accounting/data/grid_electricity_mee_nbs.csv, key grid_avg.CN, valid_from 2023-01-01, open-ended:
# 0.5306 kgCO2/kWh (MEE/NBS 2023 electricity CO2 factor announcement), CO2 only, GWP 1.
FACTOR_T_PER_KWH = Decimal("0.0005306")
FACTOR_VERSION = "grid_avg.CN@2023-01-01"

# Consumption of each 15-minute interval, kWh (whole multiples of 5, so every tCO2e below has
# at most 6 decimals, the places the API answers in).
DELTAS_KWH = (10, 20, 15, 25, 30, 25, 10, 20, 15, 35, 20, 25)
START_VALUE_KWH = 48_210
# The hours by hand: 10+20+15+25 = 70, 30+25+10+20 = 85, 15+35+20+25 = 95 kWh, and
# x 0.5306 kg/kWh = 37.142, 45.101, 50.407 kg.
HOURS = ((70, "0.037142"), (85, "0.045101"), (95, "0.050407"))
WAIT_S = 90.0  # bounded: the worker stores within seconds; 90 s allows a slow shared machine


def _start() -> datetime:
    """Three whole hours that ended at least an hour ago (not future, well inside 31 days)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=4)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


Windows = dict[tuple[int, datetime], tuple[float, float, list[str], float]]


async def _stored(server: ApiServer, meter_id: str, t0: datetime) -> tuple[int, Windows]:
    """Readings stored for the meter, and its 15-minute and hour windows in the three hours."""
    async with await AsyncConnection.connect(server.database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM reading WHERE meter_id = %s", (meter_id,))
        row = await cur.fetchone()
        cur = await conn.execute(
            "SELECT width_s, window_start, activity, tco2e, factor_versions, completeness"
            " FROM emission_window WHERE meter_id = %s AND width_s IN (900, 3600)"
            " AND window_start >= %s AND window_start < %s",
            (meter_id, t0, t0 + timedelta(hours=3)),
        )
        windows = {(w, s): (a, t, list(f), c) for w, s, a, t, f, c in await cur.fetchall()}
    return (row[0] if row else 0), windows


def _expected(t0: datetime) -> dict[tuple[int, datetime], float]:
    """Activity (kWh) of every 15-minute and hour window, from DELTAS_KWH."""
    quarters = {(900, t0 + timedelta(minutes=15 * i)): float(d) for i, d in enumerate(DELTAS_KWH)}
    hours = {(3600, t0 + timedelta(hours=h)): float(kwh) for h, (kwh, _) in enumerate(HOURS)}
    return quarters | hours


async def _wait_for_windows(server: ApiServer, meter_id: str, t0: datetime) -> Windows:
    expected = _expected(t0)
    deadline = time.monotonic() + WAIT_S
    readings, windows = 0, Windows()
    while time.monotonic() < deadline:
        readings, windows = await _stored(server, meter_id, t0)
        got = {k: v[0] for k, v in windows.items()}
        if readings == len(DELTAS_KWH) + 1 and got == pytest.approx(expected):
            return windows
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"not within {WAIT_S} s: {readings} readings stored, windows {sorted(windows.items())}"
    )


async def test_pushed_readings_become_stored_windows_with_hand_computed_tco2e(
    api_server: ApiServer, admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient, unique: str
) -> None:
    meter_id = f"ems-e2e-{unique}"
    meter = {
        "meter_id": meter_id,
        "enterprise_id": ENTERPRISE_A,
        "carrier": "electricity",
        "unit": "kWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
        "expected_interval_s": 900,
        "installed_at": "2024-01-01T00:00:00Z",
    }
    r = await admin.post("/v1/meters", json=meter)
    assert r.status_code == 201, r.text

    t0 = _start()
    values = [START_VALUE_KWH]
    for d in DELTAS_KWH:
        values.append(values[-1] + d)
    readings = [
        {
            "meter_id": meter_id,
            "ts": _iso(t0 + timedelta(minutes=15 * i)),
            "value": float(v),
            "unit": "kWh",
        }
        for i, v in enumerate(values)
    ]
    r = await tenant_a.post("/v1/readings", json={"readings": readings})
    assert r.status_code == 202, r.text
    assert (r.json()["accepted"], r.json()["rejected"]) == (len(readings), 0)

    windows = await _wait_for_windows(api_server, meter_id, t0)
    for (width, start), (activity, tco2e, versions, completeness) in sorted(windows.items()):
        assert tco2e == pytest.approx(activity * float(FACTOR_T_PER_KWH), rel=1e-12), start
        assert versions == [FACTOR_VERSION]
        assert completeness == 1.0, (width, start)

    # The same totals through the query API, for the meter's own tenant.
    def query(bucket: str) -> dict[str, Any]:
        return {
            "from": _iso(t0),
            "to": _iso(t0 + timedelta(hours=3)),
            "bucket": bucket,
            "group_by": "meter",
            "meter_id": meter_id,
        }

    r = await tenant_a.get("/v1/emissions", params=query("1h"))
    assert r.status_code == 200, r.text
    hours = [(i["bucket_start"], i["tco2e"], i["activity"]) for i in r.json()["items"]]
    assert hours == [
        (
            _iso(t0 + timedelta(hours=h)),
            tco2e,
            [{"value": f"{kwh}.000000", "unit": "kWh"}],
        )
        for h, (kwh, tco2e) in enumerate(HOURS)
    ]
    r = await tenant_a.get("/v1/emissions", params=query("15m"))
    quarters = [Decimal(i["tco2e"]) for i in r.json()["items"]]
    assert quarters == [d * FACTOR_T_PER_KWH for d in DELTAS_KWH]
    assert sum(quarters) == Decimal("0.132650")  # 250 kWh x 0.5306 kg/kWh = 132.65 kg
