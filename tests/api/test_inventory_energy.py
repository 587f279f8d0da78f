"""Energy in tce in a stored inventory (GB/T 2589-2020), and the inventory report counting
exactly what a stored inventory counts (GB/T 32150 clause 6.3.1: activity records in, the meters
they replace out).

A park of its own (Asia/Shanghai, region CN, equal value 当量值), period 2025-03-10..2025-03-11
(local days). Coefficients of accounting/data/gbt2589_energy_coefficients.csv:

    electricity, equal value  0.1229 kgce/kWh
    diesel                    1.4571 kgce/kg
    heat                      0.03412 kgce/MJ

- E1: an electricity meter with 1000 kWh in the hour from 2025-03-09 16:00 UTC (local 10 March
  00:00), 10 t of product and 2 x 10^4 CNY of output value; a diesel record of 1.5 t for 10
  March and one of 2 t for 10..13 March, of which 2 of 4 days (1 t) are in the period.
  tce = 1000 x 0.1229 / 1000 + (1.5 + 1.0) x 1.4571 = 0.1229 + 3.64275 = 3.76565;
  per t product 0.376565, per 10^4 CNY 1.882825.
- E2: a heat record of 100 GJ for 11 March: 100 000 MJ x 0.03412 / 1000 = 3.412 tce; an
  electricity meter with 500 kWh on 11 March, replaced for 11 March by an electricity bill of
  400 kWh: the meter's kWh are left out, the bill's counted: 400 x 0.1229 / 1000 = 0.04916;
  E2 3.46116 tce.
- Park: electricity 1400 kWh = 0.17206 tce; diesel 2.5 t = 3.64275; heat 100 GJ = 3.412;
  total 7.22681 tce.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from openpyxl import load_workbook
from psycopg import AsyncConnection

from tests.api.conftest import ApiServer

pytestmark = pytest.mark.integration

PERIOD = {"from": "2025-03-10", "to": "2025-03-11"}
GRID_T_PER_KWH = 0.5306e-3  # grid_avg.CN@2023-01-01, as the windows below were computed
E1_TCE = 1000 * 0.1229 / 1000 + (1.5 + 1.0) * 1.4571
E2_TCE = 100_000 * 0.03412 / 1000 + 400 * 0.1229 / 1000  # heat 3.412 + bill 0.04916
PARK_TCE = E1_TCE + E2_TCE


@dataclass(frozen=True)
class World:
    park: str
    e1: str
    e2: str
    power_1: str
    product_1: str
    value_1: str
    power_2: str
    records: dict[str, str]


async def _confirmed(admin: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await admin.post("/v1/activity-records", json={"document_ref": "invoice", **body})
    assert r.status_code == 201, r.text
    record_id = r.json()["record_id"]
    r = await admin.post(f"/v1/activity-records/{record_id}/transitions", json={"to": "confirmed"})
    assert r.status_code == 200, r.text
    return f"{record_id}v1"


@pytest.fixture(scope="module")
async def world(api_server: ApiServer, admin: httpx.AsyncClient) -> World:
    u = uuid.uuid4().hex[:8]
    park, e1, e2 = f"tcep-{u}", f"tce1-{u}", f"tce2-{u}"
    meters = {k: f"tcem-{k}-{u}" for k in ("power_1", "product_1", "value_1", "power_2")}
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone, region, tce_electricity_convention)"
            " VALUES (%s, 'tce park', 'Asia/Shanghai', 'CN', 'equal_value')",
            (park,),
        )
        for ent in (e1, e2):
            await c.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (ent, park, ent),
            )
        rows = [
            (meters["power_1"], e1, "electricity", "kWh", "purchased_electricity"),
            (meters["product_1"], e1, "production_output", "t", "activity_only"),
            (meters["value_1"], e1, "output_value", "10^4 CNY", "activity_only"),
            (meters["power_2"], e2, "electricity", "kWh", "purchased_electricity"),
        ]
        for mid, ent, carrier, unit, cat in rows:
            await c.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category, installed_at)"
                " VALUES (%s, %s, %s, %s, 'cumulative', %s, '2019-01-01T00:00:00Z')",
                (mid, ent, carrier, unit, cat),
            )
        windows = [
            (meters["power_1"], e1, "purchased_electricity", "2025-03-09T16:00:00Z", 1000.0, "kWh"),
            (meters["product_1"], e1, "activity_only", "2025-03-09T16:00:00Z", 10.0, "t"),
            (meters["value_1"], e1, "activity_only", "2025-03-09T16:00:00Z", 2.0, "10^4 CNY"),
            (meters["power_2"], e2, "purchased_electricity", "2025-03-10T16:00:00Z", 500.0, "kWh"),
        ]
        for mid, ent, cat, start, activity, unit in windows:
            electric = cat == "purchased_electricity"
            tonnes = activity * GRID_T_PER_KWH if electric else 0.0
            await c.execute(
                "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
                " enterprise_id, source_category, activity, activity_unit, gases, tco2e,"
                " gwp_set, factor_versions, readings_present, readings_expected, completeness)"
                " VALUES (%s, 3600, %s, %s::timestamptz + interval '1 hour', %s, %s, %s, %s,"
                " %s::jsonb, %s, 'AR5', %s, 4, 4, 1)",
                (
                    mid,
                    start,
                    start,
                    ent,
                    cat,
                    activity,
                    unit,
                    orjson.dumps({"CO2": tonnes} if electric else {}).decode(),
                    tonnes,
                    ["grid_avg.CN@2023-01-01"] if electric else [],
                ),
            )
    records = {
        "diesel_day": await _confirmed(
            admin,
            {
                "enterprise_id": e1,
                "period_start": "2025-03-10",
                "period_end": "2025-03-10",
                "source_category": "mobile_combustion",
                "carrier": "diesel",
                "quantity": 1.5,
                "unit": "t",
            },
        ),
        "diesel_span": await _confirmed(
            admin,
            {
                "enterprise_id": e1,
                "period_start": "2025-03-10",
                "period_end": "2025-03-13",
                "source_category": "mobile_combustion",
                "carrier": "diesel",
                "quantity": 2.0,
                "unit": "t",
            },
        ),
        "heat": await _confirmed(
            admin,
            {
                "enterprise_id": e2,
                "period_start": "2025-03-11",
                "period_end": "2025-03-11",
                "source_category": "purchased_heat",
                "carrier": "heat",
                "quantity": 100.0,
                "unit": "GJ",
            },
        ),
        "bill": await _confirmed(
            admin,
            {
                "enterprise_id": e2,
                "period_start": "2025-03-11",
                "period_end": "2025-03-11",
                "source_category": "purchased_electricity",
                "carrier": "electricity",
                "quantity": 400.0,
                "unit": "kWh",
                "replaces_meters": [meters["power_2"]],
            },
        ),
    }
    return World(park, e1, e2, *meters.values(), records=records)


def _carriers(rows: list[dict[str, Any]]) -> dict[str, tuple[float, float | None]]:
    return {c["carrier"]: (c["activity"], c["tce"]) for c in rows}


async def test_a_stored_inventory_states_tce_by_carrier_and_enterprise_by_hand_arithmetic(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.post("/v1/inventories", json={"park_id": world.park, **PERIOD})
    assert r.status_code == 201, r.text
    energy = r.json()["content"]["energy"]
    assert energy["electricity_convention"] == "equal_value"
    assert energy["tce"] == pytest.approx(PARK_TCE, abs=1e-9)
    park = _carriers(energy["by_carrier"])
    assert park["electricity"] == (pytest.approx(1400.0), pytest.approx(0.17206, abs=1e-9))
    assert park["diesel"] == (pytest.approx(2.5), pytest.approx(3.64275, abs=1e-9))
    assert park["heat"] == (pytest.approx(100.0), pytest.approx(3.412, abs=1e-9))
    assert set(park) == {"electricity", "diesel", "heat"}  # product and output value are no energy
    by_ent = {e["enterprise_id"]: e for e in energy["by_enterprise"]}
    e1, e2 = by_ent[world.e1], by_ent[world.e2]
    assert e1["tce"] == pytest.approx(3.76565, abs=1e-9)
    assert e1["tce_per_t_product"] == pytest.approx(0.376565, abs=1e-9)
    assert e1["tce_per_cny_10k"] == pytest.approx(1.882825, abs=1e-9)
    assert _carriers(e2["by_carrier"]) == {
        # the replaced meter's 500 kWh are left out; the bill's 400 kWh count
        "electricity": (pytest.approx(400.0), pytest.approx(0.04916, abs=1e-9)),
        "heat": (pytest.approx(100.0), pytest.approx(3.412, abs=1e-9)),
    }
    assert e2["tce"] == pytest.approx(E2_TCE, abs=1e-9)
    assert e2["tce_per_t_product"] is None  # E2 records no production output
    versions = {v for c in energy["by_carrier"] for v in c["coefficient_versions"]}
    assert versions == {
        "tce.electricity.equal_value@2021-04-01",
        "tce.diesel@2021-04-01",
        "tce.heat@2021-04-01",
    }


async def test_the_xlsx_and_html_of_a_stored_inventory_show_its_energy(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.post("/v1/inventories", json={"park_id": world.park, **PERIOD})
    assert r.status_code == 201, r.text
    inventory_id = r.json()["inventory_id"]
    xlsx = await admin.get(f"/v1/inventories/{inventory_id}", params={"format": "xlsx"})
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    rows = list(book["energy"].iter_rows(values_only=True))
    assert rows[0] == (
        "enterprise_id",
        "carrier",
        "activity",
        "unit",
        "tce",
        "coefficient_versions",
    )
    [total] = [row for row in rows if row[0] == "total"]
    assert total[4] == pytest.approx(PARK_TCE, abs=1e-9)
    intensity = {row[0]: row for row in book["energy_by_enterprise"].iter_rows(values_only=True)}
    assert intensity[world.e1][2] == pytest.approx(0.376565, abs=1e-9)
    html = await admin.get(
        f"/v1/inventories/{inventory_id}", params={"format": "html", "lang": "en"}
    )
    assert html.status_code == 200
    assert "10 Energy consumption in tce (GB/T 2589-2020)" in html.text
    assert "tce.diesel@2021-04-01" in html.text


async def test_the_inventory_report_counts_what_the_stored_inventory_counts(
    admin: httpx.AsyncClient, world: World
) -> None:
    stored = await admin.post("/v1/inventories", json={"park_id": world.park, **PERIOD})
    assert stored.status_code == 201, stored.text
    content = stored.json()["content"]
    r = await admin.get("/v1/reports/inventory", params={"park": world.park, **PERIOD})
    assert r.status_code == 200, r.text
    report = r.json()

    assert report["totals"] == content["totals"]
    assert [
        (e["key"], e["location_tco2e"], e["market_tco2e"]) for e in report["by_enterprise"]
    ] == [
        (e["enterprise_id"], e["location_tco2e"], e["market_tco2e"])
        for e in content["by_enterprise"]
    ]
    assert report["by_source_category"] == content["by_source_category"]
    assert report["energy"] == content["energy"]
    # Activity records are in, and the meter the bill replaces is out, in both.
    assert set(report["activity_records"]) == set(world.records.values())
    assert [x.split(" ")[0] for x in report["excluded_meters"]] == [world.power_2]
    electricity = {e["enterprise_id"]: e["activity_kwh"] for e in report["electricity"]}
    assert electricity == {world.e1: pytest.approx(1000.0), world.e2: pytest.approx(400.0)}
    # The months and days the targets are compared with sum to the same total.
    [month] = report["by_month"]
    assert month["location_tco2e"] == pytest.approx(report["totals"]["location_tco2e"], abs=1e-9)
    # The total is the windows' and the records' own: E1's 1000 kWh at the grid factor plus
    # every record line of the stored inventory (the meter's 500 kWh left out).
    records = sum(
        ln["tco2e"]
        for ln in content["lines"]
        if ln["origin"].startswith("activity record") and ln["basis"] != "market_based"
    )
    assert report["totals"]["location_tco2e"] == pytest.approx(
        1000 * GRID_T_PER_KWH + records, abs=1e-9
    )
