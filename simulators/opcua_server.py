"""An OPC UA server on 127.0.0.1 that emulates the park's meters, with faults on demand.

Each point of a :class:`~simulators.park_meters.Park` is a Double variable
``ns=2;s=<device>.<quantity>`` under an object per device. A timer advances the park (optionally
time-accelerated) and writes every value with a SourceTimestamp from the "device clock"
(gateway-visible wall time plus any injected skew). Faults: a bad StatusCode on a point, a stuck
value, counters reset to zero (as after a meter restart), clock skew, and a stop/start on the
same port. The server advertises OperationLimits and, when they are set, refuses larger calls
with BadTooManyOperations, so tests can prove a client chunks its requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Sequence
from datetime import UTC, timedelta
from typing import Any

from asyncua import ua
from asyncua.server.server import Server
from asyncua.ua.status_codes import StatusCodes

from simulators.certs import CertPair
from simulators.opcua_limits import OperationLimits, apply_limits
from simulators.park_meters import Park, SimPoint, flat_profile
from simulators.profiles import SimClock, load_factor

NAMESPACE_URI = "urn:parkcarbon:simulated-park"
_AREA_SIZE = 50
_log = logging.getLogger(__name__)


class _SharedDataValue(ua.DataValue):
    """A DataValue that every monitored item may share: we never mutate one once written.

    asyncua deep-copies the value for each monitored item on every write, which costs more
    than everything else the server does; sharing lets one process update 10,000 items/s.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedDataValue:
        return self


class ParkOpcUaServer:
    """Start with ``await start()``; stop and start again to emulate a server restart."""

    def __init__(
        self,
        park: Park,
        *,
        port: int,
        update_interval_s: float = 1.0,
        acceleration: float = 1.0,
        limits: OperationLimits | None = None,
        security_policies: Sequence[str] = ("NoSecurity",),
        certificate: CertPair | None = None,
    ) -> None:
        self.park = park
        self.port = port
        self.update_interval_s = update_interval_s
        self.limits = limits or OperationLimits()
        # Names of ua.SecurityPolicyType, e.g. "Basic256Sha256_SignAndEncrypt".
        self.security_policies = [ua.SecurityPolicyType[name] for name in security_policies]
        self.certificate = certificate
        self.clock_skew_s = 0.0
        self.namespace_index = 2
        self._server: Server | None = None
        self._timer: asyncio.Task[None] | None = None
        self.clock = SimClock(accelerate=acceleration)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/parkcarbon/"

    def node_id(self, point: SimPoint) -> str:
        return f"ns={self.namespace_index};s={point.name}"

    def _node(self, name: str) -> ua.NodeId:
        return ua.NodeId.from_string(f"ns={self.namespace_index};s={name}")

    async def __aenter__(self) -> ParkOpcUaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build a fresh address space from the park's current values and listen."""
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("parkcarbon simulated park")
        if self.certificate is not None:
            await server.set_application_uri(self.certificate.application_uri)
            await server.load_certificate(str(self.certificate.certificate))
            await server.load_private_key(str(self.certificate.private_key))
        server.set_security_policy(self.security_policies)
        self.namespace_index = await server.register_namespace(NAMESPACE_URI)
        await self._build_nodes(server)
        await apply_limits(server, self.limits)
        await server.start()
        self._server = server
        await self.write_all()
        self._timer = asyncio.create_task(self._run_timer(), name="opcua-sim-timer")
        _log.info("simulated OPC UA park on %s (%d points)", self.endpoint, len(self.park.points))

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    # --- fault injection -------------------------------------------------------------------

    async def set_bad(self, name: str, status: int | None = StatusCodes.BadSensorFailure) -> None:
        """Report ``status`` for a point (None clears the fault) and publish it now."""
        self.park.find(name).bad_status = status
        await self.write_all()

    def set_stuck(self, name: str, stuck: bool = True) -> None:
        self.park.find(name).stuck = stuck

    def reset_counters(self) -> None:
        """Cumulative registers restart from zero, like a meter after a power cycle."""
        self.park.reset_counters()

    def set_clock_skew(self, seconds: float) -> None:
        self.clock_skew_s = seconds

    def gateway_entry(self, name: str = "park-opcua", interval_ms: float = 1000) -> dict[str, Any]:
        """This park as one ``opcua_servers`` entry of a gateway config (all subscribed)."""
        subscription = {"publishing_interval_ms": interval_ms, "sampling_interval_ms": interval_ms}
        points = [
            {
                "node_id": self.node_id(p),
                "meter_id": p.meter_id,
                "unit": p.unit,
                "kind": p.kind,
                "subscription": subscription,
            }
            for p in self.park.points
        ]
        return {"name": name, "endpoint": self.endpoint, "points": points}

    # --- internals -------------------------------------------------------------------------

    async def _build_nodes(self, server: Server) -> None:
        # Devices sit in areas of _AREA_SIZE: asyncua browses a parent's children on every
        # add, so thousands of devices under one folder would take minutes to build.
        devices: dict[str, Any] = {}
        areas: list[Any] = []
        for point in self.park.points:
            device = devices.get(point.device)
            if device is None:
                if len(devices) % _AREA_SIZE == 0:
                    name = f"Area-{len(areas) + 1:03d}"
                    areas.append(await server.nodes.objects.add_object(self._node(name), name))
                device = await areas[-1].add_object(self._node(point.device), point.device)
                devices[point.device] = device
                await device.add_property(
                    self._node(f"{point.device}.CTRatio"), "CTRatio", point.ct_ratio
                )
            await device.add_variable(self._node(point.name), point.quantity, point.value)

    async def write_all(self) -> None:
        """Publish every point's current value, status and device timestamp."""
        if self._server is None:
            return
        skew = timedelta(seconds=self.clock_skew_s)
        for point in self.park.points:
            # Each device stamps its own value when it is written, as a real one would.
            server_ts = ua.DateTime.now(UTC)
            source_ts = server_ts + skew
            if point.bad_status is not None:
                value = _SharedDataValue(
                    ua.Variant(None, ua.VariantType.Null),
                    StatusCode=ua.StatusCode(ua.UInt32(point.bad_status)),
                    SourceTimestamp=source_ts,
                    ServerTimestamp=server_ts,
                )
            else:
                value = _SharedDataValue(
                    ua.Variant(point.value, ua.VariantType.Double),
                    SourceTimestamp=source_ts,
                    ServerTimestamp=server_ts,
                )
            await self._server.write_attribute_value(self._node(point.name), value)

    async def _run_timer(self) -> None:
        next_at, last_s = time.monotonic(), self.clock.now()
        while True:
            next_at += self.update_interval_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            now_s = self.clock.now()
            self.park.step(now_s, (now_s - last_s) / 3600)
            last_s = now_s
            await self.write_all()


async def serve(args: argparse.Namespace) -> None:
    profile = flat_profile if args.flat else load_factor
    park = Park.build(args.meters, max_points=args.items, seed=args.seed, profile=profile)
    limits = OperationLimits(args.max_nodes_per_read, args.max_monitored_items_per_call)
    server = ParkOpcUaServer(
        park,
        port=args.port,
        update_interval_s=args.interval,
        acceleration=args.acceleration,
        limits=limits,
    )
    async with server:
        # The address space is millions of long-lived objects; without this a full garbage
        # collection pauses the server for most of a second now and then.
        gc.freeze()
        print(f"listening {server.endpoint} points={len(park.points)}", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated park OPC UA server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=4840)
    parser.add_argument("--meters", type=int, default=50)
    parser.add_argument("--items", type=int, default=None, help="cap on the number of points")
    parser.add_argument("--interval", type=float, default=1.0, help="update period, s")
    parser.add_argument("--acceleration", type=float, default=1.0, help="simulated s per real s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flat", action="store_true", help="no daily shape: all values move")
    parser.add_argument("--max-nodes-per-read", type=int, default=0)
    parser.add_argument("--max-monitored-items-per-call", type=int, default=0)
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
