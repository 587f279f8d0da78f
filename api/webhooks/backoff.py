"""When to try a failed delivery again: exponential backoff with full jitter.

The n-th failed attempt waits a uniformly random time in [0, min(max, base * 2**(n-1))], so
the ceiling doubles per attempt and retries from many messages do not arrive in lockstep (the
spec's "Deliverability and reliability": exponential backoff plus random jitter). A receiver's
``Retry-After`` (in seconds, on 429 and 503) is honoured up to the same maximum.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_rng = random.SystemRandom()


def ceiling(attempt: int, *, base_s: float, max_s: float) -> float:
    """The longest wait after the ``attempt``-th failure (1-based)."""
    # Exponent bounded: 2**60 * base is far beyond any max and keeps the float finite.
    return min(max_s, base_s * 2.0 ** min(attempt - 1, 60))


def retry_delay(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rand: Callable[[], float] = _rng.random,
) -> float:
    delay = ceiling(attempt, base_s=base_s, max_s=max_s) * rand()
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_s))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; HTTP dates are ignored."""
    if value is None or not value.strip().isdigit():
        return None
    return float(int(value.strip()))
