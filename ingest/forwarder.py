"""The forwarder: drains the buffer, oldest first, to Kafka ``readings.raw``.

It sends a window of buffered batches with aiokafka's idempotent producer (acks=all), keyed by
the source key so each source's batches land in one partition in the order they were stored,
and deletes a batch from the buffer only after Kafka acknowledged it. While Kafka is
unreachable it backs off (jittered, exponential) and retries with a fresh producer; when the
uplink returns it drains at most ``max_batches_per_s`` so the broker and the stream workers
see a bounded catch-up burst.

A batch larger than ``max_message_bytes`` is sent as several messages (``split_message``), in
order under the same key, and deleted once Kafka acknowledged all of them; messages are
gzip-compressed (``compression``). A batch that can never be delivered as it is (one reading
alone above the limit, or a permanent refusal such as the broker's MESSAGE_TOO_LARGE) is moved
to the buffer's ``dead_batches`` with the reason, counted and logged, and forwarding goes on
with the next batch: it must not hold up every reading behind it.

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
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    KafkaConnectionError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from config.kafka_security import client_kwargs, connect_failure
from contracts.split import split_message
from ingest.buffer import ReadingBuffer, StoredBatch
from ingest.config import KafkaConfig
from ingest.metrics import GatewayMetrics

log = logging.getLogger(__name__)
# Refusals of the message itself: sending it again can only fail again.
PERMANENT = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTimestampError,
)
# The producer's own request bound sits above the message bound: a record adds its key and
# headers (aiokafka checks the uncompressed record against max_request_size).
_REQUEST_SLACK = 64 * 1024


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
        sent: list[tuple[StoredBatch, list[asyncio.Future[Any]]]] = []
        dead: list[tuple[StoredBatch, str]] = []
        error: BaseException | None = None
        partial: list[asyncio.Future[Any]] = []
        for row in rows:
            try:
                parts = split_message(row.payload, self._config.max_message_bytes)
            except ValueError as exc:  # one reading alone too large, or not a batch at all
                dead.append(
                    (row, f"cannot be split below {self._config.max_message_bytes} bytes: {exc}")
                )
                continue
            if len(parts) > 1:
                self._metrics.inc("gateway_forward_split_total")
            futures: list[asyncio.Future[Any]] = []
            try:
                for part in parts:
                    futures.append(
                        await producer.send(self._config.topic, part, key=row.source_key.encode())
                    )
            except PERMANENT as exc:  # the producer's own size check, before any request
                dead.append((row, f"refused: {type(exc).__name__}: {exc}"))
                continue
            except Exception as exc:
                # Some parts may be on their way: they are awaited, but the batch stays in the
                # buffer and is sent again whole (its readings are recognised as replays).
                error, partial = exc, futures
                break
            sent.append((row, futures))
        results = await asyncio.gather(*(f for _, fs in sent for f in fs), return_exceptions=True)
        await asyncio.gather(*partial, return_exceptions=True)
        acked: list[StoredBatch] = []
        failures: list[BaseException] = []
        dead_by_kafka = False
        at = 0
        for row, futures in sent:
            mine, at = results[at : at + len(futures)], at + len(futures)
            bad = [r for r in mine if isinstance(r, BaseException)]
            permanent = [r for r in bad if isinstance(r, PERMANENT)]
            if permanent:
                dead.append((row, f"refused: {type(permanent[0]).__name__}: {permanent[0]}"))
                dead_by_kafka = True
            elif bad:
                failures.append(bad[0])
            else:
                acked.append(row)
        await self._buffer.delete([row.id for row in acked])
        self._metrics.inc("gateway_forward_batches_total", len(acked))
        self._metrics.inc("gateway_forward_readings_total", sum(row.readings for row in acked))
        for row, reason in dead:
            await self._buffer.bury(row.id, reason)
            log.error(
                "batch %d of %s (%d readings) moved to dead_batches: %s",
                row.id,
                row.source_key,
                row.readings,
                reason,
            )
        if error is None and failures:
            error = failures[0]
        if error is not None:
            raise error
        if dead_by_kafka:
            # An idempotent producer's sequence for that partition now has a gap the broker
            # did not accept: start afresh rather than risk OutOfOrderSequence on the next send.
            await self._close_producer()

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._config.bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=self._config.request_timeout_ms,
            linger_ms=5,
            **client_kwargs(self._config.security()),
            compression_type=None if self._config.compression == "none" else "gzip",
            max_request_size=self._config.max_message_bytes + _REQUEST_SLACK,
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
