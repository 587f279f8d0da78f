"""A Modbus TCP server farm on 127.0.0.1 emulating a park's meters, with faults on demand.

Meters are grouped onto pymodbus servers, up to ``per_server`` unit ids per TCP port (like the
serial-to-Ethernet gateways of a substation); every meter answers from its own register block,
computed at read time from its load profile (``simulators.meters``). Faults are injected with
``ModbusFarm.inject`` or, from outside the process, over the control port: one line per
command, ``fault METER KIND [SECONDS]``, ``clear METER`` or ``list``.

``gateway_config`` writes the gateway YAML that matches the simulated park. With
``framer=FramerType.RTU`` the servers speak RTU frames over TCP, as a serial device server in
front of an RS-485 line does; ``line_config`` is then the ``modbus_lines`` entry that reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.meters import REGISTER_MAPS, Fault, MeterState
from simulators.profiles import Carrier, SimClock

log = logging.getLogger(__name__)
MAX_DROPOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    unit_id: int


def make_park(
    count: int, *, carriers: tuple[Carrier, ...] | None = None, prefix: str = "SIM", seed: int = 7
) -> list[tuple[str, Carrier, float]]:
    """(meter id, carrier, CT ratio) for ``count`` meters: mostly electricity, like a park."""
    mix = carriers or (
        (Carrier.ELECTRICITY,) * 6 + (Carrier.GAS, Carrier.STEAM, Carrier.WATER, Carrier.PRODUCTION)
    )
    ratios = (40.0, 80.0, 120.0, 200.0, 400.0)
    return [
        (f"{prefix}-{i:04d}", mix[i % len(mix)], ratios[(i * 7 + seed) % len(ratios)])
        for i in range(count)
    ]


async def _answer(meter: MeterState, _fc: int, start: int, _address: int, _count: int,
                  registers: list[int], _values: Any) -> ExcCodes | None:  # fmt: skip
    """pymodbus SimDevice action: refresh the meter's registers before every read."""
    if meter.active(Fault.DROPOUT):
        waited = 0.0
        while meter.active(Fault.DROPOUT) and waited < MAX_DROPOUT_S:
            await asyncio.sleep(0.1)  # the client times out; this answer is never seen
            waited += 0.1
        return ExcCodes.GATEWAY_NO_RESPONSE
    if meter.active(Fault.SLOW):
        await asyncio.sleep(meter.slow_s)
    if meter.active(Fault.EXCEPTION):
        return ExcCodes.DEVICE_FAILURE
    words = meter.registers()
    registers[0 - start : len(words) - start] = words
    return None


class ModbusFarm:
    """Many simulated meters behind a few Modbus TCP servers."""

    def __init__(
        self,
        park: list[tuple[str, Carrier, float]],
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        per_server: int = 50,
        accelerate: float = 1.0,
        framer: FramerType = FramerType.SOCKET,
    ) -> None:
        self.host, self.base_port, self.per_server = host, base_port, min(per_server, 247)
        self.framer = framer
        self.clock = SimClock(accelerate=accelerate)
        self.meters = {
            mid: MeterState(mid, carrier, self.clock, ct_ratio=ct, seed=i)
            for i, (mid, carrier, ct) in enumerate(park)
        }
        self.endpoints: dict[str, Endpoint] = {}
        self._servers: list[ModbusTcpServer] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        ids = list(self.meters)
        for n, first in enumerate(range(0, len(ids), self.per_server)):
            group = ids[first : first + self.per_server]
            devices = []
            for unit, mid in enumerate(group, start=1):
                meter = self.meters[mid]
                size = len(meter.registers())
                data = SimData(0, count=size, values=0, datatype=DataType.REGISTERS)
                devices.append(SimDevice(unit, simdata=[data], action=partial(_answer, meter)))
            port = self.base_port + n if self.base_port else 0
            server = ModbusTcpServer(devices, address=(self.host, port), framer=self.framer)
            await server.serve_forever(background=True)
            port = cast(asyncio.Server, server.transport).sockets[0].getsockname()[1]
            self._servers.append(server)
            for unit, mid in enumerate(group, start=1):
                self.endpoints[mid] = Endpoint(self.host, port, unit)
        log.info("Modbus farm: %d meters on %d servers", len(ids), len(self._servers))

    async def stop(self) -> None:
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.shutdown()  # type: ignore[no-untyped-call]
        self._servers.clear()

    def inject(self, meter_id: str, fault: Fault, duration_s: float = 3600.0) -> None:
        self.meters[meter_id].inject(fault, duration_s)
        log.info("fault %s injected into %s for %.0f s", fault.value, meter_id, duration_s)

    def clear(self, meter_id: str) -> None:
        self.meters[meter_id].clear()

    def gateway_config(
        self,
        gateway_id: str,
        *,
        poll_interval_s: float = 1.0,
        timeout_s: float = 1.0,
        kafka_bootstrap: str = "127.0.0.1:9092",
        buffer_path: str = "gateway-buffer.sqlite3",
        metrics_port: int = 9108,
    ) -> dict[str, Any]:
        """The gateway config (as a YAML-ready dict) that polls every simulated meter."""
        devices = []
        for mid in self.meters:
            end = self.endpoints[mid]
            devices.append(
                {
                    "name": mid,
                    "host": end.host,
                    "port": end.port,
                    "unit_id": end.unit_id,
                    "timeout_s": timeout_s,
                    "poll_interval_s": poll_interval_s,
                    "points": self.points(mid),
                }
            )
        return {
            "gateway_id": gateway_id,
            "kafka": {"bootstrap": kafka_bootstrap},
            "buffer": {"path": buffer_path},
            "metrics": {"port": metrics_port},
            "modbus_devices": devices,
        }

    def line_config(
        self, name: str, *, poll_interval_s: float = 5.0, timeout_s: float = 0.5
    ) -> dict[str, Any]:
        """The ``modbus_lines`` entry that reads every meter of a one-server RTU-over-TCP farm
        through one connection, one unit id after the other."""
        if self.framer is not FramerType.RTU:
            raise ValueError("line_config needs a farm started with framer=FramerType.RTU")
        ports = {end.port for end in self.endpoints.values()}
        if len(ports) != 1:
            raise ValueError(f"one line is one server: the farm listens on ports {sorted(ports)}")
        return {
            "name": name,
            "transport": "rtu_over_tcp",
            "host": self.host,
            "tcp_port": ports.pop(),
            "timeout_s": timeout_s,
            "poll_interval_s": poll_interval_s,
            "devices": [
                {"name": mid, "unit_id": self.endpoints[mid].unit_id, "points": self.points(mid)}
                for mid in self.meters
            ],
        }

    def points(self, meter_id: str) -> list[dict[str, Any]]:
        """The gateway's points of one simulated meter: its register map, CT ratio applied."""
        meter = self.meters[meter_id]
        return [
            {
                "meter_id": f"{meter_id}.{p.name}",
                "function": "holding",
                "address": p.address,
                "data_type": p.data_type.value,
                "order": p.order.value,
                "scale": p.scale,
                "unit": p.unit,
                "kind": "cumulative" if p.cumulative else "instantaneous",
                **({"multiplier": meter.ct_ratio} if p.ct else {}),
            }
            for p in REGISTER_MAPS[meter.carrier]
        ]

    async def serve_control(self, port: int) -> asyncio.Server:
        """The line-based fault control port on 127.0.0.1 (see the module docstring)."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, UnicodeError):
                while line := (await reader.readline()).decode().strip():
                    writer.write((self.command(line) + "\n").encode())
                    await writer.drain()
            writer.close()

        return await asyncio.start_server(handle, "127.0.0.1", port)

    def command(self, line: str) -> str:
        words = line.split()
        try:
            if words[0] == "fault":
                seconds = float(words[3]) if len(words) > 3 else 3600.0
                self.inject(words[1], Fault(words[2]), seconds)
                return "ok"
            if words[0] == "clear":
                self.clear(words[1])
                return "ok"
            if words[0] == "list":
                return " ".join(
                    f"{m}:{','.join(s.faults)}" for m, s in self.meters.items() if s.faults
                )
        except (IndexError, KeyError, ValueError) as exc:
            return f"error: {exc!r}"
        return "error: commands are: fault METER KIND [SECONDS] | clear METER | list"
