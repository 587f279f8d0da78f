"""Controlled documents over HTTP against the real database (clauses 5.2, 7.3): the version
state machine with supersession, the file refused unless its sha256 and type are what the
version declares, and one carbon policy in force per park."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from tests.api.conftest import ENTERPRISE_A, ApiServer
from tests.api.test_registry_gateways import own_park

pytestmark = pytest.mark.integration

PATH = "/v1/documents"
PDF = b"%PDF-1.7\n% carbon office procedure\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def document(tag: str, **given: Any) -> dict[str, Any]:
    return {
        "kind": "procedure",
        "code": f"CP-{tag}",
        "title": "Procedure for monitoring and measurement",
        "owner": "carbon office",
        "enterprise_id": ENTERPRISE_A,
        "author": "Wang Fang",
        "effective_on": "2026-01-01",
        "review_on": "2027-01-01",
        "file_name": "procedure.pdf",
        "sha256": hashlib.sha256(PDF).hexdigest(),
    } | given


def version_body(data: bytes = PDF, **given: Any) -> dict[str, Any]:
    return {
        "author": "Wang Fang",
        "change_note": "meters of the new kiln added",
        "effective_on": "2026-06-01",
        "review_on": "2027-06-01",
        "file_name": "procedure.pdf",
        "sha256": hashlib.sha256(data).hexdigest(),
    } | given


async def created(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(PATH, json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def upload(
    client: httpx.AsyncClient,
    doc: int,
    version: int,
    data: bytes = PDF,
    kind: str = "application/pdf",
) -> httpx.Response:
    return await client.put(
        f"{PATH}/{doc}/versions/{version}/file", content=data, headers={"content-type": kind}
    )


async def move(
    client: httpx.AsyncClient, doc: int, version: int, to: str, **fields: str
) -> httpx.Response:
    return await client.post(
        f"{PATH}/{doc}/versions/{version}/transitions", json={"to": to, **fields}
    )


async def issue(client: httpx.AsyncClient, doc: int, version: int) -> None:
    """Upload, approve and issue a version, each step checked."""
    assert (await upload(client, doc, version)).status_code == 200
    r = await move(client, doc, version, "approved", approver="Li Qiang")
    assert r.status_code == 200, r.text
    r = await move(client, doc, version, "issued")
    assert r.status_code == 200, r.text


async def test_a_document_is_drafted_approved_issued_and_superseded_by_its_next_version(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    doc = await created(admin, document(unique))
    doc_id = doc["document_id"]
    [v1] = doc["versions"]
    assert (v1["state"], v1["file_stored"], doc["issued_version"]) == ("draft", False, None)
    assert v1["allowed_transitions"] == ["approved", "withdrawn"]

    # Not approved without its file, nor by its author; issued only once approved.
    r = await move(admin, doc_id, 1, "approved", approver="Li Qiang")
    assert r.status_code == 409 and "upload" in r.json()["detail"], r.text
    assert (await upload(admin, doc_id, 1)).status_code == 200
    r = await move(admin, doc_id, 1, "approved", approver=" wang fang")
    assert r.status_code == 409 and "other than the author" in r.json()["detail"], r.text
    r = await move(admin, doc_id, 1, "issued")
    assert r.status_code == 409, r.text
    assert r.json()["allowed"] == ["approved", "withdrawn"]
    await issue_approved(admin, doc_id, 1)

    # Version 2: drafted while 1 is in force, then issued: 1 is withdrawn, superseded by 2.
    r = await admin.post(f"{PATH}/{doc_id}/versions", json=version_body())
    assert r.status_code == 201 and r.json()["version"] == 2, r.text
    r = await admin.post(f"{PATH}/{doc_id}/versions", json=version_body())
    assert r.status_code == 409 and r.json()["version"] == 2, r.text  # one in preparation
    await issue(admin, doc_id, 2)

    detail = (await admin.get(f"{PATH}/{doc_id}")).json()
    assert detail["issued_version"] == 2
    states = [(v["version"], v["state"], v["superseded_by"]) for v in detail["versions"]]
    assert states == [(1, "withdrawn", 2), (2, "issued", None)]
    assert detail["versions"][0]["withdrawal_reason"] == "superseded by version 2"
    assert detail["versions"][1]["approver"] == "Li Qiang"
    r = await move(admin, doc_id, 1, "issued")
    assert r.status_code == 409 and r.json()["allowed"] == [], r.text

    # Every step is in the audit log (7.3).
    log = await auditor.get("/v1/audit", params={"entity": "document", "entity_id": str(doc_id)})
    actions = [e["action"] for e in log.json()["items"]]
    # create, v1 file, approve, issue, add v2, v2 file, approve, issue
    assert sorted(actions) == sorted(
        ["create", "add_version", *["store_file"] * 2, *["transition"] * 4]
    )


async def issue_approved(client: httpx.AsyncClient, doc: int, version: int) -> None:
    r = await move(client, doc, version, "approved", approver="Li Qiang")
    assert r.status_code == 200 and r.json()["state"] == "approved", r.text
    r = await move(client, doc, version, "issued")
    assert r.status_code == 200 and r.json()["state"] == "issued", r.text


async def test_a_file_is_refused_unless_its_hash_and_type_are_what_the_version_declares(
    admin: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    doc_id = (await created(admin, document(unique)))["document_id"]
    tampered = PDF + b"% changed after approval\n"
    r = await upload(admin, doc_id, 1, tampered)
    assert r.status_code == 422, r.text
    assert r.json()["sha256"] == hashlib.sha256(tampered).hexdigest()
    r = await upload(admin, doc_id, 1, PNG, "image/png")  # the version names a PDF
    assert r.status_code == 422 and "not a PNG file" in r.json()["detail"], r.text
    r = await upload(admin, doc_id, 1, PNG, "application/pdf")  # PNG bytes sent as a PDF
    assert r.status_code == 422 and "bytes are not a PDF" in r.json()["detail"], r.text
    r = await upload(admin, doc_id, 1, PDF, "application/x-msdownload")
    assert r.status_code == 415, r.text
    assert (await admin.get(f"{PATH}/{doc_id}/versions/1/file")).status_code == 404
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM document_file WHERE document_id = %s", (doc_id,)
        )
        assert await cur.fetchone() == (0,)

    r = await upload(admin, doc_id, 1)
    assert r.status_code == 200 and r.json()["file_stored"] is True, r.text
    got = await admin.get(f"{PATH}/{doc_id}/versions/1/file")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert (await upload(admin, doc_id, 1)).status_code == 409  # stored once


async def test_the_park_has_one_carbon_policy_in_force_at_a_time(
    admin: httpx.AsyncClient, database_url: str, unique: str
) -> None:
    park, enterprise, _, _ = await own_park(database_url, unique)
    policy = document(unique, kind="carbon_policy", code=f"POL-{unique}", enterprise_id=None)
    policy["park_id"] = park
    r = await admin.post(PATH, json=policy | {"enterprise_id": enterprise, "park_id": None})
    assert r.status_code == 422 and "park's" in r.json()["detail"], r.text

    first = (await created(admin, policy))["document_id"]
    await issue(admin, first, 1)
    second = (await created(admin, policy | {"code": f"POL2-{unique}"}))["document_id"]
    assert (await upload(admin, second, 1)).status_code == 200
    assert (await move(admin, second, 1, "approved", approver="Li Qiang")).status_code == 200
    r = await move(admin, second, 1, "issued")
    assert r.status_code == 409 and f"document {first}" in r.json()["detail"], r.text

    # The policy in force is replaced by a new version, never withdrawn on its own.
    r = await move(admin, first, 1, "withdrawn", reason="no longer wanted")
    assert r.status_code == 409 and "replaced" in r.json()["detail"], r.text
    r = await admin.post(f"{PATH}/{first}/versions", json=version_body())
    assert r.status_code == 201, r.text
    await issue(admin, first, 2)

    in_force = await admin.get(PATH, params={"kind": "carbon_policy", "in_force": "true"})
    mine = [d for d in in_force.json()["items"] if d["park_id"] == park]
    assert [(d["document_id"], d["issued_version"]) for d in mine] == [(first, 2)]


async def test_an_enterprise_key_works_its_own_documents_only(
    admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient, tenant_b: httpx.AsyncClient, unique: str
) -> None:
    doc = await created(tenant_a, document(unique) | {"enterprise_id": None})
    assert doc["enterprise_id"] == ENTERPRISE_A
    doc_id = doc["document_id"]
    assert (await tenant_b.get(f"{PATH}/{doc_id}")).status_code == 404
    assert (await upload(tenant_b, doc_id, 1)).status_code == 404
    assert (await admin.get(f"{PATH}/{doc_id}")).json()["versions"][0]["file_stored"] is False
