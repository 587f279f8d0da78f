"""A gateway process to be killed with SIGKILL at a chosen moment of an MQTT delivery.

``python -m tests.ingest.mqtt_kill_helper CONFIG MOMENT`` runs the MQTT collector of CONFIG with
the real buffer; at the first batch it prints MOMENT and never returns from ``put``, so no
PUBACK ever leaves: ``before-commit`` holds the batch before the buffer has it,
``after-commit`` commits it to the buffer first. The test then kills the process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from contracts.records import ReadingBatch
from ingest.buffer import ReadingBuffer
from ingest.config import load_gateway_config
from ingest.metrics import GatewayMetrics
from ingest.mqtt import MqttCollector


async def main(config_path: Path, moment: str) -> None:
    config = load_gateway_config(config_path)
    metrics = GatewayMetrics()
    buffer = await ReadingBuffer(config.buffer, metrics).open()
    broker = config.mqtt_brokers[0]

    class Holding:
        async def put(self, batch: ReadingBatch) -> None:
            if moment == "after-commit":
                await buffer.put(batch)
            print(moment, flush=True)
            await asyncio.Event().wait()

    first_seq = await buffer.next_seq(f"{config.gateway_id}/{broker.name}")
    collector = MqttCollector(
        broker, Holding(), gateway_id=config.gateway_id, metrics=metrics, first_seq=first_seq
    )
    await collector.run()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
