"""Incidents (clauses 9.1 b, 10.1): when a park's gateways stop for half an hour, the next hour
window finds every meter behind them short of readings. Each meter raises its COMPLETENESS_LOW
alert, as the standard asks of a record (9.1 b), but the duty staff work one ticket per stopped
gateway, listing its meters with their figures, and get one message per gateway, not per meter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from psycopg import AsyncConnection

from accounting.deviation import Rule
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, PARK, ApiServer
from tests.api.test_tickets import HOUR_MS, T0, eventually, make_alert, produce, webhook_events

pytestmark = pytest.mark.integration

# The outage: the gateways' last readings half an hour into the window before it.
LAST_READING = datetime.fromtimestamp(T0 / 1000, UTC) - timedelta(minutes=30)


async def _meters(server: ApiServer, ways: dict[str, str | None]) -> None:
    """Register each meter (spread over two enterprises) and store the reading that came
    through its gateway before the outage (none for a meter mapped to None)."""
    async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        for i, (meter, gateway) in enumerate(ways.items()):
            await conn.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
                " 'purchased_electricity')",
                (meter, ENTERPRISE_A if i % 2 else ENTERPRISE_B),
            )
            if gateway is not None:
                await conn.execute(
                    "INSERT INTO reading (meter_id, ts, value, unit, source, gateway_id, seq)"
                    " VALUES (%s, %s, 100, 'kWh', 'modbus', %s, 1)",
                    (meter, LAST_READING, gateway),
                )


async def test_stopped_gateways_make_one_incident_and_one_message_each_not_one_per_meter(
    api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    gw_a, gw_b = f"gw-a-{unique}", f"gw-b-{unique}"
    ways: dict[str, str | None] = {f"M-inc-a{i}-{unique}": gw_a for i in range(24)}
    ways |= {f"M-inc-b{i}-{unique}": gw_b for i in range(9)}
    never = f"M-inc-never-{unique}"  # registered, never read: no known way, its own ticket
    ways[never] = None
    await _meters(api_server, ways)
    window = T0 + HOUR_MS  # the first hour window after the gateways came back
    alerts = {
        meter: make_alert(
            meter,
            rule=Rule.COMPLETENESS_LOW,
            first=window,
            enterprise=ENTERPRISE_A if i % 2 else ENTERPRISE_B,
            measured=0.5,
        )
        for i, meter in enumerate(ways)
    }
    await produce(api_server, *alerts.values())

    ids = [a.alert_id for a in alerts.values()]

    async def all_attached() -> list[tuple[str, int]] | None:
        async with await AsyncConnection.connect(api_server.database_url) as conn:
            rows = await (
                await conn.execute(
                    "SELECT alert_id::text, ticket_id FROM ticket_occurrence"
                    " WHERE alert_id = ANY(%s::uuid[])",
                    (ids,),
                )
            ).fetchall()
        return rows if len(rows) == len(ids) else None

    attached = dict(await eventually(all_attached, "every alert on a ticket"))
    by_ticket: dict[int, set[str]] = {}
    for meter, alert in alerts.items():
        by_ticket.setdefault(attached[alert.alert_id], set()).add(meter)
    assert len(by_ticket) == 3  # gateway a, gateway b, and the meter never read

    r = await operator.get("/v1/tickets", params={"park_id": PARK, "rule": "COMPLETENESS_LOW"})
    assert r.status_code == 200, r.text
    listed = {k["ticket_id"]: k for k in r.json()["items"] if k["ticket_id"] in by_ticket}
    assert len(listed) == 3
    subjects = {(k["subject_kind"], k["subject_id"]): tid for tid, k in listed.items()}
    assert set(subjects) == {("gateway", gw_a), ("gateway", gw_b), ("meter", never)}
    assert by_ticket[subjects[("gateway", gw_a)]] == {m for m, g in ways.items() if g == gw_a}
    assert by_ticket[subjects[("gateway", gw_b)]] == {m for m, g in ways.items() if g == gw_b}
    assert listed[subjects[("gateway", gw_a)]]["enterprise_id"] is None  # the park's ticket

    # The ticket lists its members with their figures.
    detail = (await operator.get(f"/v1/tickets/{subjects[('gateway', gw_b)]}")).json()
    members = {o["alert_id"]: o for o in detail["occurrences"]}
    assert set(members) == {alerts[m].alert_id for m, g in ways.items() if g == gw_b}
    assert {(o["measured"], o["expected"]) for o in members.values()} == {(0.5, 1.0)}

    # One message per incident: the first member's, which names the gateway.
    for gateway in (gw_a, gw_b):
        events = await webhook_events(api_server, subjects[("gateway", gateway)])
        opened = [data for kind, data in events if kind == "alert.opened"]
        assert len(opened) == 1, events
        assert opened[0]["incident"]["subject_id"] == gateway
        assert gateway in opened[0]["summary"]
    alone = await webhook_events(api_server, subjects[("meter", never)])
    assert [kind for kind, _ in alone].count("alert.opened") == 1
