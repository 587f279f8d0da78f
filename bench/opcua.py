"""OPC UA half of the gateway benchmark: N monitored items changing every interval.

The simulator runs in its own process (so its CPU is not charged to the gateway); this process
runs only the collector, into a sink that counts readings. A notification is on time when it
reaches the sink within one interval of its SourceTimestamp (the next value is due then); the
publishing interval is half the change interval, as a gateway would configure it so that a
value waits at most half an interval in the server. Measuring starts ``warmup_s``
after the initial value of every item has arrived (subscription creation is not measured).

    .venv/bin/python -m bench.opcua [--items 10000] [--interval 1.0] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import time

from contracts.records import ReadingBatch
from ingest.metrics import GatewayMetrics
from ingest.opcua import OpcUaCollector
from ingest.opcua_config import OpcUaServerConfig
from simulators.park_meters import Park

_TICKS = os.sysconf("SC_CLK_TCK")


class CountingSink:
    """Counts readings and how many arrived within ``interval_ms`` of their device time."""

    def __init__(self, interval_ms: float, items: int) -> None:
        self.interval_ms = interval_ms
        self.measuring = False
        self.items = items
        self.all_seen = asyncio.Event()  # the initial value of every item has arrived
        self.seen = 0
        self.readings = 0
        self.on_time = 0

    async def put(self, batch: ReadingBatch) -> None:
        self.seen += len(batch.readings)
        if self.seen >= self.items:
            self.all_seen.set()
        if not self.measuring:
            return
        now_ms = time.time() * 1000
        self.readings += len(batch.readings)
        self.on_time += sum(1 for r in batch.readings if now_ms - r.ts_ms <= self.interval_ms)


def _cpu_s(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure_opcua(
    items: int = 10_000, interval_s: float = 1.0, seconds: float = 30, warmup_s: float = 3.0
) -> dict[str, float]:
    """Run simulator + collector; return throughput, on-time share, CPU and memory figures."""
    port = _free_port()
    meters = items  # Park.build caps the points at ``items``
    sim = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "simulators.opcua_server", "--port", str(port)),
        *("--meters", str(meters), "--items", str(items), "--interval", str(interval_s)),
        "--flat",  # every item changes every interval, whatever the time of day
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert sim.stdout is not None
        ready = await asyncio.wait_for(sim.stdout.readline(), timeout=300)
        endpoint = ready.decode().split()[1]
        ms = interval_s * 1000
        points = [
            {
                "node_id": f"ns=2;s={p.name}",
                "meter_id": p.meter_id,
                "unit": p.unit,
                "kind": p.kind,
                "subscription": {"publishing_interval_ms": ms / 2, "sampling_interval_ms": ms},
            }
            for p in Park.build(meters, max_points=items).points
        ]
        config = OpcUaServerConfig.model_validate(
            {"name": "bench", "endpoint": endpoint, "points": points}
        )
        sink = CountingSink(ms, items)
        collector = OpcUaCollector(config, sink, gateway_id="bench", metrics=GatewayMetrics())
        task = asyncio.create_task(collector.run())
        await sink.all_seen.wait()
        await asyncio.sleep(warmup_s)
        sink.measuring = True
        cpu0, sim_cpu0, t0 = _cpu_s(), _cpu_s(sim.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, sim_cpu1, elapsed = _cpu_s(), _cpu_s(sim.pid), time.monotonic() - t0
        sink.measuring = False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return {
            "opcua_items": float(items),
            "opcua_items_per_s": round(sink.readings / elapsed, 1),
            "opcua_notifications_on_time_pct": round(100 * sink.on_time / max(1, sink.readings), 2),
            "opcua_gateway_cpu_pct": round(100 * (cpu1 - cpu0) / elapsed, 1),
            "opcua_gateway_rss_mb": round(_rss_mb(), 1),
            "opcua_simulator_cpu_pct": round(100 * (sim_cpu1 - sim_cpu0) / elapsed, 1),
        }
    finally:
        sim.terminate()
        await sim.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(measure_opcua(args.items, args.interval, args.seconds))))


if __name__ == "__main__":
    main()
