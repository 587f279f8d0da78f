"""Market-based tCO2e beside the location-based figure in ``GET /v1/emissions``
(``include_market=true``), by hand from accounting/data/grid_electricity_mee_nbs.csv:
residual mix (residual_mix.CN@2023-01-01) 0.6096 kgCO2/kWh.

One enterprise (park region CN, Asia/Shanghai) on local 10 March 2025: a meter under green
electricity certificates (factor_key contractual_gec) 1000 kWh stored at 0.5 tCO2e
location-based, a grid meter 2000 kWh at 1.0 tCO2e, a gas meter at 0.2 tCO2e.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest
from psycopg import AsyncConnection

from tests.api.conftest import ApiServer

pytestmark = pytest.mark.integration

DAY = {"from": "2025-03-10T00:00:00+08:00", "to": "2025-03-11T00:00:00+08:00", "bucket": "1d"}


@dataclass(frozen=True)
class World:
    park: str
    ent: str
    gec: str
    grid: str
    gas: str


@pytest.fixture(scope="module")
async def world(api_server: ApiServer, api_park: str) -> World:
    u = uuid.uuid4().hex[:8]
    w = World(*(f"mk{i}-{u}" for i in range(5)))
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone, region)"
            " VALUES (%s, 'm', 'Asia/Shanghai', 'CN')",
            (w.park,),
        )
        await c.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'e')",
            (w.ent, w.park),
        )
        meters = [
            (w.gec, "electricity", "kWh", "purchased_electricity", "contractual_gec"),
            (w.grid, "electricity", "kWh", "purchased_electricity", None),
            (w.gas, "natural_gas", "Nm3", "stationary_combustion", None),
        ]
        for mid, carrier, unit, cat, key in meters:
            await c.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category, factor_key, installed_at)"
                " VALUES (%s, %s, %s, %s, 'cumulative', %s, %s, '2019-01-01T00:00:00Z')",
                (mid, w.ent, carrier, unit, cat, key),
            )
        windows = [
            (w.gec, "purchased_electricity", "2025-03-10T01:00:00Z", 1000.0, "kWh", 0.5),
            (w.grid, "purchased_electricity", "2025-03-10T01:00:00Z", 2000.0, "kWh", 1.0),
            (w.gas, "stationary_combustion", "2025-03-10T01:00:00Z", 100.0, "Nm3", 0.2),
            # before any residual-mix version (the first is residual_mix.CN@2021-01-01)
            (w.grid, "purchased_electricity", "2020-06-01T01:00:00Z", 10.0, "kWh", 0.005),
        ]
        for mid, cat, start, activity, unit, tco2e in windows:
            await c.execute(
                "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
                " enterprise_id, source_category, activity, activity_unit, gases, tco2e,"
                " readings_present, readings_expected, completeness)"
                " VALUES (%s, 3600, %s, %s::timestamptz + interval '1 hour', %s, %s, %s, %s,"
                " jsonb_build_object('CO2', %s::float8), %s, 4, 4, 1)",
                (mid, start, start, w.ent, cat, activity, unit, tco2e, tco2e),
            )
    return w


async def test_market_based_is_beside_location_based_never_inside_it(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/emissions", params={**DAY, "enterprise_id": world.ent, "include_market": "true"}
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    # location-based: 0.5 + 1.0 + 0.2, the certificates do not net into it
    assert item["tco2e"] == "1.700000"
    # market-based: certificates 1000 kWh x 0 + 2000 kWh x 0.6096 kg/kWh + gas 0.2 = 1.4192 t
    assert item["market_tco2e"] == "1.419200"
    by_meter = await admin.get(
        "/v1/emissions",
        params={**DAY, "enterprise_id": world.ent, "include_market": "true", "group_by": "meter"},
    )
    assert {
        i["group"]["meter"]: (i["tco2e"], i["market_tco2e"]) for i in by_meter.json()["items"]
    } == {
        world.gec: ("0.500000", "0.000000"),
        world.grid: ("1.000000", "1.219200"),
        world.gas: ("0.200000", "0.200000"),
    }
    plain = await admin.get("/v1/emissions", params={**DAY, "enterprise_id": world.ent})
    assert plain.json()["items"][0]["market_tco2e"] is None  # only when asked for


async def test_a_day_without_a_residual_mix_factor_has_no_market_figure(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/emissions",
        params={
            "from": "2020-06-01T00:00:00Z",
            "to": "2020-06-02T00:00:00Z",
            "enterprise_id": world.ent,
            "include_market": "true",
        },
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert (item["tco2e"], item["market_tco2e"]) == ("0.005000", None)


async def test_market_by_gas_is_422(admin: httpx.AsyncClient) -> None:
    r = await admin.get("/v1/emissions", params={**DAY, "group_by": "gas", "include_market": "1"})
    assert r.status_code == 422 and "gas" in r.json()["detail"]
