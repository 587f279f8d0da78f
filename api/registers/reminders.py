"""Reminders of the registers: a review or due date that has passed raises its webhook event
once (clauses 4.1, 4.2 and every register with a date to keep: 9.1 c, 9.3, 9.5...).

Each ``RegisterSpec`` declares its reminding date columns (``Reminder``: column, date kind,
event type). Every ``CHECK_INTERVAL_S`` the check finds the records in ``Reminder.statuses``
(active, or a workflow's open states) whose date has passed - the day has ended in the park's
time zone - and that have no row in ``register_reminder`` for (register, record, date kind,
date), writes that row and queues the event through the webhook outbox
(``api.webhooks.outbox.enqueue``, as the tickets' overdue check does) in one transaction. The
row's primary key makes the announcement happen once, whatever the number of API processes or
restarts; moving the date on (the next review) reminds again when the new date passes. A
database outage is logged and retried on the next round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout

from api.registers.catalogue import DATED
from api.registers.spec import RegisterSpec, Reminder
from api.state import AppState
from api.webhooks import outbox

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 60.0  # dates are days: a minute late is on time
BATCH = 500

Clock = Callable[[], datetime]

_DUE = """
SELECT r.record_id, r.park_id, r.enterprise_id, r.{col} AS due_on, r.{title} AS title
FROM {table} r JOIN park p ON p.park_id = r.park_id
WHERE r.status = ANY(%(statuses)s) AND {pending}
  AND (r.{col} + 1)::timestamp AT TIME ZONE p.timezone <= %(now)s
  AND NOT EXISTS (SELECT 1 FROM register_reminder m
                  WHERE m.register = %(register)s AND m.record_id = r.record_id
                    AND m.date_kind = %(kind)s AND m.due_on = r.{col})
ORDER BY r.{col}, r.record_id
LIMIT %(batch)s
"""
_CLAIM = """
INSERT INTO register_reminder (register, record_id, date_kind, due_on)
VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING notified_at
"""


def _now() -> datetime:
    return datetime.now(UTC)


async def run(state: AppState, clock: Clock = _now) -> None:
    while True:
        try:
            async with state.pool.connection(timeout=10) as conn:
                await check(conn, DATED, now=clock())
        except (psycopg.OperationalError, PoolTimeout, OSError) as exc:
            log.warning("register reminders: %r; trying again in %.0f s", exc, CHECK_INTERVAL_S)
        await asyncio.sleep(CHECK_INTERVAL_S)


async def check(
    conn: AsyncConnection[Any], registers: Sequence[RegisterSpec], *, now: datetime
) -> int:
    """Announce every date of ``registers`` that has passed at ``now`` and was not announced
    yet; the number of events queued."""
    queued = 0
    for spec in registers:
        for reminder in spec.reminders:
            queued += await _check_one(conn, spec, reminder, now=now)
    return queued


async def _check_one(
    conn: AsyncConnection[Any], spec: RegisterSpec, reminder: Reminder, *, now: datetime
) -> int:
    query = sql.SQL(_DUE).format(
        col=sql.Identifier(reminder.column),
        title=sql.Identifier(spec.title_column),
        table=sql.Identifier(spec.table),
        pending=sql.SQL("TRUE")
        if reminder.only_when is None
        else sql.SQL("r.{} = ANY(%(pending)s)").format(sql.Identifier(reminder.only_when[0])),
    )
    params = {
        "now": now,
        "register": spec.name,
        "kind": reminder.date_kind,
        "batch": BATCH,
        "statuses": list(reminder.statuses),
        "pending": None if reminder.only_when is None else list(reminder.only_when[1]),
    }
    queued = 0
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        for row in await cur.fetchall():
            claim = (spec.name, row["record_id"], reminder.date_kind, row["due_on"])
            await cur.execute(_CLAIM, claim)
            if await cur.fetchone() is None:
                continue  # another process announced it meanwhile
            await outbox.enqueue(
                conn,
                event_type=reminder.event.value,
                payload={
                    "register": spec.name,
                    "record_id": row["record_id"],
                    "date_kind": reminder.date_kind,
                    "due_on": row["due_on"].isoformat(),
                    "title": row["title"],
                    "park_id": row["park_id"],
                    "enterprise_id": row["enterprise_id"],
                },
                enterprise_id=row["enterprise_id"],
            )
            queued += 1
    return queued
