"""The seam between collectors and the store-and-forward buffer."""

from __future__ import annotations

import logging
from typing import Protocol

from contracts.records import ReadingBatch
from ingest.metrics import GatewayMetrics

log = logging.getLogger(__name__)


class ReadingSink(Protocol):
    """Where a collector puts each batch; ``put`` returns once the batch is durable and raises
    when it is not (nothing of a batch whose ``put`` raised was stored)."""

    async def put(self, batch: ReadingBatch) -> None: ...


class SourceSink:
    """One source's way into a sink: a refused batch is counted and the collector goes on.

    A reading is reported as buffered only when ``put`` returned, so a collector counts its
    readings after ``put`` returned True. A refusal (the buffer's disk is full, an I/O error)
    is not the device's fault: the collector keeps its connection and polls on, and the next
    batch is offered again. Refused batches and readings are counted in
    ``gateway_unbuffered_batches_total`` / ``gateway_unbuffered_readings_total`` per source;
    the first refusal of an episode is logged as an error, the first success after it as a
    warning with how much was lost meanwhile (a log line per poll would flood the log).
    """

    def __init__(self, sink: ReadingSink, metrics: GatewayMetrics, *, source_key: str) -> None:
        self._sink = sink
        self.source_key = source_key
        self._k_batches = metrics.key("gateway_unbuffered_batches_total", source=source_key)
        self._k_readings = metrics.key("gateway_unbuffered_readings_total", source=source_key)
        self._metrics = metrics
        self._lost_batches = self._lost_readings = 0

    async def put(self, batch: ReadingBatch) -> bool:
        """True once ``batch`` is durable; False (counted, logged once) when it was refused."""
        try:
            await self._sink.put(batch)
        except Exception as exc:
            n = len(batch.readings)
            self._metrics.add(self._k_batches)
            self._metrics.add(self._k_readings, n)
            if not self._lost_batches:
                log.error(
                    "source %s: the buffer refused a batch of %d readings (%s: %s); readings"
                    " are NOT buffered until it takes them again",
                    self.source_key,
                    n,
                    type(exc).__name__,
                    exc,
                )
            self._lost_batches, self._lost_readings = (
                self._lost_batches + 1,
                self._lost_readings + n,
            )
            return False
        if self._lost_batches:
            log.warning(
                "source %s: the buffer takes batches again; %d batches (%d readings) were not"
                " buffered meanwhile",
                self.source_key,
                self._lost_batches,
                self._lost_readings,
            )
            self._lost_batches = self._lost_readings = 0
        return True
