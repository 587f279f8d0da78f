"""The Modbus TCP collector: one asyncio task per device, polling its register map on a grid.

Each device task owns its connection, so a dead, slow or misbehaving device only ever delays
itself. Points are merged into the fewest block reads (``ingest.registers.plan_blocks``); a block
the device refuses with exception 2 (illegal data address: it spans a register the device does
not define) is halved until each read covers only defined registers, and the split plan is kept.
A timeout drops the connection (a late answer would otherwise be taken for the next request's)
and reconnects with jittered exponential backoff. Nothing a device does ends the task: every
failure is counted in metrics and logged with device and address once per change of state.

Each poll cycle becomes one ``ReadingBatch`` (source ``modbus``, key ``<gateway>/<device>``)
stamped with the gateway's clock at the response (Modbus carries no device time) and a
per-source monotonic ``seq``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from contracts.records import Quality, RawReading, ReadingBatch, Source
from ingest.config import ModbusDevice, ModbusPoint
from ingest.metrics import GatewayMetrics, MetricKey
from ingest.registers import Block, Function, block_decoder, plan_blocks, split_block
from ingest.sink import ReadingSink, SourceSink

log = logging.getLogger(__name__)

ILLEGAL_DATA_ADDRESS = 2
# Read latency histogram bounds, seconds (Prometheus histogram over all devices).
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# Series keys resolved once: an observation adds 1 to the buckets from the first bound >= it.
_BUCKET = "gateway_modbus_read_seconds_bucket"
_BUCKET_KEYS = tuple(
    GatewayMetrics.key(_BUCKET, le=bound)
    for bound in (*(f"{b:g}" for b in LATENCY_BUCKETS), "+Inf")
)
_SUM_KEY = GatewayMetrics.key("gateway_modbus_read_seconds_sum")
_COUNT_KEY = GatewayMetrics.key("gateway_modbus_read_seconds_count")


class _CycleAbortedError(Exception):
    """The connection failed mid-cycle; the rest of the cycle is skipped."""


def observe_latency(metrics: GatewayMetrics, seconds: float) -> None:
    metrics.add_each(_BUCKET_KEYS[bisect_left(LATENCY_BUCKETS, seconds) :])
    metrics.add(_SUM_KEY, seconds)
    metrics.add(_COUNT_KEY)


class PointConversion:
    """What turning one span's raw value into a reading needs, looked up once per device."""

    __slots__ = ("meter_id", "multiplier", "offset", "scale", "unit")

    def __init__(self, meter_id: str, unit: str, scale: float, offset: float, mult: float) -> None:
        self.meter_id, self.unit = meter_id, unit
        self.scale, self.offset, self.multiplier = scale, offset, mult


# A block, the decoder of its registers and its points' conversions, in ``block.spans`` order.
BlockPlan = tuple[Block, Callable[[Sequence[int]], list[float]], list[PointConversion]]


def block_plan(block: Block, points: Sequence[ModbusPoint]) -> BlockPlan:
    """The decoder and conversions of one block of ``points`` (a device's point list)."""
    layouts = [(points[s.index].data_type, points[s.index].order) for s in block.spans]
    return (
        block,
        block_decoder(block, layouts),
        [
            PointConversion(p.meter_id, p.unit, p.scale, p.offset, p.multiplier)
            for p in (points[s.index] for s in block.spans)
        ],
    )


def to_readings(
    plan: BlockPlan, registers: Sequence[int], ts_ms: int, seq: int
) -> list[RawReading]:
    """The readings of one block's registers, numbered from ``seq`` (one per point)."""
    _, decode_block, points = plan
    isfinite = math.isfinite
    readings = []
    for p, raw in zip(points, decode_block(registers), strict=True):
        value = (raw * p.scale + p.offset) * p.multiplier
        # A float register holding NaN/inf is a device fault: flag it, never pass a number.
        if isfinite(value):
            readings.append(RawReading(p.meter_id, ts_ms, value, p.unit, seq, Quality.GOOD))
        else:
            readings.append(RawReading(p.meter_id, ts_ms, math.nan, p.unit, seq, Quality.BAD))
        seq += 1
    return readings


class ModbusCollector:
    """Polls one device every ``poll_interval_s`` until cancelled."""

    def __init__(
        self,
        device: ModbusDevice,
        sink: ReadingSink,
        *,
        gateway_id: str,
        metrics: GatewayMetrics,
        first_seq: int = 0,
        start_delay_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self.source_key = f"{gateway_id}/{device.name}"
        self._sink = SourceSink(sink, metrics, source_key=self.source_key)
        self._gateway_id, self._metrics = gateway_id, metrics
        self._seq, self._start_delay, self._clock = first_seq, start_delay_s, clock
        spans = [p.span(i) for i, p in enumerate(device.points)]
        self.blocks = plan_blocks(spans, max_gap=device.max_gap, max_count=device.max_block)
        self._client: AsyncModbusTcpClient | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._problems: dict[tuple[Function, int], str] = {}
        self._name = name = device.name
        # Per-poll series, resolved once (see GatewayMetrics.key).
        self._k_cycle: dict[bool, MetricKey] = {
            True: metrics.key("gateway_modbus_cycles_total", on_time="true", device=name),
            False: metrics.key("gateway_modbus_cycles_total", on_time="false", device=name),
        }
        self._k_points = metrics.key("gateway_modbus_points_total", device=name)
        self._k_read_ok = metrics.key("gateway_modbus_reads_total", result="ok", device=name)
        # Each block's decoder, built on first use (blocks are replaced when split); the entry
        # keeps its block alive, so an id is never reused while its entry exists.
        self._decoders: dict[int, BlockPlan] = {}
        metrics.set("gateway_modbus_connected", 0, device=self._name)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.device.poll_interval_s
        await asyncio.sleep(self._start_delay)
        due = loop.time()
        try:
            while True:
                ok = False
                try:
                    ok = await self._cycle()
                except _CycleAbortedError:
                    pass
                except Exception:  # a polling task never dies: log, count, reconnect
                    log.exception("device %s: unexpected error in poll cycle", self.device.name)
                    self._metrics.inc("gateway_modbus_errors_total", device=self._name)
                    self._disconnect("unexpected error")
                due += interval
                now = loop.time()
                self._metrics.add(self._k_cycle[ok and now <= due])
                if now > due:  # overran: skip the missed slots instead of bursting to catch up
                    missed = int((now - due) // interval) + 1
                    self._metrics.inc(
                        "gateway_modbus_cycles_missed_total", missed, device=self._name
                    )
                    due += missed * interval
                await asyncio.sleep(due - now)
        finally:
            self._disconnect(None)

    async def _cycle(self) -> bool:
        """One poll of every block; True when every block was read."""
        if self._client is None and not await self._connect():
            return False
        readings: list[RawReading] = []
        complete = True
        for block in list(self.blocks):
            got = await self._read(block)
            complete &= got is not None
            readings.extend(got or ())
        if readings:
            batch = ReadingBatch(Source.MODBUS, self._gateway_id, self.source_key, tuple(readings))
            # A refused batch is counted by the SourceSink; the device itself is fine.
            if await self._sink.put(batch):
                self._metrics.add(self._k_points, len(readings))
            else:
                complete = False
        return complete

    async def _connect(self) -> bool:
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            return False
        d = self.device
        # pymodbus's own reconnect and retries are off: this task owns the policy.
        client = AsyncModbusTcpClient(
            d.host, port=d.port, timeout=d.timeout_s, retries=0, reconnect_delay=0, name=d.name
        )
        try:
            async with asyncio.timeout(d.timeout_s + 1.0):
                connected = await client.connect()
        except (TimeoutError, OSError, ModbusException):
            connected = False
        if not connected:
            client.close()
            self._failures += 1
            delay = min(d.reconnect_max_s, d.reconnect_min_s * 2 ** min(self._failures - 1, 20))
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
            self._retry_at = loop.time() + delay
            self._metrics.inc("gateway_modbus_connects_total", result="failed", device=self._name)
            if self._failures == 1:
                log.warning("device %s DOWN: cannot connect to %s:%d", d.name, d.host, d.port)
            log.debug(
                "device %s: connect attempt %d failed, retry in %.1f s",
                d.name,
                self._failures,
                delay,
            )
            return False
        if self._failures:
            self._metrics.inc("gateway_modbus_reconnects_total", device=self._name)
        self._failures = 0
        self._client = client
        self._metrics.inc("gateway_modbus_connects_total", result="ok", device=self._name)
        self._metrics.set("gateway_modbus_connected", 1, device=self._name)
        log.info("device %s UP: connected to %s:%d unit %d", d.name, d.host, d.port, d.unit_id)
        return True

    def _disconnect(self, reason: str | None) -> None:
        if self._client is None:
            return
        self._client.close()
        self._client = None
        self._metrics.set("gateway_modbus_connected", 0, device=self._name)
        if reason is not None:
            self._failures = max(self._failures, 1)
            self._retry_at = asyncio.get_running_loop().time() + self.device.reconnect_min_s
            log.warning("device %s DOWN: %s; reconnecting", self.device.name, reason)

    async def _read(self, block: Block) -> list[RawReading] | None:
        """Readings of one block, or None when the device did not deliver them."""
        assert self._client is not None
        started = time.perf_counter()
        read = (
            self._client.read_holding_registers
            if block.function is Function.HOLDING
            else self._client.read_input_registers
        )
        try:
            # pymodbus bounds every request by the device's timeout_s itself (retries=0: one
            # wait_for on the response, also when the connection drops mid-request) and raises
            # ModbusIOException when it expires, so no second timer per request is armed here.
            response = await read(block.start, count=block.count, device_id=self.device.unit_id)
        except (TimeoutError, ModbusIOException, ConnectionException, OSError) as exc:
            self._metrics.inc("gateway_modbus_reads_total", result="timeout", device=self._name)
            self._disconnect(f"no answer to {_where(block)} ({type(exc).__name__})")
            raise _CycleAbortedError from exc
        except ModbusException as exc:  # a frame pymodbus could not make sense of
            self._count("malformed", block, f"malformed response to {_where(block)}: {exc}")
            self._disconnect("malformed frame")
            raise _CycleAbortedError from exc
        observe_latency(self._metrics, time.perf_counter() - started)
        if response.isError():
            code = int(getattr(response, "exception_code", 0))
            if code == ILLEGAL_DATA_ADDRESS and len(block.spans) > 1:
                return await self._split(block)
            self._metrics.inc("gateway_modbus_exceptions_total", code=str(code), device=self._name)
            self._count("exception", block, f"exception {code} for {_where(block)}")
            return None
        registers = getattr(response, "registers", ())
        if not isinstance(registers, list):
            registers = list(registers)
        if len(registers) < block.count:
            self._count("malformed", block, f"{len(registers)} registers for {_where(block)}")
            return None
        if self._problems:
            self._count("ok", block, None)
        else:  # the usual case: nothing to log as recovered
            self._metrics.add(self._k_read_ok)
        return self._decode(block, registers)

    async def _split(self, block: Block) -> list[RawReading] | None:
        halves = split_block(block)
        index = self.blocks.index(block)
        self.blocks[index : index + 1] = halves
        log.info(
            "device %s: %s %d+%d spans an undefined register; split into %s",
            self.device.name,
            block.function.value,
            block.start,
            block.count,
            ", ".join(f"{b.start}+{b.count}" for b in halves),
        )
        parts = [await self._read(half) for half in halves]
        if all(p is None for p in parts):
            return None
        return [r for p in parts for r in p or ()]

    def _count(self, result: str, block: Block, problem: str | None) -> None:
        self._metrics.inc("gateway_modbus_reads_total", result=result, device=self._name)
        key = (block.function, block.start)
        if self._problems.get(key) == problem:
            return
        if problem is None:
            log.info("device %s: %s %d reads again", self.device.name, key[0].value, key[1])
            del self._problems[key]
        else:
            log.warning("device %s: %s", self.device.name, problem)
            self._problems[key] = problem

    def _decoder(self, block: Block) -> BlockPlan:
        plan = self._decoders.get(id(block))
        if plan is None or plan[0] is not block:
            plan = block_plan(block, self.device.points)
            live = {id(b) for b in self.blocks}  # forget the plans of blocks split since
            self._decoders = {k: v for k, v in self._decoders.items() if k in live}
            self._decoders[id(block)] = plan
        return plan

    def _decode(self, block: Block, registers: list[int]) -> list[RawReading]:
        readings = to_readings(
            self._decoder(block), registers, int(self._clock() * 1000), self._seq
        )
        self._seq += len(readings)
        return readings


def _where(block: Block) -> str:
    return f"{block.function.value} {block.start}+{block.count}"


async def run_modbus_collector(
    device: ModbusDevice,
    sink: ReadingSink,
    *,
    gateway_id: str,
    metrics: GatewayMetrics,
    first_seq: int = 0,
    start_delay_s: float = 0.0,
) -> None:
    """Poll ``device`` until cancelled (the Modbus twin of ``run_opcua_collector``)."""
    collector = ModbusCollector(
        device,
        sink,
        gateway_id=gateway_id,
        metrics=metrics,
        first_seq=first_seq,
        start_delay_s=start_delay_s,
    )
    await collector.run()
