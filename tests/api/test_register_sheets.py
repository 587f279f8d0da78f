"""Documents (7.3), training records (7.2), risks and screenings (6.1, 6.3.5) on the shared
register machinery: XLSX round trips that change nothing, what an imported row may change,
review reminders raised once through the webhook outbox (the clock injected), and a risk's
sources as real links into the context registers."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from psycopg import AsyncConnection
from psycopg import errors as pg_errors

from accounting.spreadsheet import formula_safe
from api.documents.spec import SPEC as DOCUMENTS
from api.keys import Role
from api.registers import reminders, xlsx
from api.risks.spec import ACTIONS, RISKS
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, PARK, ApiServer, _client
from tests.api.tenancy_cases import issue_body

pytestmark = pytest.mark.integration

XLSX = {"content-type": xlsx.MEDIA_TYPE}
PDF = b"%PDF-1.7\n% carbon policy and procedures\n"
TRAINING = "/v1/training-records"


def cells(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def sheet(rows: list[dict[str, Any]]) -> bytes:
    """A workbook whose header is the first row's keys; text cells formula-safe, as an
    office's spreadsheet program stores typed text."""
    book = Workbook()
    book.active.append(list(rows[0]))
    for row in rows:
        book.active.append([formula_safe(v) if isinstance(v, str) else v for v in row.values()])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
async def own(
    api_server: ApiServer, make_key: Any, unique: str
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """An enterprise of this test alone and its key, so an export holds this test's records."""
    ent = f"sh-{unique}"
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (ent, PARK, ent),
        )
    async with _client(api_server, await make_key(Role.ENTERPRISE, enterprise_id=ent)) as client:
        yield ent, client


async def ok(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


async def round_trip(client: httpx.AsyncClient, path: str, records: int) -> list[list[Any]]:
    """Export, import that file, export again: every row unchanged, the same bytes."""
    first = await client.get(f"{path}/export")
    assert first.status_code == 200 and first.headers["content-type"] == xlsx.MEDIA_TYPE
    table = cells(first.content)
    assert table[0][:4] == ["record_id", "park_id", "enterprise_id", "status"]
    assert len(table) == 2 + records
    r = await client.post(f"{path}/import", content=first.content, headers=XLSX)
    assert r.status_code == 200, r.text
    assert [row["outcome"] for row in r.json()["rows"]] == ["unchanged"] * records
    second = await client.get(f"{path}/export")
    assert second.content == first.content
    return table


def document(ent: str, code: str, **given: Any) -> dict[str, Any]:
    return {
        "kind": "procedure",
        "code": code,
        "title": "=Procedure for monitoring and measurement",  # formula-like text
        "owner": "carbon office",
        "enterprise_id": ent,
        "author": "Wang Fang",
        "effective_on": "2026-01-01",
        "review_on": "2031-03-01",
        "file_name": "procedure.pdf",
        "sha256": hashlib.sha256(PDF).hexdigest(),
    } | given


async def issued(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    doc = await ok(await client.post("/v1/documents", json=body))
    path = f"/v1/documents/{doc['document_id']}/versions/1"
    await ok(
        await client.put(path + "/file", content=PDF, headers={"content-type": "application/pdf"}),
        200,
    )
    for move in ({"to": "approved", "approver": "Li Qiang"}, {"to": "issued"}):
        await ok(await client.post(path + "/transitions", json=move), 200)
    return await ok(await client.get(f"/v1/documents/{doc['document_id']}"), 200)


async def test_the_document_register_round_trips_and_an_import_only_adds_drafts(
    own: tuple[str, httpx.AsyncClient], unique: str
) -> None:
    ent, client = own
    in_force = await issued(client, document(ent, f"P-{unique}", change_note=""))
    draft = await ok(await client.post("/v1/documents", json=document(ent, f"D-{unique}")))
    before = [
        await ok(await client.get(f"/v1/documents/{d['document_id']}"), 200)
        for d in (in_force, draft)
    ]
    table = await round_trip(client, "/v1/documents", 2)
    rows = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[2:]}
    assert rows[in_force["document_id"]]["issued_version"] == 1
    assert rows[in_force["document_id"]]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert rows[draft["document_id"]]["issued_version"] is None  # nothing in force yet
    after = [await client.get(f"/v1/documents/{d['document_id']}") for d in (in_force, draft)]
    assert [r.json() for r in after] == before

    # A new row records a new document with its first version, a draft.
    new = {k: v for k, v in document(ent, f"N-{unique}").items() if k != "enterprise_id"}
    r = await client.post("/v1/documents/import", content=sheet([new]), headers=XLSX)
    [row] = (await ok(r, 200))["rows"]
    assert row["outcome"] == "created"
    made = await ok(await client.get(f"/v1/documents/{row['record_id']}"), 200)
    assert (made["title"], made["issued_version"]) == (new["title"], None)
    assert [v["state"] for v in made["versions"]] == ["draft"]

    # An existing document changes through its versions, not through the sheet.
    changed = rows[in_force["document_id"]] | {"title": "renamed"}
    r = await client.post("/v1/documents/import", content=sheet([changed]), headers=XLSX)
    assert r.status_code == 422, r.text
    [row] = r.json()["rows"]
    assert row["outcome"] == "rejected" and "/versions" in row["errors"][0]
    assert (await client.get(f"/v1/documents/{in_force['document_id']}")).json() == before[0]


async def test_the_training_sheets_round_trip_and_an_import_records_an_attendee(
    own: tuple[str, httpx.AsyncClient], unique: str
) -> None:
    _, client = own
    role = f"energy manager {unique}"
    await ok(
        await client.post(
            f"{TRAINING}/requirements",
            json={"role": role, "competence": "GB 17167 metering", "acquired_by": "training"},
        )
    )
    await ok(
        await client.post(f"{TRAINING}/role-holders", json={"person": "Zhao Lei", "role": role})
    )
    event = await ok(
        await client.post(
            f"{TRAINING}/events",
            json={
                "held_on": "2026-03-05",
                "topic": "metering of energy",
                "trainer": "Sun Li",
                "competences": ["GB 17167 metering", "data validation"],
            },
        )
    )
    eid = event["event_id"]
    passed = {"person": "Zhao Lei", "role": role, "result": "passed"}
    await ok(
        await client.post(
            f"{TRAINING}/events/{eid}/attendance",
            json=passed | {"method": "written_test", "evaluated_by": "Sun Li"},
        )
    )
    for path in ("requirements", "role-holders", "events", "attendance"):
        table = await round_trip(client, f"{TRAINING}/{path}", 1)
        if path == "events":
            assert table[2][table[0].index("competences")] == "GB 17167 metering; data validation"

    # A row without record_id records an attendee of the event named, with its evaluation.
    newcomer = {"event_id": eid, "person": "Qian Yu", "role": role, "result": "not_evaluated"}
    r = await client.post(f"{TRAINING}/attendance/import", content=sheet([newcomer]), headers=XLSX)
    [row] = (await ok(r, 200))["rows"]
    assert row["outcome"] == "created"
    detail = await ok(await client.get(f"{TRAINING}/events/{eid}"), 200)
    assert {(a["person"], a["result"]) for a in detail["attendance"]} == {
        ("Zhao Lei", "passed"),
        ("Qian Yu", "not_evaluated"),
    }
    # Records are kept as written: an existing attendee's result is not rewritten by a sheet.
    table = cells((await client.get(f"{TRAINING}/attendance/export")).content)
    first = dict(zip(table[0], table[2], strict=True)) | {"result": "failed"}
    r = await client.post(f"{TRAINING}/attendance/import", content=sheet([first]), headers=XLSX)
    assert r.status_code == 422 and "kept as written" in r.json()["rows"][0]["errors"][0]


def risk(ent: str, **given: Any) -> dict[str, Any]:
    return {
        "enterprise_id": ent,
        "kind": "risk",
        "category": "operational",
        "title": "Meter data of the coking plant incomplete",
        "description": "Gateway outages leave gaps in the monthly inventory",
        "likelihood": 4,
        "consequence": 3,
        "owner": "carbon office",
        "review_on": "2031-03-01",
    } | given


async def test_risks_round_trip_and_an_import_reassesses_but_never_renames_a_risk(
    own: tuple[str, httpx.AsyncClient], api_server: ApiServer
) -> None:
    ent, client = own
    made = await ok(await client.post("/v1/risks", json=risk(ent)))
    await ok(
        await client.post(
            "/v1/risks",
            json=risk(ent, kind="opportunity", category="opportunity", title="waste heat"),
        )
    )
    table = await round_trip(client, "/v1/risks", 2)
    row = next(dict(zip(table[0], r, strict=True)) for r in table[2:] if r[0] == made["risk_id"])
    assert row["score"] == 12 and row["status"] == "active"

    # Re-assessed in the sheet: the new ratings and their score, closed, with an audit record.
    reassessed = row | {"likelihood": 2, "score": 6, "status": "archived"}
    r = await client.post("/v1/risks/import", content=sheet([reassessed]), headers=XLSX)
    assert (await ok(r, 200))["rows"][0]["outcome"] == "updated"
    got = await ok(await client.get(f"/v1/risks/{made['risk_id']}"), 200)
    assert (got["likelihood"], got["score"], got["status"]) == (2, 6, "closed")
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        cur = await conn.execute(
            "SELECT action, after FROM audit_log WHERE entity = 'risk' AND entity_id = %s"
            " ORDER BY id",
            (str(made["risk_id"]),),
        )
        audits = await cur.fetchall()
    assert [a[0] for a in audits] == ["create", "update"]
    assert audits[1][1]["score"] == 6

    # A score that does not follow the ratings, and a renamed risk, are refused.
    for bad, says in (
        (reassessed | {"score": 7}, "score must be likelihood x consequence"),
        (reassessed | {"score": 6, "title": "other"}, "identify the risk"),
    ):
        r = await client.post("/v1/risks/import", content=sheet([bad]), headers=XLSX)
        assert r.status_code == 422, r.text
        assert says in r.json()["rows"][0]["errors"][0]
    assert (await client.get(f"/v1/risks/{made['risk_id']}")).json()["title"] == row["title"]


async def test_screenings_round_trip_and_a_sheet_records_a_decision_once(
    own: tuple[str, httpx.AsyncClient], unique: str
) -> None:
    ent, client = own
    body = {
        "enterprise_id": ent,
        "project": f"Coal-to-olefins phase II {unique}",
        "applicant": "Xinhua Chemical Co.",
        "industry": "modern coal chemical",
        "annual_energy_tce": 850000.5,
        "annual_emissions_tco2e": 2.1e6,
        "criteria": [
            {"criterion": "sector benchmark", "requirement": "advanced level", "met": True},
            {"criterion": "park emission budget", "requirement": "within", "met": False},
        ],
    }
    made = await ok(await client.post("/v1/risks/screenings", json=body))
    table = await round_trip(client, "/v1/risks/screenings", 1)
    row = dict(zip(table[0], table[2], strict=True))
    decided = row | {
        "decision": "admit_with_conditions",
        "conditions": "buy allowances for the budget overshoot",
        "decision_reason": "benchmark met, budget exceeded",
        "decided_by": "admission committee",
        "decided_at": "2026-04-01T09:00:00+08:00",
    }
    r = await client.post("/v1/risks/screenings/import", content=sheet([decided]), headers=XLSX)
    assert (await ok(r, 200))["rows"][0]["outcome"] == "updated"
    got = await ok(await client.get(f"/v1/risks/screenings/{made['screening_id']}"), 200)
    assert (got["decision"], got["decided_at"]) == ("admit_with_conditions", "2026-04-01T01:00:00Z")
    await round_trip(client, "/v1/risks/screenings", 1)
    # Decided once: another decision, or other figures, are refused.
    for bad in (decided | {"decision": "refuse", "conditions": None}, row | {"industry": "steel"}):
        r = await client.post("/v1/risks/screenings/import", content=sheet([bad]), headers=XLSX)
        assert r.status_code == 422, r.text
        assert "decision is taken once" in r.json()["rows"][0]["errors"][0]


async def test_review_dates_that_pass_are_announced_once(
    own: tuple[str, httpx.AsyncClient], api_server: ApiServer, unique: str
) -> None:
    """The version in force's review, an open risk's review and an unreviewed action's review
    raise their event once; a draft, a closed risk and a reviewed action raise none. Shanghai
    time: the day 2031-03-01 ends at 2031-03-01T16:00Z."""
    ent, client = own
    doc = await issued(client, document(ent, f"R-{unique}"))
    draft = await ok(await client.post("/v1/documents", json=document(ent, f"RD-{unique}")))
    open_risk = await ok(await client.post("/v1/risks", json=risk(ent)))
    closed = await ok(await client.post("/v1/risks", json=risk(ent, title="closed one")))
    await ok(await client.patch(f"/v1/risks/{closed['risk_id']}", json={"status": "closed"}), 200)
    action = {"description": "redundant gateway", "owner": "it", "due_on": "2031-01-01"}
    actions = [
        await ok(
            await client.post(
                f"/v1/risks/{open_risk['risk_id']}/actions", json=action | {"review_on": day}
            )
        )
        for day in ("2031-03-01", "2031-03-01")
    ]
    await ok(
        await client.post(
            f"/v1/risks/{open_risk['risk_id']}/actions/{actions[1]['action_id']}/reviews",
            json={"reviewed_on": "2031-02-01", "effective": True, "note": "no gap since"},
        )
    )

    async def events() -> list[tuple[str, Any]]:
        async with await AsyncConnection.connect(api_server.database_url) as conn:
            cur = await conn.execute(
                "SELECT event_type, body::jsonb -> 'data' FROM webhook_message"
                " WHERE body::jsonb -> 'data' ->> 'enterprise_id' = %s ORDER BY created_at",
                (ent,),
            )
            return [(t, d) for t, d in await cur.fetchall()]

    async def check(now: datetime) -> None:
        async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
            while await reminders.check(conn, [DOCUMENTS, RISKS, ACTIONS], now=now):
                pass

    await check(datetime(2031, 3, 1, 15, 59, tzinfo=UTC))
    assert await events() == []
    await check(datetime(2031, 3, 1, 16, 0, tzinfo=UTC))
    await check(datetime(2031, 3, 2, 16, 0, tzinfo=UTC))
    got = await events()
    assert sorted((t, d["record_id"]) for t, d in got) == sorted(
        [
            ("document.review_due", doc["document_id"]),
            ("risk.review_due", open_risk["risk_id"]),
            ("risk_action.review_due", actions[0]["action_id"]),
        ]
    )
    assert draft["document_id"] not in {d["record_id"] for t, d in got if t.startswith("doc")}
    by_type = {t: d for t, d in got}
    assert by_type["document.review_due"] | {"record_id": 0} == {
        "register": "document",
        "record_id": 0,
        "date_kind": "review",
        "due_on": "2031-03-01",
        "title": doc["title"],
        "park_id": PARK,
        "enterprise_id": ent,
        "summary": f"受控文件“{doc['title']}”应于 2031年3月1日 评审",
        "summary_lang": "zh-CN",
    }


async def test_a_risk_names_context_issues_and_interested_parties_it_may_see(
    admin: httpx.AsyncClient, api_server: ApiServer, make_key: Any
) -> None:
    """6.1.1 a, b: the sources are real records, in the risk's enterprise or park-level; an
    enterprise key cannot link another enterprise's issue (it reads as absent)."""
    mine = await ok(await admin.post("/v1/context-issues", json=issue_body(ENTERPRISE_A)))
    theirs = await ok(await admin.post("/v1/context-issues", json=issue_body(ENTERPRISE_B)))
    async with _client(
        api_server, await make_key(Role.ENTERPRISE, enterprise_id=ENTERPRISE_A)
    ) as a:
        linked = await ok(
            await a.post("/v1/risks", json=risk(ENTERPRISE_A, context_issue_id=mine["record_id"]))
        )
        assert linked["context_issue_id"] == mine["record_id"]
        r = await a.post("/v1/risks", json=risk(ENTERPRISE_A, context_issue_id=theirs["record_id"]))
        assert (
            r.status_code == 404 and r.json()["detail"] == f"no context issue {theirs['record_id']}"
        )
    r = await admin.post("/v1/risks", json=risk(ENTERPRISE_A, context_issue_id=theirs["record_id"]))
    assert r.status_code == 422 and "another enterprise" in r.json()["detail"], r.text
    r = await admin.post("/v1/risks", json=risk(ENTERPRISE_A, interested_party_id=2**62))
    assert r.status_code == 404 and r.json()["detail"] == f"no interested party {2**62}"
    # The table holds the link too: no risk names an issue that does not exist.
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        with pytest.raises(pg_errors.ForeignKeyViolation):
            await conn.execute(
                "UPDATE risk SET context_issue_id = %s WHERE risk_id = %s",
                (2**62, linked["risk_id"]),
            )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{TRAINING}/role-holders", {"person": "Zhao\x01Lei", "role": "r"}),
        (
            f"{TRAINING}/requirements",
            {"role": "r", "competence": "c\x1b", "acquired_by": "training"},
        ),
        ("/v1/risks", risk(ENTERPRISE_A, owner="office\x0b")),
        ("/v1/documents", document(ENTERPRISE_A, "CTRL-1", change_note="v\x02")),
    ],
)
async def test_text_a_sheet_cannot_hold_is_refused_so_every_record_can_be_exported(
    tenant_a: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    r = await tenant_a.post(path, json=body)
    assert r.status_code == 422, r.text
    assert "control characters" in r.text
    assert (await tenant_a.get(f"{path}/export")).status_code == 200
