"""Helpers of the Modbus line tests and bench.rtu: socat pty pairs standing in for RS-485
ports, and pymodbus's own servers (not the project's code) as the units on the line."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast

from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

SOCAT = shutil.which("socat")


@contextlib.contextmanager
def pty_pair(folder: Path, name: str = "line") -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals (``socat``), like the two ends of a serial cable."""
    if SOCAT is None:
        raise RuntimeError("socat is not installed (deploy/bootstrap.sh installs it)")
    a, b = folder / f"{name}-gw", folder / f"{name}-dev"
    proc = subprocess.Popen(
        [SOCAT, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5.0
        while not (a.exists() and b.exists()):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"socat did not create {a} and {b}")
            time.sleep(0.01)
        yield str(a), str(b)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def units(values: dict[int, list[int]]) -> list[SimDevice]:
    """pymodbus simulator devices: unit id -> holding registers from address 0."""
    return [
        SimDevice(uid, simdata=[SimData(0, values=regs, datatype=SimType.REGISTERS)])
        for uid, regs in values.items()
    ]


def _absent_units_silent(
    devices: list[SimDevice],
    unit_at: int,
    trace: Callable[[bool, bytes], bytes] | None,
) -> Callable[[bool, bytes], bytes]:
    """A trace hook that sends nothing for unit ids the server does not hold: on a real bus an
    absent device is silent (pymodbus's simulator would answer them with exception 4)."""
    held = {d.id for d in devices}

    def hook(sending: bool, data: bytes) -> bytes:
        if sending and len(data) > unit_at and data[unit_at] not in held:
            return b""
        return trace(sending, data) if trace else data

    return hook


@contextlib.asynccontextmanager
async def serial_server(
    port: str,
    devices: list[SimDevice],
    *,
    baudrate: int = 9600,
    parity: str = "N",
    stopbits: int = 2,
    trace_packet: Callable[[bool, bytes], bytes] | None = None,
) -> AsyncIterator[ModbusSerialServer]:
    """pymodbus's RTU server on ``port``; unit ids it does not hold get no answer at all.

    8N2 by default: Linux pseudo-terminals refuse a second termios change with parity enabled
    (EINVAL), and 8N2 has the 11 bits per character of 8E1, so the timing is the same."""
    server = ModbusSerialServer(
        cast(Any, devices),
        port=port,
        baudrate=baudrate,
        parity=parity,
        stopbits=stopbits,
        trace_packet=_absent_units_silent(devices, 0, trace_packet),
    )
    await server.serve_forever(background=True)
    try:
        yield server
    finally:
        await server.shutdown()


@contextlib.asynccontextmanager
async def tcp_server(
    devices: list[SimDevice],
    *,
    framer: FramerType,
    trace_connect: Callable[[bool], None] | None = None,
) -> AsyncIterator[int]:
    """pymodbus's TCP server (``FramerType.RTU``: a serial device server's RTU-over-TCP) on
    127.0.0.1 and a free port; yields the port."""
    server = ModbusTcpServer(
        cast(Any, devices),
        address=("127.0.0.1", 0),
        framer=framer,
        trace_packet=_absent_units_silent(devices, 0 if framer is FramerType.RTU else 6, None),
        trace_connect=trace_connect,
    )
    await server.serve_forever(background=True)
    try:
        yield int(cast(asyncio.Server, server.transport).sockets[0].getsockname()[1])
    finally:
        await server.shutdown()
