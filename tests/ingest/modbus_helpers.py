"""Shared helpers of the Modbus tests: servers on free ports, a recording sink, collectors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from pymodbus.server import ModbusTcpServer

from contracts.records import ReadingBatch
from ingest.config import ModbusDevice
from ingest.metrics import GatewayMetrics
from ingest.modbus import ModbusCollector


class ListSink:
    def __init__(self) -> None:
        self.batches: list[ReadingBatch] = []

    async def put(self, batch: ReadingBatch) -> None:
        self.batches.append(batch)

    def by_source(self, key: str) -> list[ReadingBatch]:
        return [b for b in self.batches if b.source_key == key]


@contextlib.asynccontextmanager
async def pymodbus_server(context: Any) -> AsyncIterator[int]:
    """A plain pymodbus TCP server on 127.0.0.1 and a free port; yields the port."""
    server = ModbusTcpServer(context, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    try:
        yield int(cast(asyncio.Server, server.transport).sockets[0].getsockname()[1])
    finally:
        await server.shutdown()


def device(name: str, port: int, points: list[dict[str, Any]], **extra: Any) -> ModbusDevice:
    return ModbusDevice.model_validate(
        {"name": name, "host": "127.0.0.1", "port": port, "points": points, **extra}
    )


async def run_collectors(
    devices: list[ModbusDevice],
    seconds: float,
    *,
    sink: Any = None,
    metrics: GatewayMetrics | None = None,
) -> tuple[ListSink, GatewayMetrics, list[ModbusCollector], bool]:
    """Poll ``devices`` for ``seconds``; the last item says whether every task was still alive."""
    sink = sink or ListSink()
    metrics = metrics or GatewayMetrics()
    collectors = [ModbusCollector(d, sink, gateway_id="gw-t", metrics=metrics) for d in devices]
    tasks = [asyncio.create_task(c.run()) for c in collectors]
    await asyncio.sleep(seconds)
    alive = all(not t.done() for t in tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sink, metrics, collectors, alive
