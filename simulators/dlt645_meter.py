"""DL/T 645-2007 meters on one RS-485 line, answering a master over a serial port or TCP.

An independent peer for the gateway's collector: it is written from the standard's frame
definition (clause 4: ``68 A0..A5 68 C L DATA CS 16``, data +33H, CS the byte sum mod 256,
address BCD lowest byte first, optional FE wake-up bytes) and its Appendix A value formats,
with its own encoder and parser; it imports nothing from ``ingest``.

Each simulated meter has a 12-digit address and a table of data identifiers and values. On a
read-data request (control 11H) addressed to it (AAH bytes of the request address match any
digit) it replies 91H with the identifier and the value, or D1H with error byte 02H (no
requested data) for an identifier it does not hold; on a read-address request (13H) to
AAAAAAAAAAAA it replies 93H with its address. A meter can be told to stay silent, to spoil
its reply's checksum, to omit the FE preamble or to send noise before its reply.

Run one on a TCP port (a stand-in for a serial device server) or on a serial device, e.g.
one end of a ``socat`` pty pair::

    python -m simulators.dlt645_meter --tcp 127.0.0.1:8645 --meter 000000000001
    python -m simulators.dlt645_meter --serial /tmp/line-b --meter 000000000001
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

HEAD, TAIL, WAKE = 0x68, 0x16, 0xFE
OFFSET = 0x33
NO_REQUESTED_DATA = 0x02  # bit 1 of the abnormal reply's error byte


@dataclass(frozen=True)
class Layout:
    """How one value is written: ``length`` BCD bytes with ``places`` decimal places."""

    length: int
    places: int
    sign_bit: bool = False
    stamp: bool = False  # a maximum demand carries its time YYMMDDhhmm after the value


def layout_of(di: str) -> Layout | None:
    """Appendix A of DL/T 645-2007, for the identifiers this simulator serves."""
    group, kind, sub, last = (int(di[i : i + 2], 16) for i in (0, 2, 4, 6))
    if group == 0x00 and kind <= 0x0A and sub <= 0x3F and last <= 0x0C:
        return Layout(4, 2, sign_bit=kind in (0, 3, 4))  # XXXXXX.XX kWh / kvarh / kVAh
    if group == 0x01 and kind in (1, 2, 3, 4, 9, 10) and sub <= 0x3F and last <= 0x0C:
        return Layout(3, 4, stamp=True)  # XX.XXXX kW and YYMMDDhhmm
    if group == 0x02 and last == 0x00:
        return {
            0x01: Layout(2, 1),  # XXX.X V
            0x02: Layout(3, 3, sign_bit=True),  # XXX.XXX A
            0x03: Layout(3, 4, sign_bit=True),  # XX.XXXX kW
            0x04: Layout(3, 4, sign_bit=True),  # XX.XXXX kvar
            0x05: Layout(3, 4, sign_bit=True),  # XX.XXXX kVA
            0x06: Layout(2, 3, sign_bit=True),  # X.XXX
        }.get(kind)
    return None


def bcd(number: int, length: int) -> bytes:
    """``number`` as ``length`` BCD bytes, least significant pair first."""
    out = []
    for _ in range(length):
        number, pair = divmod(number, 100)
        out.append((pair // 10) << 4 | pair % 10)
    return bytes(out)


def value_bytes(layout: Layout, value: float, stamp: float = 0.0) -> bytes:
    negative = value < 0
    scaled = round(abs(value) * 10**layout.places)
    raw = bytearray(bcd(scaled, layout.length))
    if layout.sign_bit and negative:
        raw[-1] |= 0x80
    if layout.stamp:
        t = time.gmtime(stamp)
        raw += bcd(t.tm_min, 1) + bcd(t.tm_hour, 1) + bcd(t.tm_mday, 1)
        raw += bcd(t.tm_mon, 1) + bcd(t.tm_year % 100, 1)
    return bytes(raw)


def address_bytes(address: str) -> bytes:
    """``"123456789012"`` -> 12 90 78 56 34 12 (lowest pair first)."""
    return bytes(int(address[i : i + 2], 16) for i in range(len(address) - 2, -1, -2))


def frame(address: str, control: int, payload: bytes, *, wake: bool = True) -> bytes:
    core = bytearray([HEAD]) + address_bytes(address) + bytes([HEAD, control, len(payload)])
    core += bytes((b + OFFSET) % 256 for b in payload)
    core += bytes([sum(core) % 256, TAIL])
    return (bytes([WAKE] * 4) if wake else b"") + bytes(core)


ROLLOVER_KWH = 1_000_000.0  # XXXXXX.XX kWh: the register reads 0.00 after 999999.99


def register_values(energy_kwh: float, kw: float) -> dict[str, float]:
    """What a three-phase meter drawing ``kw`` shows after ``energy_kwh`` counted since new:
    forward active energy (total and tariffs 1-4, wrapping like the register), phase A voltage
    and current, and total active power."""
    total = energy_kwh % ROLLOVER_KWH
    return {
        "00010000": total,
        "00010100": total * 0.3,
        "00010200": total * 0.4,
        "00010300": total * 0.2,
        "00010400": total * 0.1,
        "02010100": 230.0,
        "02020100": kw * 1000 / 230.0 / 3,
        "02030000": kw,
    }


@dataclass
class SimulatedMeter:
    address: str
    values: dict[str, float] = field(default_factory=dict)  # DI (8 hex digits) -> value
    silent: bool = False
    bad_checksum: bool = False
    preamble: bool = True
    noise: bytes = b""  # sent before each reply, as a line's idle noise or a driver's glitch
    requests: int = 0

    def answers(self, pattern: bytes) -> bool:
        """Does a request to ``pattern`` (6 bytes as sent) reach this meter?"""
        mine = address_bytes(self.address)
        return all(p in (0xAA, m) for p, m in zip(pattern, mine, strict=True))


@dataclass
class Line:
    """Every meter on one line; ``handle`` turns the bytes a master sent into the replies."""

    meters: list[SimulatedMeter]
    clock: Callable[[], float] = time.time
    rejected: int = 0  # request frames with a wrong checksum or end byte: no reply, as a meter
    connections: int = 0  # TCP sessions accepted (a device server's line takes one)
    _pending: bytearray = field(default_factory=bytearray)

    def handle(self, data: bytes) -> bytes:
        self._pending += data
        out = b""
        while True:
            request = self._take()
            if request is None:
                return out
            out += self._answer(*request)

    def _take(self) -> tuple[bytes, int, bytes] | None:
        buf = self._pending
        while True:
            try:
                at = buf.index(HEAD)
            except ValueError:
                buf.clear()
                return None
            del buf[:at]
            if len(buf) < 12:
                return None
            if buf[7] != HEAD:
                del buf[0]
                continue
            end = 12 + buf[9]
            if len(buf) < end:
                return None
            whole = bytes(buf[:end])
            del buf[:end]
            if whole[-1] != TAIL or sum(whole[:-2]) % 256 != whole[-2]:
                self.rejected += 1
                continue
            payload = bytes((b - OFFSET) % 256 for b in whole[10:-2])
            return whole[1:7], whole[8], payload

    def _answer(self, target: bytes, control: int, payload: bytes) -> bytes:
        out = b""
        for meter in self.meters:
            if not meter.answers(target):
                continue
            meter.requests += 1
            if meter.silent:
                continue
            if control == 0x13 and target == bytes([0xAA] * 6):
                own = address_bytes(meter.address)
                reply = frame(meter.address, 0x93, own, wake=meter.preamble)
            elif control == 0x11 and len(payload) >= 4:
                di = payload[3::-1].hex().upper()
                layout = layout_of(di)
                if layout is None or di not in meter.values:
                    reply = frame(
                        meter.address, 0xD1, bytes([NO_REQUESTED_DATA]), wake=meter.preamble
                    )
                else:
                    data = payload[:4] + value_bytes(layout, meter.values[di], self.clock())
                    reply = frame(meter.address, 0x91, data, wake=meter.preamble)
            else:
                continue  # functions this simulator does not implement get no reply
            if meter.bad_checksum:
                reply = reply[:-2] + bytes([(reply[-2] + 1) % 256, TAIL])
            out += meter.noise + reply
        return out


@contextlib.asynccontextmanager
async def serve_tcp(line: Line, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
    """The line behind a raw TCP port, as a serial device server offers it; yields the port."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line.connections += 1
        try:
            while data := await reader.read(512):
                if reply := line.handle(data):
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(session, host, port)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def serve_serial(line: Line, path: str) -> AsyncIterator[None]:
    """The line on a serial device (e.g. one end of a socat pty pair), until the block ends."""
    import termios
    import tty

    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    with contextlib.suppress(termios.error):
        tty.setraw(fd)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(fd, 512)
        except (BlockingIOError, OSError):
            return
        if reply := line.handle(data):
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(fd, reply)

    loop.add_reader(fd, readable)
    try:
        yield None
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", help="host:port to listen on (127.0.0.1 only)")
    where.add_argument("--serial", help="serial device to answer on")
    parser.add_argument("--meter", action="append", required=True, help="12-digit address")
    parser.add_argument("--energy", type=float, default=1000.0, help="initial kWh")
    parser.add_argument("--kw", type=float, default=12.0, help="load each meter draws, kW")
    args = parser.parse_args(argv)
    meters = [SimulatedMeter(a) for a in args.meter]

    async def run() -> None:
        started = time.monotonic()

        def refresh() -> None:
            hours = (time.monotonic() - started) / 3600
            for i, m in enumerate(meters):
                m.values.update(register_values(args.energy + i * 100 + args.kw * hours, args.kw))

        line = Line(meters)
        refresh()
        if args.tcp:
            host, _, port = args.tcp.rpartition(":")
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise SystemExit("the simulator listens on loopback only")
            async with serve_tcp(line, host, int(port)):
                await tick(refresh)
        else:
            async with serve_serial(line, args.serial):
                await tick(refresh)

    async def tick(refresh: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(1.0)
            refresh()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
