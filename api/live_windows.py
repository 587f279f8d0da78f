"""Emission windows into the live feed: ``emissions.windows`` -> one ``window`` event per
(enterprise, width, window start) of each message, with the summed tCO2e of its meters as the
boundary rule counts them (docs/boundary.md): each meter's weight from ``meter_count_basis``
(migration 0022), cached and reloaded when a message names a meter it lacks or every
``_WEIGHTS_TTL_S``, so the live figures add up like ``/v1/emissions``.

Every API process reads every partition from the latest offset, with no consumer group: the
feed is a view of what happens now, not a record (the record is the ``emission_window`` table),
so nothing is committed and a restart simply resumes with new windows. Only the 1-minute (live),
15-minute and hourly widths are sent; the 5-minute panes are internal to the rolling hour.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from api.live import LiveEvent
from api.state import AppState
from config.kafka_security import client_kwargs
from contracts.topics import Topic, topic_name
from contracts.windows import decode_windows

log = logging.getLogger(__name__)

FEED_WIDTHS_S = frozenset({60, 900, 3600})
_BACKOFF_MAX_S = 30.0
_WEIGHTS_TTL_S = 30.0  # a hierarchy or boundary change reaches the feed within this


def window_events(
    windows: list[dict[str, Any]], weights: Mapping[str, int] | None = None
) -> list[LiveEvent]:
    """Sum a message's windows per (enterprise, width, start), each times its meter's weight
    (1 counted, -1 export, 0 left out; a meter missing from ``weights`` counts 1); malformed
    items are skipped. ``meters`` counts the windows that entered the sum."""
    sums: dict[tuple[str, int, str], dict[str, Any]] = {}
    for w in windows:
        try:
            width, tco2e = int(w["width_s"]), float(w["tco2e"])
            key = (str(w["enterprise_id"]), width, str(w["window_start"]))
            end = str(w["window_end"])
            weight = 1 if weights is None else weights.get(str(w["meter_id"]), 1)
        except (KeyError, TypeError, ValueError):
            continue
        if width not in FEED_WIDTHS_S or not math.isfinite(tco2e) or weight == 0:
            continue
        entry = sums.setdefault(
            key,
            {
                "enterprise_id": key[0],
                "width_s": width,
                "window_start": key[2],
                "window_end": end,
                "tco2e": 0.0,
                "meters": 0,
            },
        )
        entry["tco2e"] += weight * tco2e
        entry["meters"] += 1
    return [LiveEvent("window", data["enterprise_id"], data) for data in sums.values()]


class Weights:
    """Each meter's weight in a total, as the database's one rule gives it."""

    def __init__(self) -> None:
        self.by_meter: dict[str, int] = {}
        self.loaded_at = -math.inf

    async def covering(self, state: AppState, windows: list[dict[str, Any]]) -> dict[str, int]:
        meters = {str(w.get("meter_id")) for w in windows}
        stale = time.monotonic() - self.loaded_at > _WEIGHTS_TTL_S
        if stale or not meters <= self.by_meter.keys():
            try:
                async with state.pool.connection() as conn:
                    cur = await conn.execute("SELECT meter_id, weight FROM meter_count_basis")
                    self.by_meter = {m: int(k) for m, k in await cur.fetchall()}
            except psycopg.Error as exc:
                # The feed goes on with the weights it has; the next message tries again.
                log.warning("live feed: meter weights not reloaded: %r", exc)
                return self.by_meter
            self.loaded_at = time.monotonic()
        return self.by_meter


async def run(state: AppState) -> None:
    """Feed window events to the hub for the app's lifetime; reconnect when Kafka is away."""
    delay = 0.5
    weights = Weights()
    while True:
        consumer = AIOKafkaConsumer(
            topic_name(Topic.EMISSIONS_WINDOWS, state.settings.topic_prefix),
            bootstrap_servers=state.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            **client_kwargs(state.settings.kafka_security()),
        )
        try:
            await consumer.start()
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                for messages in batches.values():
                    for message in messages:
                        try:
                            windows = decode_windows(message.value or b"")
                        except ValueError as exc:
                            log.warning("live feed: skipped an emissions.windows message: %s", exc)
                            continue
                        known = await weights.covering(state, windows)
                        for event in window_events(windows, known):
                            state.hub.publish(event)
                delay = 0.5
        except (KafkaError, OSError) as exc:
            log.warning("live feed: %r; reconnecting in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)
        finally:
            await consumer.stop()
