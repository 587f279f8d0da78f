"""No double counting in a park with a meter hierarchy, an in-park CHP plant's sales and a meter
outside the boundary (clauses 4.3, 6.3.1; GB/T 32150 net purchased electricity; docs/boundary.md).

The test park, registered through the API and read by the run's real worker from pushed
readings, one hour of consumption per meter:

  chp  (CHP plant)   G  natural gas burnt                 1000 Nm3          counted
                     X  electricity sold to 'buy' (export) 2000 kWh         deducted
  buy  (buyer)       B  electricity bought from chp        2000 kWh         counted
  fab  (factory)     P  main electricity meter             1000 kWh         counted
                     C1, C2  sub-meters of P               300, 500 kWh     detail only
                     O  a tenant outside the boundary       400 kWh         never counted

By hand: grid factor 0.5306 kgCO2/kWh (MEE/NBS 2023, grid_avg.CN, as in test_ems_end_to_end);
natural gas 389.31 GJ/10^4 Nm3 x 0.0153 tC/GJ x 0.99 x 44/12 (GB/T 32150 defaults,
accounting/data/fuel_combustion.csv) = 2.16218881 tCO2 per 1000 Nm3.
  chp = 2.16218881 - 2000 x 0.0005306 = 2.16218881 - 1.0612 = 1.10098881 t
  buy = 1.0612 t;  fab = 1000 x 0.0005306 = 0.5306 t
  park = 2.69278881 t = chp + buy + fab: the CHP's gas once, nothing of C1, C2, O.
Counting every meter as measured would give 5.45198881 t.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from tests.api.conftest import ApiServer

pytestmark = pytest.mark.integration

GRID_T_PER_KWH = Decimal("0.0005306")
GAS_T_PER_NM3 = (
    Decimal("389.31") / 10_000 * Decimal("0.0153") * Decimal("0.99") * 44 / 12
)  # 0.00216218881 tCO2/Nm3
HOUR_USE = {  # meter -> (enterprise, carrier, unit, hour's consumption)
    "G": ("chp", "natural_gas", "Nm3", 1000),
    "X": ("chp", "electricity", "kWh", 2000),
    "B": ("buy", "electricity", "kWh", 2000),
    "P": ("fab", "electricity", "kWh", 1000),
    "C1": ("fab", "electricity", "kWh", 300),
    "C2": ("fab", "electricity", "kWh", 500),
    "O": ("fab", "electricity", "kWh", 400),
}
CHP = 1000 * GAS_T_PER_NM3 - 2000 * GRID_T_PER_KWH
BUY = 2000 * GRID_T_PER_KWH
FAB = 1000 * GRID_T_PER_KWH
PARK = CHP + BUY + FAB
AS_MEASURED = (
    1000 * GAS_T_PER_NM3 + sum(u[3] for m, u in HOUR_USE.items() if m != "G") * GRID_T_PER_KWH
)
WAIT_S = 90.0


def _dec6(value: Decimal) -> str:
    """As the API answers: six decimal places."""
    return str(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN))


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
async def park(api_server: ApiServer, admin: httpx.AsyncClient, unique: str) -> dict[str, str]:
    """The test park's ids: its own park, so its totals hold nothing of other tests."""
    park_id = f"pb-{unique}"
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'boundary', 'Asia/Shanghai')",
            (park_id,),
        )
    ids = {"park": park_id}
    for ent in ("chp", "buy", "fab"):
        ids[ent] = f"{ent}-{unique}"
        r = await admin.post(
            "/v1/enterprises", json={"enterprise_id": ids[ent], "park_id": park_id, "name": ent}
        )
        assert r.status_code == 201, r.text
    extra: dict[str, dict[str, Any]] = {
        "G": {"source_category": "stationary_combustion"},
        "X": {"role": "export"},
        "C1": {"parent_meter_id": f"P-{unique}"},
        "C2": {"parent_meter_id": f"P-{unique}"},
        "O": {"in_boundary": False},
    }
    for meter, (ent, carrier, unit, _) in HOUR_USE.items():
        body = {
            "meter_id": f"{meter}-{unique}",
            "enterprise_id": ids[ent],
            "carrier": carrier,
            "unit": unit,
            "register_kind": "cumulative",
            "source_category": "purchased_electricity",
            "expected_interval_s": 900,
            "installed_at": "2024-01-01T00:00:00Z",
        } | extra.get(meter, {})
        r = await admin.post("/v1/meters", json=body)
        assert r.status_code == 201, r.text
        ids[meter] = body["meter_id"]
    return ids


async def _push_hour(operator: httpx.AsyncClient, ids: dict[str, str], t0: datetime) -> None:
    """Each meter's register every 15 minutes through the hour, a quarter of its use at a
    time, and one reading after it (so the hour is read past its end) with no use."""
    readings = []
    for meter, (_, _, unit, use) in HOUR_USE.items():
        register = 10_000.0
        for i in range(6):
            readings.append(
                {
                    "meter_id": ids[meter],
                    "ts": _iso(t0 + timedelta(minutes=15 * i)),
                    "value": register,
                    "unit": unit,
                }
            )
            register += use / 4 if i < 4 else 0
    r = await operator.post("/v1/readings", json={"readings": readings})
    assert r.status_code == 202, r.text
    assert (r.json()["accepted"], r.json()["rejected"]) == (len(readings), 0), r.text


async def _wait_for_hours(server: ApiServer, ids: dict[str, str], t0: datetime) -> None:
    meters = [ids[m] for m in HOUR_USE]
    deadline = time.monotonic() + WAIT_S
    found: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        async with await AsyncConnection.connect(server.database_url) as conn:
            cur = await conn.execute(
                "SELECT meter_id, activity FROM emission_window WHERE meter_id = ANY(%s)"
                " AND width_s = 3600 AND window_start = %s",
                (meters, t0),
            )
            found = list(await cur.fetchall())
        got = {m: a for m, a in found}
        if got == {ids[m]: pytest.approx(float(u[3])) for m, u in HOUR_USE.items()}:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"hour windows not stored within {WAIT_S} s: {found}")


async def test_a_hierarchy_and_transfer_park_counts_every_tonne_once(
    api_server: ApiServer,
    park: dict[str, str],
    operator: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    t0 = now - timedelta(hours=3)
    await _push_hour(operator, park, t0)
    await _wait_for_hours(api_server, park, t0)

    async def emissions(**params: Any) -> list[dict[str, Any]]:
        query = {"from": _iso(t0), "to": _iso(t0 + timedelta(hours=1)), "bucket": "1h"}
        r = await operator.get("/v1/emissions", params=query | params)
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    # The park total is the sum of the root meters in the boundary, exports deducted ...
    by_park = await emissions(group_by="park", park_id=park["park"])
    assert [i["tco2e"] for i in by_park] == [_dec6(PARK)]
    # ... and equals the sum by enterprise.
    by_ent = await emissions(group_by="enterprise", park_id=park["park"])
    assert {i["group"]["enterprise"]: i["tco2e"] for i in by_ent} == {
        park["chp"]: _dec6(CHP),
        park["buy"]: _dec6(BUY),
        park["fab"]: _dec6(FAB),
    }
    assert sum(Decimal(i["tco2e"]) for i in by_ent) == Decimal(_dec6(PARK))
    # Every meter as measured (the detail view, and what totals were before the rule): the
    # CHP's electricity twice, the sub-meters inside their parent and the tenant outside.
    as_measured = await emissions(group_by="park", park_id=park["park"], detail="true")
    assert [i["tco2e"] for i in as_measured] == [_dec6(AS_MEASURED)]

    # The same rule over the day rollup (emission_day): the park's whole local day of t0.
    tz_day = (t0 + timedelta(hours=8)).date()  # Asia/Shanghai, UTC+8 all year
    day_start = datetime(tz_day.year, tz_day.month, tz_day.day, tzinfo=UTC) - timedelta(hours=8)
    r = await operator.get(
        "/v1/emissions",
        params={
            "from": _iso(day_start),
            "to": _iso(day_start + timedelta(days=1)),
            "bucket": "1d",
            "group_by": "park",
            "park_id": park["park"],
        },
    )
    assert r.status_code == 200, r.text
    assert [i["tco2e"] for i in r.json()["items"]] == [_dec6(PARK)]

    # A sub-meter and the out-of-boundary meter are still there as detail, as measured.
    detail = await emissions(
        group_by="meter", meter_id=[park["C1"], park["O"], park["X"]], detail="true"
    )
    assert {i["group"]["meter"]: i["tco2e"] for i in detail} == {
        park["C1"]: _dec6(300 * GRID_T_PER_KWH),
        park["O"]: _dec6(400 * GRID_T_PER_KWH),
        park["X"]: _dec6(2000 * GRID_T_PER_KWH),
    }
    assert await emissions(group_by="meter", meter_id=[park["C1"], park["O"]]) == []

    # Intensity reads the same totals per enterprise.
    r = await operator.get(
        "/v1/intensity",
        params={
            "from": _iso(t0),
            "to": _iso(t0 + timedelta(hours=1)),
            "enterprise_id": [park["chp"], park["buy"], park["fab"]],
        },
    )
    assert r.status_code == 200, r.text
    assert {i["enterprise_id"]: i["tco2e"]["value"] for i in r.json()["items"]} == {
        park["chp"]: _dec6(CHP),
        park["buy"]: _dec6(BUY),
        park["fab"]: _dec6(FAB),
    }

    # And so does the inventory report.
    r = await operator.get(
        "/v1/reports/inventory",
        params={"park": park["park"], "from": tz_day.isoformat(), "to": tz_day.isoformat()},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["totals"]["location_tco2e"] == pytest.approx(float(PARK), abs=1e-9)
    assert {b["key"]: b["location_tco2e"] for b in report["by_enterprise"]} == pytest.approx(
        {park["chp"]: float(CHP), park["buy"]: float(BUY), park["fab"]: float(FAB)}, abs=1e-9
    )


async def test_the_registry_refuses_a_parent_of_another_carrier_and_audits_a_new_parent(
    api_server: ApiServer, park: dict[str, str], admin: httpx.AsyncClient
) -> None:
    r = await admin.patch(f"/v1/meters/{park['G']}", json={"parent_meter_id": park["P"]})
    assert r.status_code == 422, r.text
    assert "measures electricity" in r.json()["detail"]

    r = await admin.patch(f"/v1/meters/{park['O']}", json={"parent_meter_id": park["P"]})
    assert r.status_code == 200, r.text
    assert r.json()["parent_meter_id"] == park["P"]
    r = await admin.get("/v1/audit", params={"entity": "meter", "entity_id": park["O"]})
    assert r.status_code == 200, r.text
    updates = [e for e in r.json()["items"] if e["action"] == "update"]
    assert updates[-1]["before"]["parent_meter_id"] is None
    assert updates[-1]["after"]["parent_meter_id"] == park["P"]

    r = await admin.post(
        "/v1/meters",
        json={
            "meter_id": f"{park['G']}-x",
            "enterprise_id": park["chp"],
            "carrier": "natural_gas",
            "unit": "Nm3",
            "register_kind": "cumulative",
            "source_category": "stationary_combustion",
            "role": "export",
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "role"
