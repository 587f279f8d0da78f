"""Energy in tce through the API (GB/T 2589-2020), checked against hand arithmetic from the
coefficients of accounting/data/gbt2589_energy_coefficients.csv:

    electricity, equal value (当量值)  0.1229 kgce/kWh
    electricity, equivalent (等价值)   0.3007 kgce/kWh
    natural gas                       1.2143 kgce/Nm3

Park A (Asia/Shanghai, equal value): enterprise ea has an electricity meter with 1000 kWh in the
hour from 2025-03-09 15:00 UTC (local 9 March 23:00) and 2000 kWh from 16:00 UTC (local 10 March
00:00), a gas meter with 500 Nm3 from 16:00 UTC, 10 t of product and 2 x 10^4 CNY of output
value. Park B (Asia/Shanghai, equivalent): enterprise eb, 1000 kWh from 16:00 UTC.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import orjson
import pytest
from psycopg import AsyncConnection

from api.keys import Role
from tests.api.conftest import ApiServer, MakeKey

pytestmark = pytest.mark.integration

RANGE = {"from": "2025-03-09T00:00:00+08:00", "to": "2025-03-11T00:00:00+08:00"}
DAY9 = "2025-03-08T16:00:00"  # local 9 March starts here (UTC)
DAY10 = "2025-03-09T16:00:00"


@dataclass(frozen=True)
class World:
    park_a: str
    park_b: str
    ea: str
    eb: str
    power_a: str
    gas_a: str
    product_a: str
    value_a: str
    power_b: str


@pytest.fixture(scope="module")
async def world(api_server: ApiServer, api_park: str) -> World:
    u = uuid.uuid4().hex[:8]
    w = World(*(f"en{i}-{u}" for i in range(9)))
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        for park, convention in ((w.park_a, "equal_value"), (w.park_b, "equivalent")):
            await c.execute(
                "INSERT INTO park (park_id, name, timezone, tce_electricity_convention)"
                " VALUES (%s, 'energy', 'Asia/Shanghai', %s)",
                (park, convention),
            )
        for ent, park in ((w.ea, w.park_a), (w.eb, w.park_b)):
            await c.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (ent, park, ent),
            )
        meters = [
            (w.power_a, w.ea, "electricity", "kWh", "purchased_electricity"),
            (w.gas_a, w.ea, "natural_gas", "Nm3", "stationary_combustion"),
            (w.product_a, w.ea, "production_output", "t", "activity_only"),
            (w.value_a, w.ea, "output_value", "10^4 CNY", "activity_only"),
            (w.power_b, w.eb, "electricity", "kWh", "purchased_electricity"),
        ]
        for mid, ent, carrier, unit, cat in meters:
            await c.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category, installed_at)"
                " VALUES (%s, %s, %s, %s, 'cumulative', %s, '2019-01-01T00:00:00Z')",
                (mid, ent, carrier, unit, cat),
            )
        windows = [
            (w.power_a, w.ea, "purchased_electricity", "2025-03-09T15:00:00Z", 1000.0, "kWh"),
            (w.power_a, w.ea, "purchased_electricity", "2025-03-09T16:00:00Z", 2000.0, "kWh"),
            (w.gas_a, w.ea, "stationary_combustion", "2025-03-09T16:00:00Z", 500.0, "Nm3"),
            (w.product_a, w.ea, "activity_only", "2025-03-09T16:00:00Z", 10.0, "t"),
            (w.value_a, w.ea, "activity_only", "2025-03-09T16:00:00Z", 2.0, "10^4 CNY"),
            (w.power_b, w.eb, "purchased_electricity", "2025-03-09T16:00:00Z", 1000.0, "kWh"),
            # before GB/T 2589-2020 came into force: no coefficient version in the catalogue
            (w.power_a, w.ea, "purchased_electricity", "2020-06-01T00:00:00Z", 10.0, "kWh"),
        ]
        for mid, ent, cat, start, activity, unit in windows:
            await c.execute(
                "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
                " enterprise_id, source_category, activity, activity_unit, gases, tco2e,"
                " readings_present, readings_expected, completeness)"
                " VALUES (%s, 3600, %s, %s::timestamptz + interval '1 hour', %s, %s, %s, %s,"
                " %s::jsonb, 0, 4, 4, 1)",
                (mid, start, start, ent, cat, activity, unit, orjson.dumps({}).decode()),
            )
    return w


def _carriers(item: dict) -> dict[str, tuple[str, str | None]]:  # type: ignore[type-arg]
    return {c["carrier"]: (c["activity"]["value"], c["tce"]) for c in item["carriers"]}


async def test_daily_tce_per_enterprise_by_hand_arithmetic(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/energy",
        params={**RANGE, "bucket": "1d", "park_id": [world.park_a, world.park_b]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unit"] == "tce"
    rows = [(i["bucket_start"][:19], i["group"]["enterprise"], i["tce"]) for i in body["items"]]
    assert rows == [
        # 1000 kWh x 0.1229 kgce/kWh = 122.9 kgce
        (DAY9, world.ea, "0.122900"),
        # 2000 x 0.1229 = 245.8 kgce; 500 Nm3 x 1.2143 = 607.15 kgce; 852.95 kgce
        (DAY10, world.ea, "0.852950"),
        # park B counts electricity at its equivalent value: 1000 x 0.3007 = 300.7 kgce
        (DAY10, world.eb, "0.300700"),
    ]
    day10 = body["items"][1]
    assert _carriers(day10) == {
        "electricity": ("2000.000000", "0.245800"),
        "natural_gas": ("500.000000", "0.607150"),
    }  # the product and output-value meters are not energy
    assert day10["carriers"][0]["coefficient_versions"] == [
        "tce.electricity.equal_value@2021-04-01"
    ]


async def test_a_year_bucket_sums_the_months_and_groups_by_carrier(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/energy",
        params={
            "from": "2025-01-01T00:00:00+08:00",
            "to": "2026-01-01T00:00:00+08:00",
            "bucket": "1y",
            "group_by": ["park", "carrier"],
            "park_id": world.park_a,
        },
    )
    assert r.status_code == 200, r.text
    rows = [(i["bucket_start"][:19], i["group"]["carrier"], i["tce"]) for i in r.json()["items"]]
    assert rows == [
        ("2024-12-31T16:00:00", "electricity", "0.368700"),  # 3000 kWh x 0.1229 = 368.7 kgce
        ("2024-12-31T16:00:00", "natural_gas", "0.607150"),
    ]


async def test_energy_takes_group_by_as_a_comma_separated_list_too(
    admin: httpx.AsyncClient, world: World
) -> None:
    common = {
        "from": "2025-01-01T00:00:00+08:00",
        "to": "2026-01-01T00:00:00+08:00",
        "bucket": "1y",
        "park_id": world.park_a,
    }
    repeated = await admin.get("/v1/energy", params={**common, "group_by": ["park", "carrier"]})
    listed = await admin.get("/v1/energy", params={**common, "group_by": "park,carrier"})
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == repeated.json()["items"]
    assert [i["group"]["carrier"] for i in listed.json()["items"]] == ["electricity", "natural_gas"]


async def test_a_day_without_a_coefficient_is_named_not_counted_as_zero(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/energy",
        params={
            "from": "2020-06-01T00:00:00Z",
            "to": "2020-06-02T00:00:00Z",
            "bucket": "1d",
            "enterprise_id": world.ea,
        },
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["tce"] is None
    (power,) = item["carriers"]
    assert power["activity"]["value"] == "10.000000" and power["tce"] is None
    assert power["missing_coefficient_days"] == ["2020-06-01"]


async def test_energy_intensity_per_tonne_and_per_ten_thousand_cny(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get("/v1/intensity", params={**RANGE, "enterprise_id": world.ea})
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    # 122.9 + 852.95 = 975.85 kgce over the two days
    assert item["energy"] == {"value": "0.975850", "unit": "tce"}
    by_unit = {o["output"]["unit"]: o["energy_intensity"] for o in item["outputs"]}
    assert by_unit == {
        "t product": {"value": "0.097585", "unit": "tce/t product"},  # 0.97585 / 10
        "10^4 CNY": {"value": "0.487925", "unit": "tce/10^4 CNY"},  # 0.97585 / 2
    }


async def test_an_enterprise_key_sees_its_own_energy_only(
    api_server: ApiServer, make_key: MakeKey, world: World
) -> None:
    token = await make_key(Role.ENTERPRISE, enterprise_id=world.ea)
    async with httpx.AsyncClient(
        base_url=api_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        mine = await client.get("/v1/energy", params={**RANGE, "bucket": "1d"})
        assert {i["group"]["enterprise"] for i in mine.json()["items"]} == {world.ea}
        theirs = await client.get("/v1/energy", params={**RANGE, "enterprise_id": world.eb})
        assert theirs.status_code == 404


async def test_grouping_energy_by_gas_is_422(admin: httpx.AsyncClient) -> None:
    r = await admin.get("/v1/energy", params={**RANGE, "group_by": "gas"})
    assert r.status_code == 422
    assert "gas" in r.json()["detail"]
