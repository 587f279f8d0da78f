"""Obligations (6.6), compliance evaluations (9.2) and internal audits (9.3): a non-compliant
evaluation or a nonconformity finding opens exactly one ticket linked to it, an evaluation
moves its obligation's next due date, an audit closes only with its checked report, the due
date is announced once (the clock injected), and each register round-trips through XLSX."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from api.keys import Role
from api.obligations.spec import OBLIGATIONS
from api.registers import reminders, xlsx
from tests.api.conftest import ENTERPRISE_A, PARK, ApiServer, MakeKey, _client
from tests.api.tenancy_cases import audit_body, evaluation_body, finding_body, obligation_body
from tests.api.test_context_registers import audit_actions, cells

pytestmark = pytest.mark.integration

XLSX = {"content-type": xlsx.MEDIA_TYPE}
PDF = {"content-type": "application/pdf"}
EVALUATION, AUDIT = "compliance_evaluation", "internal_audit"  # the tickets' source kinds
REPORT = b"%PDF-1.4\n% internal audit report, metering\n"


async def created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def tickets_of(
    client: httpx.AsyncClient, source_kind: str, source_id: int
) -> list[dict[str, Any]]:
    """The tickets a record of ``source_kind`` (its register) opened."""
    params = {"source_kind": source_kind, "source_id": str(source_id), "limit": 500}
    r = await client.get("/v1/tickets", params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def content(record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The record's content as a PUT body (its status included)."""
    return {k: record[k] for k in body if k not in ("enterprise_id", "park_id")} | {
        "status": record["status"]
    }


async def test_a_non_compliant_evaluation_opens_exactly_one_ticket_linked_to_it(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    obligation = await created(
        operator, "/v1/obligations", obligation_body(ENTERPRISE_A) | {"title": f"EMS {unique}"}
    )
    body = evaluation_body(ENTERPRISE_A, obligation["record_id"]) | {
        "result": "non_compliant",
        "finding": "the 2030 energy audit report was not filed",
        "evaluated_on": "2031-02-15",
    }
    evaluation = await created(operator, "/v1/compliance-evaluations", body)
    rid = evaluation["record_id"]
    [ticket] = await tickets_of(operator, EVALUATION, rid)
    assert evaluation["ticket_id"] == ticket["ticket_id"]
    assert (ticket["source_kind"], ticket["source_id"], ticket["state"]) == (
        "compliance_evaluation",
        str(rid),
        "open",
    )
    assert ticket["title"] == f"Non-compliant: EMS {unique}"
    # Replacing the evaluation (still non-compliant) opens no second ticket.
    r = await operator.put(
        f"/v1/compliance-evaluations/{rid}",
        json=content(evaluation, body) | {"finding": "not filed; reminder sent"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["ticket_id"] == ticket["ticket_id"]
    assert len(await tickets_of(operator, EVALUATION, rid)) == 1
    assert await audit_actions(api_server, "compliance_evaluation", rid) == [
        "create",
        "open_ticket",
        "update",
    ]
    # The evaluation moved the obligation's next evaluation: 2031-02-15 plus 12 months.
    moved = (await operator.get(f"/v1/obligations/{obligation['record_id']}")).json()
    assert moved["next_evaluation_due"] == "2032-02-15"
    assert await audit_actions(api_server, "obligation", obligation["record_id"]) == [
        "create",
        "evaluated",
    ]


async def test_a_compliant_evaluation_opens_no_ticket_and_never_moves_the_due_date_back(
    operator: httpx.AsyncClient,
) -> None:
    obligation = await created(
        operator,
        "/v1/obligations",
        obligation_body(ENTERPRISE_A) | {"next_evaluation_due": "2035-01-31"},
    )
    body = evaluation_body(ENTERPRISE_A, obligation["record_id"])  # compliant, 2031-01-10
    evaluation = await created(operator, "/v1/compliance-evaluations", body)
    assert evaluation["ticket_id"] is None
    assert await tickets_of(operator, EVALUATION, evaluation["record_id"]) == []
    kept = (await operator.get(f"/v1/obligations/{obligation['record_id']}")).json()
    assert kept["next_evaluation_due"] == "2035-01-31"


async def test_an_evaluation_names_an_obligation_its_key_sees_and_may_evaluate(
    operator: httpx.AsyncClient, tenant_a: httpx.AsyncClient, unique: str
) -> None:
    r = await operator.post("/v1/compliance-evaluations", json=evaluation_body(ENTERPRISE_A, 2**62))
    assert r.status_code == 404 and r.json()["detail"] == f"no obligation {2**62}", r.text
    park_level = obligation_body(ENTERPRISE_A) | {
        "title": f"park-wide {unique}",
        "applicability": "named_enterprises",
        "applies_to": ["apitest-ent-b"],
    }
    del park_level["enterprise_id"]
    park_level["park_id"] = PARK
    ob = await created(operator, "/v1/obligations", park_level)
    # A park-level obligation binding B only: evaluating it for A is refused and stores nothing.
    r = await operator.post(
        "/v1/compliance-evaluations",
        json=evaluation_body(ENTERPRISE_A, ob["record_id"]) | {"evaluator": unique},
    )
    assert r.status_code == 422 and "does not apply" in r.json()["detail"], r.text
    # An enterprise key does not see the park-level obligation: 404, as if it did not exist.
    r = await tenant_a.post(
        "/v1/compliance-evaluations",
        json=evaluation_body(ENTERPRISE_A, ob["record_id"]) | {"evaluator": unique},
    )
    assert r.status_code == 404, r.text
    listed = await operator.get("/v1/compliance-evaluations", params={"limit": 500})
    assert unique not in {i["evaluator"] for i in listed.json()["items"]}
    # Named enterprises must be the park's.
    r = await operator.post(
        "/v1/obligations", json=park_level | {"applies_to": ["no-such-enterprise"]}
    )
    assert r.status_code == 422 and "no-such-enterprise" in r.json()["detail"], r.text


async def test_a_nonconformity_finding_opens_a_ticket_and_an_observation_none(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    audit = await created(operator, "/v1/internal-audits", audit_body(ENTERPRISE_A))
    observation = await created(
        operator, "/v1/audit-findings", finding_body(ENTERPRISE_A, audit["record_id"])
    )
    assert observation["ticket_id"] is None
    assert await tickets_of(operator, AUDIT, observation["record_id"]) == []
    body = finding_body(ENTERPRISE_A, audit["record_id"]) | {
        "finding_type": "nonconformity",
        "title": f"no calibration records {unique}",
    }
    finding = await created(operator, "/v1/audit-findings", body)
    [ticket] = await tickets_of(operator, AUDIT, finding["record_id"])
    assert finding["ticket_id"] == ticket["ticket_id"]
    assert (ticket["source_kind"], ticket["kind"]) == ("internal_audit", "corrective")
    assert ticket["title"] == f"Audit finding (9.1.2): no calibration records {unique}"
    # The observation made a nonconformity on review opens its ticket then, once.
    r = await operator.put(
        f"/v1/audit-findings/{observation['record_id']}",
        json=content(observation, finding_body(ENTERPRISE_A)) | {"finding_type": "nonconformity"},
    )
    assert r.status_code == 200 and r.json()["ticket_id"] is not None, r.text
    assert len(await tickets_of(operator, AUDIT, observation["record_id"])) == 1
    assert await audit_actions(api_server, "audit_finding", finding["record_id"]) == [
        "create",
        "open_ticket",
    ]


async def test_an_audit_closes_only_with_its_report_and_is_then_fixed(
    operator: httpx.AsyncClient,
) -> None:
    body = audit_body(ENTERPRISE_A) | {"report_sha256": hashlib.sha256(REPORT).hexdigest()}
    audit = await created(operator, "/v1/internal-audits", body)
    rid = audit["record_id"]
    done = content(audit, body) | {
        "actual_start": "2031-03-01",
        "actual_end": "2031-03-04",
        "audit_status": "closed",
    }
    r = await operator.put(f"/v1/internal-audits/{rid}", json=done)
    assert r.status_code == 409 and "upload the declared report" in r.json()["detail"], r.text
    r = await operator.put(
        f"/v1/internal-audits/{rid}/report", content=b"%PDF-1.4\nother", headers=PDF
    )
    assert r.status_code == 422 and "sha256" in r.json()["detail"], r.text
    r = await operator.put(f"/v1/internal-audits/{rid}/report", content=REPORT, headers=PDF)
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == hashlib.sha256(REPORT).hexdigest()
    r = await operator.put(f"/v1/internal-audits/{rid}", json=done)
    assert r.status_code == 200 and r.json()["audit_status"] == "closed", r.text
    # Closed: the content, the report and the findings are fixed; archiving is still allowed.
    r = await operator.put(f"/v1/internal-audits/{rid}", json=done | {"title": "renamed"})
    assert r.status_code == 409, r.text
    r = await operator.put(f"/v1/internal-audits/{rid}/report", content=REPORT, headers=PDF)
    assert r.status_code == 409, r.text
    r = await operator.post("/v1/audit-findings", json=finding_body(ENTERPRISE_A, rid))
    assert r.status_code == 409, r.text
    got = await operator.get(f"/v1/internal-audits/{rid}/report")
    assert got.status_code == 200 and got.content == REPORT
    assert got.headers["content-type"] == "application/pdf"
    r = await operator.put(f"/v1/internal-audits/{rid}", json=done | {"status": "archived"})
    assert r.status_code == 200 and r.json()["status"] == "archived", r.text
    # An audit whose auditor audits their own area says why.
    r = await operator.post(
        "/v1/internal-audits", json=audit_body(ENTERPRISE_A) | {"auditors_independent": False}
    )
    assert r.status_code == 422 and "independence_note" in r.text


async def test_the_programme_of_a_year_lists_its_audits_by_status(
    api_server: ApiServer, make_key: MakeKey, unique: str
) -> None:
    ent = await own_enterprise(api_server, f"pg-{unique}")
    token = await make_key(Role.ENTERPRISE, enterprise_id=ent)
    async with _client(api_server, token) as client:
        for status in ("planned", "planned", "in_progress"):
            await created(
                client,
                "/v1/internal-audits",
                audit_body(ent) | {"programme_year": 2032, "audit_status": status},
            )
        r = await client.get("/v1/internal-audits/programme/2032")
    assert r.status_code == 200, r.text
    programme = r.json()
    assert programme["audits_by_status"] == {
        "planned": 2,
        "in_progress": 1,
        "closed": 0,
        "cancelled": 0,
    }
    assert len(programme["audits"]) == 3


async def test_a_passed_evaluation_due_date_is_announced_once(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    """Shanghai time: the due day 2031-01-31 ends at 2031-01-31T16:00Z. An obligation not in
    force is not announced."""
    made = await created(operator, "/v1/obligations", obligation_body(ENTERPRISE_A))
    upcoming = await created(
        operator,
        "/v1/obligations",
        obligation_body(ENTERPRISE_A) | {"obligation_status": "upcoming"},
    )

    async def events(record_id: int) -> list[dict[str, Any]]:
        async with await AsyncConnection.connect(api_server.database_url) as conn:
            rows = await (
                await conn.execute(
                    "SELECT body::jsonb -> 'data' FROM webhook_message"
                    " WHERE event_type = 'obligation.evaluation_due'"
                    " AND (body::jsonb -> 'data' ->> 'record_id')::bigint = %s",
                    (record_id,),
                )
            ).fetchall()
        return [r[0] for r in rows]

    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        await reminders.check(conn, [OBLIGATIONS], now=datetime(2031, 1, 31, 15, 59, tzinfo=UTC))
        assert await events(made["record_id"]) == []
        at = datetime(2031, 1, 31, 16, 0, tzinfo=UTC)
        await reminders.check(conn, [OBLIGATIONS], now=at)
        await reminders.check(conn, [OBLIGATIONS], now=at)
    [event] = await events(made["record_id"])
    assert event == {
        "register": "obligation",
        "record_id": made["record_id"],
        "date_kind": "evaluation",
        "due_on": "2031-01-31",
        "title": made["title"],
        "park_id": PARK,
        "enterprise_id": ENTERPRISE_A,
        "summary": f"合规义务“{made['title']}”应于 2031年1月31日 进行合规性评价",
        "summary_lang": "zh-CN",
    }
    assert await events(upcoming["record_id"]) == []


async def own_enterprise(server: ApiServer, ent: str) -> str:
    async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (ent, PARK, ent),
        )
    return ent


async def test_export_import_export_changes_nothing(
    api_server: ApiServer, make_key: MakeKey, unique: str
) -> None:
    """Each register through XLSX on an enterprise of its own key, so an export holds this
    test's records only: the same bytes, the same records, no audit entry, no second ticket.
    The system's ``ticket_id`` column goes out and comes back; a changed one is refused."""
    ent = await own_enterprise(api_server, f"crt-{unique}")
    token = await make_key(Role.ENTERPRISE, enterprise_id=ent)
    async with _client(api_server, token) as client:
        ob = await created(client, "/v1/obligations", obligation_body(ent) | {"clause": None})
        audit = await created(client, "/v1/internal-audits", audit_body(ent))
        nc = {"result": "non_compliant", "evidence_file_name": None, "evidence_sha256": None}
        bodies = {
            "/v1/obligations": [obligation_body(ent)],
            "/v1/compliance-evaluations": [
                evaluation_body(ent, ob["record_id"]),
                evaluation_body(ent, ob["record_id"]) | nc,
            ],
            "/v1/internal-audits": [audit_body(ent) | {"auditors": ["zhou.min"]}],
            "/v1/audit-findings": [
                finding_body(ent, audit["record_id"]),
                finding_body(ent, audit["record_id"]) | {"finding_type": "nonconformity"},
            ],
        }
        for path, items in bodies.items():
            for body in items:
                await created(client, path, body)
            listed = (await client.get(path, params={"limit": 500})).json()["items"]
            first = await client.get(f"{path}/export")
            assert first.status_code == 200 and first.headers["content-type"] == xlsx.MEDIA_TYPE
            table = cells(first.content)
            assert len(table) == 2 + len(listed)
            r = await client.post(f"{path}/import", content=first.content, headers=XLSX)
            assert r.status_code == 200, r.text
            assert {row["outcome"] for row in r.json()["rows"]} == {"unchanged"}
            second = await client.get(f"{path}/export")
            assert second.content == first.content
            assert (await client.get(path, params={"limit": 500})).json()["items"] == listed
            if "ticket_id" in table[0]:
                column = table[0].index("ticket_id")
                linked = [row for row in table[2:] if row[column] is not None]
                assert len(linked) == 1
                kind = EVALUATION if "evaluations" in path else AUDIT
                for row in listed:
                    assert len(await tickets_of(client, kind, row["record_id"])) == (
                        1 if row["ticket_id"] else 0
                    )
                linked[0][column] += 1
                r = await client.post(
                    f"{path}/import", content=_sheet([table[0], linked[0]]), headers=XLSX
                )
                assert r.status_code == 422, r.text
                assert "set by the system" in r.json()["rows"][0]["errors"][0]


def _sheet(rows: list[list[Any]]) -> bytes:
    from tests.api.test_context_registers import _sheet as sheet

    return sheet(rows)
