"""The first registers on the shared machinery: context issues (4.1) and interested parties
(4.2) - CRUD without deletion, audit entries, XLSX round trip, strict all-or-nothing import,
review reminders raised once (the clock injected)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from psycopg import AsyncConnection

from api.context_issues.spec import SPEC as ISSUES
from api.interested_parties.spec import SPEC as PARTIES
from api.registers import reminders, xlsx
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, PARK, ApiServer

pytestmark = pytest.mark.integration

XLSX = {"content-type": xlsx.MEDIA_TYPE}


def issue(unique: str, **kw: Any) -> dict[str, Any]:
    return {
        "enterprise_id": ENTERPRISE_A,
        "title": f"national ETS extension {unique}",
        "origin": "external",
        "category": "regulatory",
        "description": "=cement and steel join the national carbon market",  # formula-like
        "effect": "negative",
        "effect_description": "allowance costs; MRV plans due",
        "affected_processes": ["monitoring", "reporting"],
        "owner": "wang.fang",
        "review_on": "2030-06-30",
        **kw,
    }


def party(unique: str, **kw: Any) -> dict[str, Any]:
    return {
        "enterprise_id": ENTERPRISE_A,
        "party": f"municipal ecology bureau {unique}",
        "party_type": "regulator",
        "need": "annual verified emission report by 31 March",
        "influence": 5,
        "interest": 4,
        "becomes_obligation": True,
        "owner": "li.na",
        "review_on": "2030-03-31",
        **kw,
    }


def cells(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


async def audit_actions(server: ApiServer, entity: str, record_id: int) -> list[str]:
    async with await AsyncConnection.connect(server.database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT action FROM audit_log WHERE entity = %s AND entity_id = %s ORDER BY id",
                (entity, str(record_id)),
            )
        ).fetchall()
    return [r[0] for r in rows]


async def test_a_context_issue_is_created_replaced_and_archived_with_audit_entries(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    r = await operator.post("/v1/context-issues", json=issue(unique))
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["status"], made["park_id"], made["affected_processes"]) == (
        "active",
        PARK,
        ["monitoring", "reporting"],
    )
    rid = made["record_id"]
    content = {k: v for k, v in issue(unique).items() if k != "enterprise_id"}
    r = await operator.put(f"/v1/context-issues/{rid}", json=content | {"status": "active"})
    assert r.status_code == 200 and r.json()["updated_at"] == made["updated_at"]  # no change
    r = await operator.put(
        f"/v1/context-issues/{rid}", json=content | {"status": "active", "effect": "mixed"}
    )
    assert r.json()["effect"] == "mixed"
    r = await operator.put(
        f"/v1/context-issues/{rid}", json=content | {"status": "archived", "effect": "mixed"}
    )
    assert r.json()["status"] == "archived"
    assert (await operator.get(f"/v1/context-issues/{rid}")).json()["status"] == "archived"
    assert await audit_actions(api_server, "context_issue", rid) == ["create", "update", "archive"]
    archived = await operator.get("/v1/context-issues", params={"status": "archived"})
    assert rid in [i["record_id"] for i in archived.json()["items"]]


async def test_export_import_export_changes_nothing(
    api_server: ApiServer, make_key: Any, unique: str
) -> None:
    """Round trip through XLSX on an enterprise of its own tenant's key, so the export holds
    this test's records only: the same bytes, the same records, no audit entry."""
    from api.keys import Role
    from tests.api.conftest import _client

    ent = f"rt-{unique}"
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (ent, PARK, ent),
        )
    token = await make_key(Role.ENTERPRISE, enterprise_id=ent)
    async with _client(api_server, token) as client:
        for path, bodies in (
            ("/v1/context-issues", [issue(unique), issue(unique + "2", affected_processes=[])]),
            ("/v1/interested-parties", [party(unique), party(unique + "2", contact="'0571")]),
        ):
            ids = []
            for body in bodies:
                r = await client.post(path, json=body | {"enterprise_id": ent})
                assert r.status_code == 201, r.text
                ids.append(r.json()["record_id"])
            before = [(await client.get(f"{path}/{i}")).json() for i in ids]
            first = await client.get(f"{path}/export")
            assert first.status_code == 200 and first.headers["content-type"] == xlsx.MEDIA_TYPE
            table = cells(first.content)
            assert table[0][:4] == ["record_id", "park_id", "enterprise_id", "status"]
            assert table[1][0] == "记录编号 / Record id"
            assert len(table) == 4
            r = await client.post(f"{path}/import", content=first.content, headers=XLSX)
            assert r.status_code == 200, r.text
            assert [row["outcome"] for row in r.json()["rows"]] == ["unchanged", "unchanged"]
            second = await client.get(f"{path}/export")
            assert second.content == first.content
            assert [(await client.get(f"{path}/{i}")).json() for i in ids] == before
            entity = "context_issue" if "context" in path else "interested_party"
            assert await audit_actions(api_server, entity, ids[0]) == ["create"]


def test_text_cells_are_formula_safe_and_read_back_as_entered() -> None:
    row = {
        "record_id": 1,
        "park_id": PARK,
        "enterprise_id": None,
        "status": "active",
        **issue("x", description='=HYPERLINK("http://x")', title="'quoted"),
        "review_on": date(2030, 6, 30),
    }
    data = xlsx.export(ISSUES, [row])
    sheet = cells(data)
    assert sheet[2][ISSUES.columns.index("description")] == '\'=HYPERLINK("http://x")'
    assert sheet[2][ISSUES.columns.index("review_on")] == datetime(2030, 6, 30)  # a date cell
    [(number, values)] = xlsx.read(ISSUES, data)
    assert number == 3
    assert values["description"] == '=HYPERLINK("http://x")' and values["title"] == "'quoted"
    assert values["review_on"] == date(2030, 6, 30)
    assert values["affected_processes"] == ["monitoring", "reporting"]


def _sheet(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for r in rows:
        book.active.append(r)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_an_import_with_a_bad_row_stores_nothing_and_reports_every_row(
    operator: httpx.AsyncClient, unique: str
) -> None:
    header = ["enterprise_id", *PARTIES.content.model_fields]
    good = party(unique)
    rows = [
        header,
        [good.get(c) for c in header],
        [good.get(c) if c != "influence" else 9 for c in header],  # out of range
        [ENTERPRISE_B if c == "enterprise_id" else good.get(c) for c in header],
        [good.get(c) if c != "review_on" else datetime(2030, 1, 1) for c in header],
    ]
    r = await operator.post("/v1/interested-parties/import", content=_sheet(rows), headers=XLSX)
    assert r.status_code == 422, r.text
    results = r.json()["rows"]
    assert [x["outcome"] for x in results] == ["valid", "rejected", "valid", "valid"]
    assert results[1]["row"] == 3 and "influence" in results[1]["errors"][0]
    listed = await operator.get("/v1/interested-parties", params={"limit": 500})
    assert good["party"] not in [i["party"] for i in listed.json()["items"]]
    # An unknown column refuses the file.
    r = await operator.post(
        "/v1/interested-parties/import",
        content=_sheet([[*header, "remarks"], [*[good.get(c) for c in header], "x"]]),
        headers=XLSX,
    )
    assert r.status_code == 422 and "remarks" in r.json()["detail"]
    r = await operator.post("/v1/interested-parties/import", content=b"not a zip", headers=XLSX)
    assert r.status_code == 422
    ok = await operator.post(
        "/v1/interested-parties/import", content=_sheet(rows[:2]), headers=XLSX
    )
    assert ok.status_code == 200 and ok.json()["rows"][0]["outcome"] == "created", ok.text


async def test_a_passed_review_date_is_announced_once(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    """Shanghai time: the review day 2030-06-30 ends at 2030-06-30T16:00Z."""
    made = (await operator.post("/v1/context-issues", json=issue(unique))).json()
    rid = made["record_id"]

    async def events() -> list[dict[str, Any]]:
        async with await AsyncConnection.connect(api_server.database_url) as conn:
            rows = await (
                await conn.execute(
                    "SELECT body::jsonb -> 'data' FROM webhook_message"
                    " WHERE event_type = 'context_issue.review_due'"
                    " AND (body::jsonb -> 'data' ->> 'record_id')::bigint = %s",
                    (rid,),
                )
            ).fetchall()
        return [r[0] for r in rows]

    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        await reminders.check(conn, [ISSUES], now=datetime(2030, 6, 30, 15, 59, tzinfo=UTC))
        assert await events() == []
        at = datetime(2030, 6, 30, 16, 0, tzinfo=UTC)
        await reminders.check(conn, [ISSUES], now=at)
        await reminders.check(conn, [ISSUES], now=at)
    [event] = await events()
    assert event == {
        "register": "context_issue",
        "record_id": rid,
        "date_kind": "review",
        "due_on": "2030-06-30",
        "title": made["title"],
        "park_id": PARK,
        "enterprise_id": ENTERPRISE_A,
        "summary": f"组织环境议题“{made['title']}”应于 2030年6月30日 评审",
        "summary_lang": "zh-CN",
    }


async def test_text_a_sheet_cannot_hold_is_refused_so_every_record_can_be_exported(
    operator: httpx.AsyncClient, unique: str
) -> None:
    for field in ("title", "description"):
        r = await operator.post("/v1/context-issues", json=issue(unique, **{field: "a\x01b"}))
        assert r.status_code == 422, r.text
    r = await operator.post("/v1/context-issues", json=issue(unique, affected_processes=["a;b"]))
    assert r.status_code == 422, r.text
    r = await operator.post("/v1/context-issues", json=issue(unique, description="line 1\nline 2"))
    assert r.status_code == 201, r.text
