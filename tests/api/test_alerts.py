"""``/v1/alerts`` on the real server (clause 9.1 b): alerts stored by the consumer, filtered and
paginated, acknowledged once, and visible only within the key's tenancy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from accounting.alerting import AlertState
from accounting.deviation import Rule
from tests.api.conftest import ENTERPRISE_A, PARK, ApiServer
from tests.api.test_tickets import HOUR_MS, T0, eventually, make_alert, produce, wait_ticket

pytestmark = pytest.mark.integration


async def alerts(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get("/v1/alerts", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_alerts_are_filtered_by_state_rule_and_subject_and_paginated_newest_first(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    subject = f"M-list-{unique}"
    first = make_alert(subject)
    second = make_alert(subject, first=T0 + 10 * HOUR_MS)
    other_rule = make_alert(subject, rule=Rule.COMPLETENESS_LOW)
    await produce(
        api_server,
        first,
        make_alert(subject, state=AlertState.RESOLVED, window=T0 + HOUR_MS),
        second,
        other_rule,
    )

    async def all_stored() -> dict[str, Any] | None:
        found = await alerts(operator, subject_id=subject)
        states = {a["alert_id"]: a["state"] for a in found["items"]}
        return found if len(states) == 3 and states[first.alert_id] == "RESOLVED" else None

    everything = await eventually(all_stored, "three alerts, the first resolved")
    assert {a["alert_id"] for a in everything["items"]} == {
        first.alert_id,
        second.alert_id,
        other_rule.alert_id,
    }
    opened = await alerts(operator, subject_id=subject, state="open", rule="EMISSIONS_ABOVE_TARGET")
    assert [a["alert_id"] for a in opened["items"]] == [second.alert_id]
    resolved = await alerts(operator, subject_id=subject, state="resolved")
    assert [a["alert_id"] for a in resolved["items"]] == [first.alert_id]
    assert resolved["items"][0]["resolved_at"] is not None

    seen, cursor = [], None
    while True:
        page = await alerts(
            operator, subject_id=subject, limit=1, **({"cursor": cursor} if cursor else {})
        )
        seen += [a["alert_id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["alert_id"] for a in everything["items"]]  # same order, no repeats
    raised = [a["first_raised_at"] for a in everything["items"]]
    assert raised == sorted(raised, reverse=True)


async def test_a_bad_filter_or_cursor_is_422(operator: httpx.AsyncClient) -> None:
    for params in ({"state": "closed"}, {"rule": "NOPE"}, {"limit": 0}, {"limit": 501}):
        assert (await operator.get("/v1/alerts", params=params)).status_code == 422, params
    r = await operator.get("/v1/alerts", params={"cursor": "nonsense"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "invalid cursor 'nonsense'"
    assert (await operator.get("/v1/alerts/not-a-uuid")).status_code == 422
    unknown = "00000000-0000-0000-0000-000000000000"
    assert (await operator.get(f"/v1/alerts/{unknown}")).status_code == 404
    assert (await operator.post(f"/v1/alerts/{unknown}/ack")).status_code == 404


async def test_an_acknowledgement_records_who_and_when_once(
    api_server: ApiServer, operator: httpx.AsyncClient, admin: httpx.AsyncClient, unique: str
) -> None:
    alert = make_alert(f"M-ack-{unique}")
    await produce(api_server, alert)
    await wait_ticket(operator, alert.subject_id)
    first = await operator.post(f"/v1/alerts/{alert.alert_id}/ack")
    assert first.status_code == 200, first.text
    assert first.json()["acked_by"].startswith("key:") and first.json()["acked_at"]
    again = await admin.post(f"/v1/alerts/{alert.alert_id}/ack")
    assert again.status_code == 200
    assert (again.json()["acked_by"], again.json()["acked_at"]) == (
        first.json()["acked_by"],
        first.json()["acked_at"],
    )
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) FROM audit_log WHERE entity = 'alert' AND action = 'ack'"
                " AND entity_id = %s",
                (alert.alert_id,),
            )
        ).fetchone()
    assert row == (1,)


async def test_an_enterprise_key_sees_only_its_own_alerts_and_cannot_acknowledge(
    api_server: ApiServer,
    operator: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
    tenant_b: httpx.AsyncClient,
    unique: str,
) -> None:
    own = make_alert(f"M-own-{unique}", enterprise=ENTERPRISE_A)
    unknown_meter = make_alert(f"U-{unique}", enterprise=None, rule=Rule.UNKNOWN_METER)
    await produce(api_server, own, unknown_meter)
    await wait_ticket(operator, unknown_meter.subject_id)
    await wait_ticket(operator, own.subject_id)
    assert (await tenant_a.get(f"/v1/alerts/{own.alert_id}")).status_code == 200
    assert (await tenant_b.get(f"/v1/alerts/{own.alert_id}")).status_code == 404
    # An alert without an enterprise is park-wide: no enterprise key sees it.
    assert (await tenant_a.get(f"/v1/alerts/{unknown_meter.alert_id}")).status_code == 404
    assert (await operator.get(f"/v1/alerts/{unknown_meter.alert_id}")).status_code == 200
    assert (await alerts(tenant_b, subject_id=own.subject_id))["items"] == []
    assert (await alerts(tenant_a, subject_id=unknown_meter.subject_id))["items"] == []
    listed = await alerts(tenant_a, limit=500)
    assert listed["items"] and all(a["enterprise_id"] == ENTERPRISE_A for a in listed["items"])
    # Acknowledging is for park staff (alerts:write): enterprise and auditor keys get 403.
    for client in (tenant_a, auditor):
        r = await client.post(f"/v1/alerts/{own.alert_id}/ack")
        assert r.status_code == 403 and r.json()["required"] == "alerts:write"


async def test_a_request_without_a_key_is_401(anonymous: httpx.AsyncClient) -> None:
    for path in ("/v1/alerts", "/v1/tickets"):
        assert (await anonymous.get(path)).status_code == 401


async def test_a_parks_alerts_and_tickets_include_its_park_wide_ones_and_no_other_parks(
    api_server: ApiServer, operator: httpx.AsyncClient, tenant_a: httpx.AsyncClient, unique: str
) -> None:
    """What the live page lists for a park: its enterprises' alerts, and the park-wide ones no
    enterprise owns (a meter outside the registry), which a per-enterprise filter never shows."""
    elsewhere_park, elsewhere = f"P-other-{unique}", f"E-other-{unique}"
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'other', 'Asia/Shanghai')",
            (elsewhere_park,),
        )
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'other')",
            (elsewhere, elsewhere_park),
        )
    own = make_alert(f"M-park-own-{unique}", enterprise=ENTERPRISE_A)
    unknown_meter = make_alert(f"U-park-{unique}", enterprise=None, rule=Rule.UNKNOWN_METER)
    other = make_alert(f"M-park-other-{unique}", enterprise=elsewhere)
    await produce(api_server, own, unknown_meter, other)
    for alert in (own, unknown_meter, other):
        await wait_ticket(operator, alert.subject_id)

    async def listed(client: httpx.AsyncClient, path: str, subject: str) -> int:
        r = await client.get(path, params={"park_id": PARK, "subject_id": subject})
        assert r.status_code == 200, r.text
        return len(r.json()["items"])

    for path in ("/v1/alerts", "/v1/tickets"):
        assert await listed(operator, path, own.subject_id) == 1
        assert await listed(operator, path, unknown_meter.subject_id) == 1
        assert await listed(operator, path, other.subject_id) == 0, path
        # Tenancy still applies: an enterprise key never sees the park-wide ones.
        assert await listed(tenant_a, path, unknown_meter.subject_id) == 0
        assert await listed(tenant_a, path, own.subject_id) == 1
    r = await operator.get("/v1/alerts", params={"park_id": "no park!"})
    assert r.status_code == 422 and "park_id" in r.text
