"""Enterprises and sites over HTTP: admin writes with audit, tenancy on reads (clause 4.3, 7.3)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, PARK

pytestmark = pytest.mark.integration
Entry = dict[str, object]


async def _audit(
    auditor: httpx.AsyncClient, entity: str, entity_id: str
) -> list[dict[str, object]]:
    r = await auditor.get("/v1/audit", params={"entity": entity, "entity_id": entity_id})
    assert r.status_code == 200, r.text
    items: list[Entry] = r.json()["items"]
    return items


async def test_an_admin_creates_reads_and_renames_an_enterprise_with_audit(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    ent = f"ent-{unique}"
    r = await admin.post(
        "/v1/enterprises",
        json={
            "enterprise_id": ent,
            "park_id": PARK,
            "name": "Steel works",
            "industry_code": "31",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Steel works"
    assert (await admin.get(f"/v1/enterprises/{ent}")).json()["industry_code"] == "31"
    r = await admin.patch(f"/v1/enterprises/{ent}", json={"name": "Steel works No. 2"})
    assert r.status_code == 200, r.text
    assert r.json() == {**r.json(), "name": "Steel works No. 2", "industry_code": "31"}
    entries = await _audit(auditor, "enterprise", ent)
    assert [e["action"] for e in entries] == ["update", "create"]  # newest first
    update = entries[0]
    assert update["before"]["name"] == "Steel works"  # type: ignore[index]
    assert update["after"]["name"] == "Steel works No. 2"  # type: ignore[index]
    assert str(update["actor"]).startswith("key:")


async def test_a_duplicate_enterprise_is_409_and_an_unknown_park_is_422(
    admin: httpx.AsyncClient, unique: str
) -> None:
    body = {"enterprise_id": f"dup-{unique}", "park_id": PARK, "name": "x"}
    assert (await admin.post("/v1/enterprises", json=body)).status_code == 201
    r = await admin.post("/v1/enterprises", json=body)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await admin.post(
        "/v1/enterprises", json={**body, "enterprise_id": f"np-{unique}", "park_id": "nopark"}
    )
    assert r.status_code == 422
    assert "unknown park 'nopark'" in r.json()["detail"]


async def test_an_unknown_field_or_a_null_name_is_422(admin: httpx.AsyncClient) -> None:
    r = await admin.patch(f"/v1/enterprises/{ENTERPRISE_A}", json={"park_id": "elsewhere"})
    assert r.status_code == 422
    r = await admin.patch(f"/v1/enterprises/{ENTERPRISE_A}", json={"name": None})
    assert r.status_code == 422
    assert "name cannot be null" in r.text


async def test_an_enterprise_key_sees_only_its_own_enterprise_and_sites(
    admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient, unique: str
) -> None:
    for ent in (ENTERPRISE_A, ENTERPRISE_B):
        r = await admin.post(
            "/v1/sites", json={"site_id": f"site-{ent}-{unique}", "enterprise_id": ent, "name": "s"}
        )
        assert r.status_code == 201, r.text
    assert (await tenant_a.get(f"/v1/enterprises/{ENTERPRISE_A}")).status_code == 200
    assert (await tenant_a.get(f"/v1/enterprises/{ENTERPRISE_B}")).status_code == 404
    assert (await tenant_a.get(f"/v1/sites/site-{ENTERPRISE_B}-{unique}")).status_code == 404
    assert (await tenant_a.get(f"/v1/sites/site-{ENTERPRISE_A}-{unique}")).status_code == 200
    listed = (await tenant_a.get("/v1/enterprises")).json()
    assert [e["enterprise_id"] for e in listed["items"]] == [ENTERPRISE_A]
    assert listed["total"] == 1
    sites = (await tenant_a.get("/v1/sites", params={"limit": 500})).json()["items"]
    assert {s["enterprise_id"] for s in sites} == {ENTERPRISE_A}
    other = await tenant_a.get("/v1/sites", params={"enterprise_id": ENTERPRISE_B})
    assert other.json() == {"items": [], "total": 0, "limit": 100, "offset": 0}


async def test_only_admins_write_the_registry(
    operator: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
    unique: str,
) -> None:
    body = {"site_id": f"nope-{unique}", "enterprise_id": ENTERPRISE_A, "name": "s"}
    for client in (operator, auditor, tenant_a):
        assert (await client.post("/v1/sites", json=body)).status_code == 403
        r = await client.patch(f"/v1/enterprises/{ENTERPRISE_A}", json={"name": "hijack"})
        assert r.status_code == 403
    assert (await auditor.get(f"/v1/sites/nope-{unique}")).status_code == 404


async def test_a_site_renamed_keeps_its_enterprise_and_is_audited(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    site = f"site-{unique}"
    body = {"site_id": site, "enterprise_id": ENTERPRISE_A, "name": "North yard"}
    assert (await admin.post("/v1/sites", json=body)).status_code == 201
    r = await admin.patch(f"/v1/sites/{site}", json={"name": "South yard"})
    assert r.json()["enterprise_id"] == ENTERPRISE_A and r.json()["name"] == "South yard"
    r = await admin.patch(f"/v1/sites/{site}", json={"enterprise_id": ENTERPRISE_B})
    assert r.status_code == 422
    assert (await admin.patch("/v1/sites/no-such-site", json={"name": "x"})).status_code == 404
    r = await admin.post(
        "/v1/sites", json={**body, "site_id": f"x-{unique}", "enterprise_id": "zz"}
    )
    assert r.status_code == 422 and "unknown enterprise 'zz'" in r.json()["detail"]
    entries = await _audit(auditor, "site", site)
    assert entries[0]["before"]["name"] == "North yard"  # type: ignore[index]
    assert entries[0]["after"]["name"] == "South yard"  # type: ignore[index]
