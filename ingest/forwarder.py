"""The forwarder: drains the buffer, oldest first, to Kafka ``readings.raw``.

It sends a window of buffered batches with aiokafka's idempotent producer (acks=all), keyed by
the source key so each source's batches land in one partition in the order they were stored,
and deletes a batch from the buffer only after Kafka acknowledged it. While Kafka is
unreachable it backs off (jittered, exponential) and retries with a fresh producer; when the
uplink returns it drains at most ``max_batches_per_s`` so the broker and the stream workers
see a bounded catch-up burst.

Delivery is at-least-once: a crash or a lost acknowledgement between Kafka's ack and the
buffer delete re-sends that batch. Readings keep their ``seq`` and timestamp, so downstream
suppresses such duplicates by (meter_id, ts) or (source_key, seq).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from config.kafka_security import client_kwargs, connect_failure
from ingest.buffer import ReadingBuffer, StoredBatch
from ingest.config import KafkaConfig
from ingest.metrics import GatewayMetrics

log = logging.getLogger(__name__)


class Forwarder:
    """Moves batches from ``buffer`` to Kafka until stopped (``request_stop``) or cancelled.

    A requested stop lets the window in flight finish: its acknowledged batches are deleted
    from the buffer before ``run`` returns, so a clean shutdown re-sends nothing.
    """

    def __init__(self, buffer: ReadingBuffer, config: KafkaConfig, metrics: GatewayMetrics) -> None:
        self._buffer, self._config, self._metrics = buffer, config, metrics
        self._producer: AIOKafkaProducer | None = None
        self._failures = 0
        self._age_checked = 0.0
        self._stopping = asyncio.Event()
        metrics.set("gateway_uplink_up", 0)

    def request_stop(self) -> None:
        self._stopping.set()
        self._buffer.changed.set()  # wake an idle wait at once

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    await self._step()
                except Exception as exc:  # broker down, timeouts, fenced producer: retry
                    await self._uplink_failed(exc)
        finally:
            await self._close_producer()

    async def _step(self) -> None:
        loop = asyncio.get_running_loop()
        if self._producer is None:
            self._producer = await self._start_producer()
        await self._publish_age(loop.time())
        self._buffer.changed.clear()
        rows = await self._buffer.peek(self._config.max_in_flight)
        if not rows:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._buffer.changed.wait(), timeout=1.0)
            return
        started = loop.time()
        await self._send(self._producer, rows)
        if self._failures:
            log.info("uplink UP: Kafka %s acknowledges again", self._config.bootstrap)
            self._failures = 0
        self._metrics.set("gateway_uplink_up", 1)
        # Bounded drain rate: a window of n batches takes at least n / max_batches_per_s.
        rest = len(rows) / self._config.max_batches_per_s - (loop.time() - started)
        if rest > 0:
            await asyncio.sleep(rest)

    async def _send(self, producer: AIOKafkaProducer, rows: list[StoredBatch]) -> None:
        sent: list[tuple[StoredBatch, asyncio.Future[Any]]] = []
        error: BaseException | None = None
        for row in rows:
            try:
                future = await producer.send(
                    self._config.topic, row.payload, key=row.source_key.encode()
                )
            except Exception as exc:
                error = exc
                break
            sent.append((row, future))
        results = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
        acked = [
            row
            for (row, _), r in zip(sent, results, strict=True)
            if not isinstance(r, BaseException)
        ]
        await self._buffer.delete([row.id for row in acked])
        self._metrics.inc("gateway_forward_batches_total", len(acked))
        self._metrics.inc("gateway_forward_readings_total", sum(row.readings for row in acked))
        failures = [r for r in results if isinstance(r, BaseException)]
        if error is None and failures:
            error = failures[0]
        if error is not None:
            raise error

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._config.bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=self._config.request_timeout_ms,
            linger_ms=5,
            **client_kwargs(self._config.security()),
        )
        try:
            await producer.start()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5.0)
            if isinstance(exc, KafkaConnectionError):
                # "Unable to bootstrap" alone hides a refused login or an untrusted certificate.
                cause = await connect_failure(
                    self._config.bootstrap, self._config.security(), timeout_s=5.0
                )
                if cause:
                    raise KafkaConnectionError(f"{exc}: {cause}") from exc
            raise
        return producer

    async def _uplink_failed(self, exc: Exception) -> None:
        self._failures += 1
        self._metrics.inc("gateway_forward_errors_total", kind=type(exc).__name__)
        self._metrics.set("gateway_uplink_up", 0)
        await self._close_producer()
        delay = min(
            self._config.retry_max_s, self._config.retry_min_s * 2 ** min(self._failures - 1, 20)
        )
        delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
        batches = self._buffer.depth[0]
        if self._failures == 1:
            log.warning(
                "uplink DOWN: %s: %s; buffering (%d batches waiting)",
                self._config.bootstrap,
                exc,
                batches,
            )
        else:
            log.debug("uplink still down (%s); retry %d in %.1f s", exc, self._failures, delay)
        await self._publish_age(0.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def _publish_age(self, now: float) -> None:
        if now - self._age_checked >= 1.0 or now == 0.0:
            self._age_checked = now
            self._metrics.set(
                "gateway_buffer_oldest_age_seconds", await self._buffer.oldest_age_s()
            )

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # Unacknowledged batches are still in the buffer; a bounded stop is enough.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5.0)
