"""The API's one Kafka producer: EMS batches to ``readings.raw`` with acks=all.

It starts with the app but the app does not need Kafka to start: while the broker is
unreachable, a push gets ``KafkaUnavailable`` (the route answers 503 with Retry-After) and the
next push tries to connect again.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from config.kafka_security import KafkaSecurity, client_kwargs, connect_failure, unreachable
from contracts.split import DEFAULT_MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):  # noqa: N818 - reads as the condition it reports
    """Kafka did not acknowledge in time; nothing can be assumed stored."""


class RawProducer:
    """``max_message_bytes``: the bound the caller splits messages below (``contracts.split``);
    the producer's own request limit sits just above it, so an unsplit message fails here."""

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout_s: float,
        security: KafkaSecurity | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        compression: str = "gzip",
    ) -> None:
        self._bootstrap = bootstrap
        self._security = security or KafkaSecurity()
        self._timeout_s = timeout_s
        self.max_message_bytes = max_message_bytes
        self._compression = None if compression == "none" else compression
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                request_timeout_ms=int(self._timeout_s * 1000),
                max_request_size=self.max_message_bytes + 64 * 1024,  # + key, record overhead
                compression_type=self._compression,
                **client_kwargs(self._security),
            )
            try:
                await asyncio.wait_for(producer.start(), self._timeout_s)
            except (TimeoutError, KafkaError, OSError) as exc:
                await producer.stop()
                # "Unable to bootstrap" alone hides a refused login or an untrusted certificate.
                cause = await connect_failure(
                    self._bootstrap, self._security, timeout_s=min(self._timeout_s, 5.0)
                )
                raise KafkaUnavailable(unreachable(self._bootstrap, exc, cause)) from exc
            self._producer = producer
            return producer

    async def send(self, topic: str, *, key: bytes, value: bytes) -> None:
        """Send one message and wait for all in-sync replicas to acknowledge it."""
        producer = await self._ensure()
        try:
            await asyncio.wait_for(
                producer.send_and_wait(topic, value=value, key=key), self._timeout_s
            )
        except (TimeoutError, KafkaError, OSError) as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge within {self._timeout_s} s") from exc

    async def send_in_order(self, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        """Send (key, value) messages, queued in list order (so one key's messages keep it in
        their partition), and wait until all in-sync replicas acknowledged every one."""
        producer = await self._ensure()
        try:
            async with asyncio.timeout(self._timeout_s):
                futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
                await asyncio.gather(*futures)
        except (TimeoutError, KafkaError, OSError) as exc:
            raise KafkaUnavailable(
                f"Kafka did not acknowledge within {self._timeout_s} s: {exc!r}"
            ) from exc

    async def ready(self) -> bool:
        try:
            await self._ensure()
        except KafkaUnavailable:
            return False
        return True

    async def stop(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None
