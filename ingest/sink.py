"""The seam between collectors and the store-and-forward buffer."""

from __future__ import annotations

from typing import Protocol

from stream.records import ReadingBatch


class ReadingSink(Protocol):
    """Where a collector puts each batch; ``put`` returns once the batch is durable."""

    async def put(self, batch: ReadingBatch) -> None: ...
