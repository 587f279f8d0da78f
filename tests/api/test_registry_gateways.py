"""``/v1/gateways`` over HTTP: admins register which gateway may send which meters, with an audit
entry per change; operators read; enterprise keys see no gateway (park infrastructure).

Every test registers its gateways in a park of its own: a park with a gateway enforces the
grants in the run's worker, and other tests' parks must keep behaving as before."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from tests.api.conftest import ENTERPRISE_A

pytestmark = pytest.mark.integration


async def own_park(database_url: str, tag: str) -> tuple[str, str, str, str]:
    """A park with two enterprises and a meter each: (park, enterprise 1, enterprise 2, meter
    of enterprise 2)."""
    park, one, two, meter = f"gwp-{tag}", f"gwe1-{tag}", f"gwe2-{tag}", f"gwm2-{tag}"
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("INSERT INTO park (park_id, name) VALUES (%s, 'gateway park')", (park,))
        for ent in (one, two):
            await conn.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'e')",
                (ent, park),
            )
        await conn.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
            " source_category) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
            " 'purchased_electricity')",
            (meter, two),
        )
    return park, one, two, meter


async def _audit(auditor: httpx.AsyncClient, gateway_id: str) -> list[dict[str, Any]]:
    r = await auditor.get("/v1/audit", params={"entity": "gateway", "entity_id": gateway_id})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_an_admin_registers_a_gateway_and_changes_its_grants_with_audit(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, database_url: str, unique: str
) -> None:
    park, one, _, meter = await own_park(database_url, unique)
    gw = f"gw-{unique}"
    r = await admin.post(
        "/v1/gateways",
        json={
            "gateway_id": gw,
            "park_id": park,
            "name": "substation 1",
            "enterprise_ids": [one],
            "reason": "commissioned",
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["enterprise_ids"], created["meter_ids"], created["status"]) == (
        [one],
        [],
        "active",
    )
    assert (await admin.get(f"/v1/gateways/{gw}")).json() == created
    r = await admin.patch(
        f"/v1/gateways/{gw}", json={"meter_ids": [meter], "reason": "also feeds the boiler meter"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["enterprise_ids"], r.json()["meter_ids"]) == ([one], [meter])
    r = await admin.patch(f"/v1/gateways/{gw}", json={"status": "disabled", "reason": "stolen"})
    assert r.json()["status"] == "disabled"
    listed = await admin.get("/v1/gateways", params={"park_id": park})
    assert [g["gateway_id"] for g in listed.json()["items"]] == [gw]
    entries = await _audit(auditor, gw)  # newest first
    assert [(e["action"], e["reason"]) for e in entries] == [
        ("update", "stolen"),
        ("update", "also feeds the boiler meter"),
        ("create", "commissioned"),
    ]
    assert entries[1]["before"]["meter_ids"] == [] and entries[1]["after"]["meter_ids"] == [meter]
    assert entries[0]["after"]["status"] == "disabled"
    assert str(entries[0]["actor"]).startswith("key:")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"park_id": "{park}", "extra": 1}, "extra"),
        ({"park_id": "{park}", "gateway_id": "gw with spaces"}, "gateway_id"),
        ({"park_id": "{park}", "meter_ids": ["{meter}", "{meter}"]}, "listed more than once"),
        ({"park_id": "{park}", "enterprise_ids": "{one}"}, "enterprise_ids"),
        ({"park_id": "{park}", "enterprise_ids": [ENTERPRISE_A]}, "are not in park"),
        ({"park_id": "{park}", "meter_ids": ["nowhere-meter"]}, "nowhere-meter are not in park"),
        ({"park_id": "no-such-park"}, "unknown park 'no-such-park'"),
    ],
)
async def test_a_bad_registration_is_422_saying_why_and_stores_nothing(
    admin: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
    database_url: str,
    unique: str,
    body: dict[str, Any],
    says: str,
) -> None:
    park, one, _, meter = await own_park(database_url, unique)
    gw = f"gw-{unique}"
    names = {"park": park, "one": one, "meter": meter}

    def fill(v: Any) -> Any:
        if isinstance(v, str):
            return v.format(**names)
        return [fill(x) for x in v] if isinstance(v, list) else v

    r = await admin.post(
        "/v1/gateways", json={"gateway_id": gw} | {k: fill(v) for k, v in body.items()}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.text
    assert (await admin.get(f"/v1/gateways/{gw}")).status_code == 404
    assert await _audit(auditor, gw) == []


async def test_a_duplicate_is_409_an_unknown_gateway_404_and_a_null_grant_422(
    admin: httpx.AsyncClient, database_url: str, unique: str
) -> None:
    park, one, _, _ = await own_park(database_url, unique)
    body = {"gateway_id": f"gw-{unique}", "park_id": park, "enterprise_ids": [one]}
    assert (await admin.post("/v1/gateways", json=body)).status_code == 201
    assert (await admin.post("/v1/gateways", json=body)).status_code == 409
    assert (await admin.get(f"/v1/gateways/none-{unique}")).status_code == 404
    r = await admin.patch(f"/v1/gateways/none-{unique}", json={"name": "x"})
    assert r.status_code == 404
    r = await admin.patch(f"/v1/gateways/gw-{unique}", json={"enterprise_ids": None})
    assert r.status_code == 422 and "enterprise_ids cannot be null" in r.text
    r = await admin.patch(f"/v1/gateways/gw-{unique}", json={"park_id": "elsewhere"})
    assert r.status_code == 422
    # Nothing of the refused changes was applied.
    assert (await admin.get(f"/v1/gateways/gw-{unique}")).json()["enterprise_ids"] == [one]


async def test_operators_read_gateways_but_only_admins_change_them(
    admin: httpx.AsyncClient, operator: httpx.AsyncClient, database_url: str, unique: str
) -> None:
    park, one, _, _ = await own_park(database_url, unique)
    gw = f"gw-{unique}"
    body = {"gateway_id": gw, "park_id": park, "enterprise_ids": [one]}
    r = await operator.post("/v1/gateways", json=body)
    assert r.status_code == 403 and r.json()["required"] == "registry:write"
    assert (await admin.post("/v1/gateways", json=body)).status_code == 201
    assert (await operator.get(f"/v1/gateways/{gw}")).json()["enterprise_ids"] == [one]
    r = await operator.patch(f"/v1/gateways/{gw}", json={"enterprise_ids": []})
    assert r.status_code == 403
    assert (await admin.get(f"/v1/gateways/{gw}")).json()["enterprise_ids"] == [one]
