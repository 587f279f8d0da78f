"""``/v1/parks``: a park onboarded without SQL, its settings changed with an audit trail, and
an enterprise key confined to its own park."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from tests.api.conftest import PARK, ApiServer

pytestmark = pytest.mark.integration


async def test_a_park_is_created_with_the_defaults_of_a_chinese_park_and_read_back(
    admin: httpx.AsyncClient, unique: str
) -> None:
    r = await admin.post("/v1/parks", json={"park_id": f"pk-{unique}", "name": "东湖工业园"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert {k: v for k, v in body.items() if k != "created_at"} == {
        "park_id": f"pk-{unique}",
        "name": "东湖工业园",
        "timezone": "Asia/Shanghai",
        "region": "CN",
        "grid_level": "grid",
        "language": "zh-CN",
        "tce_electricity_convention": "equal_value",
    }
    assert (await admin.get(f"/v1/parks/pk-{unique}")).json() == body
    listed = (await admin.get("/v1/parks", params={"limit": 500})).json()
    assert body in listed["items"]
    again = await admin.post("/v1/parks", json={"park_id": f"pk-{unique}", "name": "again"})
    assert again.status_code == 409


async def test_every_setting_is_given_at_creation_and_changed_with_its_audit_entry(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    park = f"pk-set-{unique}"
    r = await admin.post(
        "/v1/parks",
        json={
            "park_id": park,
            "name": "Riverside park",
            "timezone": "Asia/Urumqi",
            "region": "CN",
            "grid_level": "national",
            "language": "en",
            "tce_electricity_convention": "equivalent",
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["timezone"], r.json()["language"]) == ("Asia/Urumqi", "en")
    patched = await admin.patch(
        f"/v1/parks/{park}",
        json={"language": "zh-CN", "grid_level": "grid", "timezone": "Asia/Shanghai"},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["language"], patched.json()["grid_level"]) == ("zh-CN", "grid")
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT action, before->>'language', after->>'language' FROM audit_log"
                " WHERE entity = 'park' AND entity_id = %s ORDER BY id",
                (park,),
            )
        ).fetchall()
    assert rows == [("create", None, "en"), ("update", "en", "zh-CN")]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"timezone": "+08:00"}, "time zone"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"region": "ZZ"}, "region"),
        ({"language": "fr"}, "language"),
        ({"grid_level": "city"}, "grid_level"),
        ({"tce_electricity_convention": "coal"}, "tce_electricity_convention"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_setting_is_refused_and_named(
    admin: httpx.AsyncClient, unique: str, body: dict[str, Any], named: str
) -> None:
    r = await admin.post("/v1/parks", json={"park_id": f"pk-bad-{unique}", "name": "x", **body})
    assert r.status_code == 422 and named in r.text, r.text
    assert (await admin.get(f"/v1/parks/pk-bad-{unique}")).status_code == 404


async def test_the_time_zone_of_a_park_with_stored_windows_cannot_change(
    api_server: ApiServer, admin: httpx.AsyncClient, unique: str
) -> None:
    park, ent, meter = f"pk-tz-{unique}", f"pk-tz-e-{unique}", f"pk-tz-m-{unique}"
    assert (await admin.post("/v1/parks", json={"park_id": park, "name": "tz"})).status_code == 201
    r = await admin.post(
        "/v1/enterprises", json={"enterprise_id": ent, "park_id": park, "name": "e"}
    )
    assert r.status_code == 201, r.text
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
            " source_category, installed_at) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
            " 'purchased_electricity', '2024-01-01T00:00:00Z')",
            (meter, ent),
        )
        await c.execute(
            "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
            " enterprise_id, source_category, iso_category, activity, activity_unit, gases, tco2e,"
            " readings_present, readings_expected, completeness) VALUES (%s, 3600,"
            " '2025-05-01T00:00:00Z', '2025-05-01T01:00:00Z', %s, 'purchased_electricity', '2',"
            " 1.0, 'kWh', '{}'::jsonb, 0.5, 4, 4, 1)",
            (meter, ent),
        )
    r = await admin.patch(f"/v1/parks/{park}", json={"timezone": "Asia/Urumqi"})
    assert r.status_code == 409 and "stored windows" in r.text, r.text
    same = await admin.patch(f"/v1/parks/{park}", json={"timezone": "Asia/Shanghai", "name": "n"})
    assert same.status_code == 200, same.text  # the same zone is no change


async def test_an_enterprise_key_sees_its_own_park_only_and_cannot_write(
    tenant_a: httpx.AsyncClient, admin: httpx.AsyncClient, unique: str
) -> None:
    other = f"pk-other-{unique}"
    assert (await admin.post("/v1/parks", json={"park_id": other, "name": "o"})).status_code == 201
    listed = (await tenant_a.get("/v1/parks")).json()
    assert [p["park_id"] for p in listed["items"]] == [PARK] and listed["total"] == 1
    assert (await tenant_a.get(f"/v1/parks/{PARK}")).status_code == 200
    assert (await tenant_a.get(f"/v1/parks/{other}")).status_code == 404
    for r in (
        await tenant_a.post("/v1/parks", json={"park_id": f"pk-t-{unique}", "name": "t"}),
        await tenant_a.patch(f"/v1/parks/{PARK}", json={"name": "mine"}),
    ):
        assert r.status_code == 403 and r.json()["required"] == "registry:write"
