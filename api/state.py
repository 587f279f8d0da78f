"""What the API process holds for its lifetime: settings, the database pool, the producer, the
live hub and its background tasks. One instance per app, on ``app.state.parkcarbon``; nothing
at module level."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
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
