"""The corrective-action workflow over HTTP (clauses 9.4, 10.1): every step of a ticket opened by
a real alert, with its timestamp and actor in the history; illegal moves answered 409 with the
allowed ones; actions, comments, links, the overdue check, and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from api.tickets import overdue as overdue_check
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, ApiServer
from tests.api.test_tickets import (
    detail,
    eventually,
    make_alert,
    produce,
    wait_ticket,
    webhook_events,
)

pytestmark = pytest.mark.integration

CAUSE = {
    "cause_category": "data_missing",
    "root_cause": "gateway gw-02 lost its uplink",
    "similar_nonconformities": "gw-01 and gw-03 checked: none",
}


async def opened(server: ApiServer, client: httpx.AsyncClient, subject: str, **kw: Any) -> int:
    await produce(server, make_alert(subject, **kw))
    return int((await wait_ticket(client, subject))["ticket_id"])


async def move(
    client: httpx.AsyncClient, ticket_id: int, body: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    r = await client.post(f"/v1/tickets/{ticket_id}/transitions", json=body)
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


async def add_action(client: httpx.AsyncClient, ticket_id: int, **kw: Any) -> dict[str, Any]:
    body = {"description": "replace the uplink modem", "owner": "zhang.min"}
    body["due_at"] = "2030-06-30T18:00:00+08:00"
    r = await client.post(f"/v1/tickets/{ticket_id}/actions", json=body | kw)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def done(client: httpx.AsyncClient, ticket_id: int, action_id: int) -> dict[str, Any]:
    r = await client.patch(
        f"/v1/tickets/{ticket_id}/actions/{action_id}", json={"done": True, "note": "fitted"}
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_the_whole_workflow_including_a_failed_effectiveness_review(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    tid = await opened(api_server, operator, f"M-flow-{unique}")
    contained = await move(operator, tid, {"to": "contained", "containment": "backup meter on"})
    assert contained["state"] == "contained" and contained["contained_at"] is not None
    cause = await move(operator, tid, {"to": "cause_identified", **CAUSE})
    assert (cause["cause_category"], cause["root_cause"]) == ("data_missing", CAUSE["root_cause"])
    # No action yet: the work cannot start.
    refused = await move(operator, tid, {"to": "action_in_progress"}, 409)
    assert "at least one corrective action" in refused["detail"]
    first = await add_action(operator, tid)
    assert (first["owner"], first["due_at"]) == ("zhang.min", "2030-06-30T10:00:00Z")
    await move(operator, tid, {"to": "action_in_progress"})
    pending = await move(operator, tid, {"to": "effectiveness_check"}, 409)
    assert f"[{first['action_id']}]" in pending["detail"]
    assert (await done(operator, tid, first["action_id"]))["done_by"].startswith("key:")
    await move(operator, tid, {"to": "effectiveness_check"})
    # The review finds the action did not work: back to the cause, with a revised one.
    revised = {**CAUSE, "cause_category": "unreliable_measurement_or_statistics"}
    failed = await move(
        operator,
        tid,
        {"to": "cause_identified", "effectiveness_review": "gaps again on day 3", **revised},
    )
    assert failed["effectiveness_failures"] == 1
    assert failed["cause_category"] == "unreliable_measurement_or_statistics"
    second = await add_action(operator, tid, description="recalibrate the CT", owner="wang.fang")
    await move(operator, tid, {"to": "action_in_progress"})
    await done(operator, tid, second["action_id"])
    await move(operator, tid, {"to": "effectiveness_check"})
    closed = await move(
        operator, tid, {"to": "closed", "effectiveness_review": "30 days without a gap"}
    )
    assert closed["state"] == "closed" and closed["allowed_transitions"] == []
    for state in ("contained", "cause_identified", "action_in_progress", "effectiveness_check"):
        assert closed[f"{state}_at"] is not None
    assert closed["closed_at"] >= closed["effectiveness_check_at"] >= closed["opened_at"]

    history = (await operator.get(f"/v1/tickets/{tid}/history")).json()
    moves = [(h["from_state"], h["to_state"]) for h in history if h["event"] == "transition"]
    assert moves == [
        ("open", "contained"),
        ("contained", "cause_identified"),
        ("cause_identified", "action_in_progress"),
        ("action_in_progress", "effectiveness_check"),
        ("effectiveness_check", "cause_identified"),
        ("cause_identified", "action_in_progress"),
        ("action_in_progress", "effectiveness_check"),
        ("effectiveness_check", "closed"),
    ]
    transitions = [h for h in history if h["event"] == "transition"]
    assert all(h["actor"].startswith("key:") and h["at"] for h in transitions)
    times = [h["at"] for h in history]
    assert times == sorted(times)
    assert transitions[4]["detail"]["effective"] is False
    assert transitions[-1]["detail"] == {
        "effectiveness_review": "30 days without a gap",
        "effective": True,
    }
    events = [h["event"] for h in history]
    assert events.count("action_added") == 2 and events.count("action_done") == 2
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        audited = await (
            await conn.execute(
                "SELECT count(*) FROM audit_log WHERE entity = 'ticket' AND entity_id = %s"
                " AND action = 'transition'",
                (str(tid),),
            )
        ).fetchone()
    assert audited == (8,)
    queued = await webhook_events(api_server, tid)
    assert [kind for kind, _ in queued] == ["alert.opened"] + ["ticket.transitioned"] * 8
    assert [(d["from_state"], d["to_state"]) for _, d in queued[1:]] == moves
    assert queued[-1][1]["actor"] == transitions[-1]["actor"]


@pytest.mark.parametrize("via", ["open", "contained"])
async def test_a_false_positive_is_dismissed_with_a_reason_from_open_or_contained(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str, via: str
) -> None:
    tid = await opened(api_server, operator, f"M-dismiss-{via}-{unique}")
    if via == "contained":
        await move(operator, tid, {"to": "contained", "containment": "checked on site"})
    no_reason = await move(operator, tid, {"to": "dismissed"}, 422)
    assert "missing ['reason']" in no_reason["detail"]
    dismissed = await move(operator, tid, {"to": "dismissed", "reason": "test injection"})
    assert dismissed["state"] == "dismissed" and dismissed["dismissal_reason"] == "test injection"
    assert dismissed["dismissed_at"] is not None and dismissed["allowed_transitions"] == []


async def test_an_illegal_transition_is_409_listing_the_allowed_ones(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    tid = await opened(api_server, operator, f"M-illegal-{unique}")
    r = await operator.post(
        f"/v1/tickets/{tid}/transitions", json={"to": "closed", "effectiveness_review": "x"}
    )
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["allowed"] == ["contained", "dismissed"]
    assert r.json()["current"] == "open"
    await move(operator, tid, {"to": "dismissed", "reason": "duplicate"})
    after = await move(operator, tid, {"to": "contained", "containment": "late"}, 409)
    assert after["allowed"] == []
    assert (await detail(operator, tid))["state"] == "dismissed"


async def test_a_transition_body_carries_exactly_the_fields_its_target_needs(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    tid = await opened(api_server, operator, f"M-fields-{unique}")
    extra = await move(operator, tid, {"to": "contained", "containment": "x", "reason": "y"}, 422)
    assert "not taken here ['reason']" in extra["detail"]
    await move(operator, tid, {"to": "contained", "containment": "x", "colour": "red"}, 422)
    await move(operator, tid, {"to": "contained", "containment": ""}, 422)
    await move(operator, tid, {"to": "somewhere"}, 422)
    bad_cause = {**CAUSE, "cause_category": "bad luck"}  # not one of the five of 9.1 b
    await move(operator, tid, {"to": "contained", "containment": "x"})
    await move(operator, tid, {"to": "cause_identified", **bad_cause}, 422)
    assert (await detail(operator, tid))["state"] == "contained"


async def test_actions_are_decided_only_once_the_cause_is_known(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    tid = await opened(api_server, operator, f"M-early-{unique}")
    r = await operator.post(
        f"/v1/tickets/{tid}/actions",
        json={"description": "x", "owner": "y", "due_at": "2030-01-01T00:00:00Z"},
    )
    assert r.status_code == 409 and r.json()["allowed"] == ["contained", "dismissed"]
    naive = {"description": "x", "owner": "y", "due_at": "2030-01-01T00:00:00"}
    assert (await operator.post(f"/v1/tickets/{tid}/actions", json=naive)).status_code == 422


async def test_comments_and_links_are_kept_and_only_http_links_are_accepted(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    tid = await opened(api_server, operator, f"M-notes-{unique}")
    r = await operator.post(f"/v1/tickets/{tid}/comments", json={"body": "on site at 09:10"})
    assert r.status_code == 201 and r.json()["author"].startswith("key:")
    for bad in ("ftp://files.example/report.pdf", "javascript:alert(1)", "not a url", ""):
        r = await operator.post(f"/v1/tickets/{tid}/links", json={"url": bad})
        assert r.status_code == 422, bad
    url = "https://docs.example.com/ncr/2026-014.pdf"
    r = await operator.post(f"/v1/tickets/{tid}/links", json={"url": url, "title": "NCR form"})
    assert r.status_code == 201, r.text
    assert (
        await operator.post(f"/v1/tickets/{tid}/comments", json={"body": ""})
    ).status_code == 422
    ticket = await detail(operator, tid)
    assert [c["body"] for c in ticket["comments"]] == ["on site at 09:10"]
    assert [(lk["url"], lk["title"]) for lk in ticket["links"]] == [(url, "NCR form")]
    events = [h["event"] for h in ticket["history"]]
    assert events[-2:] == ["comment_added", "link_added"]


async def test_an_overdue_action_is_announced_once(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    tid = await opened(api_server, operator, f"M-late-{unique}")
    await move(operator, tid, {"to": "contained", "containment": "x"})
    await move(operator, tid, {"to": "cause_identified", **CAUSE})
    due = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    late = await add_action(operator, tid, due_at=due)
    assert late["overdue"] is True

    async def announced() -> list[dict[str, Any]] | None:
        history = (await operator.get(f"/v1/tickets/{tid}/history")).json()
        return [h for h in history if h["event"] == "action_overdue"] or None

    [entry] = await eventually(announced, "the overdue action announced")
    assert entry["actor"] == "system:overdue-check"
    assert entry["detail"]["action_id"] == late["action_id"]
    listed = (await operator.get("/v1/tickets", params={"overdue": "true", "limit": 500})).json()
    assert tid in [t["ticket_id"] for t in listed["items"]]
    # Two more rounds of the check (the API runs one every 2 s; these two now) announce
    # nothing again.
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        for _ in range(2):
            again = await overdue_check.check(c)
            assert late["action_id"] not in [e.data.get("action_id") for e in again]
    history = (await operator.get(f"/v1/tickets/{tid}/history")).json()
    assert [h["event"] for h in history].count("action_overdue") == 1
    overdue = [d for kind, d in await webhook_events(api_server, tid) if kind == "ticket.overdue"]
    assert [(d["action_id"], d["owner"]) for d in overdue] == [(late["action_id"], "zhang.min")]
    await done(operator, tid, late["action_id"])
    assert not (await detail(operator, tid))["overdue"]


async def test_an_enterprise_key_works_its_own_tickets_and_gets_404_for_others(
    api_server: ApiServer,
    operator: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
    tenant_b: httpx.AsyncClient,
    unique: str,
) -> None:
    subject = f"M-tenant-{unique}"
    tid = await opened(api_server, operator, subject, enterprise=ENTERPRISE_A)
    park_wide = await opened(api_server, operator, f"U-{unique}", enterprise=None)
    moved = await move(tenant_a, tid, {"to": "contained", "containment": "by the tenant"})
    assert moved["enterprise_id"] == ENTERPRISE_A
    for path in (f"/v1/tickets/{tid}", f"/v1/tickets/{tid}/history"):
        assert (await tenant_b.get(path)).status_code == 404
        assert (await tenant_a.get(path.replace(str(tid), str(park_wide)))).status_code == 404
    writes = [
        ("transitions", {"to": "dismissed", "reason": "not ours"}),
        ("comments", {"body": "hello"}),
        ("links", {"url": "https://example.com/x"}),
    ]
    for part, body in writes:
        assert (await tenant_b.post(f"/v1/tickets/{tid}/{part}", json=body)).status_code == 404
    listed_b = (await tenant_b.get("/v1/tickets", params={"subject_id": subject})).json()
    assert listed_b["items"] == []
    forced = await tenant_b.get("/v1/tickets", params={"enterprise_id": ENTERPRISE_A})
    assert all(t["enterprise_id"] == ENTERPRISE_B for t in forced.json()["items"])
    assert (await detail(operator, tid))["state"] == "contained"
    assert (await detail(operator, park_wide))["enterprise_id"] is None


async def test_an_unknown_ticket_is_404_and_a_bad_id_is_422(operator: httpx.AsyncClient) -> None:
    assert (await operator.get("/v1/tickets/999999999999")).status_code == 404
    assert (await operator.get("/v1/tickets/abc")).status_code == 422
    assert (await operator.get("/v1/tickets/99999999999999999999")).status_code == 422


async def test_input_the_database_cannot_hold_is_refused_with_422(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    tid = await opened(api_server, operator, f"M-input-{unique}")
    nul = await operator.post(f"/v1/tickets/{tid}/comments", json={"body": "a\x00b"})
    assert nul.status_code == 422 and "NUL" in nul.text
    await move(operator, tid, {"to": "contained", "containment": "x"})
    await move(operator, tid, {"to": "cause_identified", **CAUSE})
    for due in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "not a date"):
        r = await operator.post(
            f"/v1/tickets/{tid}/actions", json={"description": "x", "owner": "y", "due_at": due}
        )
        assert r.status_code == 422, due
    r = await operator.get("/v1/tickets", params={"subject_id": "M\x00"})
    assert r.status_code == 422
    assert (
        await operator.patch(f"/v1/tickets/{tid}/actions/1", json={"done": "yes"})
    ).status_code == 422
    assert (await detail(operator, tid))["comments"] == []
