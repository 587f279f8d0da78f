"""Queries from stored windows, checked against hand sums: a park in Asia/Shanghai whose hour
windows straddle local midnight (2025-03-10 00:00 +08:00 = 2025-03-09 16:00 UTC), so a local
day and a UTC day disagree and only the park's calendar gives the expected buckets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import orjson
import pytest
from psycopg import AsyncConnection

from api.keys import Role
from tests.api.conftest import ApiServer, MakeKey

pytestmark = pytest.mark.integration

# Hour windows starting 14:00, 15:00 (local 22:00, 23:00 on 9 March) and 16:00, 17:00 UTC (local
# 00:00, 01:00 on 10 March).
HOURS = [
    "2025-03-09T14:00:00Z",
    "2025-03-09T15:00:00Z",
    "2025-03-09T16:00:00Z",
    "2025-03-09T17:00:00Z",
]
DAY9 = "2025-03-08T16:00:00Z"  # local 9 March starts here
DAY10 = "2025-03-09T16:00:00Z"
RANGE = {"from": "2025-03-09T00:00:00+08:00", "to": "2025-03-11T00:00:00+08:00"}


@dataclass(frozen=True)
class World:
    park: str
    e1: str
    e2: str
    site: str
    m1: str  # e1, site, electricity kWh: 0.1 .. 0.4 tCO2e, 100 .. 400 kWh, 3 of 4 readings
    m2: str  # e1, no site, natural gas Nm3: 1 .. 4 tCO2e (CO2 0.9 .. 3.6 t, CH4 4 .. 16 kg)
    p1: str  # e1, production output: 10 t per hour
    m3: str  # e2, electricity: 5 tCO2e per hour


def _z(text: str) -> str:
    return text.replace("Z", "+00:00")


@pytest.fixture(scope="module")
async def world(api_server: ApiServer, api_park: str) -> World:
    u = uuid.uuid4().hex[:8]
    w = World(
        f"qp-{u}", f"qe1-{u}", f"qe2-{u}", f"qs-{u}", f"qm1-{u}", f"qm2-{u}", f"qp1-{u}", f"qm3-{u}"
    )
    today = date.today()
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'q', 'Asia/Shanghai')",
            (w.park,),
        )
        for ent in (w.e1, w.e2):
            await c.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (ent, w.park, ent),
            )
        await c.execute(
            "INSERT INTO site (site_id, enterprise_id, name) VALUES (%s, %s, 's')", (w.site, w.e1)
        )
        meters = [
            (
                w.m1,
                w.e1,
                w.site,
                "electricity",
                "kWh",
                "purchased_electricity",
                today - timedelta(days=1),
            ),
            (
                w.m2,
                w.e1,
                None,
                "natural_gas",
                "Nm3",
                "stationary_combustion",
                today + timedelta(days=10),
            ),
            (w.p1, w.e1, None, "production_output", "t", "activity_only", None),
            (w.m3, w.e2, None, "electricity", "kWh", "purchased_electricity", None),
        ]
        for mid, ent, site, carrier, unit, cat, due in meters:
            await c.execute(
                "INSERT INTO meter (meter_id, enterprise_id, site_id, carrier, unit, register_kind,"
                " source_category, calibration_due, installed_at)"
                " VALUES (%s, %s, %s, %s, %s, 'cumulative', %s, %s, '2024-01-01T00:00:00Z')",
                (mid, ent, site, carrier, unit, cat, due),
            )
        for i, start in enumerate(HOURS):
            k = i + 1
            rows = [
                (
                    w.m1,
                    w.e1,
                    "purchased_electricity",
                    "2",
                    100.0 * k,
                    "kWh",
                    {"CO2": 0.1 * k},
                    0.1 * k,
                    3,
                ),
                (
                    w.m2,
                    w.e1,
                    "stationary_combustion",
                    "1",
                    10.0 * k,
                    "Nm3",
                    {"CO2": 0.9 * k, "CH4": 0.004 * k},
                    1.0 * k,
                    4,
                ),
                (w.p1, w.e1, "activity_only", None, 10.0, "t", {}, 0.0, 4),
                (w.m3, w.e2, "purchased_electricity", "2", 50.0, "kWh", {"CO2": 5.0}, 5.0, 4),
            ]
            for mid, ent, cat, iso, activity, unit, gases, tco2e, present in rows:
                await c.execute(
                    "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
                    " enterprise_id, source_category, iso_category, activity, activity_unit,"
                    " gases, tco2e, readings_present, readings_expected, completeness)"
                    " VALUES (%s, 3600, %s, %s::timestamptz + interval '1 hour',"
                    " %s, %s, %s, %s, %s, %s::jsonb, %s, %s, 4, %s)",
                    (
                        mid,
                        _z(start),
                        _z(start),
                        ent,
                        cat,
                        iso,
                        activity,
                        unit,
                        orjson.dumps(gases).decode(),
                        tco2e,
                        present,
                        present / 4,
                    ),
                )
        for n, reason in enumerate(["SPIKE", "SPIKE", "OUT_OF_RANGE"]):
            await c.execute(
                "INSERT INTO rejected_reading (meter_id, reason, detail, dedupe_key, rejected_at)"
                " VALUES (%s, %s, 'test', %s, '2025-03-09T15:00:00Z')",
                (w.m1, reason, f"q-{u}-{n}"),
            )
        await c.execute(
            "INSERT INTO rejected_reading (meter_id, reason, detail, dedupe_key, rejected_at)"
            " VALUES (%s, 'UNKNOWN_METER', 'test', %s, '2025-03-09T15:00:00Z')",
            (f"ghost-{u}", f"q-{u}-ghost"),
        )
    return w


@pytest.fixture(scope="module")
async def e1_client(api_server: ApiServer, make_key: MakeKey, world: World) -> httpx.AsyncClient:
    token = await make_key(Role.ENTERPRISE, enterprise_id=world.e1)
    return httpx.AsyncClient(base_url=api_server.url, headers={"Authorization": f"Bearer {token}"})


def _rows(body: dict, *keys: str) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (r["bucket_start"][:19], *(r["group"][k] for k in keys), r["tco2e"]) for r in body["items"]
    ]


async def test_daily_buckets_are_the_parks_local_days_summed_by_enterprise(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/emissions",
        params={**RANGE, "bucket": "1d", "group_by": "enterprise", "park_id": world.park},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["width_s"] == 3600 and body["unit"] == "tCO2e"
    assert (
        _rows(body, "enterprise")
        == [
            (DAY9[:19], world.e1, "3.300000"),  # 0.1 + 0.2 + 1 + 2
            (DAY9[:19], world.e2, "10.000000"),
            (DAY10[:19], world.e1, "7.700000"),  # 0.3 + 0.4 + 3 + 4
            (DAY10[:19], world.e2, "10.000000"),
        ]
    )
    first = body["items"][0]
    assert first["bucket_end"][:19] == DAY10[:19]
    assert first["activity"] == [
        {"value": "30.000000", "unit": "Nm3"},
        {"value": "300.000000", "unit": "kWh"},
        {"value": "20.000000", "unit": "t"},
    ]
    assert first["completeness"] == "0.9167"  # (3+3+4+4+4+4) / 24
    assert first["windows"] == 6


async def test_grouping_by_gas_gives_each_gas_mass_in_tonnes(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get(
        "/v1/emissions",
        params={**RANGE, "bucket": "1d", "group_by": "gas", "enterprise_id": world.e1},
    )
    assert r.status_code == 200, r.text
    got = [
        (x["bucket_start"][:19], x["group"]["gas"], x["mass_t"], x["tco2e"])
        for x in r.json()["items"]
    ]
    assert (
        got
        == [
            (DAY9[:19], "CH4", "0.012000", None),
            (DAY9[:19], "CO2", "3.000000", None),  # 0.1 + 0.2 + 0.9 + 1.8
            (DAY10[:19], "CH4", "0.028000", None),
            (DAY10[:19], "CO2", "7.000000", None),
        ]
    )


async def test_several_group_by_dimensions_and_filters_combine(
    admin: httpx.AsyncClient, world: World
) -> None:
    params = {
        **RANGE,
        "bucket": "1d",
        "group_by": ["site", "source_category"],
        "enterprise_id": world.e1,
    }
    r = await admin.get("/v1/emissions", params=params)
    assert _rows(r.json(), "site", "source_category") == [
        (DAY9[:19], None, "activity_only", "0.000000"),
        (DAY9[:19], None, "stationary_combustion", "3.000000"),
        (DAY9[:19], world.site, "purchased_electricity", "0.300000"),
        (DAY10[:19], None, "activity_only", "0.000000"),
        (DAY10[:19], None, "stationary_combustion", "7.000000"),
        (DAY10[:19], world.site, "purchased_electricity", "0.700000"),
    ]
    hourly = await admin.get(
        "/v1/emissions", params={**RANGE, "bucket": "1h", "group_by": "meter", "meter_id": world.m1}
    )
    assert [x["tco2e"] for x in hourly.json()["items"]] == [
        "0.100000",
        "0.200000",
        "0.300000",
        "0.400000",
    ]
    monthly = await admin.get(
        "/v1/emissions",
        params={**RANGE, "bucket": "1mo", "group_by": "park", "park_id": world.park},
    )
    assert _rows(monthly.json(), "park") == [("2025-02-28T16:00:00", world.park, "31.000000")]


@pytest.mark.parametrize("spelling", ["site,source_category", " site , source_category "])
async def test_group_by_as_a_comma_separated_list_equals_the_repeated_parameter(
    admin: httpx.AsyncClient, world: World, spelling: str
) -> None:
    common = {**RANGE, "bucket": "1d", "enterprise_id": world.e1}
    repeated = await admin.get(
        "/v1/emissions", params={**common, "group_by": ["site", "source_category"]}
    )
    listed = await admin.get("/v1/emissions", params={**common, "group_by": spelling})
    assert listed.status_code == 200, listed.text
    assert listed.json()["group_by"] == ["site", "source_category"]
    assert listed.json()["items"] == repeated.json()["items"]
    assert len(listed.json()["items"]) == 6


async def test_group_by_names_an_unknown_dimension_in_a_comma_list_as_422(
    admin: httpx.AsyncClient,
) -> None:
    for wrong in ("site,colour", "site,", ",site"):
        r = await admin.get("/v1/emissions", params={**RANGE, "group_by": wrong})
        assert r.status_code == 422, (wrong, r.text)
        assert "group_by" in r.text


async def test_a_range_cut_inside_local_days_counts_only_its_hours(
    admin: httpx.AsyncClient, world: World
) -> None:
    # Local 23:00 on 9 March to 01:00 on 10 March: no whole local day, so the daily buckets come
    # from the hour windows 15:00 and 16:00 UTC alone, each in its own local day.
    params = {
        "from": "2025-03-09T23:00:00+08:00",
        "to": "2025-03-10T01:00:00+08:00",
        "bucket": "1d",
        "group_by": "enterprise",
        "park_id": world.park,
    }
    r = await admin.get("/v1/emissions", params=params)
    assert r.status_code == 200, r.text
    assert (
        _rows(r.json(), "enterprise")
        == [
            (DAY9[:19], world.e1, "2.200000"),  # 0.2 + 2
            (DAY9[:19], world.e2, "5.000000"),
            (DAY10[:19], world.e1, "3.300000"),  # 0.3 + 3
            (DAY10[:19], world.e2, "5.000000"),
        ]
    )
    # From local 23:00 on the 9th to the 11th: the 10th is a whole day (from the day rollup),
    # the 9th's last hour comes from its hour window; the sum is the same either way.
    mixed = await admin.get(
        "/v1/emissions", params={**params, "to": RANGE["to"], "bucket": "1mo", "group_by": "gas"}
    )
    assert [(x["group"]["gas"], x["mass_t"], x["windows"]) for x in mixed.json()["items"]] == [
        ("CH4", "0.036000", 3),  # m2: 0.008 + 0.012 + 0.016
        ("CO2", "24.000000", 9),  # m1 0.2 + 0.3 + 0.4, m2 1.8 + 2.7 + 3.6, m3 5 + 5 + 5
    ]


async def test_a_late_correction_of_an_hour_shows_in_its_days_months_and_years(
    admin: httpx.AsyncClient, api_server: ApiServer
) -> None:
    u = uuid.uuid4().hex[:8]
    park, ent, meter = f"qlp-{u}", f"qle-{u}", f"qlm-{u}"
    upsert = (
        "INSERT INTO emission_window (meter_id, width_s, window_start, window_end, enterprise_id,"
        " source_category, activity, activity_unit, gases, tco2e, readings_present,"
        " readings_expected, completeness)"
        " VALUES (%s, 3600, %s, %s::timestamptz + interval '1 hour', %s, 'purchased_electricity',"
        " %s, 'kWh', jsonb_build_object('CO2', %s::float8), %s, 4, 4, 1)"
        " ON CONFLICT (meter_id, width_s, window_start) DO UPDATE SET"
        " activity = EXCLUDED.activity, gases = EXCLUDED.gases, tco2e = EXCLUDED.tco2e"
    )
    params = {**RANGE, "group_by": "meter", "park_id": park}

    async def tco2e(bucket: str) -> list[tuple]:  # type: ignore[type-arg]
        r = await admin.get("/v1/emissions", params={**params, "bucket": bucket})
        assert r.status_code == 200, r.text
        return [(x["bucket_start"][:19], x["tco2e"], x["windows"]) for x in r.json()["items"]]

    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'l', 'Asia/Shanghai')", (park,)
        )
        await c.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'l')",
            (ent, park),
        )
        await c.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
            " source_category) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
            " 'purchased_electricity')",
            (meter, ent),
        )
        for start, t in ((HOURS[1], 1.0), (HOURS[2], 2.0)):
            await c.execute(upsert, (meter, _z(start), _z(start), ent, t * 1000, t, t))
        assert await tco2e("1d") == [(DAY9[:19], "1.000000", 1), (DAY10[:19], "2.000000", 1)]
        assert await tco2e("1y") == [("2024-12-31T16:00:00", "3.000000", 2)]
        # The 15:00 UTC hour (local 23:00 on the 9th) is recomputed after a late reading.
        await c.execute(upsert, (meter, _z(HOURS[1]), _z(HOURS[1]), ent, 1500.0, 1.5, 1.5))
    assert await tco2e("1d") == [(DAY9[:19], "1.500000", 1), (DAY10[:19], "2.000000", 1)]
    assert await tco2e("1mo") == [("2025-02-28T16:00:00", "3.500000", 2)]
    assert await tco2e("1y") == [("2024-12-31T16:00:00", "3.500000", 2)]


async def test_whole_months_from_the_monthly_rollup_and_partial_months_give_the_same_sums(
    admin: httpx.AsyncClient, api_server: ApiServer
) -> None:
    # One meter with hour windows at local 04:00 (1 t), 12:00 (10 t) and 13:00 (100 t) of every
    # day from 10 February to 10 April. From local 13:00 on 15 February to 05:00 on 5 April:
    # February and April are partial months (with partial days at both ends), March is whole
    # and read from emission_month; the answer must be what the hour windows sum to.
    u = uuid.uuid4().hex[:8]
    park, ent, meter = f"qmp-{u}", f"qme-{u}", f"qmm-{u}"
    span = {"from": "2025-02-15T13:00:00+08:00", "to": "2025-04-05T05:00:00+08:00"}
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'm', 'Asia/Shanghai')", (park,)
        )
        await c.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'm')",
            (ent, park),
        )
        await c.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
            " source_category) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
            " 'purchased_electricity')",
            (meter, ent),
        )
        await c.execute(
            "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
            " enterprise_id, source_category, activity, activity_unit, gases, tco2e,"
            " readings_present, readings_expected, completeness)"
            " SELECT %s, 3600, s, s + interval '1 hour', %s, 'purchased_electricity', t * 1000,"
            " 'kWh', jsonb_build_object('CO2', t), t, 4, 4, 1"
            " FROM generate_series(date '2025-02-10', date '2025-04-10', '1 day') AS d,"
            " (VALUES (4, 1.0), (12, 10.0), (13, 100.0)) AS h(hour, t),"
            " LATERAL (SELECT (d::date + make_interval(hours => h.hour))"
            " AT TIME ZONE 'Asia/Shanghai' AS s) AS x",
            (meter, ent),
        )
        # The old path: the hour windows of [from, to) summed per park-local month.
        cur = await c.execute(
            "SELECT date_trunc('month', window_start AT TIME ZONE 'Asia/Shanghai'), sum(tco2e),"
            " count(*) FROM emission_window WHERE meter_id = %s AND width_s = 3600"
            " AND window_start >= %s AND window_start < %s GROUP BY 1 ORDER BY 1",
            (meter, span["from"], span["to"]),
        )
        from_hours = [(float(t), n) for _, t, n in await cur.fetchall()]
        cur = await c.execute(
            "SELECT month, tco2e, windows FROM emission_month WHERE meter_id = %s ORDER BY 1",
            (meter,),
        )
        assert await cur.fetchall() == [
            (date(2025, 2, 1), 19 * 111.0, 57),
            (date(2025, 3, 1), 31 * 111.0, 93),
            (date(2025, 4, 1), 10 * 111.0, 30),
        ]
    # February: 13:00 on the 15th, then 13 whole days; April: 4 whole days, then 04:00 on the 5th.
    expected = [(1543.0, 40), (3441.0, 93), (445.0, 13)]
    assert from_hours == expected
    params = {**span, "park_id": park, "group_by": "meter"}
    r = await admin.get("/v1/emissions", params={**params, "bucket": "1mo"})
    assert r.status_code == 200, r.text
    assert [(x["bucket_start"][:19], x["tco2e"], x["windows"]) for x in r.json()["items"]] == [
        ("2025-01-31T16:00:00", "1543.000000", 40),
        ("2025-02-28T16:00:00", "3441.000000", 93),
        ("2025-03-31T16:00:00", "445.000000", 13),
    ]
    by_gas = await admin.get("/v1/emissions", params={**params, "bucket": "1mo", "group_by": "gas"})
    assert [(x["mass_t"], x["windows"], x["completeness"]) for x in by_gas.json()["items"]] == [
        ("1543.000000", 40, "1.0000"),
        ("3441.000000", 93, "1.0000"),
        ("445.000000", 13, "1.0000"),
    ]
    year = await admin.get("/v1/emissions", params={**params, "bucket": "1y"})
    assert [(x["tco2e"], x["windows"]) for x in year.json()["items"]] == [("5429.000000", 146)]


async def test_pages_follow_a_stable_order_to_the_end(
    admin: httpx.AsyncClient, world: World
) -> None:
    params = {**RANGE, "bucket": "1d", "group_by": "meter", "park_id": world.park, "limit": 3}
    seen: list[tuple] = []  # type: ignore[type-arg]
    url: str | None = "/v1/emissions"
    pages = 0
    while url:
        r = await admin.get(url, params=params if pages == 0 else None)
        assert r.status_code == 200, r.text
        seen += _rows(r.json(), "meter")
        url, pages = r.json()["next"], pages + 1
    assert pages == 3 and len(seen) == 8 and seen == sorted(seen, key=lambda x: (x[0], x[1]))


async def test_an_enterprise_key_sees_only_its_enterprise_and_404_for_another(
    e1_client: httpx.AsyncClient, world: World
) -> None:
    mine = await e1_client.get(
        "/v1/emissions", params={**RANGE, "bucket": "1d", "group_by": "enterprise"}
    )
    assert {x["group"]["enterprise"] for x in mine.json()["items"]} == {world.e1}
    theirs = await e1_client.get("/v1/emissions", params={**RANGE, "enterprise_id": world.e2})
    assert theirs.status_code == 404
    assert theirs.headers["content-type"].startswith("application/problem+json")
    meter = await e1_client.get("/v1/emissions", params={**RANGE, "meter_id": world.m3})
    assert meter.status_code == 200 and meter.json()["items"] == []
    for path in ("/v1/intensity", "/v1/quality"):
        assert (
            await e1_client.get(path, params={**RANGE, "enterprise_id": world.e2})
        ).status_code == 404
    assert (
        await e1_client.get("/v1/progress", params={"enterprise_id": world.e2})
    ).status_code == 404


async def test_bad_query_parameters_are_422(admin: httpx.AsyncClient) -> None:
    for params in (
        {**RANGE, "bucket": "2d"},
        {**RANGE, "group_by": "planet"},
        {"from": "2025-03-09T00:00:00", "to": RANGE["to"]},  # naive
        {"from": RANGE["to"], "to": RANGE["from"]},
        {"from": "2025-01-01T00:00:00Z", "to": "2025-03-01T00:00:00Z", "bucket": "1m"},
        {**RANGE, "limit": 0},
    ):
        r = await admin.get("/v1/emissions", params=params)
        assert r.status_code == 422, (params, r.text)


async def test_intensity_is_tco2e_per_tonne_of_product(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.get("/v1/intensity", params={**RANGE, "enterprise_id": [world.e1, world.e2]})
    assert r.status_code == 200, r.text
    e1, e2 = r.json()["items"]
    assert e1["tco2e"] == {"value": "11.000000", "unit": "tCO2e"}
    # GB/T 2589-2020: 1000 kWh x 0.1229 kgce/kWh + 100 Nm3 x 1.2143 kgce/Nm3 = 244.33 kgce
    assert e1["energy"] == {"value": "0.244330", "unit": "tce"}
    assert e1["outputs"] == [
        {
            "output": {"value": "40.000000", "unit": "t product"},
            "intensity": {"value": "0.275000", "unit": "tCO2e/t product"},  # 11 / 40
            "energy_intensity": {"value": "0.006108", "unit": "tce/t product"},  # 0.24433 / 40
        }
    ]
    assert e2["outputs"] == []  # no output meter: no intensity


async def test_progress_against_a_daily_target_and_the_current_baseline(
    admin: httpx.AsyncClient, e1_client: httpx.AsyncClient, world: World, api_server: ApiServer
) -> None:
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO target (subject_kind, subject_id, period_kind, period_start,"
            " absolute_tco2e, intensity, intensity_unit, created_by)"
            " VALUES ('enterprise', %s, 'day', '2025-03-10', 20, 0.5, 't product', 'test')",
            (world.e1,),
        )
        old = await (
            await c.execute(
                "INSERT INTO baseline (subject_kind, subject_id, method, base_year, period_kind,"
                " value_tco2e, effective, created_by) VALUES ('enterprise', %s, 'base_year', 2024,"
                " 'day', 100, '2025-01-01', 'test') RETURNING baseline_id",
                (world.e1,),
            )
        ).fetchone()
        assert old is not None
        await c.execute(
            "INSERT INTO baseline (subject_kind, subject_id, method, base_year, period_kind,"
            " value_tco2e, effective, created_by, recalculated_from, reason, note)"
            " VALUES ('enterprise', %s, 'base_year', 2024, 'day', 80, '2025-01-01', 'test', %s,"
            " 'static_factors', 'new grid factor')",
            (world.e1, old[0]),
        )
    # 02:00 local on 10 March: 2 of 24 hours elapsed, windows 16:00Z and 17:00Z count.
    r = await e1_client.get("/v1/progress", params={"as_of": "2025-03-10T02:00:00+08:00"})
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["elapsed_share"] == "0.083333"
    assert item["absolute"] == {
        "limit": {"value": "20.000000", "unit": "tCO2e"},
        "actual": {"value": "7.700000", "unit": "tCO2e"},
        "used_share": "0.385000",
        "projected": {"value": "92.400000", "unit": "tCO2e"},  # 7.7 / (2/24)
        "on_track": False,
    }
    assert item["intensity"]["actual"] == {"value": "0.385000", "unit": "tCO2e/t product"}  # 7.7/20
    assert item["intensity"]["on_track"] is True
    assert item["baseline"]["value"]["value"] == "80.000000"  # the restatement, not the 100
    assert item["baseline"]["projected_share"] == "1.155000"  # 92.4 / 80


async def test_quality_reports_completeness_rejects_and_calibration(
    admin: httpx.AsyncClient, e1_client: httpx.AsyncClient, world: World
) -> None:
    r = await e1_client.get("/v1/quality", params=RANGE)
    assert r.status_code == 200, r.text
    body = r.json()
    (ent,) = body["enterprises"]
    assert ent == {
        "enterprise_id": world.e1,
        "meters": 3,
        "completeness": "0.9167",  # (12 + 16 + 16) / 48
        "calibration_overdue": 1,
        "calibration_due_soon": 1,
        "rejected": {"OUT_OF_RANGE": 1, "SPIKE": 2},
    }
    assert body["unattributed_rejected"] is None  # not a tenant's business
    m1 = next(m for m in body["meters"] if m["meter_id"] == world.m1)
    assert (m1["completeness"], m1["windows"], m1["calibration"]) == ("0.7500", 4, "overdue")
    assert m1["rejected"] == {"OUT_OF_RANGE": 1, "SPIKE": 2}
    assert [m["calibration"] for m in body["meters"]] == ["overdue", "due_soon", "unknown"]
    park_wide = (await admin.get("/v1/quality", params=RANGE)).json()
    assert park_wide["unattributed_rejected"]["UNKNOWN_METER"] >= 1
