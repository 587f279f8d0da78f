"""API keys: shown once, stored hashed, revocable, expiring; roles and scopes per route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from psycopg import AsyncConnection

from api.keys import ROLE_SCOPES, KeyRequestError, Role, Scope, parse_token, scopes_for
from tests.api.conftest import ENTERPRISE_A, ApiServer, MakeKey

pytestmark = pytest.mark.integration


def test_a_token_parses_to_its_key_id_and_secret() -> None:
    assert parse_token("pck_abcdefghij12_" + "A" * 43) == ("abcdefghij12", "A" * 43)
    assert parse_token("pck_short_" + "A" * 43) is None
    assert parse_token("Bearer pck_abcdefghij12_" + "A" * 43) is None
    assert parse_token("pck_abcdefghij12_" + "A" * 43 + "\n") is None  # a trailing newline too


def test_a_key_cannot_hold_scopes_beyond_its_role() -> None:
    with pytest.raises(KeyRequestError, match="cannot hold"):
        scopes_for(Role.AUDITOR, [Scope.REGISTRY_WRITE.value])
    assert scopes_for(Role.AUDITOR, ["audit:read"]) == {Scope.AUDIT_READ}


def test_only_auditors_and_admins_read_the_audit_log() -> None:
    holders = {role for role, scopes in ROLE_SCOPES.items() if Scope.AUDIT_READ in scopes}
    assert holders == {Role.ADMIN, Role.AUDITOR}


async def test_a_request_without_a_key_is_401_with_a_bearer_challenge(
    anonymous: httpx.AsyncClient,
) -> None:
    r = await anonymous.get("/v1/api-keys")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_created_key_works_is_stored_hashed_and_stops_working_once_revoked(
    admin: httpx.AsyncClient, api_server: ApiServer
) -> None:
    r = await admin.post("/v1/api-keys", json={"name": "duty desk", "role": "operator"})
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert token.startswith(f"pck_{created['key_id']}_")
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        row = await (
            await conn.execute(
                "SELECT secret_sha256 FROM api_key WHERE key_id = %s", (created["key_id"],)
            )
        ).fetchone()
    assert row is not None and token.split("_")[-1].encode() not in bytes(row[0])
    listed = (await admin.get("/v1/api-keys")).json()
    assert all("token" not in k for k in listed)
    async with httpx.AsyncClient(
        base_url=api_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as duty:
        assert (await duty.get("/v1/api-keys")).status_code == 403  # operators lack keys:admin
        assert (await admin.delete(f"/v1/api-keys/{created['key_id']}")).status_code == 200
        assert (await duty.get("/v1/api-keys")).status_code == 401


async def test_an_expired_key_is_refused(api_server: ApiServer, make_key: MakeKey) -> None:
    token = await make_key(Role.ADMIN, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    async with httpx.AsyncClient(
        base_url=api_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert (await client.get("/v1/api-keys")).status_code == 401


async def test_a_wrong_secret_for_a_real_key_id_is_refused(
    admin: httpx.AsyncClient, api_server: ApiServer
) -> None:
    key_id = (await admin.post("/v1/api-keys", json={"name": "x", "role": "auditor"})).json()[
        "key_id"
    ]
    async with httpx.AsyncClient(
        base_url=api_server.url, headers={"Authorization": f"Bearer pck_{key_id}_{'x' * 43}"}
    ) as client:
        assert (await client.get("/v1/api-keys")).status_code == 401


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"name": "e", "role": "enterprise"}, "needs the enterprise"),
        ({"name": "o", "role": "operator", "enterprise_id": ENTERPRISE_A}, "park-wide"),
        ({"name": "u", "role": "auditor", "scopes": ["registry:write"]}, "cannot hold"),
        ({"name": "e", "role": "enterprise", "enterprise_id": "no-such-ent"}, "unknown"),
        ({"name": "p", "role": "auditor", "expires_at": "2020-01-01T00:00:00Z"}, "not in the"),
        ({"name": "n", "role": "auditor", "expires_at": "2030-01-01T00:00:00"}, "timezone"),
    ],
)
async def test_an_impossible_key_request_is_422_saying_why(
    admin: httpx.AsyncClient, body: dict[str, object], why: str
) -> None:
    r = await admin.post("/v1/api-keys", json=body)
    assert r.status_code == 422
    assert why in r.json()["detail"]


async def test_key_creation_and_revocation_are_in_the_audit_log(
    admin: httpx.AsyncClient, api_server: ApiServer
) -> None:
    key_id = (await admin.post("/v1/api-keys", json={"name": "aud", "role": "auditor"})).json()[
        "key_id"
    ]
    await admin.delete(f"/v1/api-keys/{key_id}")
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT action FROM audit_log WHERE entity = 'api_key' AND entity_id = %s"
                " ORDER BY id",
                (key_id,),
            )
        ).fetchall()
    assert [r[0] for r in rows] == ["create", "revoke"]


async def test_healthz_reports_database_and_kafka_up(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json()["components"]["database"]["status"] == "up"
    assert r.json()["components"]["kafka"]["status"] == "up"


async def test_metrics_are_prometheus_text_labelled_by_route_template(
    anonymous: httpx.AsyncClient,
) -> None:
    await anonymous.delete("/v1/api-keys/abc")
    r = await anonymous.get("/metrics")
    assert r.status_code == 200
    assert 'parkcarbon_api_requests_total{route="/v1/api-keys/{key_id}",status="401"}' in r.text


async def test_an_unknown_route_is_a_problem_document(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["status"] == 404
