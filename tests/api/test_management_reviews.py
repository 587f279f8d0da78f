"""Management reviews (clause 9.5): a draft gathers its inputs from the platform and records
its outputs; closing opens the nonconformities' tickets and keeps the record immutable with the
sha256 of its canonical JSON; output due dates remind once (the clock injected). Each test works
in an enterprise of its own, so the inputs hold its records only."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from psycopg import AsyncConnection, errors

from api.management_reviews.spec import REVIEW_OUTPUTS
from api.registers import reminders
from tests.api.conftest import ApiServer
from tests.api.test_context_registers import issue

pytestmark = pytest.mark.integration


def review_body(ent: str, **kw: Any) -> dict[str, Any]:
    return {
        "enterprise_id": ent,
        "held_on": "2026-01-20",
        "chair": "zhang.wei",
        "attendees": ["zhang.wei", "li.na", "energy office"],
        "period_start": "2025-01-01",
        "period_end": "2025-12-31",
        **kw,
    }


def output(title: str, **kw: Any) -> dict[str, Any]:
    return {
        "kind": "decision",
        "title": title,
        "owner": "li.na",
        "due_on": "2026-03-31",
        **kw,
    }


def inputs_of(review: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["key"]: i for i in review["record"]["inputs"]}


def rows_of(section: dict[str, Any], table: str) -> list[dict[str, Any]]:
    [found] = [t for t in section["tables"] if t["name"] == table]
    return [dict(zip(found["columns"], row, strict=True)) for row in found["rows"]]


def canonical_sha256(record: Any) -> str:
    text = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


async def audit_actions(server: ApiServer, review_id: int) -> list[str]:
    async with await AsyncConnection.connect(server.database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT action FROM audit_log WHERE entity = 'management_review'"
                " AND entity_id = %s ORDER BY id",
                (str(review_id),),
            )
        ).fetchall()
    return [r[0] for r in rows]


async def test_a_review_gathers_its_inputs_from_the_platform_and_records_outputs(
    api_server: ApiServer, own_tenant: tuple[str, httpx.AsyncClient], unique: str
) -> None:
    ent, client = own_tenant
    r = await client.post("/v1/context-issues", json=issue(unique, enterprise_id=ent))
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/tickets",
        json={
            "source_kind": "complaint",
            "source_id": f"C-{unique}",
            "title": "boiler house odour",
            "description": "a neighbour's complaint",
        },
    )
    assert r.status_code == 201, r.text

    r = await client.post("/v1/management-reviews", json=review_body(ent, period_end="2026-12-31"))
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["state"], made["content_sha256"], made["enterprise_id"]) == ("draft", None, ent)
    got = inputs_of(made)
    assert list(got) == [
        "previous_actions",
        "context_changes",
        "emissions_trends",
        "energy_trends",
        "target_attainment",
        "nonconformities",
        "monitoring",
        "compliance",
        "audit_results",
        "risks_and_opportunities",
        "measures",
    ]
    # The context issue of this enterprise, read through the register catalogue.
    [issue_row] = rows_of(got["context_changes"], "context_issues")
    assert issue_row["title"] == f"national ETS extension {unique}"
    # The complaint's ticket, counted by state, kind and source.
    counts = rows_of(got["nonconformities"], "tickets_by_state_kind_source")
    assert counts == [
        {
            "state": "open",
            "kind": "corrective",
            "source_kind": "complaint",
            "tickets": 1,
            "opened_in_period": 1,
        }
    ]
    # Registers this platform does not keep yet read "none recorded", they do not fail.
    for key, names in (
        ("compliance", ("obligation", "compliance_evaluation")),
        ("audit_results", ("internal_audit",)),
    ):
        assert got[key]["recorded"] is False
        for name in names:
            assert any(n.startswith(f"{name}: none recorded") for n in got[key]["notes"])
    assert got["previous_actions"]["recorded"] is False
    # The emissions input is the review report's own computation, for the same period.
    report = await client.get(
        "/v1/reports/review", params={"from": "2025-01-01", "to": "2026-12-31"}
    )
    assert report.status_code == 200, report.text
    summary = dict((r["item"], r["value"]) for r in rows_of(got["emissions_trends"], "summary"))
    assert summary["totals.location_tco2e"] == report.json()["totals"]["location_tco2e"]

    # Outputs are recorded on the draft; the header and outputs are replaced whole.
    rid = made["review_id"]
    body = {
        k: v for k, v in review_body(ent, period_end="2026-12-31").items() if k != "enterprise_id"
    }
    outputs = [
        output("raise the heat-recovery budget", kind="resource_need"),
        output("tighten the 2027 intensity target", kind="objective_change", due_on="2026-06-30"),
    ]
    r = await client.put(f"/v1/management-reviews/{rid}", json=body | {"outputs": outputs})
    assert r.status_code == 200, r.text
    recorded = r.json()["record"]["outputs"]
    assert [(o["kind"], o["title"], o["ticket_id"]) for o in recorded] == [
        ("resource_need", "raise the heat-recovery budget", None),
        ("objective_change", "tighten the 2027 intensity target", None),
    ]
    assert r.json()["record"]["inputs_gathered_at"] == made["record"]["inputs_gathered_at"]
    r = await client.post(f"/v1/management-reviews/{rid}/refresh")
    assert r.status_code == 200 and r.json()["record"]["outputs"] == recorded
    assert r.json()["record"]["inputs_gathered_at"] > made["record"]["inputs_gathered_at"]
    assert await audit_actions(api_server, rid) == ["create", "update", "refresh"]
    # Strict bodies: an unknown field or a bad kind is 422 and changes nothing.
    for bad in (body | {"colour": "red"}, body | {"outputs": [output("x", kind="wish")]}):
        r = await client.put(f"/v1/management-reviews/{rid}", json=bad)
        assert r.status_code == 422, r.text
    assert (await client.get(f"/v1/management-reviews/{rid}")).json()["record"][
        "outputs"
    ] == recorded


async def test_closing_stores_the_hash_opens_tickets_and_refuses_every_change(
    api_server: ApiServer, own_tenant: tuple[str, httpx.AsyncClient]
) -> None:
    ent, client = own_tenant
    outputs = [
        output("calibrate the steam flow meters", nonconformity=True, description="found late"),
        output("publish the 2026 energy plan"),
    ]
    r = await client.post("/v1/management-reviews", json=review_body(ent, outputs=outputs))
    assert r.status_code == 201, r.text
    rid = r.json()["review_id"]

    r = await client.post(f"/v1/management-reviews/{rid}/close")
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["state"] == "closed" and closed["closed_by"]
    assert closed["content_sha256"] == canonical_sha256(closed["record"])
    first, second = closed["record"]["outputs"]
    assert first["ticket_id"] is not None and second["ticket_id"] is None
    ticket = (await client.get(f"/v1/tickets/{first['ticket_id']}")).json()
    assert (ticket["source_kind"], ticket["source_id"], ticket["title"], ticket["state"]) == (
        "management_review",
        str(rid),
        "calibrate the steam flow meters",
        "open",
    )
    # The API refuses every change of a closed review.
    body = {k: v for k, v in review_body(ent).items() if k != "enterprise_id"}
    for method, path, payload in (
        ("PUT", f"/v1/management-reviews/{rid}", body),
        ("POST", f"/v1/management-reviews/{rid}/refresh", None),
        ("POST", f"/v1/management-reviews/{rid}/close", None),
    ):
        r = await client.request(method, path, json=payload)
        assert r.status_code == 409, r.text
    # And so does the database, whoever asks.
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        for statement in (
            "UPDATE management_review SET chair = 'someone else' WHERE review_id = %s",
            "DELETE FROM management_review WHERE review_id = %s",
            "UPDATE management_review_output SET owner = 'x' WHERE review_id = %s",
            "DELETE FROM management_review_output WHERE review_id = %s",
        ):
            with pytest.raises(errors.InsufficientPrivilege, match="refused"):
                await conn.execute(statement, (rid,))
    again = (await client.get(f"/v1/management-reviews/{rid}")).json()
    assert again == closed
    assert await audit_actions(api_server, rid) == ["create", "close"]

    # Each output's due date is announced once when it passes (review_output.due).
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        later = datetime(2026, 4, 2, tzinfo=UTC)
        assert await reminders.check(conn, [REVIEW_OUTPUTS], now=later) >= 2
        assert await reminders.check(conn, [REVIEW_OUTPUTS], now=later) == 0
        cur = await conn.execute(
            "SELECT body::jsonb -> 'data' FROM webhook_message"
            " WHERE event_type = 'review_output.due' AND enterprise_id = %s",
            (ent,),
        )
        titles = sorted(row[0]["title"] for row in await cur.fetchall())
    assert titles == ["calibrate the steam flow meters", "publish the 2026 energy plan"]

    # The next review reads them as the status of actions from previous reviews.
    r = await client.post("/v1/management-reviews", json=review_body(ent, held_on="2027-01-20"))
    previous = rows_of(inputs_of(r.json())["previous_actions"], "previous_review_outputs")
    assert [(p["review_id"], p["title"], p["ticket_state"]) for p in previous] == [
        (rid, "calibrate the steam flow meters", "open"),
        (rid, "publish the 2026 energy plan", None),
    ]


async def test_a_review_reads_as_xlsx_and_as_a_printable_page(
    own_tenant: tuple[str, httpx.AsyncClient],
) -> None:
    ent, client = own_tenant
    body = review_body(ent, outputs=[output("=SUM(A1) is text, not a formula")])
    rid = (await client.post("/v1/management-reviews", json=body)).json()["review_id"]
    await client.post(f"/v1/management-reviews/{rid}/close")
    r = await client.get(f"/v1/management-reviews/{rid}", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[0] == "review" and book.sheetnames[-1] == "outputs"
    outputs = [list(row) for row in book["outputs"].iter_rows(values_only=True)]
    assert outputs[1][2] == "'=SUM(A1) is text, not a formula"
    header = {row[0]: row[1] for row in book["review"].iter_rows(values_only=True)}
    assert (
        header["content_sha256"]
        == (await client.get(f"/v1/management-reviews/{rid}")).json()["content_sha256"]
    )
    page = await client.get(f"/v1/management-reviews/{rid}", params={"format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "=SUM(A1) is text, not a formula" in page.text and "<script" not in page.text
    assert "Audit results" in page.text and "none recorded" in page.text
