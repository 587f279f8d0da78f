"""The webhook dispatcher: a background task of the API that delivers the outbox.

It claims due deliveries (``deliveries.claim_due``), takes a send slot of a rate-limited
channel (``deliveries.take_send_slot``: a full window puts the delivery back until a slot
frees up, never drops it), hands it to the sender of its kind (``senders``: Standard Webhooks,
WeCom, DingTalk, Feishu, e-mail), which checks the target again (DNS can change), and records
the attempt. Every time it uses comes from one clock (``AppState.clock``).

A 2xx answer delivers (a robot's also needs a zero error code); 410 Gone disables the
endpoint (Standard Webhooks spec, "Delivery success and failure"); anything else is retried
with exponential backoff and full jitter until ``webhook_max_attempts``, then the delivery is
failed. Redirects are not followed (a 3xx is a failure, per the spec).
"""

from __future__ import annotations

import asyncio
import logging
import ssl

import httpx

from api.state import AppState
from api.webhooks import backoff, deliveries, senders, service
from api.webhooks.deliveries import Attempt, Claimed
from api.webhooks.enums import AttemptOutcome, DeliveryStatus

log = logging.getLogger(__name__)

_BATCH = 16  # deliveries claimed and sent concurrently per round
_IDLE_POLL_S = 0.5  # how soon a newly committed message goes out when the dispatcher is idle
_ERROR_PAUSE_S = 5.0  # after a database error, before trying again
_LEASE_MARGIN_S = 5.0  # beyond the attempt timeout (to record it), before a claim lapses
_ACTOR = "webhooks-dispatcher"


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifies SMTP servers: the system's roots, and the park's own CA when one is set."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def decide(
    claimed: Claimed, result: Attempt, *, max_attempts: int, base_s: float, max_s: float
) -> tuple[DeliveryStatus, float | None]:
    """The delivery's next state and, when it will be tried again, after how long."""
    if result.outcome is AttemptOutcome.DELIVERED:
        return DeliveryStatus.DELIVERED, None
    if result.outcome is AttemptOutcome.GONE or claimed.attempt_no >= max_attempts:
        return DeliveryStatus.FAILED, None
    delay = backoff.retry_delay(
        claimed.attempt_no, base_s=base_s, max_s=max_s, retry_after_s=result.retry_after_s
    )
    return DeliveryStatus.PENDING, delay


async def _deliver(state: AppState, ctx: senders.SendContext, claimed: Claimed) -> None:
    s = state.settings
    async with state.pool.connection() as conn:
        wait_s = await deliveries.take_send_slot(conn, claimed=claimed, now=ctx.now())
    if wait_s > 0:
        # The channel's window is full: the delivery waits for its slot (no attempt counted).
        state.metrics.webhook_deliveries.labels("rate_limited").inc()
        return
    result = await senders.SENDERS[claimed.kind](ctx, claimed)
    status, retry_in_s = decide(
        claimed,
        result,
        max_attempts=s.webhook_max_attempts,
        base_s=s.webhook_backoff_base_s,
        max_s=s.webhook_backoff_max_s,
    )
    state.metrics.webhook_deliveries.labels(result.outcome.value).inc()
    # One transaction: a 410's failed delivery and the disabled endpoint go together.
    async with state.pool.connection() as conn, conn.transaction():
        await deliveries.record(
            conn,
            claimed=claimed,
            attempt=result,
            status=status,
            retry_in_s=retry_in_s,
            now=ctx.now(),
        )
        if result.outcome is AttemptOutcome.GONE:
            reason = (
                f"the receiver answered 410 Gone at {result.attempted_at.isoformat()}"
                f" (delivery {claimed.delivery_id})"
            )
            await service.disable_endpoint(
                conn, endpoint_id=claimed.endpoint_id, reason=reason, actor=_ACTOR
            )


async def dispatch_due(state: AppState, ctx: senders.SendContext) -> int:
    """Claim and attempt one batch of due deliveries; how many there were."""
    lease_s = state.settings.webhook_timeout_s + _LEASE_MARGIN_S
    async with state.pool.connection() as conn:
        claimed = await deliveries.claim_due(conn, limit=_BATCH, lease_s=lease_s, now=ctx.now())
    results = await asyncio.gather(
        *(_deliver(state, ctx, c) for c in claimed), return_exceptions=True
    )
    for c, result in zip(claimed, results, strict=True):
        if isinstance(result, BaseException):
            # Not recorded: the lease expires and the delivery is attempted again.
            log.error("webhook delivery %s: %r", c.delivery_id, result)
    return len(claimed)


async def run(state: AppState) -> None:
    """Deliver webhook messages from the outbox for the app's lifetime."""
    s = state.settings
    tls = tls_context(s.webhook_smtp_ca_file)
    # trust_env=False: no proxy from the environment may carry a request past the target check.
    async with httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        timeout=state.settings.webhook_timeout_s,
    ) as client:
        while True:
            ctx = senders.SendContext(
                client=client,
                allow_private=s.webhook_allow_private_targets,
                timeout_s=s.webhook_timeout_s,
                public_url=s.public_url,
                tls=tls,
                # Read at each round: a test moves the clock of a running API this way.
                now=state.clock,
            )
            try:
                handled = await dispatch_due(state, ctx)
            except Exception:
                log.exception("webhook dispatcher: cannot claim deliveries; retrying")
                await asyncio.sleep(_ERROR_PAUSE_S)
                continue
            if handled < _BATCH:
                await asyncio.sleep(_IDLE_POLL_S)
