"""``GET /v1/audit``: admins and auditors read the append-only log (clause 7.3), newest first,
filtered, and walked page by page without repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.keys import Role
from tests.api.conftest import ENTERPRISE_A, ApiServer, MakeKey

pytestmark = pytest.mark.integration


async def test_only_admins_and_auditors_read_the_audit_log(
    admin: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
    operator: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
) -> None:
    assert (await admin.get("/v1/audit")).status_code == 200
    assert (await auditor.get("/v1/audit")).status_code == 200
    assert (await operator.get("/v1/audit")).status_code == 403
    assert (await tenant_a.get("/v1/audit")).status_code == 403
    assert (await anonymous.get("/v1/audit")).status_code == 401


async def test_an_actors_changes_are_walked_newest_first_by_cursor(
    api_server: ApiServer, make_key: MakeKey, auditor: httpx.AsyncClient, unique: str
) -> None:
    token = await make_key(Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    started = datetime.now(UTC) - timedelta(seconds=1)
    async with httpx.AsyncClient(base_url=api_server.url, headers=headers) as mine:
        for i in range(5):
            body = {"site_id": f"au{i}-{unique}", "enterprise_id": ENTERPRISE_A, "name": f"s{i}"}
            assert (await mine.post("/v1/sites", json=body)).status_code == 201
    actor = f"key:{token.split('_')[1]}(test-admin)"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"actor": actor, "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await auditor.get("/v1/audit", params=params)).json()
        seen += [e["entity_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"au{i}-{unique}" for i in reversed(range(5))]

    window = {"actor": actor, "from": started.isoformat(), "to": datetime.now(UTC).isoformat()}
    assert len((await auditor.get("/v1/audit", params=window)).json()["items"]) == 5
    future = {"actor": actor, "from": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    assert (await auditor.get("/v1/audit", params=future)).json() == {
        "items": [],
        "next_cursor": None,
    }


async def test_a_backwards_period_or_a_bad_cursor_is_422(auditor: httpx.AsyncClient) -> None:
    r = await auditor.get(
        "/v1/audit", params={"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}
    )
    assert r.status_code == 422 and "must be after" in r.json()["detail"]
    assert (await auditor.get("/v1/audit", params={"cursor": "abc"})).status_code == 422
    assert (await auditor.get("/v1/audit", params={"limit": 501})).status_code == 422


async def test_a_refused_change_leaves_no_audit_entry(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    body = {"site_id": f"nx-{unique}", "enterprise_id": "no-such-enterprise", "name": "x"}
    assert (await admin.post("/v1/sites", json=body)).status_code == 422
    r = await auditor.get("/v1/audit", params={"entity": "site", "entity_id": f"nx-{unique}"})
    assert r.json()["items"] == []
