"""What the dispatcher does after an attempt, decided without a network: delivered, retried
after a jittered delay below the doubling ceiling, failed after the last attempt, failed at once
on 410 Gone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.webhooks.deliveries import Attempt, Claimed
from api.webhooks.dispatcher import decide
from api.webhooks.enums import AttemptOutcome, DeliveryStatus


def _decide(attempt_no: int, attempt: Attempt) -> tuple[DeliveryStatus, float | None]:
    """As the test server would: at most 5 attempts, base 0.2 s, maximum 2 s."""
    return decide(_claimed(attempt_no), attempt, max_attempts=5, base_s=0.2, max_s=2.0)


def _claimed(attempt_no: int) -> Claimed:
    return Claimed(
        delivery_id=1,
        attempt_no=attempt_no,
        message_id="msg_aaaaaaaaaaaaaaaaaaaaaaaa",
        body="{}",
        endpoint_id="ep_aaaaaaaaaaaaaaaaaaaa",
        url="http://127.0.0.1:9/",
        secrets=("whsec_AAAA",),
    )


def _attempt(outcome: AttemptOutcome, retry_after_s: float | None = None) -> Attempt:
    return Attempt(datetime.now(UTC), outcome, 1.0, retry_after_s=retry_after_s)


def test_a_2xx_delivers() -> None:
    assert _decide(3, _attempt(AttemptOutcome.DELIVERED)) == (
        DeliveryStatus.DELIVERED,
        None,
    )


@pytest.mark.parametrize(("attempt_no", "ceiling"), [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.6)])
@pytest.mark.parametrize(
    "outcome",
    [AttemptOutcome.HTTP_ERROR, AttemptOutcome.NETWORK_ERROR, AttemptOutcome.TARGET_REFUSED],
)
def test_a_failure_before_the_last_attempt_is_retried_below_the_doubling_ceiling(
    attempt_no: int, ceiling: float, outcome: AttemptOutcome
) -> None:
    status, delay = _decide(attempt_no, _attempt(outcome))
    assert status is DeliveryStatus.PENDING
    assert delay is not None and 0 <= delay <= ceiling


def test_the_last_failed_attempt_fails_the_delivery() -> None:
    assert _decide(5, _attempt(AttemptOutcome.HTTP_ERROR)) == (
        DeliveryStatus.FAILED,
        None,
    )


def test_410_gone_fails_at_once_whatever_the_attempt() -> None:
    assert _decide(1, _attempt(AttemptOutcome.GONE)) == (
        DeliveryStatus.FAILED,
        None,
    )


def test_retry_after_sets_a_floor_capped_at_the_maximum() -> None:
    _, delay = _decide(1, _attempt(AttemptOutcome.HTTP_ERROR, 1.5))
    assert delay == 1.5  # the jittered delay is at most 0.2 s: Retry-After (1.5 s, < max) wins
    _, capped = _decide(1, _attempt(AttemptOutcome.HTTP_ERROR, 600))
    assert capped == 2.0
