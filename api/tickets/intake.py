"""One alert step into the database: the alert row, its ticket and its occurrence (9.1 b, 10.1).

Called by the alerts consumer inside one transaction per message. Idempotent: a step is
identified by (alert, state, window), and a step already attached to a ticket changes nothing,
so at-least-once delivery with offsets committed after the transaction stores each step once.
A step attaches to the ticket being worked for its (rule, subject) (the partial unique index
``ticket_one_active_idx`` keeps it to one); with none, a step of an alert already seen goes to
that alert's last ticket, and a new alert opens a ticket. A RESOLVED step records that the
condition cleared but never closes the ticket - closing needs the effectiveness review (10.1 d).

Incidents: an alert with a common cause (``accounting.incidents``: a collection rule on a meter
whose readings come through a gateway) is worked on the ticket of its (rule, gateway) instead of
its meter's; its members are that ticket's occurrences. Only the step that opens the incident's
ticket notifies: the next hundred meters behind the same stopped gateway add occurrences and the
page's line, not a hundred messages.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from accounting.alerting import AlertState
from accounting.incidents import CommonCause, common_cause, may_share_cause
from api.live import LiveEvent
from api.tickets.enums import CONSUMER_ACTOR, HistoryEvent, WebhookEvent
from api.tickets.history import append as history
from api.webhooks import outbox
from contracts.alerts import Alert

# The one alert writer, the worker's too: one definition of "a later step supersedes".
from store.alerts import alert_params, upsert_alert

_STEP_SEEN = """
SELECT 1 FROM ticket_occurrence
WHERE alert_id = %(alert_id)s AND alert_state = %(state)s AND window_start = %(window_start)s
"""
_ACTIVE = """
SELECT * FROM ticket WHERE rule = %(rule)s AND subject_kind = %(subject_kind)s
  AND subject_id = %(subject_id)s AND state NOT IN ('closed', 'dismissed')
FOR UPDATE
"""
# A later step of an alert whose ticket was closed or dismissed meanwhile is recorded on that
# ticket: only a new alert (a new RAISED) opens a new ticket, so dismissing a false positive
# that still holds does not bring it back every window.
_HOLDER = """
SELECT t.* FROM ticket t JOIN ticket_occurrence o USING (ticket_id)
WHERE o.alert_id = %(alert_id)s ORDER BY t.ticket_id DESC LIMIT 1 FOR UPDATE OF t
"""
_OPEN = """
INSERT INTO ticket (rule, subject_kind, subject_id, enterprise_id, park_id, title,
                    suggested_cause, opened_at, updated_at)
VALUES (%(rule)s, %(subject_kind)s, %(subject_id)s, %(enterprise_id)s, %(park_id)s, %(title)s,
        %(cause)s, now(), now())
ON CONFLICT (rule, subject_kind, subject_id) WHERE state NOT IN ('closed', 'dismissed')
DO NOTHING
RETURNING *
"""
_ATTACH = """
INSERT INTO ticket_occurrence (ticket_id, alert_id, alert_state, width_s, window_start,
    window_end, measured, expected, unit, cause, message, raised_at)
VALUES (%(ticket_id)s, %(alert_id)s, %(state)s, %(width_s)s, %(window_start)s, %(window_end)s,
    %(measured)s, %(expected)s, %(unit)s, %(cause)s, %(message)s, %(raised_at)s)
"""
# The way a meter's readings take: the gateway of its newest stored reading, and its park.
_WAY = """
SELECT (SELECT r.gateway_id FROM reading r WHERE r.meter_id = m.meter_id
        ORDER BY r.ts DESC LIMIT 1) AS gateway_id, e.park_id
FROM meter m JOIN enterprise e USING (enterprise_id)
WHERE m.meter_id = %s
"""
_HAS = """
SELECT count(*), count(*) FILTER (WHERE alert_state = 'RESOLVED') FROM ticket_occurrence
WHERE alert_id = %s
"""


def alert_json(alert: Alert) -> dict[str, Any]:
    """The alert as webhook and live-feed payloads carry it."""
    p = alert_params(alert)
    p["first_raised_at"] = p.pop("raised_at")
    return p


async def ingest(conn: AsyncConnection[Any], *, alert: Alert) -> list[LiveEvent]:
    """Store one alert step in the caller's transaction; the live events to publish after it
    commits (none when the step was seen before)."""
    params = alert_params(alert)
    await upsert_alert(conn, alert=alert, actor=CONSUMER_ACTOR)
    if await (await conn.execute(_STEP_SEEN, params)).fetchone() is not None:
        return []
    counts = await (await conn.execute(_HAS, (alert.alert_id,))).fetchone()
    seen_before, resolved_before = (counts[0], counts[1]) if counts else (0, 0)
    resolved = alert.state is AlertState.RESOLVED
    incident = await _common_cause(conn, alert)
    # The ticket's subject: the incident's gateway, or the alert's own subject.
    subject = {**params, "park_id": None}
    if incident is not None:
        subject.update(
            subject_kind=incident.subject_kind,
            subject_id=incident.subject_id,
            enterprise_id=None,
            park_id=incident.park_id,
        )
    ticket = await _one(conn, _ACTIVE, subject)
    if ticket is None and seen_before:
        ticket = await _one(conn, _HOLDER, params)
    events: list[LiveEvent] = []
    opened = ticket is None
    if ticket is None:
        ticket = await _open(conn, params=subject)
        events.append(
            await history(
                conn,
                ticket=ticket,
                event=HistoryEvent.OPENED,
                actor=CONSUMER_ACTOR,
                to_state="open",
                detail={"alert_id": alert.alert_id},
            )
        )
    tid = ticket["ticket_id"]
    await conn.execute(_ATTACH, {**params, "ticket_id": tid})
    step = {
        "alert_id": alert.alert_id,
        "alert_state": alert.state.value,
        "window_start": params["window_start"],
        "measured": alert.measured,
        "expected": alert.expected,
        "unit": alert.unit,
    }
    events.append(
        await history(
            conn, ticket=ticket, event=HistoryEvent.OCCURRENCE, actor=CONSUMER_ACTOR, detail=step
        )
    )
    body: dict[str, Any] = {"alert": alert_json(alert), "ticket_id": tid, "ticket_opened": opened}
    if incident is not None:
        body["incident"] = {
            "subject_kind": incident.subject_kind,
            "subject_id": incident.subject_id,
            "park_id": incident.park_id,
        }
    # An incident's members after the first notify nobody: the ticket lists them (a storm of
    # one cause is one message); each member still shows on the page and in the API.
    notify = incident is None or opened
    # The incident's ticket is the park's (a gateway is no enterprise's): so is its message.
    ent = alert.enterprise_id if incident is None else None
    if resolved:
        await conn.execute(
            "UPDATE ticket SET condition_cleared_at = %s, updated_at = now() WHERE ticket_id = %s",
            (params["raised_at"], tid),
        )
        events.append(
            await history(
                conn,
                ticket=ticket,
                event=HistoryEvent.CONDITION_CLEARED,
                actor=CONSUMER_ACTOR,
                detail={"alert_id": alert.alert_id},
            )
        )
        if not resolved_before and incident is None:
            await outbox.enqueue(
                conn, event_type=WebhookEvent.ALERT_RESOLVED.value, payload=body, enterprise_id=ent
            )
    else:
        # The condition is back (or still there): it is no longer cleared.
        await conn.execute(
            "UPDATE ticket SET condition_cleared_at = NULL, updated_at = now()"
            " WHERE ticket_id = %s",
            (tid,),
        )
        if not seen_before and notify:
            await outbox.enqueue(
                conn, event_type=WebhookEvent.ALERT_OPENED.value, payload=body, enterprise_id=ent
            )
    events.append(LiveEvent("alert", alert.enterprise_id, {**body["alert"], "ticket_id": tid}))
    return events


async def _one(
    conn: AsyncConnection[Any], sql: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


async def _common_cause(conn: AsyncConnection[Any], alert: Alert) -> CommonCause | None:
    if not may_share_cause(alert.rule, alert.subject_kind.value):
        return None
    row = await (await conn.execute(_WAY, (alert.subject_id,))).fetchone()
    if row is None:
        return None
    return common_cause(alert.rule, alert.subject_kind.value, row[0], row[1])


async def _open(conn: AsyncConnection[Any], *, params: dict[str, Any]) -> dict[str, Any]:
    title = f"{params['rule']} on {params['subject_kind']} {params['subject_id']}"
    ticket = await _one(conn, _OPEN, {**params, "title": title})
    if ticket is None:  # another consumer opened it between our look and our insert
        ticket = await _one(conn, _ACTIVE, params)
    assert ticket is not None
    return ticket
