"""The Modbus line collector: many unit ids sharing one connection, one request at a time.

An RS-485 line (Modbus RTU on a serial port), a serial device server (RTU frames in one TCP
connection) and a Modbus TCP gateway in front of many unit ids all have one thing in common:
the bus is half-duplex and the master owns it, so one task per line sends one request, waits
for its answer or its timeout, keeps the line silent for the inter-frame gap (Modbus over
Serial Line V1.02, 2.5.1.1: 3.5 character times, 1.75 ms above 19200 baud) and only then
sends the next.

The schedule is per unit id: each has its own poll grid and the line always serves the unit
that has been due longest. A unit id that does not answer costs the line one bounded timeout
and is then backed off (jittered, exponential from ``backoff_min_s`` to ``backoff_max_s``), so a
dead or slow meter never starves the others: it is probed once per backoff period.

A response whose CRC does not match (line noise, a second master, a wrong baud rate) is
counted in ``gateway_modbus_crc_errors_total`` and the read fails at once instead of waiting
for the timeout (pymodbus's RTU framer discards such a frame silently; the collector sees the
bytes through pymodbus's ``trace_packet`` hook and checks the CRC itself).

Block planning, splitting around undefined registers and decoding are those of the TCP
collector (``ingest.modbus``); each unit id is its own source (``<gateway>/<device>``) with its
own ``seq``, and its readings go through the same ``SourceSink`` into the buffer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from contracts.records import RawReading, ReadingBatch, Source
from ingest.config import LineDevice, LineTransport, ModbusLine
from ingest.metrics import GatewayMetrics, MetricKey
from ingest.modbus import ILLEGAL_DATA_ADDRESS, BlockPlan, block_plan, observe_latency, to_readings
from ingest.registers import Block, Function, plan_blocks, split_block
from ingest.sink import ReadingSink, SourceSink

log = logging.getLogger(__name__)

_FUNCTION_CODE = {Function.HOLDING: 3, Function.INPUT: 4}
MAX_JITTER = 0.5  # a backoff is drawn from [delay * (1 - MAX_JITTER), delay]


def crc16(frame: bytes) -> int:
    """The Modbus CRC of ``frame`` (Modbus over Serial Line V1.02, 6.2.2: polynomial 0xA001
    reflected, initial 0xFFFF), as the integer whose little-endian bytes end an RTU frame."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def response_size(count: int) -> int:
    """Bytes of the RTU response to a read of ``count`` registers: address, function, byte
    count, data, CRC (Modbus Application Protocol V1.1b3, 6.3/6.4)."""
    return 5 + 2 * count


REQUEST_SIZE = 8  # address, function, start (2), count (2), CRC (2)
EXCEPTION_SIZE = 5  # address, function | 0x80, exception code, CRC (2)


class _CrcWatch:
    """Sees the bytes pymodbus receives and flags an expected response with a wrong CRC."""

    def __init__(self, on_bad: Callable[[], None]) -> None:
        self._on_bad = on_bad
        self.expect: tuple[int, int, int] | None = None  # unit id, function code, size

    def __call__(self, sending: bool, data: bytes) -> bytes:
        expect = self.expect
        if sending or expect is None or len(data) < EXCEPTION_SIZE:
            return data
        unit, code, size = expect
        # The response may follow garbage; look for it where a frame of ours could start.
        for start in range(len(data) - EXCEPTION_SIZE + 1):
            if data[start] != unit or data[start + 1] & 0x7F != code:
                continue
            n = EXCEPTION_SIZE if data[start + 1] & 0x80 else size
            if len(data) - start < n:
                return data  # not complete yet
            frame = data[start : start + n]
            if crc16(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
                self.expect = None
                self._on_bad()
            return data
        return data


class _Unit:
    """The state of one unit id on the line: its schedule, backoff, blocks and source."""

    def __init__(
        self, line: ModbusLine, device: LineDevice, sink: SourceSink, first_seq: int
    ) -> None:
        self.device, self.sink, self.seq = device, sink, first_seq
        self.name = device.name
        self.interval = device.poll_interval_s or line.poll_interval_s
        self.timeout = device.timeout_s or line.timeout_s
        spans = [p.span(i) for i, p in enumerate(device.points)]
        self.blocks = plan_blocks(spans, max_gap=device.max_gap, max_count=device.max_block)
        self.plans: dict[int, BlockPlan] = {}
        self.due = 0.0  # loop time of the next poll
        self.failures = 0
        self.problems: dict[tuple[Function, int], str] = {}

    def plan(self, block: Block) -> BlockPlan:
        plan = self.plans.get(id(block))
        if plan is None or plan[0] is not block:
            plan = block_plan(block, self.device.points)
            live = {id(b) for b in self.blocks}
            self.plans = {k: v for k, v in self.plans.items() if k in live}
            self.plans[id(block)] = plan
        return plan


class _UnitTimeoutError(Exception):
    """The unit id did not answer; the rest of its cycle is skipped."""


class _LineDownError(Exception):
    """The connection itself failed; every unit waits for the reconnect."""


class ModbusLineCollector:
    """Polls every unit id of one line over one connection until cancelled."""

    def __init__(
        self,
        line: ModbusLine,
        sink: ReadingSink,
        *,
        gateway_id: str,
        metrics: GatewayMetrics,
        first_seqs: dict[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.line = line
        self._gateway_id, self._metrics, self._clock = gateway_id, metrics, clock
        seqs = first_seqs or {}
        self.units = [
            _Unit(
                line,
                d,
                SourceSink(sink, metrics, source_key=f"{gateway_id}/{d.name}"),
                seqs.get(f"{gateway_id}/{d.name}", 0),
            )
            for d in line.devices
        ]
        self._client: AsyncModbusSerialClient | AsyncModbusTcpClient | None = None
        self._line_failures = 0
        self._crc_bad = asyncio.Event()
        self._watch = _CrcWatch(self._crc_bad.set)
        self._last_frame_end = 0.0
        self._gap = line.frame_gap_s
        n = line.name
        self._k_busy = metrics.key("gateway_modbus_line_busy_seconds_total", line=n)
        self._k_requests = metrics.key("gateway_modbus_line_requests_total", line=n)
        self._k_ok: dict[str, MetricKey] = {
            u.name: metrics.key("gateway_modbus_reads_total", result="ok", device=u.name, line=n)
            for u in self.units
        }
        self._k_points: dict[str, MetricKey] = {
            u.name: metrics.key("gateway_modbus_points_total", device=u.name, line=n)
            for u in self.units
        }
        metrics.set("gateway_modbus_connected", 0, line=n)
        for unit in self.units:
            metrics.set("gateway_modbus_unit_up", 1, line=n, device=unit.name)

    # -- the schedule -------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        # Spread the first polls over each unit's interval, as the TCP collectors are.
        for i, unit in enumerate(self.units):
            unit.due = now + unit.interval * i / len(self.units)
        try:
            while True:
                if self._client is None and not await self._connect():
                    continue
                unit = min(self.units, key=lambda u: u.due)
                wait = unit.due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    ok = await self._poll(unit)
                except _LineDownError as exc:
                    self._disconnect(str(exc))
                    continue
                except Exception:  # the line task never dies: log, count, go on
                    log.exception("line %s: unexpected error polling %s", self.line.name, unit.name)
                    self._metrics.inc("gateway_modbus_errors_total", line=self.line.name)
                    ok = False
                self._reschedule(unit, ok, loop.time())
        finally:
            self._disconnect(None)

    def _reschedule(self, unit: _Unit, answered: bool | None, now: float) -> None:
        """Next poll on the unit's grid; after a timeout (``answered`` None) its backoff."""
        line = self.line.name
        if answered is None:
            unit.failures += 1
            delay = min(self.line.backoff_max_s, self.line.backoff_min_s * 2 ** (unit.failures - 1))
            delay *= 1.0 - MAX_JITTER * random.random()  # noqa: S311 - jitter, not cryptography
            unit.due = now + delay
            self._metrics.set("gateway_modbus_unit_up", 0, line=line, device=unit.name)
            if unit.failures == 1:
                log.warning(
                    "line %s: unit %d (%s) DOWN: no answer within %.2f s; retrying with backoff",
                    line,
                    unit.device.unit_id,
                    unit.name,
                    unit.timeout,
                )
            return
        if unit.failures:
            log.info("line %s: unit %d (%s) UP again", line, unit.device.unit_id, unit.name)
            self._metrics.set("gateway_modbus_unit_up", 1, line=line, device=unit.name)
            unit.failures = 0
            unit.due = now  # back on a grid from now
        unit.due += unit.interval
        self._metrics.inc(
            "gateway_modbus_cycles_total",
            on_time="true" if answered and now <= unit.due else "false",
            device=unit.name,
            line=line,
        )
        if now > unit.due:  # overran: skip the missed slots instead of bursting to catch up
            missed = int((now - unit.due) // unit.interval) + 1
            self._metrics.inc(
                "gateway_modbus_cycles_missed_total", missed, device=unit.name, line=line
            )
            unit.due += missed * unit.interval

    async def _poll(self, unit: _Unit) -> bool | None:
        """One cycle of one unit: True if every block was read, False if some were not,
        None if the unit did not answer."""
        readings: list[RawReading] = []
        complete = True
        try:
            for block in list(unit.blocks):
                got = await self._read(unit, block)
                complete &= got is not None
                readings.extend(got or ())
        except _UnitTimeoutError:
            return None
        if readings:
            batch = ReadingBatch(
                Source.MODBUS, self._gateway_id, unit.sink.source_key, tuple(readings)
            )
            if await unit.sink.put(batch):
                self._metrics.add(self._k_points[unit.name], len(readings))
            else:
                complete = False
        return complete

    # -- the connection -----------------------------------------------------------------

    async def _connect(self) -> bool:
        line = self.line
        # pymodbus's own reconnect and retries are off: this task owns the policy.
        client: AsyncModbusSerialClient | AsyncModbusTcpClient
        if line.transport is LineTransport.SERIAL:
            assert line.port is not None
            client = AsyncModbusSerialClient(
                line.port,
                framer=FramerType.RTU,
                baudrate=line.baudrate,
                bytesize=line.bytesize,
                parity=line.parity,
                stopbits=line.stopbits,
                timeout=line.timeout_s,
                retries=0,
                reconnect_delay=0,
                name=line.name,
                trace_packet=self._watch,
            )
            where = f"{line.port} {line.baudrate} {line.bytesize}{line.parity}{line.stopbits}"
        else:
            assert line.host is not None
            rtu = line.transport is LineTransport.RTU_OVER_TCP
            client = AsyncModbusTcpClient(
                line.host,
                port=line.tcp_port,
                framer=FramerType.RTU if rtu else FramerType.SOCKET,
                timeout=line.timeout_s,
                retries=0,
                reconnect_delay=0,
                name=line.name,
                trace_packet=self._watch if rtu else None,
            )
            where = f"{line.transport.value} {line.host}:{line.tcp_port}"
        try:
            async with asyncio.timeout(line.timeout_s + 1.0):
                connected = await client.connect()
        except (TimeoutError, OSError, ModbusException):
            connected = False
        if not connected:
            client.close()
            self._line_failures += 1
            delay = min(
                line.reconnect_max_s, line.reconnect_min_s * 2 ** min(self._line_failures - 1, 20)
            )
            delay *= 1.0 - MAX_JITTER * random.random()  # noqa: S311 - jitter
            self._metrics.inc("gateway_modbus_connects_total", result="failed", line=line.name)
            if self._line_failures == 1:
                log.warning("line %s DOWN: cannot open %s", line.name, where)
            await asyncio.sleep(delay)
            return False
        if self._line_failures:
            self._metrics.inc("gateway_modbus_reconnects_total", line=line.name)
        self._line_failures = 0
        self._client = client
        self._metrics.inc("gateway_modbus_connects_total", result="ok", line=line.name)
        self._metrics.set("gateway_modbus_connected", 1, line=line.name)
        log.info("line %s UP: %s, %d unit ids", line.name, where, len(self.units))
        return True

    def _disconnect(self, reason: str | None) -> None:
        if self._client is None:
            return
        self._client.close()
        self._client = None
        self._metrics.set("gateway_modbus_connected", 0, line=self.line.name)
        if reason is not None:
            self._line_failures = max(self._line_failures, 1)
            log.warning("line %s DOWN: %s; reconnecting", self.line.name, reason)

    # -- one request --------------------------------------------------------------------

    async def _read(self, unit: _Unit, block: Block) -> list[RawReading] | None:
        """Readings of one block; None when the unit refused or garbled them; raises
        _UnitTimeoutError when it did not answer and _LineDownError when the line failed."""
        client = self._client
        if client is None or not client.connected:
            raise _LineDownError("connection lost")
        loop = asyncio.get_running_loop()
        silence = self._last_frame_end + self._gap - loop.time()
        if silence > 0:  # the inter-frame gap after the previous frame on the bus
            await asyncio.sleep(silence)
        code = _FUNCTION_CODE[block.function]
        self._watch.expect = (unit.device.unit_id, code, response_size(block.count))
        self._crc_bad.clear()
        # pymodbus reads its response timeout per request from here; units differ in it.
        client.comm_params.timeout_connect = unit.timeout
        call = (
            client.read_holding_registers
            if block.function is Function.HOLDING
            else client.read_input_registers
        )
        started = time.perf_counter()
        request = asyncio.ensure_future(
            call(block.start, count=block.count, device_id=unit.device.unit_id)
        )
        crc = asyncio.ensure_future(self._crc_bad.wait())
        try:
            # Bounded twice: pymodbus's own wait and this one, in case a frame arrives half.
            done, _ = await asyncio.wait(
                (request, crc), timeout=unit.timeout + 0.5, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            crc.cancel()
            self._watch.expect = None
            self._last_frame_end = loop.time()
            elapsed = time.perf_counter() - started
            self._metrics.add(self._k_busy, elapsed)
            self._metrics.add(self._k_requests)
        if request not in done:
            request.cancel()
            await asyncio.gather(request, return_exceptions=True)
            if crc in done:
                self._metrics.inc(
                    "gateway_modbus_crc_errors_total", line=self.line.name, device=unit.name
                )
                self._count(
                    unit, "crc_error", block, f"CRC error in the response to {_where(block)}"
                )
                return None
            self._count(unit, "timeout", block, None)
            raise _UnitTimeoutError
        try:
            response = request.result()
        except ConnectionException as exc:
            raise _LineDownError(f"{type(exc).__name__}: {exc}") from exc
        except (TimeoutError, ModbusIOException) as exc:
            if not client.connected:
                raise _LineDownError(f"{type(exc).__name__}: {exc}") from exc
            self._count(unit, "timeout", block, None)
            raise _UnitTimeoutError from exc
        except ModbusException as exc:
            self._count(unit, "malformed", block, f"malformed response to {_where(block)}: {exc}")
            return None
        except OSError as exc:
            raise _LineDownError(f"{type(exc).__name__}: {exc}") from exc
        observe_latency(self._metrics, elapsed)
        if response.isError():
            exc_code = int(getattr(response, "exception_code", 0))
            if exc_code == ILLEGAL_DATA_ADDRESS and len(block.spans) > 1:
                return await self._split(unit, block)
            self._metrics.inc(
                "gateway_modbus_exceptions_total",
                code=str(exc_code),
                device=unit.name,
                line=self.line.name,
            )
            self._count(unit, "exception", block, f"exception {exc_code} for {_where(block)}")
            return None
        registers = list(getattr(response, "registers", ()))
        if len(registers) < block.count:
            self._count(unit, "malformed", block, f"{len(registers)} registers for {_where(block)}")
            return None
        if unit.problems:
            self._count(unit, "ok", block, None)
        else:
            self._metrics.add(self._k_ok[unit.name])
        readings = to_readings(unit.plan(block), registers, int(self._clock() * 1000), unit.seq)
        unit.seq += len(readings)
        return readings

    async def _split(self, unit: _Unit, block: Block) -> list[RawReading] | None:
        halves = split_block(block)
        index = unit.blocks.index(block)
        unit.blocks[index : index + 1] = halves
        log.info(
            "line %s: unit %s %s %d+%d spans an undefined register; split into %s",
            self.line.name,
            unit.name,
            block.function.value,
            block.start,
            block.count,
            ", ".join(f"{b.start}+{b.count}" for b in halves),
        )
        parts = [await self._read(unit, half) for half in halves]
        if all(p is None for p in parts):
            return None
        return [r for p in parts for r in p or ()]

    def _count(self, unit: _Unit, result: str, block: Block, problem: str | None) -> None:
        self._metrics.inc(
            "gateway_modbus_reads_total", result=result, device=unit.name, line=self.line.name
        )
        key = (block.function, block.start)
        if result == "timeout":  # logged once per episode by _reschedule
            return
        if unit.problems.get(key) == problem:
            return
        if problem is None:
            log.info("line %s: unit %s %s %d reads again", self.line.name, unit.name, *key)
            unit.problems.pop(key, None)
        else:
            log.warning("line %s: unit %s: %s", self.line.name, unit.name, problem)
            unit.problems[key] = problem


def _where(block: Block) -> str:
    return f"{block.function.value} {block.start}+{block.count}"


async def run_modbus_line(
    line: ModbusLine,
    sink: ReadingSink,
    *,
    gateway_id: str,
    metrics: GatewayMetrics,
    first_seqs: dict[str, int] | None = None,
) -> None:
    """Poll every unit id of ``line`` until cancelled."""
    await ModbusLineCollector(
        line, sink, gateway_id=gateway_id, metrics=metrics, first_seqs=first_seqs
    ).run()
