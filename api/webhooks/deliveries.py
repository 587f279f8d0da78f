"""Deliveries in the database: the log (deliveries with every attempt), manual redelivery, and
the dispatcher's claim and record steps.

Claiming uses ``FOR UPDATE SKIP LOCKED``, so two API processes never claim the same delivery,
and pushes ``next_attempt_at`` ahead by a lease: a process that dies mid-attempt leaves the
delivery due again once the lease has passed (at-least-once; receivers de-duplicate by
``webhook-id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api.webhooks import ratelimit
from api.webhooks.enums import AttemptOutcome, ChannelKind, DeliveryStatus, Language
from api.webhooks.models import AttemptOut, DeliveryOut

_DELIVERY = (
    "SELECT d.delivery_id, d.message_id, d.endpoint_id, m.event_type, d.status, d.attempts,"
    " CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,"
    " d.created_at, d.finished_at, d.redelivery_of"
    " FROM webhook_delivery d JOIN webhook_message m USING (message_id)"
)


async def _with_attempts(
    conn: AsyncConnection[Any], rows: list[dict[str, Any]]
) -> list[DeliveryOut]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT delivery_id, attempt_no, attempted_at, outcome, response_status, latency_ms,"
            " error, response_excerpt, retry_in_s FROM webhook_attempt"
            " WHERE delivery_id = ANY (%s) ORDER BY delivery_id, attempt_no",
            ([r["delivery_id"] for r in rows],),
        )
        attempts: dict[int, list[AttemptOut]] = {}
        for a in await cur.fetchall():
            attempts.setdefault(a.pop("delivery_id"), []).append(AttemptOut(**a))
    return [DeliveryOut(**r, attempt_log=attempts.get(r["delivery_id"], [])) for r in rows]


async def list_deliveries(
    conn: AsyncConnection[Any],
    *,
    endpoint_id: str,
    status: DeliveryStatus | None,
    before: int | None,
    limit: int,
) -> list[DeliveryOut]:
    """An endpoint's deliveries, newest first, each with its attempts in order."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _DELIVERY + " WHERE d.endpoint_id = %(ep)s"
            " AND (%(status)s::text IS NULL OR d.status = %(status)s)"
            " AND (%(before)s::bigint IS NULL OR d.delivery_id < %(before)s)"
            " ORDER BY d.delivery_id DESC LIMIT %(limit)s",
            {"ep": endpoint_id, "status": status, "before": before, "limit": limit},
        )
        rows = await cur.fetchall()
    return await _with_attempts(conn, rows)


async def get_delivery(conn: AsyncConnection[Any], *, delivery_id: int) -> DeliveryOut | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_DELIVERY + " WHERE d.delivery_id = %s", (delivery_id,))
        rows = await cur.fetchall()
    found = await _with_attempts(conn, rows)
    return found[0] if found else None


async def redeliver(conn: AsyncConnection[Any], *, delivery_id: int) -> int:
    """A new pending delivery of the same message (same ``webhook-id``) to the same endpoint."""
    cur = await conn.execute(
        "INSERT INTO webhook_delivery (message_id, endpoint_id, redelivery_of)"
        " SELECT message_id, endpoint_id, delivery_id FROM webhook_delivery"
        " WHERE delivery_id = %s RETURNING delivery_id",
        (delivery_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this process is attempting now."""

    delivery_id: int
    attempt_no: int
    message_id: str
    body: str
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]  # current first, then the previous one during its grace period
    kind: ChannelKind = ChannelKind.STANDARD
    channel_config: dict[str, Any] = field(default_factory=dict)
    language: Language | None = None


_CLAIM = """
UPDATE webhook_delivery d
   SET attempts = d.attempts + 1, next_attempt_at = %(now)s + make_interval(secs => %(lease)s)
  FROM webhook_message m, webhook_endpoint e
 WHERE d.delivery_id IN (
           SELECT due.delivery_id FROM webhook_delivery due
             JOIN webhook_endpoint ep USING (endpoint_id)
            WHERE due.status = 'pending' AND due.next_attempt_at <= %(now)s AND ep.enabled
            ORDER BY due.next_attempt_at
            LIMIT %(limit)s
              FOR UPDATE OF due SKIP LOCKED)
   AND m.message_id = d.message_id AND e.endpoint_id = d.endpoint_id
RETURNING d.delivery_id, d.attempts, m.message_id, m.body, e.endpoint_id, e.url, e.secret,
          CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END,
          e.kind, e.channel_config, e.language
"""


async def claim_due(
    conn: AsyncConnection[Any], *, limit: int, lease_s: float, now: datetime
) -> list[Claimed]:
    """Claim up to ``limit`` deliveries of enabled endpoints due at ``now`` (the dispatcher's
    clock), committed at once."""
    async with conn.transaction():
        cur = await conn.execute(_CLAIM, {"limit": limit, "lease": lease_s, "now": now})
        rows = await cur.fetchall()
    return [
        Claimed(
            delivery_id=r[0],
            attempt_no=r[1],
            message_id=r[2],
            body=r[3],
            endpoint_id=r[4],
            url=r[5],
            secrets=tuple(x for x in (r[6], r[7]) if x is not None),
            kind=ChannelKind(r[8]),
            channel_config=r[9],
            language=None if r[10] is None else Language(r[10]),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt did."""

    attempted_at: datetime
    outcome: AttemptOutcome
    latency_ms: float
    response_status: int | None = None
    error: str = ""
    response_excerpt: str = ""
    retry_after_s: float | None = None


async def record(
    conn: AsyncConnection[Any],
    *,
    claimed: Claimed,
    attempt: Attempt,
    status: DeliveryStatus,
    retry_in_s: float | None,
    now: datetime,
) -> None:
    """Log the attempt and move the delivery on (done, failed, or due again after a delay)."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE webhook_delivery SET status = %(status)s,"
            " finished_at = CASE WHEN %(status)s = 'pending' THEN NULL ELSE now() END,"
            " next_attempt_at = CASE WHEN %(status)s = 'pending'"
            "   THEN %(now)s + make_interval(secs => %(retry)s) ELSE next_attempt_at END"
            " WHERE delivery_id = %(id)s",
            {
                "status": status.value,
                "retry": retry_in_s or 0.0,
                "id": claimed.delivery_id,
                "now": now,
            },
        )
        if cur.rowcount == 0:
            return  # the endpoint was deleted meanwhile, and its deliveries with it
        await conn.execute(
            "INSERT INTO webhook_attempt (delivery_id, attempt_no, attempted_at, outcome,"
            " response_status, latency_ms, error, response_excerpt, retry_in_s)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                claimed.delivery_id,
                claimed.attempt_no,
                attempt.attempted_at,
                attempt.outcome.value,
                attempt.response_status,
                attempt.latency_ms,
                attempt.error,
                attempt.response_excerpt,
                retry_in_s,
            ),
        )


async def take_send_slot(conn: AsyncConnection[Any], *, claimed: Claimed, now: datetime) -> float:
    """Take a send slot of a rate-limited channel for this claimed delivery; 0 when taken (send
    now), else the seconds until a slot frees up, and the delivery is put back until then
    without counting an attempt (``ratelimit``: delay, never drop).

    The endpoint row is locked while the slots are counted, so two dispatchers (or two
    deliveries of one batch) never both take the last slot of a window."""
    window_s = ratelimit.longest_window_s(claimed.kind)
    if window_s == 0:
        return 0.0
    async with conn.transaction():
        await conn.execute(
            "SELECT 1 FROM webhook_endpoint WHERE endpoint_id = %s FOR UPDATE",
            (claimed.endpoint_id,),
        )
        since = now - timedelta(seconds=window_s)
        cur = await conn.execute(
            "SELECT sent_at FROM webhook_send_slot WHERE endpoint_id = %s AND sent_at > %s",
            (claimed.endpoint_id, since),
        )
        sent = [row[0] for row in await cur.fetchall()]
        delay = ratelimit.next_send_delay(claimed.kind, sent, now)
        if delay > 0:
            await conn.execute(
                "UPDATE webhook_delivery SET attempts = attempts - 1,"
                " next_attempt_at = %s + make_interval(secs => %s) WHERE delivery_id = %s",
                (now, delay, claimed.delivery_id),
            )
            return delay
        await conn.execute(
            "DELETE FROM webhook_send_slot WHERE endpoint_id = %s AND sent_at <= %s",
            (claimed.endpoint_id, since),
        )
        await conn.execute(
            "INSERT INTO webhook_send_slot (endpoint_id, sent_at, delivery_id) VALUES (%s, %s, %s)",
            (claimed.endpoint_id, now, claimed.delivery_id),
        )
    return 0.0
