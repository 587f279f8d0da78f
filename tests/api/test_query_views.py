"""Comparison (同比 / 环比), the energy flow and the hour-of-day heatmap through the API, checked
against hand arithmetic. A park in Asia/Shanghai with the GB/T 2589-2020 coefficients of
accounting/data/gbt2589_energy_coefficients.csv (electricity, equal value, 0.1229 kgce/kWh;
natural gas 1.2143 kgce/Nm3):

    local hour           m1 (e1, kWh)      m2 (e1, gas Nm3)   m3 (e2, kWh)   s1 (sub of m1)
    2025-03-10 01:00     0.6 t / 1000      2.0 t / 500        0.5 t / 400    0.3 t / 300
    2025-03-10 14:00                                          0.5 t / 400
    2024-03-10 01:00     0.4 t / 800       2.5 t / 600        (none)
    2025-02-10 01:00     0.8 t             2.0 t              0.25 t
    2025-03-31 01:00     0.1 t

p1 (e1, production output, 10 t) has a window at 2025-03-10 01:00 too. s1 is a sub-meter of
m1: the counted totals (docs/boundary.md) leave it out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import orjson
import pytest
from psycopg import AsyncConnection

from api.keys import Role
from tests.api.conftest import ApiServer, MakeKey

pytestmark = pytest.mark.integration

DAY = {"from": "2025-03-10T00:00:00+08:00", "to": "2025-03-11T00:00:00+08:00"}


@dataclass(frozen=True)
class World:
    park: str
    e1: str
    e2: str
    m1: str
    m2: str
    m3: str
    s1: str
    p1: str


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


@pytest.fixture(scope="module")
async def world(api_server: ApiServer, api_park: str) -> World:
    u = uuid.uuid4().hex[:8]
    w = World(*(f"qv{i}-{u}" for i in range(8)))
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'Views park', 'Asia/Shanghai')",
            (w.park,),
        )
        for ent, name in ((w.e1, "Steelworks"), (w.e2, "Glassworks")):
            await c.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (ent, w.park, name),
            )
        meters = [
            (w.m1, w.e1, "electricity", "kWh", "purchased_electricity", None),
            (w.m2, w.e1, "natural_gas", "Nm3", "stationary_combustion", None),
            (w.m3, w.e2, "electricity", "kWh", "purchased_electricity", None),
            (w.s1, w.e1, "electricity", "kWh", "purchased_electricity", w.m1),
            (w.p1, w.e1, "production_output", "t", "activity_only", None),
        ]
        for mid, ent, carrier, unit, cat, parent in meters:
            await c.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category, parent_meter_id, installed_at)"
                " VALUES (%s, %s, %s, %s, 'cumulative', %s, %s, '2020-01-01T00:00:00Z')",
                (mid, ent, carrier, unit, cat, parent),
            )
        kinds = {
            w.m1: (w.e1, "purchased_electricity", "2", "kWh"),
            w.m2: (w.e1, "stationary_combustion", "1", "Nm3"),
            w.m3: (w.e2, "purchased_electricity", "2", "kWh"),
            w.s1: (w.e1, "purchased_electricity", "2", "kWh"),
            w.p1: (w.e1, "activity_only", None, "t"),
        }
        windows = [
            (w.m1, "2025-03-10T01:00:00", 1000.0, 0.6),
            (w.m2, "2025-03-10T01:00:00", 500.0, 2.0),
            (w.m3, "2025-03-10T01:00:00", 400.0, 0.5),
            (w.s1, "2025-03-10T01:00:00", 300.0, 0.3),
            (w.p1, "2025-03-10T01:00:00", 10.0, 0.0),
            (w.m3, "2025-03-10T14:00:00", 400.0, 0.5),
            (w.m1, "2024-03-10T01:00:00", 800.0, 0.4),
            (w.m2, "2024-03-10T01:00:00", 600.0, 2.5),
            (w.m1, "2025-02-10T01:00:00", 1000.0, 0.8),
            (w.m2, "2025-02-10T01:00:00", 500.0, 2.0),
            (w.m3, "2025-02-10T01:00:00", 400.0, 0.25),
            (w.m1, "2025-03-31T01:00:00", 100.0, 0.1),
        ]
        for mid, local, activity, tco2e in windows:
            ent, cat, iso, unit = kinds[mid]
            start = _local(local)
            await c.execute(
                "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
                " enterprise_id, source_category, iso_category, activity, activity_unit,"
                " gases, tco2e, readings_present, readings_expected, completeness)"
                " VALUES (%s, 3600, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, 4, 4, 1)",
                (
                    mid,
                    start,
                    start + timedelta(hours=1),
                    ent,
                    cat,
                    iso,
                    activity,
                    unit,
                    orjson.dumps({"CO2": tco2e} if tco2e else {}).decode(),
                    tco2e,
                ),
            )
    return w


def _previous(body: dict, key: str) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (
            r["group"][key],
            r["tco2e"],
            r["previous"] and r["previous"]["bucket_start"][:19],
            r["previous"] and r["previous"]["tco2e"],
            r["previous"] and r["previous"]["change"],
            r["previous"] and r["previous"]["change_pct"],
        )
        for r in body["items"]
    ]


async def test_year_on_year_sets_each_day_beside_the_same_local_day_a_year_earlier(
    admin: httpx.AsyncClient, world: World
) -> None:
    params = {**DAY, "bucket": "1d", "group_by": "enterprise", "park_id": world.park}
    r = await admin.get("/v1/emissions", params=params | {"compare": "yoy"})
    assert r.status_code == 200, r.text
    assert r.json()["compare"] == "yoy"
    assert _previous(r.json(), "enterprise") == [
        # 0.6 + 2.0 (the sub-meter is not counted) against 0.4 + 2.5: -0.3, -0.3 / 2.9
        (world.e1, "2.600000", "2024-03-09T16:00:00", "2.900000", "-0.300000", "-10.34"),
        # nothing stored a year earlier: no figure, no change
        (world.e2, "1.000000", "2024-03-09T16:00:00", None, None, None),
    ]
    plain = await admin.get("/v1/emissions", params=params)
    assert [i["previous"] for i in plain.json()["items"]] == [None, None]
    assert plain.json()["compare"] is None


async def test_month_on_month_sets_each_day_and_month_beside_the_one_a_month_earlier(
    admin: httpx.AsyncClient, world: World
) -> None:
    params = {**DAY, "bucket": "1d", "group_by": "enterprise", "park_id": world.park}
    r = await admin.get("/v1/emissions", params=params | {"compare": "mom"})
    assert r.status_code == 200, r.text
    assert _previous(r.json(), "enterprise") == [
        (world.e1, "2.600000", "2025-02-09T16:00:00", "2.800000", "-0.200000", "-7.14"),
        (world.e2, "1.000000", "2025-02-09T16:00:00", "0.250000", "0.750000", "300.00"),
    ]
    month = {"from": "2025-03-01T00:00:00+08:00", "to": "2025-04-01T00:00:00+08:00"}
    r = await admin.get(
        "/v1/emissions",
        params=month
        | {"bucket": "1mo", "group_by": "park", "park_id": world.park, "compare": "mom"},
    )
    assert r.status_code == 200, r.text
    # March: 2.6 + 1.0 + 0.1 = 3.7 against February's 0.8 + 2.0 + 0.25 = 3.05
    assert _previous(r.json(), "park") == [
        (world.park, "3.700000", "2025-01-31T16:00:00", "3.050000", "0.650000", "21.31"),
    ]
    assert r.json()["items"][0]["previous"]["bucket_end"][:19] == "2025-02-28T16:00:00"


async def test_a_day_without_a_counterpart_a_month_earlier_gets_none(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/emissions",
        params={
            "from": "2025-03-31T00:00:00+08:00",
            "to": "2025-04-01T00:00:00+08:00",
            "bucket": "1d",
            "group_by": "park",
            "park_id": world.park,
            "compare": "mom",
        },
    )
    assert r.status_code == 200, r.text
    [row] = r.json()["items"]
    assert (row["tco2e"], row["previous"]) == ("0.100000", None)


async def test_hourly_buckets_compare_the_same_local_hour(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/emissions",
        params={**DAY, "bucket": "1h", "group_by": "meter", "meter_id": world.m1, "compare": "yoy"},
    )
    assert r.status_code == 200, r.text
    assert _previous(r.json(), "meter") == [
        (world.m1, "0.600000", "2024-03-09T17:00:00", "0.400000", "0.200000", "50.00"),
    ]


async def test_energy_compares_tce_year_on_year(admin: httpx.AsyncClient, world: World) -> None:
    r = await admin.get(
        "/v1/energy",
        params={**DAY, "bucket": "1d", "enterprise_id": world.e1, "compare": "yoy"},
    )
    assert r.status_code == 200, r.text
    [row] = r.json()["items"]
    # now 1000 kWh x 0.1229 + 500 Nm3 x 1.2143 kgce = 0.12290 + 0.60715 = 0.73005 tce;
    # a year earlier 800 x 0.1229 + 600 x 1.2143 = 0.09832 + 0.72858 = 0.82690 tce
    assert row["tce"] == "0.730050"
    assert row["previous"]["tce"] == "0.826900"
    assert row["previous"]["change"] == "-0.096850"
    assert row["previous"]["change_pct"] == "-11.71"  # -0.09685 / 0.8269


async def test_compare_over_parks_in_several_time_zones_must_name_the_park(
    admin: httpx.AsyncClient, world: World, api_server: ApiServer
) -> None:
    other = f"qv-utc-{uuid.uuid4().hex[:8]}"
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'UTC park', 'UTC')", (other,)
        )
    r = await admin.get(
        "/v1/emissions",
        params={**DAY, "bucket": "1d", "group_by": "park", "park_id": [world.park, other],
                "compare": "yoy"},
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert "filter on park_id" in r.json()["detail"]
    r = await admin.get("/v1/emissions", params={**DAY, "compare": "week"})
    assert r.status_code == 422, r.text
    first = {"from": "0001-01-01T12:00:00+00:00", "to": "0001-02-01T00:00:00+00:00"}
    r = await admin.get("/v1/energy", params={**first, "compare": "yoy"})
    assert r.status_code == 422 and "compare=yoy" in r.json()["detail"], r.text


async def test_the_energy_flow_runs_from_the_park_to_source_categories_as_counted(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get("/v1/energy-flows", params={**DAY, "park_id": world.park})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["levels"] == ["park", "enterprise", "carrier", "source_category"]
    nodes = {n["id"]: (n["name"], n["tco2e"], n["tce"]) for n in body["nodes"]}
    assert nodes == {
        # 2.6 + 1.0 tCO2e; 0.73005 + 800 kWh x 0.1229 = 0.09832 -> 0.82837 tce
        f"park/{world.park}": ("Views park", "3.600000", "0.828370"),
        f"enterprise/{world.e1}": ("Steelworks", "2.600000", "0.730050"),
        f"enterprise/{world.e2}": ("Glassworks", "1.000000", "0.098320"),
        "carrier/electricity": (None, "1.600000", "0.221220"),
        "carrier/natural_gas": (None, "2.000000", "0.607150"),
        "source_category/purchased_electricity": (None, "1.600000", "0.221220"),
        "source_category/stationary_combustion": (None, "2.000000", "0.607150"),
    }
    links = [(x["source"], x["target"], x["tco2e"], x["tce"]) for x in body["links"]]
    assert links == [
        (f"park/{world.park}", f"enterprise/{world.e1}", "2.600000", "0.730050"),
        (f"park/{world.park}", f"enterprise/{world.e2}", "1.000000", "0.098320"),
        (f"enterprise/{world.e1}", "carrier/natural_gas", "2.000000", "0.607150"),
        (f"enterprise/{world.e2}", "carrier/electricity", "1.000000", "0.098320"),
        (f"enterprise/{world.e1}", "carrier/electricity", "0.600000", "0.122900"),
        ("carrier/natural_gas", "source_category/stationary_combustion", "2.000000", "0.607150"),
        ("carrier/electricity", "source_category/purchased_electricity", "1.600000", "0.221220"),
    ]
    # the park node is the park's counted total of /v1/emissions over the same range
    total = await admin.get(
        "/v1/emissions",
        params={**DAY, "bucket": "1d", "group_by": "park", "park_id": world.park},
    )
    assert [i["tco2e"] for i in total.json()["items"]] == ["3.600000"]


async def test_an_enterprise_key_sees_only_its_own_flow_and_cells(
    api_server: ApiServer, make_key: MakeKey, world: World
) -> None:
    token = await make_key(Role.ENTERPRISE, enterprise_id=world.e2)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api_server.url, headers=headers) as e2:
        r = await e2.get("/v1/energy-flows", params=DAY)
        assert r.status_code == 200, r.text
        assert {n["id"] for n in r.json()["nodes"]} == {
            f"park/{world.park}",
            f"enterprise/{world.e2}",
            "carrier/electricity",
            "source_category/purchased_electricity",
        }
        r = await e2.get("/v1/heatmap", params=DAY)
        assert [(c["hour"], c["value"]) for c in r.json()["cells"]] == [
            (1, "0.500000"),
            (14, "0.500000"),
        ]
        r = await e2.get("/v1/heatmap", params=DAY | {"enterprise_id": world.e1})
        assert r.status_code == 404, r.text


async def test_the_heatmap_has_a_cell_per_local_day_and_hour(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get("/v1/heatmap", params={**DAY, "park_id": world.park})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["metric"], body["unit"]) == ("tco2e", "tCO2e")
    cells = [(c["park_id"], c["day"], c["hour"], c["value"], c["windows"]) for c in body["cells"]]
    assert cells == [
        # 0.6 + 2.0 + 0.5: the sub-meter and the output meter are not counted
        (world.park, "2025-03-10", 1, "3.100000", 3),
        (world.park, "2025-03-10", 14, "0.500000", 1),
    ]
    r = await admin.get("/v1/heatmap", params={**DAY, "park_id": world.park, "metric": "tce"})
    assert r.status_code == 200, r.text
    assert r.json()["unit"] == "tce"
    # 0.12290 + 0.60715 + 400 kWh x 0.1229 kgce = 0.04916 -> 0.77921
    assert [(c["hour"], c["value"]) for c in r.json()["cells"]] == [
        (1, "0.779210"),
        (14, "0.049160"),
    ]
    year = {"from": "2024-01-01T00:00:00+08:00", "to": "2025-03-01T00:00:00+08:00"}
    r = await admin.get("/v1/heatmap", params={**year, "park_id": world.park})
    assert r.status_code == 422 and "366 days" in r.json()["detail"], r.text
