"""The Annex A document set (``GET /v1/management-system/documented-information``): one ZIP
with every register as XLSX, the stored inventories, the closed management reviews, the
nonconformities and a manifest of sha256s; an enterprise key gets its own records only. And
the open items a carbon office works through (``GET /v1/management-system/open-items``)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from api.registers.catalogue import REGISTERS
from tests.api.test_context_registers import issue, party
from tests.api.test_management_reviews import output, review_body

pytestmark = pytest.mark.integration


def sheet(data: bytes) -> list[list[Any]]:
    return [
        list(r) for r in load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True)
    ]


async def test_the_zip_holds_each_record_of_the_key_and_a_manifest_of_hashes(
    own_tenant: tuple[str, httpx.AsyncClient], admin: httpx.AsyncClient, unique: str
) -> None:
    ent, client = own_tenant
    made_issue = (
        await client.post("/v1/context-issues", json=issue(unique, enterprise_id=ent))
    ).json()
    made_party = (
        await client.post("/v1/interested-parties", json=party(unique, enterprise_id=ent))
    ).json()
    body = review_body(ent, outputs=[output("retrain the meter readers", nonconformity=True)])
    rid = (await client.post("/v1/management-reviews", json=body)).json()["review_id"]
    closed = (await client.post(f"/v1/management-reviews/{rid}/close")).json()
    ticket_id = closed["record"]["outputs"][0]["ticket_id"]
    draft = (await client.post("/v1/management-reviews", json=review_body(ent))).json()
    # Two versions of one inventory (of a confirmed process record): the set holds the current.
    record = {
        "enterprise_id": ent,
        "period_start": "2025-06-01",
        "period_end": "2025-06-30",
        "source_category": "process",
        "carrier": "process_material",
        "material": "process.caco3",
        "quantity": 10.0,
        "unit": "t",
        "document_ref": f"kiln feed {unique}",
    }
    r = await client.post("/v1/activity-records", json=record)
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/v1/activity-records/{r.json()['record_id']}/transitions", json={"to": "confirmed"}
    )
    assert r.status_code == 200, r.text
    versions = []
    for _ in range(2):
        r = await client.post("/v1/inventories", json={"year": 2025, "enterprise_id": ent})
        assert r.status_code == 201, r.text
        versions.append(r.json())
    # Another tenant's record, which the key must not get.
    other = (await admin.post("/v1/context-issues", json=issue(unique + "-other"))).json()

    r = await client.get("/v1/management-system/documented-information")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = archive.namelist()
    assert names[-1] == "manifest.json"
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["enterprise_id"] == ent
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == set(names) - {"manifest.json"}
    for path, digest in listed.items():
        assert hashlib.sha256(archive.read(path)).hexdigest() == digest
    # Every register of the catalogue, with this enterprise's records and no one else's.
    assert {f"registers/{spec.name}.xlsx" for spec in REGISTERS} <= set(names)
    issues = sheet(archive.read("registers/context_issue.xlsx"))
    assert [row[0] for row in issues[2:]] == [made_issue["record_id"]]
    assert other["record_id"] not in [row[0] for row in issues[2:]]
    parties = sheet(archive.read("registers/interested_party.xlsx"))
    assert [row[0] for row in parties[2:]] == [made_party["record_id"]]
    # The closed review as its printable page; the draft is not documented information yet.
    page = archive.read(f"management-reviews/management-review-{rid}.html").decode()
    assert closed["content_sha256"] in page and "retrain the meter readers" in page
    assert f"management-reviews/management-review-{draft['review_id']}.html" not in names
    # The nonconformity list: the review's ticket, and only this enterprise's tickets.
    tickets = sheet(archive.read("nonconformities/tickets.xlsx"))
    rows = [dict(zip(tickets[0], row, strict=True)) for row in tickets[1:]]
    assert [(t["ticket_id"], t["source_kind"], t["source_id"]) for t in rows] == [
        (ticket_id, "management_review", str(rid))
    ]
    assert {t["enterprise_id"] for t in rows} == {ent}
    current = versions[1]["inventory_id"]
    assert [n for n in names if n.startswith("inventories/")] == [
        f"inventories/inventory-{current}.html",
        f"inventories/inventory-{current}.xlsx",
    ]
    html = archive.read(f"inventories/inventory-{current}.html").decode()
    assert versions[1]["content_sha256"] in html


async def test_open_items_list_audit_findings_and_review_outputs(
    own_tenant: tuple[str, httpx.AsyncClient], unique: str
) -> None:
    ent, client = own_tenant
    r = await client.post(
        "/v1/tickets",
        json={
            "source_kind": "internal_audit",
            "source_id": f"IA-{unique}",
            "title": f"calibration records incomplete {unique}",
            "description": "two meters without a certificate",
        },
    )
    assert r.status_code == 201, r.text
    body = review_body(ent, outputs=[output(f"budget for sub-meters {unique}")])
    rid = (await client.post("/v1/management-reviews", json=body)).json()["review_id"]
    await client.post(f"/v1/management-reviews/{rid}/close")

    r = await client.get("/v1/management-system/open-items")
    assert r.status_code == 200, r.text
    sections = {s["key"]: s for s in r.json()["sections"]}
    assert list(sections) == ["obligations_due", "audit_findings", "measures", "review_outputs"]
    assert [i["title"] for i in sections["audit_findings"]["items"]] == [
        f"calibration records incomplete {unique}"
    ]
    assert [i["title"] for i in sections["review_outputs"]["items"]] == [
        f"budget for sub-meters {unique} (management review {rid})"
    ]
    # Every register the open items read is kept (a missing one would read "none").
    assert sections["obligations_due"]["available"] is True
    assert sections["measures"]["available"] is True
