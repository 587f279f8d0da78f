"""What the API process holds for its lifetime: settings, the database pool, the producer, the
live hub and its background tasks. One instance per app, on ``app.state.parkcarbon``; nothing
at module level."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from api.live import LiveHub
from api.metrics import ApiMetrics
from api.producer import RawProducer
from config.settings import ApiSettings


@dataclass
class AppState:
    settings: ApiSettings
    pool: AsyncConnectionPool[AsyncConnection[Any]]
    producer: RawProducer
    hub: LiveHub = field(default_factory=LiveHub)
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # The webhook dispatcher's clock (claims, retries, rate-limit windows, signatures' time):
    # a test replaces it to move time without waiting.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
