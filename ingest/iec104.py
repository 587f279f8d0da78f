"""An IEC 60870-5-104 client session (the controlling station's side), on asyncio streams.

IEC 60870-5-104 clause 5: the connection opens with STARTDT act/con; I-format APDUs carry
send and receive sequence numbers; the receiver acknowledges at the latest after ``w`` I-format
APDUs or ``t2`` seconds (an S-format APDU); the sender stops after ``k`` unacknowledged
I-format APDUs; an I-format APDU or a test frame not confirmed within ``t1`` closes the
connection; after ``t3`` seconds without traffic a TESTFR act is sent. Sequence numbers out of
order close the connection too (clause 5.1). A closed session is simply opened again by its
owner after a backoff: nothing of it survives but the readings already handed over.

After STARTDT the session sends a general interrogation (C_IC_NA_1) and a counter
interrogation (C_CI_NA_1) and repeats them every ``gi_interval_s`` / ``ci_interval_s``; every
metering ASDU (spontaneous, periodic or interrogated) goes to ``on_asdu``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import tzinfo
from zoneinfo import ZoneInfo

from contracts.records import Quality, RawReading, ReadingBatch, Source
from ingest.iec104_codec import (
    SEQ_MODULO,
    Asdu,
    FrameError,
    IFrame,
    SFrame,
    UFrame,
    UFunction,
    counter_interrogation,
    decode_apdu,
    decode_asdu,
    encode_i,
    encode_s,
    encode_u,
    frame_length,
    interrogation,
)
from ingest.iec104_config import Iec104Server
from ingest.metrics import GatewayMetrics
from ingest.sink import ReadingSink, SourceSink

log = logging.getLogger(__name__)


class SessionClosedError(ConnectionError):
    """The session ended; the message says why (timeout, sequence error, peer closed)."""


@dataclass(frozen=True)
class Timing:
    """Clause 5.2's parameters with their default values (table 3)."""

    t0: float = 30.0  # connection establishment
    t1: float = 15.0  # send or test APDUs unconfirmed
    t2: float = 10.0  # acknowledgement without data (t2 < t1)
    t3: float = 20.0  # idle before a test frame
    k: int = 12  # unconfirmed I-format APDUs the sender may have outstanding
    w: int = 8  # I-format APDUs received before the latest acknowledgement

    def __post_init__(self) -> None:
        if not self.t2 < self.t1:
            raise ValueError("t2 must be shorter than t1 (IEC 60870-5-104 5.2)")
        if not 1 <= self.w <= self.k <= SEQ_MODULO - 1:
            raise ValueError("1 <= w <= k <= 32767; the standard recommends w = 2/3 k")


def _behind(newer: int, older: int) -> int:
    return (newer - older) % SEQ_MODULO


class Session:
    """One connection to one outstation (``host``, ``port``), common address ``ca``."""

    def __init__(self, host: str, port: int, *, common_address: int, zone: tzinfo,
                 on_asdu: Callable[[Asdu], Awaitable[None]], timing: Timing | None = None,
                 gi_interval_s: float = 900.0, ci_interval_s: float = 900.0) -> None:  # fmt: skip
        self.host, self.port, self.ca, self.zone = host, port, common_address, zone
        self.on_asdu, self.timing = on_asdu, timing or Timing()
        self.gi_interval_s, self.ci_interval_s = gi_interval_s, ci_interval_s
        self.v_s = self.v_r = self.ack = 0  # next send seq, next expected receive seq, acked
        self.unacked_received = 0
        self._sent_at: dict[int, float] = {}  # send seq -> when, while unconfirmed
        self._oldest_unacked_rx: float | None = None
        self._test_sent: float | None = None
        self._last_rx = self._last_tx = 0.0
        self._can_send = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self.stats = {"i_received": 0, "s_sent": 0, "testfr_sent": 0, "unknown_types": 0}

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _write(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        self._last_tx = self._now()

    async def run(self) -> None:
        """Connect, start data transfer, interrogate, and serve until the session fails
        (SessionClosedError or OSError): the caller reconnects with its backoff."""
        t = self.timing
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), t.t0
            )
            self._writer = writer
        except TimeoutError:
            raise SessionClosedError(
                f"no connection to {self.host}:{self.port} within t0"
            ) from None
        try:
            self._last_rx = self._now()
            self._write(encode_u(UFunction.STARTDT_ACT))
            first = await asyncio.wait_for(self._read(reader), t.t1)
            if not (isinstance(first, UFrame) and first.function is UFunction.STARTDT_CON):
                raise SessionClosedError(f"expected STARTDT con, got {first}")
            self._can_send.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._receive(reader))
                group.create_task(self._supervise())
                group.create_task(self._interrogate())
        except* (SessionClosedError, OSError, FrameError, TimeoutError) as errors:
            first_error = errors.exceptions[0]
            raise SessionClosedError(f"{self.host}:{self.port}: {first_error}") from first_error
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> IFrame | SFrame | UFrame:
        try:
            head = await reader.readexactly(2)
            rest = await reader.readexactly(frame_length(head) - 2)
        except asyncio.IncompleteReadError:
            raise SessionClosedError("the outstation closed the connection") from None
        self._last_rx = self._now()
        return decode_apdu(head + rest)

    def _confirm(self, recv_seq: int) -> None:
        """The peer has everything before ``recv_seq``: forget those send times."""
        if _behind(recv_seq, self.ack) > _behind(self.v_s, self.ack):
            raise SessionClosedError(
                f"N(R) {recv_seq} acknowledges APDUs never sent (V(S) {self.v_s})"
            )
        while self.ack != recv_seq:
            self._sent_at.pop(self.ack, None)
            self.ack = (self.ack + 1) % SEQ_MODULO
        if _behind(self.v_s, self.ack) < self.timing.k:
            self._can_send.set()

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        while True:
            apdu = await self._read(reader)
            if isinstance(apdu, IFrame):
                if apdu.send_seq != self.v_r:
                    raise SessionClosedError(
                        f"N(S) {apdu.send_seq} out of sequence (expected {self.v_r})"
                    )
                self.v_r = (self.v_r + 1) % SEQ_MODULO
                self.stats["i_received"] += 1
                self._confirm(apdu.recv_seq)
                self.unacked_received += 1
                if self._oldest_unacked_rx is None:
                    self._oldest_unacked_rx = self._now()
                if self.unacked_received >= self.timing.w:
                    self._send_s()
                asdu = decode_asdu(apdu.asdu, self.zone)
                if asdu.objects:
                    await self.on_asdu(asdu)
                elif asdu.type_id not in (100, 101):
                    self.stats["unknown_types"] += 1
                elif asdu.negative:
                    log.warning("%s:%s refused interrogation type %d (cause %d)",
                                self.host, self.port, asdu.type_id, asdu.cause)  # fmt: skip
            elif isinstance(apdu, SFrame):
                self._confirm(apdu.recv_seq)
            elif apdu.function is UFunction.TESTFR_ACT:
                self._write(encode_u(UFunction.TESTFR_CON))
            elif apdu.function is UFunction.TESTFR_CON:
                self._test_sent = None

    def _send_s(self) -> None:
        self._write(encode_s(self.v_r))
        self.stats["s_sent"] += 1
        self.unacked_received, self._oldest_unacked_rx = 0, None

    async def send_asdu(self, asdu: bytes) -> None:
        """Send one I-format APDU once fewer than ``k`` are unconfirmed."""
        await self._can_send.wait()
        self._write(encode_i(self.v_s, self.v_r, asdu))
        self.unacked_received, self._oldest_unacked_rx = 0, None  # N(R) acknowledges them
        self._sent_at[self.v_s] = self._now()
        self.v_s = (self.v_s + 1) % SEQ_MODULO
        if _behind(self.v_s, self.ack) >= self.timing.k:
            self._can_send.clear()

    async def _supervise(self, tick_s: float = 0.1) -> None:
        t = self.timing
        while True:
            await asyncio.sleep(tick_s)
            now = self._now()
            if self._sent_at and now - min(self._sent_at.values()) > t.t1:
                raise SessionClosedError("an I-format APDU was not confirmed within t1")
            if self._test_sent is not None and now - self._test_sent > t.t1:
                raise SessionClosedError("TESTFR act was not confirmed within t1")
            if self._oldest_unacked_rx is not None and now - self._oldest_unacked_rx >= t.t2:
                self._send_s()
            if self._test_sent is None and now - max(self._last_rx, self._last_tx) >= t.t3:
                self._write(encode_u(UFunction.TESTFR_ACT))
                self._test_sent = now
                self.stats["testfr_sent"] += 1

    async def _interrogate(self) -> None:
        next_gi = next_ci = self._now()
        while True:
            now = self._now()
            if now >= next_gi:
                await self.send_asdu(interrogation(self.ca))
                next_gi = now + self.gi_interval_s
            if now >= next_ci:
                await self.send_asdu(counter_interrogation(self.ca))
                next_ci = now + self.ci_interval_s
            await asyncio.sleep(max(0.0, min(next_gi, next_ci) - self._now()))


class Iec104Collector:
    """One outstation: a session, re-opened with jittered exponential backoff when it fails;
    each metering ASDU's mapped objects become one batch of the source
    ``<gateway_id>/<server name>``. A time-tagged object carries its CP56Time2a time, an
    untimed one the gateway's receive time; an object with IV set (or an invalid time tag)
    becomes a BAD reading without a value, never a silent gap."""

    def __init__(self, server: Iec104Server, sink: ReadingSink, *, gateway_id: str,
                 metrics: GatewayMetrics, first_seq: int = 0,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.server, self._gateway_id, self._metrics = server, gateway_id, metrics
        self.source_key = f"{gateway_id}/{server.name}"
        self._sink = SourceSink(sink, metrics, source_key=self.source_key)
        self._seq, self._clock = first_seq, clock
        self._points = {p.ioa: p for p in server.points}
        self._zone = ZoneInfo(server.time_zone)

    def session(self) -> Session:
        s = self.server
        return Session(
            s.host,
            s.port,
            common_address=s.common_address,
            zone=self._zone,
            on_asdu=self.on_asdu,
            timing=Timing(t0=s.t0_s, t1=s.t1_s, t2=s.t2_s, t3=s.t3_s, k=s.k, w=s.w),
            gi_interval_s=s.gi_interval_s,
            ci_interval_s=s.ci_interval_s,
        )

    async def on_asdu(self, asdu: Asdu) -> None:
        m = self._metrics
        m.inc("gateway_iec104_asdus_total", type=str(asdu.type_id), server=self.server.name)
        if asdu.common_address != self.server.common_address:
            m.inc("gateway_iec104_foreign_asdus_total", server=self.server.name)
            return
        received_ms = int(self._clock() * 1000)
        readings = []
        for obj in asdu.objects:
            point = self._points.get(obj.ioa)
            if point is None:
                m.inc("gateway_iec104_unmapped_objects_total", server=self.server.name)
                continue
            self._seq += 1
            ts_ms = received_ms
            bad = obj.invalid
            if obj.time is not None:
                bad |= obj.time.invalid
                ts_ms = int(obj.time.when.timestamp() * 1000)
            if bad:
                m.inc("gateway_iec104_invalid_objects_total", server=self.server.name)
                value, quality = math.nan, Quality.BAD
            else:
                value = (obj.value * point.scale + point.offset) * point.multiplier
                quality = Quality.GOOD
            readings.append(
                RawReading(point.meter_id, ts_ms, value, point.unit, self._seq, quality)
            )
        if readings:
            batch = ReadingBatch(Source.IEC104, self._gateway_id, self.source_key, tuple(readings))
            if await self._sink.put(batch):
                m.inc("gateway_iec104_points_total", len(readings), server=self.server.name)

    async def run(self) -> None:
        delay = self.server.reconnect_min_s
        m = self._metrics
        while True:
            session = self.session()
            started = asyncio.get_running_loop().time()
            m.set("gateway_iec104_connected", 1, server=self.server.name)
            try:
                await session.run()
            except SessionClosedError as exc:
                log.warning("iec104 %s: session closed: %s", self.server.name, exc)
            finally:
                m.set("gateway_iec104_connected", 0, server=self.server.name)
            m.inc("gateway_iec104_reconnects_total", server=self.server.name)
            if asyncio.get_running_loop().time() - started > self.server.t1_s:
                delay = self.server.reconnect_min_s  # it ran a while: start the backoff anew
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
            delay = min(delay * 2, self.server.reconnect_max_s)


async def run_iec104_collector(server: Iec104Server, sink: ReadingSink, *, gateway_id: str,
                               metrics: GatewayMetrics, first_seq: int = 0) -> None:  # fmt: skip
    """Read ``server`` until cancelled (the IEC 104 twin of ``run_dlt645_collector``)."""
    await Iec104Collector(
        server, sink, gateway_id=gateway_id, metrics=metrics, first_seq=first_seq
    ).run()
