"""The DL/T 645-2007 collector: one asyncio task per RS-485 line, one request at a time.

A line is a serial port of the gateway or a serial device server's raw TCP port (one
connection for the whole line). Every poll cycle walks the line's meters in order and reads
each configured data identifier with control 11H (DL/T 645-2007 clause 7.1); the reply must
come from the addressed meter (91H with the same identifier, or D1H with an error byte).
Frames from other addresses, echoes of requests and late replies to an earlier request are
counted and skipped, so one confused meter cannot feed its value to another's point.

Scheduling keeps a dead meter from starving the rest: a request waits at most ``timeout_s``
plus the frames' transmission time at the line's baud rate; a meter that did not answer is
left out of the following cycles for a jittered, doubling backoff and then tried again, while
the others are read as usual. Between two requests the line is left quiet for
``inter_frame_s`` and never less than four character times. A failed port or connection is
reopened with its own backoff.

Each meter's poll becomes one ``ReadingBatch`` (source ``dlt645``, key ``<gateway>/<line>``,
one ``seq`` per line), stamped with the gateway's clock at the reply. Energy registers are
cumulative readings as the meter shows them: a step back of more than half the register's
range is the meter's own rollover (999999.99 -> 0.00 kWh) and is counted in
``gateway_dlt645_rollovers_total``; the platform unwraps it with the meter's registered
rollover (``accounting.intervals.counter_deltas``). A smaller step back is counted in
``gateway_dlt645_backward_steps_total`` and left to the platform's validation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from contracts.records import Quality, RawReading, ReadingBatch, Source
from ingest import dlt645_codec as codec
from ingest.config import Dlt645Line, Dlt645Meter
from ingest.metrics import GatewayMetrics, MetricKey
from ingest.sink import ReadingSink, SourceSink

log = logging.getLogger(__name__)

_MIN_GAP_CHARACTERS = 4  # quiet line between frames, in character times
_REPLY_OVERHEAD = 16  # preamble, heads, address, C, L, CS, end and DI of a reply


class LineTransport(Protocol):
    """A byte pipe to the line: a serial port or a device server's TCP connection."""

    async def open(self) -> None: ...

    async def send(self, data: bytes) -> None: ...

    async def receive(self, within_s: float) -> bytes:
        """Some bytes, waiting at most ``within_s``; TimeoutError when none came."""
        ...

    def close(self) -> None: ...


class TcpTransport:
    """A serial device server in raw TCP mode (one connection carries the whole line)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._host, self._port, self._timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        async with asyncio.timeout(self._timeout + 1.0):
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    async def send(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        async with asyncio.timeout(self._timeout):
            await self._writer.drain()

    async def receive(self, within_s: float) -> bytes:
        assert self._reader is not None
        async with asyncio.timeout(within_s):
            data = await self._reader.read(512)
        if not data:
            raise ConnectionError("the device server closed the connection")
        return data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


_BAUD = {
    1200: termios.B1200,
    2400: termios.B2400,
    4800: termios.B4800,
    9600: termios.B9600,
    19200: termios.B19200,
}


class SerialTransport:
    """A serial port in raw mode (termios; the line's baud rate, parity and stop bits), read
    and written without blocking the event loop."""

    def __init__(self, path: str, baudrate: int, parity: str, stop_bits: int) -> None:
        self._path, self._baud, self._parity, self._stop = path, baudrate, parity, stop_bits
        self._fd: int | None = None

    async def open(self) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(fd)
            cflag = termios.CS8 | termios.CREAD | termios.CLOCAL
            if self._parity != "N":
                cflag |= termios.PARENB | (termios.PARODD if self._parity == "O" else 0)
            if self._stop == 2:
                cflag |= termios.CSTOPB
            # Raw bytes: no echo, no line editing, no CR/LF translation, no flow control.
            iflag = termios.IGNBRK | (termios.INPCK if self._parity != "N" else 0)
            oflag = lflag = 0
            # VMIN 1: a read with nothing to read is EAGAIN (non-blocking), never an empty read.
            cc[termios.VMIN], cc[termios.VTIME] = 1, 0
            speed = _BAUD[self._baud]
            termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc])
            termios.tcflush(fd, termios.TCIOFLUSH)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    async def send(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await self._ready(asyncio.get_running_loop().add_writer, 1.0)

    async def receive(self, within_s: float) -> bytes:
        assert self._fd is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            try:
                data = os.read(self._fd, 512)
            except BlockingIOError:
                data = None
            if data:  # (a port whose other end is gone raises EIO, an OSError)
                return data
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError
            await self._ready(loop.add_reader, left)

    async def _ready(self, add: Callable[..., object], within_s: float) -> None:
        """Wait until the port is readable (``add`` is the loop's add_reader) or writable."""
        assert self._fd is not None
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self._fd

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        add(fd, wake)
        try:
            async with asyncio.timeout(within_s):
                await ready
        finally:
            if add == loop.add_reader:
                loop.remove_reader(fd)
            else:
                loop.remove_writer(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def transport_for(line: Dlt645Line) -> LineTransport:
    if line.transport == "serial":
        assert line.device is not None
        return SerialTransport(line.device, line.baudrate, line.parity, line.stop_bits)
    assert line.host is not None and line.port is not None
    return TcpTransport(line.host, line.port, line.timeout_s)


class _NoReplyError(Exception):
    """No frame from the addressed meter within the request's timeout."""


class _ErrorReplyError(Exception):
    """The meter answered D1H: it will not give this identifier (its ERR byte)."""

    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.err = err


class _MalformedError(Exception):
    """A reply from the addressed meter that is not a value of the identifier's format."""


@dataclass(slots=True)
class _MeterState:
    config: Dlt645Meter
    label: str  # the configured address: the metrics label and log name
    address: str  # what requests are sent to: the configured one, or learned for wildcards
    failures: int = 0
    retry_at: float = 0.0
    last_raw: dict[int, float] = field(default_factory=dict)  # point index -> register
    problems: dict[str, str] = field(default_factory=dict)  # di -> problem last logged


class Dlt645Collector:
    """Polls one line every ``poll_interval_s`` until cancelled."""

    def __init__(
        self,
        line: Dlt645Line,
        sink: ReadingSink,
        *,
        gateway_id: str,
        metrics: GatewayMetrics,
        first_seq: int = 0,
        start_delay_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        transport: LineTransport | None = None,
    ) -> None:
        self.line = line
        self.source_key = f"{gateway_id}/{line.name}"
        self._sink = SourceSink(sink, metrics, source_key=self.source_key)
        self._gateway_id, self._metrics, self._clock = gateway_id, metrics, clock
        self._seq, self._start_delay = first_seq, start_delay_s
        self._transport = transport or transport_for(line)
        self._open = False
        self._failures = 0
        self._retry_at = 0.0
        self._frames = codec.FrameReader()
        bits = 1 + 8 + (0 if line.parity == "N" else 1) + line.stop_bits
        self._char_s = bits / line.baudrate
        self._gap_s = max(line.inter_frame_s, _MIN_GAP_CHARACTERS * self._char_s)
        self._quiet_until = 0.0
        self.meters = [_MeterState(m, m.address, m.address) for m in line.meters]
        name = line.name
        self._k_points: MetricKey = metrics.key("gateway_dlt645_points_total", line=name)
        self._k_cycle = {
            ok: metrics.key("gateway_dlt645_cycles_total", line=name, on_time=str(ok).lower())
            for ok in (True, False)
        }
        metrics.set("gateway_dlt645_connected", 0, line=name)

    # --- the poll loop --------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.line.poll_interval_s
        await asyncio.sleep(self._start_delay)
        due = loop.time()
        try:
            while True:
                ok = False
                try:
                    ok = await self._cycle()
                except Exception:  # a line task never dies: log, count, reopen
                    log.exception("line %s: unexpected error in poll cycle", self.line.name)
                    self._metrics.inc("gateway_dlt645_errors_total", line=self.line.name)
                    self._close("unexpected error")
                due += interval
                now = loop.time()
                self._metrics.add(self._k_cycle[ok and now <= due])
                if now > due:  # overran: skip the missed slots instead of bursting
                    missed = int((now - due) // interval) + 1
                    self._metrics.inc(
                        "gateway_dlt645_cycles_missed_total", missed, line=self.line.name
                    )
                    due += missed * interval
                await asyncio.sleep(due - now)
        finally:
            self._close(None)

    async def poll_once(self) -> bool:
        """One cycle now, outside the schedule (tests, and a gateway's first read on demand)."""
        return await self._cycle()

    async def _cycle(self) -> bool:
        """One pass over the line's meters; True when every meter gave every value."""
        if not self._open and not await self._connect():
            return False
        loop = asyncio.get_running_loop()
        complete = True
        for meter in self.meters:
            if loop.time() < meter.retry_at:  # backing off: the others are not kept waiting
                self._metrics.inc(
                    "gateway_dlt645_meter_skips_total", line=self.line.name, meter=meter.label
                )
                complete = False
                continue
            try:
                readings, whole = await self._poll(meter)
            except (OSError, ConnectionError) as exc:
                self._close(f"{type(exc).__name__}: {exc}")
                return False
            complete &= whole
            if readings:
                batch = ReadingBatch(
                    Source.DLT645, self._gateway_id, self.source_key, tuple(readings)
                )
                if await self._sink.put(batch):
                    self._metrics.add(self._k_points, len(readings))
                else:
                    complete = False
        return complete

    async def _poll(self, meter: _MeterState) -> tuple[list[RawReading], bool]:
        """Every point of one meter; stops at the first request the meter leaves unanswered."""
        readings: list[RawReading] = []
        whole = True
        try:
            if meter.address == codec.ALL_AA:
                await self._learn_address(meter)
            for index, point in enumerate(meter.config.points):
                fmt = point.data_format()
                try:
                    data = await self._read(meter, point.di, fmt)
                    raw = codec.decode_value(fmt, data)
                except _ErrorReplyError as exc:
                    names = ",".join(codec.error_names(exc.err))
                    self._result(meter, "error", point.di, f"error reply D1H ({names})")
                    self._metrics.inc(
                        "gateway_dlt645_error_replies_total",
                        line=self.line.name,
                        meter=meter.label,
                        error=names,
                    )
                    whole = False
                    continue
                except codec.FrameError as exc:
                    self._result(meter, exc.kind, point.di, f"reply refused: {exc}")
                    whole = False
                    continue
                except (_MalformedError, codec.BadValueError) as exc:
                    self._result(meter, "malformed", point.di, f"reply refused: {exc}")
                    whole = False
                    continue
                self._result(meter, "ok", point.di, None)
                if fmt.cumulative:
                    self._watch_register(meter, index, point.meter_id, raw, fmt)
                readings.append(
                    RawReading(
                        point.meter_id,
                        int(self._clock() * 1000),
                        raw * point.multiplier,
                        fmt.unit,
                        self._seq,
                        Quality.GOOD,
                    )
                )
                self._seq += 1
        except _NoReplyError as exc:
            self._meter_down(meter, str(exc))
            return readings, False
        if meter.failures:
            log.info("line %s: meter %s answers again", self.line.name, meter.label)
        self._metrics.set("gateway_dlt645_meter_up", 1, line=self.line.name, meter=meter.label)
        meter.failures = 0
        return readings, whole

    # --- one request ----------------------------------------------------------------------------

    async def _read(self, meter: _MeterState, di: str, fmt: codec.DataFormat) -> bytes:
        """The value bytes of ``di`` from ``meter`` (after the echoed identifier)."""
        request = codec.read_request(meter.address, di, preamble=self.line.preamble)
        di_bytes = codec.encode_di(di)
        reply_bytes = _REPLY_OVERHEAD + max(fmt.size, fmt.reply_size)
        frame = await self._exchange(
            meter,
            request,
            reply_bytes,
            lambda f: (
                f.control in (codec.Control.REPLY_DATA_ERROR,)
                or (
                    f.control in (codec.Control.REPLY_DATA, codec.Control.REPLY_DATA_MORE)
                    and f.data[:4] == di_bytes
                )
            ),
        )
        if frame.control == codec.Control.REPLY_DATA_ERROR:
            raise _ErrorReplyError(frame.data[0] if frame.data else 0)
        if len(frame.data) < 4 + fmt.size:
            raise _MalformedError(f"{len(frame.data) - 4} value bytes for {fmt.name}")
        return frame.data[4:]

    async def _learn_address(self, meter: _MeterState) -> None:
        """Control 13H to AA..AA: the line's only meter answers 93H with its address."""
        request = codec.read_address_request(preamble=self.line.preamble)
        frame = await self._exchange(
            meter, request, _REPLY_OVERHEAD + 2, lambda f: f.control == codec.Control.REPLY_ADDRESS
        )
        learned = codec.decode_address(frame.data[:6]) if len(frame.data) >= 6 else ""
        if not learned.isdigit() or len(learned) != codec.ADDRESS_DIGITS:
            raise _NoReplyError(f"read address reply carries no address ({frame.data.hex()})")
        meter.address = learned
        log.info("line %s: the meter on the line has address %s", self.line.name, learned)

    async def _exchange(
        self,
        meter: _MeterState,
        request: bytes,
        reply_bytes: int,
        wanted: Callable[[codec.Frame], bool],
    ) -> codec.Frame:
        """Send ``request`` and return the first reply frame from ``meter`` it wants.

        Frames from other addresses, requests (a local echo, another master) and replies that
        are not to this request (a late answer to the previous one) are counted and skipped.
        A checksum error raises FrameError; the bad frame is discarded whole.
        """
        loop = asyncio.get_running_loop()
        if (quiet := self._quiet_until - loop.time()) > 0:
            await asyncio.sleep(quiet)  # the line rests between frames
        self._frames.clear()
        await self._transport.send(request)
        wire = (len(request) + reply_bytes) * self._char_s
        deadline = loop.time() + self.line.timeout_s + wire
        try:
            while True:
                frame = self._frames.next_frame()
                if frame is None:
                    left = deadline - loop.time()
                    if left <= 0:
                        raise TimeoutError
                    self._frames.feed(await self._transport.receive(left))
                    continue
                reason = self._foreign(meter, frame, wanted)
                if reason is None:
                    if "AA" in meter.address and meter.address != codec.ALL_AA:
                        meter.address = frame.address  # a wildcard resolved by the reply
                    return frame
                self._metrics.inc(
                    "gateway_dlt645_frames_ignored_total", line=self.line.name, reason=reason
                )
        except TimeoutError:
            self._metrics.inc(
                "gateway_dlt645_reads_total",
                line=self.line.name,
                meter=meter.label,
                result="timeout",
            )
            raise _NoReplyError(f"no reply within {self.line.timeout_s + wire:.2f} s") from None
        finally:
            self._quiet_until = loop.time() + self._gap_s

    @staticmethod
    def _foreign(
        meter: _MeterState, frame: codec.Frame, wanted: Callable[[codec.Frame], bool]
    ) -> str | None:
        if not frame.control & 0x80:
            return "request"
        if not codec.address_matches(meter.address, frame.address):
            return "foreign_address"
        if not wanted(frame):
            return "unexpected_reply"
        return None

    # --- bookkeeping ----------------------------------------------------------------------------

    def _result(self, meter: _MeterState, result: str, di: str, problem: str | None) -> None:
        self._metrics.inc(
            "gateway_dlt645_reads_total", line=self.line.name, meter=meter.label, result=result
        )
        if meter.problems.get(di) == problem:
            return
        if problem is None:
            log.info("line %s: meter %s %s reads again", self.line.name, meter.label, di)
            del meter.problems[di]
        else:
            log.warning("line %s: meter %s %s: %s", self.line.name, meter.label, di, problem)
            meter.problems[di] = problem

    def _watch_register(
        self, meter: _MeterState, index: int, meter_id: str, raw: float, fmt: codec.DataFormat
    ) -> None:
        last = meter.last_raw.get(index)
        meter.last_raw[index] = raw
        if last is None or raw >= last:
            return
        rollover = fmt.rollover
        if rollover is not None and last - raw > rollover / 2:
            self._metrics.inc(
                "gateway_dlt645_rollovers_total", line=self.line.name, meter_id=meter_id
            )
            log.info(
                "line %s: %s rolled over (%.2f -> %.2f %s, register wraps at %.2f)",
                self.line.name,
                meter_id,
                last,
                raw,
                fmt.unit,
                rollover,
            )
        else:
            self._metrics.inc(
                "gateway_dlt645_backward_steps_total", line=self.line.name, meter_id=meter_id
            )
            log.warning(
                "line %s: %s went back from %.2f to %.2f %s (meter swap or fault?)",
                self.line.name,
                meter_id,
                last,
                raw,
                fmt.unit,
            )

    def _meter_down(self, meter: _MeterState, reason: str) -> None:
        line = self.line
        meter.failures += 1
        delay = min(line.backoff_max_s, line.backoff_min_s * 2 ** min(meter.failures - 1, 20))
        delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
        meter.retry_at = asyncio.get_running_loop().time() + delay
        meter.address = meter.config.address  # learn a wildcard's meter again: it may be new
        self._metrics.set("gateway_dlt645_meter_up", 0, line=line.name, meter=meter.label)
        if meter.failures == 1:
            log.warning("line %s: meter %s DOWN: %s", line.name, meter.label, reason)
        log.debug("line %s: meter %s skipped for %.1f s", line.name, meter.label, delay)

    async def _connect(self) -> bool:
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_at:
            return False
        line = self.line
        try:
            await self._transport.open()
        except (TimeoutError, OSError) as exc:
            self._transport.close()
            self._failures += 1
            delay = min(
                line.reconnect_max_s, line.reconnect_min_s * 2 ** min(self._failures - 1, 20)
            )
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
            self._retry_at = loop.time() + delay
            self._metrics.inc("gateway_dlt645_connects_total", line=line.name, result="failed")
            if self._failures == 1:
                log.warning("line %s DOWN: cannot open %s: %s", line.name, line.endpoint(), exc)
            return False
        if self._failures:
            self._metrics.inc("gateway_dlt645_reconnects_total", line=line.name)
        self._failures = 0
        self._open = True
        self._metrics.inc("gateway_dlt645_connects_total", line=line.name, result="ok")
        self._metrics.set("gateway_dlt645_connected", 1, line=line.name)
        log.info("line %s UP: %s, %d meters", line.name, line.endpoint(), len(self.meters))
        return True

    def _close(self, reason: str | None) -> None:
        if not self._open:
            return
        with contextlib.suppress(OSError):
            self._transport.close()
        self._open = False
        self._metrics.set("gateway_dlt645_connected", 0, line=self.line.name)
        if reason is not None:
            self._failures = max(self._failures, 1)
            self._retry_at = asyncio.get_running_loop().time() + self.line.reconnect_min_s
            log.warning("line %s DOWN: %s; reopening", self.line.name, reason)


async def run_dlt645_collector(
    line: Dlt645Line,
    sink: ReadingSink,
    *,
    gateway_id: str,
    metrics: GatewayMetrics,
    first_seq: int = 0,
    start_delay_s: float = 0.0,
) -> None:
    """Poll ``line`` until cancelled (the DL/T 645 twin of ``run_modbus_collector``)."""
    collector = Dlt645Collector(
        line,
        sink,
        gateway_id=gateway_id,
        metrics=metrics,
        first_seq=first_seq,
        start_delay_s=start_delay_s,
    )
    await collector.run()
