"""The one writer of the alert row (clause 9.1 b), for the worker and the API alike.

An alert row is keyed by its deterministic id; a step replaces the stored one only if it is
later in the alert's life (a later window, or the same window further along RAISED -> UPDATED
-> RESOLVED), so a replayed or reordered step never winds an alert back, and each change of
state (a new alert, or a resolution) is audited once (7.3) by whichever process stores it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection

from accounting.alerting import AlertState
from contracts.alerts import Alert
from contracts.records import ms_to_iso
from store import audit

_UPSERT = """
INSERT INTO alert AS a (alert_id, rule, subject_kind, subject_id, enterprise_id, width_s,
    first_window_start, window_start, window_end, measured, expected, unit, tolerance, cause,
    message, state, first_raised_at, last_updated_at, resolved_at)
VALUES (%(alert_id)s, %(rule)s, %(subject_kind)s, %(subject_id)s, %(enterprise_id)s, %(width_s)s,
    %(first_window_start)s, %(window_start)s, %(window_end)s, %(measured)s, %(expected)s,
    %(unit)s, %(tolerance)s, %(cause)s, %(message)s, %(state)s, %(raised_at)s, %(raised_at)s,
    CASE WHEN %(state)s = 'RESOLVED' THEN %(raised_at)s::timestamptz END)
ON CONFLICT (alert_id) DO UPDATE SET
    window_start = excluded.window_start, window_end = excluded.window_end,
    measured = excluded.measured, expected = excluded.expected, unit = excluded.unit,
    tolerance = excluded.tolerance, cause = excluded.cause, message = excluded.message,
    state = excluded.state, resolved_at = excluded.resolved_at,
    last_updated_at = greatest(a.first_raised_at, excluded.last_updated_at)
WHERE (excluded.window_start, array_position(%(order)s::text[], excluded.state))
    > (a.window_start, array_position(%(order)s::text[], a.state))
RETURNING (SELECT state FROM alert WHERE alert_id = %(alert_id)s) AS before, a.state
"""
_ORDER = [s.value for s in (AlertState.RAISED, AlertState.UPDATED, AlertState.RESOLVED)]


def alert_params(alert: Alert) -> dict[str, Any]:
    """The alert as the row's columns (times as ISO 8601 UTC text)."""
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule.value,
        "subject_kind": alert.subject_kind.value,
        "subject_id": alert.subject_id,
        "enterprise_id": alert.enterprise_id,
        "width_s": alert.width_s,
        "first_window_start": ms_to_iso(alert.first_window_start_ms),
        "window_start": ms_to_iso(alert.window_start_ms),
        "window_end": ms_to_iso(alert.window_end_ms),
        "measured": alert.measured,
        "expected": alert.expected,
        "unit": alert.unit,
        "tolerance": alert.tolerance,
        "cause": alert.cause.value,
        "message": alert.message,
        "state": alert.state.value,
        "raised_at": ms_to_iso(alert.raised_at_ms),
    }


def _audited(before: str | None, after: str) -> str | None:
    """The audit action of a stored step: raise, resolve, or None (figures refreshed only)."""
    if before == after or not (before is None or after == AlertState.RESOLVED):
        return None
    return "raise" if before is None else "resolve"


def _entry(alert: Alert, before: str | None, after: str) -> dict[str, Any]:
    return {
        "entity": "alert",
        "entity_id": alert.alert_id,
        "before": None if before is None else {"state": before},
        "after": {"state": after, "message": alert.message},
    }


def upsert_alerts(
    conn: psycopg.Connection[Any], *, alerts: Sequence[Alert], actor: str = "deviation-agent"
) -> int:
    """Store each alert step (the worker); returns how many rows it inserted or moved forward
    (0 on replay). A change of state is audited in the same transaction."""
    changed = 0
    with conn.transaction():
        for alert in alerts:
            row = conn.execute(_UPSERT, {**alert_params(alert), "order": _ORDER}).fetchone()
            if row is None:
                continue
            changed += 1
            before, after = row
            if (action := _audited(before, after)) is not None:
                audit.record(conn, actor=actor, action=action, **_entry(alert, before, after))
    return changed


async def upsert_alert(conn: AsyncConnection[Any], *, alert: Alert, actor: str) -> bool:
    """Store one alert step in the caller's transaction (the API's alert consumer: the worker
    usually stored it already, and then this changes nothing); whether it changed the row."""
    cur = await conn.execute(_UPSERT, {**alert_params(alert), "order": _ORDER})
    row = await cur.fetchone()
    if row is None:
        return False
    before, after = row
    if (action := _audited(before, after)) is not None:
        await audit.record_async(conn, actor=actor, action=action, **_entry(alert, before, after))
    return True
