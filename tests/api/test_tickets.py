"""The alerts consumer of the real API server (clauses 9.1 b, 10.1): alert messages produced to
the API's own alerts topic on the real broker become alerts, tickets and occurrences in the
real database, once each, whatever is replayed or malformed around them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection

from accounting.alerting import AlertState
from accounting.deviation import CauseCategory, Rule
from accounting.window_figures import SubjectKind
from contracts.alerts import Alert, alert_id, alert_key, encode_alert
from contracts.topics import Topic, topic_name
from tests.api.conftest import ENTERPRISE_A, ApiServer

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
T = TypeVar("T")
WAIT_S = 30.0  # bounded wait for the consumer (a new consumer group joins within seconds)


def make_alert(
    subject: str,
    *,
    state: AlertState = AlertState.RAISED,
    first: int = T0,
    window: int | None = None,
    enterprise: str | None = ENTERPRISE_A,
    rule: Rule = Rule.EMISSIONS_ABOVE_TARGET,
    measured: float = 1.5,
) -> Alert:
    """One step of the alert of ``subject`` that started in window ``first`` (1 h windows)."""
    start = first if window is None else window
    return Alert(
        alert_id=alert_id(rule, SubjectKind.METER, subject, 3600, first),
        rule=rule,
        subject_kind=SubjectKind.METER,
        subject_id=subject,
        enterprise_id=enterprise,
        width_s=3600,
        first_window_start_ms=first,
        window_start_ms=start,
        window_end_ms=start + HOUR_MS,
        measured=measured,
        expected=1.0,
        unit="tCO2e",
        tolerance=0.1,
        cause=CauseCategory.OTHER,
        message=f"meter {subject}: emissions above target: measured {measured} tCO2e",
        state=state,
        raised_at_ms=start + HOUR_MS + 5_000,
    )


async def produce(server: ApiServer, *messages: Alert | bytes) -> None:
    """Send to the API's alerts topic, in order, on one partition (one subject key)."""
    topic = topic_name(Topic.ALERTS, server.settings.topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=server.settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for m in messages:
            if isinstance(m, Alert):
                await producer.send_and_wait(topic, encode_alert(m), key=alert_key(m))
            else:
                await producer.send_and_wait(topic, m, key=b"meter:garbage", partition=0)
    finally:
        await producer.stop()


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {WAIT_S} s: {what}")


async def webhook_events(server: ApiServer, ticket_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The events the outbox holds for a ticket, in the order they were queued."""
    async with await AsyncConnection.connect(server.database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT event_type, body::jsonb -> 'data' FROM webhook_message"
                " WHERE (body::jsonb -> 'data' ->> 'ticket_id')::bigint = %s"
                " ORDER BY created_at, message_id",
                (ticket_id,),
            )
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


async def tickets_of(client: httpx.AsyncClient, subject: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/tickets", params={"subject_id": subject})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def detail(client: httpx.AsyncClient, ticket_id: int) -> dict[str, Any]:
    r = await client.get(f"/v1/tickets/{ticket_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def wait_ticket(
    client: httpx.AsyncClient, subject: str, *, occurrences: int = 1, count: int = 1
) -> dict[str, Any]:
    """The newest ticket of ``subject`` once ``count`` tickets exist and it has ``occurrences``."""

    async def probe() -> dict[str, Any] | None:
        found = await tickets_of(client, subject)
        if len(found) < count:
            return None
        newest = await detail(client, found[0]["ticket_id"])
        return newest if len(newest["occurrences"]) >= occurrences else None

    return await eventually(probe, f"{count} ticket(s) of {subject} with {occurrences} step(s)")


async def test_a_raised_alert_opens_a_ticket_with_the_alert_as_its_first_occurrence(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    subject = f"M-open-{unique}"
    alert = make_alert(subject)
    await produce(api_server, alert)
    ticket = await wait_ticket(operator, subject)
    assert ticket["state"] == "open"
    assert ticket["allowed_transitions"] == ["contained", "dismissed"]
    assert (ticket["rule"], ticket["subject_kind"], ticket["enterprise_id"]) == (
        "EMISSIONS_ABOVE_TARGET",
        "meter",
        ENTERPRISE_A,
    )
    assert ticket["suggested_cause"] == "other"
    [step] = ticket["occurrences"]
    assert (step["alert_id"], step["alert_state"], step["measured"]) == (
        alert.alert_id,
        "RAISED",
        1.5,
    )
    assert step["window_start"].startswith("2026-01-01T00:00:00")
    assert [h["event"] for h in ticket["history"]] == ["opened", "occurrence"]
    assert all(h["actor"] == "system:alerts-consumer" for h in ticket["history"])
    stored = (await operator.get(f"/v1/alerts/{alert.alert_id}")).json()
    assert (stored["state"], stored["ticket_id"]) == ("RAISED", ticket["ticket_id"])


async def test_repeated_alerts_for_one_rule_and_subject_attach_to_one_ticket(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    subject = f"M-repeat-{unique}"
    first = make_alert(subject)
    second_start = T0 + 5 * HOUR_MS  # the condition came back: a new alert, same rule, same meter
    await produce(
        api_server,
        first,
        make_alert(subject, state=AlertState.UPDATED, window=T0 + HOUR_MS, measured=1.7),
        make_alert(subject, state=AlertState.RESOLVED, window=T0 + HOUR_MS, measured=1.7),
        make_alert(subject, first=second_start),
    )
    ticket = await wait_ticket(operator, subject, occurrences=4)
    assert len(await tickets_of(operator, subject)) == 1
    steps = [(o["alert_id"], o["alert_state"]) for o in ticket["occurrences"]]
    second_id = make_alert(subject, first=second_start).alert_id
    assert steps == [
        (first.alert_id, "RAISED"),
        (first.alert_id, "UPDATED"),
        (first.alert_id, "RESOLVED"),
        (second_id, "RAISED"),
    ]
    # The RESOLVED step recorded that the condition cleared; the new alert un-cleared it, and
    # none of it moved the ticket: only people close tickets.
    events = [h["event"] for h in ticket["history"]]
    assert events.count("condition_cleared") == 1
    assert ticket["state"] == "open" and ticket["condition_cleared_at"] is None
    # Duty staff hear of each alert once when it opens and once when it resolves (outbox).
    queued = await webhook_events(api_server, ticket["ticket_id"])
    assert [(kind, data["alert"]["alert_id"]) for kind, data in queued] == [
        ("alert.opened", first.alert_id),
        ("alert.resolved", first.alert_id),
        ("alert.opened", second_id),
    ]
    assert [data["ticket_opened"] for _, data in queued] == [True, False, False]
    resolved = (await operator.get(f"/v1/alerts/{first.alert_id}")).json()
    assert resolved["state"] == "RESOLVED" and resolved["resolved_at"] is not None


async def test_a_resolved_alert_marks_the_condition_cleared_without_closing_the_ticket(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    subject = f"M-clear-{unique}"
    await produce(api_server, make_alert(subject), make_alert(subject, state=AlertState.RESOLVED))
    ticket = await wait_ticket(operator, subject, occurrences=2)
    assert ticket["state"] == "open"
    assert ticket["condition_cleared_at"].startswith("2026-01-01T01:00:05")  # the step's time


async def test_a_replayed_message_creates_nothing_new(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    subject = f"M-replay-{unique}"
    alert = make_alert(subject)
    await produce(api_server, alert)
    before = await wait_ticket(operator, subject)
    # The same step again, twice, then a later step as a marker that the replays were consumed.
    marker = make_alert(subject, state=AlertState.UPDATED, window=T0 + HOUR_MS)
    await produce(api_server, alert, alert, marker)
    after = await wait_ticket(operator, subject, occurrences=2)
    assert len(await tickets_of(operator, subject)) == 1
    assert [o["alert_state"] for o in after["occurrences"]] == ["RAISED", "UPDATED"]
    assert len(after["history"]) == len(before["history"]) + 1  # the marker's occurrence only
    queued = await webhook_events(api_server, after["ticket_id"])
    assert [kind for kind, _ in queued] == ["alert.opened"]


async def test_a_malformed_message_is_recorded_and_the_next_one_is_still_processed(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    subject = f"M-after-bad-{unique}"
    not_json = f"not json {unique}".encode()
    bad_field = encode_alert(make_alert(f"M-bad-{unique}")).replace(
        b'"measured":1.5', b'"measured":"1.5"'
    )
    await produce(api_server, not_json, bad_field, make_alert(subject))
    await wait_ticket(operator, subject)
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT payload, reason, topic FROM alert_rejected WHERE payload IN (%s, %s)"
                " ORDER BY rejected_id",
                (not_json, bad_field),
            )
        ).fetchall()
    assert [bytes(r[0]) for r in rows] == [not_json, bad_field]
    assert rows[0][1].startswith("alert is not JSON")
    assert rows[1][1].startswith("alert field measured is invalid: '1.5'")
    assert rows[0][2] == topic_name(Topic.ALERTS, api_server.settings.topic_prefix)
    assert not await tickets_of(operator, f"M-bad-{unique}")
    metrics = (await operator.get("/metrics")).text
    rejected = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("parkcarbon_api_alerts_rejected_total")
    )
    assert rejected >= 2
    health = (await operator.get("/healthz")).json()
    assert health["components"]["task:alerts"]["status"] == "up"


async def test_after_a_ticket_is_closed_a_new_raised_alert_opens_a_new_ticket(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    subject = f"M-reopen-{unique}"
    await produce(api_server, make_alert(subject))
    first = await wait_ticket(operator, subject)
    await close_ticket(operator, first["ticket_id"])
    # The old alert still reporting: recorded on its closed ticket, which stays closed.
    await produce(api_server, make_alert(subject, state=AlertState.UPDATED, window=T0 + HOUR_MS))
    closed = await wait_ticket(operator, subject, occurrences=2)
    assert closed["ticket_id"] == first["ticket_id"] and closed["state"] == "closed"
    later = make_alert(subject, first=T0 + 48 * HOUR_MS)
    await produce(api_server, later)
    second = await wait_ticket(operator, subject, count=2)
    assert second["ticket_id"] > first["ticket_id"] and second["state"] == "open"
    assert [o["alert_id"] for o in second["occurrences"]] == [later.alert_id]
    assert len((await detail(operator, first["ticket_id"]))["occurrences"]) == 2


async def test_a_dismissed_false_positive_that_still_holds_does_not_come_back(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    subject = f"M-false-{unique}"
    await produce(api_server, make_alert(subject))
    ticket = await wait_ticket(operator, subject)
    r = await operator.post(
        f"/v1/tickets/{ticket['ticket_id']}/transitions",
        json={"to": "dismissed", "reason": "meter under test"},
    )
    assert r.status_code == 200, r.text
    steps = [make_alert(subject, state=AlertState.UPDATED, window=T0 + n * HOUR_MS) for n in (1, 2)]
    await produce(api_server, *steps)
    dismissed = await wait_ticket(operator, subject, occurrences=3)
    assert dismissed["state"] == "dismissed"
    assert len(await tickets_of(operator, subject)) == 1


async def close_ticket(client: httpx.AsyncClient, ticket_id: int) -> None:
    """Walk a ticket along the workflow to closed (the happy path)."""

    async def move(body: dict[str, Any]) -> None:
        r = await client.post(f"/v1/tickets/{ticket_id}/transitions", json=body)
        assert r.status_code == 200, r.text

    await move({"to": "contained", "containment": "load shed on line 2"})
    await move(
        {
            "to": "cause_identified",
            "cause_category": "other",
            "root_cause": "furnace 3 ran on a double shift",
            "similar_nonconformities": "furnaces 1 and 2 checked: none",
        }
    )
    r = await client.post(
        f"/v1/tickets/{ticket_id}/actions",
        json={"description": "roster change", "owner": "li.wei", "due_at": "2030-01-01T00:00:00Z"},
    )
    assert r.status_code == 201, r.text
    await move({"to": "action_in_progress"})
    done = await client.patch(
        f"/v1/tickets/{ticket_id}/actions/{r.json()['action_id']}", json={"done": True}
    )
    assert done.status_code == 200, done.text
    await move({"to": "effectiveness_check"})
    await move({"to": "closed", "effectiveness_review": "two weeks on target"})
