"""The webhook dispatcher: a background task of the API that delivers the outbox.

It claims due deliveries (``deliveries.claim_due``), checks each target again (DNS can change),
POSTs the signed body with httpx and records the attempt. A 2xx answer delivers; 410 Gone
disables the endpoint (Standard Webhooks spec, "Delivery success and failure"); anything else
is retried with exponential backoff and full jitter until ``webhook_max_attempts``, then the
delivery is failed. Redirects are not followed (a 3xx is a failure, per the spec).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import httpx

from api.state import AppState
from api.webhooks import backoff, deliveries, service, signing, targets
from api.webhooks.deliveries import Attempt, Claimed
from api.webhooks.enums import AttemptOutcome, DeliveryStatus

log = logging.getLogger(__name__)

_BATCH = 16  # deliveries claimed and sent concurrently per round
_IDLE_POLL_S = 0.5  # how soon a newly committed message goes out when the dispatcher is idle
_ERROR_PAUSE_S = 5.0  # after a database error, before trying again
_LEASE_MARGIN_S = 5.0  # beyond the attempt timeout (to record it), before a claim lapses
_EXCERPT_CHARS = 500
_ACTOR = "webhooks-dispatcher"
_USER_AGENT = "parkcarbon-webhooks/1"


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer, read no further than needed (a receiver may answer a lot)."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= _EXCERPT_CHARS * 4:
            break
    # PostgreSQL text holds no NUL characters.
    return data.decode("utf-8", errors="replace")[:_EXCERPT_CHARS].replace("\x00", "\ufffd")


async def _post(
    client: httpx.AsyncClient, target: targets.Target, body: bytes, headers: dict[str, str]
) -> tuple[httpx.Response, str]:
    """POST to the first checked address that accepts a connection; the answer's excerpt."""
    for i, url in enumerate(target.connect_urls):
        request = client.build_request(
            "POST", url, content=body, headers=headers, extensions=dict(target.extensions)
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError:
            if i + 1 == len(target.connect_urls):
                raise
            continue  # nothing was sent: the next address may listen
        try:
            return response, await _excerpt(response)
        finally:
            await response.aclose()
    raise AssertionError("a target has at least one address")


async def attempt(
    client: httpx.AsyncClient, claimed: Claimed, *, allow_private: bool, timeout_s: float
) -> Attempt:
    """One attempt of one delivery; never raises for what the network or receiver does."""
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()

    def done(
        outcome: AttemptOutcome,
        *,
        error: str = "",
        status: int | None = None,
        excerpt: str = "",
        retry_after_s: float | None = None,
    ) -> Attempt:
        return Attempt(
            attempted_at=attempted_at,
            outcome=outcome,
            latency_ms=(time.perf_counter() - started) * 1000,
            response_status=status,
            error=error,
            response_excerpt=excerpt,
            retry_after_s=retry_after_s,
        )

    body = claimed.body.encode()
    try:
        # The whole attempt, name resolution included, stays within the timeout (and so within
        # the claim's lease); httpx's own timeout bounds each phase as well.
        async with asyncio.timeout(timeout_s):
            target = await targets.resolve(claimed.url, allow_private=allow_private)
            headers = {
                "host": target.host_header,
                "content-type": "application/json",
                "user-agent": _USER_AGENT,
                **signing.headers(
                    claimed.secrets,
                    message_id=claimed.message_id,
                    timestamp=int(time.time()),
                    body=body,
                ),
            }
            response, excerpt = await _post(client, target, body, headers)
    except targets.TargetRefused as exc:
        return done(AttemptOutcome.TARGET_REFUSED, error=str(exc))
    except targets.TargetUnresolvable as exc:
        return done(AttemptOutcome.NETWORK_ERROR, error=str(exc))
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        why = str(exc) or f"no answer within {timeout_s} s"
        return done(AttemptOutcome.NETWORK_ERROR, error=f"{type(exc).__name__}: {why}"[:1000])
    status = response.status_code
    if 200 <= status < 300:
        outcome = AttemptOutcome.DELIVERED
    elif status == 410:
        outcome = AttemptOutcome.GONE
    else:
        outcome = AttemptOutcome.HTTP_ERROR
    return done(
        outcome,
        status=status,
        excerpt=excerpt,
        retry_after_s=backoff.parse_retry_after(response.headers.get("retry-after")),
    )


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


async def _deliver(state: AppState, client: httpx.AsyncClient, claimed: Claimed) -> None:
    s = state.settings
    result = await attempt(
        client,
        claimed,
        allow_private=s.webhook_allow_private_targets,
        timeout_s=s.webhook_timeout_s,
    )
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
            conn, claimed=claimed, attempt=result, status=status, retry_in_s=retry_in_s
        )
        if result.outcome is AttemptOutcome.GONE:
            reason = (
                f"the receiver answered 410 Gone at {result.attempted_at.isoformat()}"
                f" (delivery {claimed.delivery_id})"
            )
            await service.disable_endpoint(
                conn, endpoint_id=claimed.endpoint_id, reason=reason, actor=_ACTOR
            )


async def dispatch_due(state: AppState, client: httpx.AsyncClient) -> int:
    """Claim and attempt one batch of due deliveries; how many there were."""
    lease_s = state.settings.webhook_timeout_s + _LEASE_MARGIN_S
    async with state.pool.connection() as conn:
        claimed = await deliveries.claim_due(conn, limit=_BATCH, lease_s=lease_s)
    results = await asyncio.gather(
        *(_deliver(state, client, c) for c in claimed), return_exceptions=True
    )
    for c, result in zip(claimed, results, strict=True):
        if isinstance(result, BaseException):
            # Not recorded: the lease expires and the delivery is attempted again.
            log.error("webhook delivery %s: %r", c.delivery_id, result)
    return len(claimed)


async def run(state: AppState) -> None:
    """Deliver webhook messages from the outbox for the app's lifetime."""
    # trust_env=False: no proxy from the environment may carry a request past the target check.
    async with httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        timeout=state.settings.webhook_timeout_s,
    ) as client:
        while True:
            try:
                handled = await dispatch_due(state, client)
            except Exception:
                log.exception("webhook dispatcher: cannot claim deliveries; retrying")
                await asyncio.sleep(_ERROR_PAUSE_S)
                continue
            if handled < _BATCH:
                await asyncio.sleep(_IDLE_POLL_S)
