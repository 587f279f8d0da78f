"""The OPC UA collector against real servers on 127.0.0.1: our simulator, a plain asyncua server
written here with asyncua's own Server API, and node-opcua (a second implementation).

The sink is an in-memory test double of the durable buffer's ``put``; everything on the wire is
real. Every test is bounded by ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from contracts.records import Quality, RawReading, ReadingBatch, Source
from ingest.metrics import GatewayMetrics
from ingest.opcua import OpcUaCollector
from ingest.opcua_config import OpcUaServerConfig
from simulators.certs import CertPair, make_self_signed
from simulators.opcua_limits import OperationLimits
from simulators.opcua_server import ParkOpcUaServer
from simulators.park_meters import Park

NODE_DIR = Path(__file__).parent / "node_opcua"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RecordingSink:
    """Keeps every batch; ``until`` waits for a condition on what arrived."""

    def __init__(self) -> None:
        self.batches: list[ReadingBatch] = []
        self._changed = asyncio.Event()

    async def put(self, batch: ReadingBatch) -> None:
        self.batches.append(batch)
        self._changed.set()

    @property
    def readings(self) -> list[RawReading]:
        return [r for b in self.batches for r in b.readings]

    def of(self, meter_id: str) -> list[RawReading]:
        return [r for r in self.readings if r.meter_id == meter_id]

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._changed.clear()
            await self._changed.wait()


def sub_point(node_id: str, meter_id: str, unit: str = "kWh", ms: float = 100) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "meter_id": meter_id,
        "unit": unit,
        "kind": "cumulative",
        "subscription": {"publishing_interval_ms": ms, "sampling_interval_ms": ms / 2},
    }


def poll_point(node_id: str, meter_id: str, unit: str = "kWh") -> dict[str, Any]:
    return {"node_id": node_id, "meter_id": meter_id, "unit": unit, "poll_interval_s": 0.2}


def server_config(endpoint: str, points: list[dict[str, Any]], **extra: Any) -> OpcUaServerConfig:
    return OpcUaServerConfig.model_validate(
        {
            "name": "ua1",
            "endpoint": endpoint,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 1.0,
            "points": points,
            **extra,
        }
    )


def sim_points(sim: ParkOpcUaServer, count: int, *, poll: bool = False) -> list[dict[str, Any]]:
    make = poll_point if poll else sub_point
    return [make(sim.node_id(p), p.meter_id, p.unit) for p in sim.park.points[:count]]


@contextlib.asynccontextmanager
async def collecting(
    config: OpcUaServerConfig, sink: Any, metrics: GatewayMetrics | None = None
) -> AsyncIterator[OpcUaCollector]:
    collector = OpcUaCollector(
        config, sink, gateway_id="gw-test", metrics=metrics or GatewayMetrics()
    )
    task = asyncio.create_task(collector.run())
    try:
        yield collector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CertPair]:
    folder = tmp_path_factory.mktemp("certs")
    return {
        "server": make_self_signed(folder, "server", "urn:parkcarbon:test:server"),
        # Same name and application URI, different key: what a man in the middle would present.
        "impostor": make_self_signed(folder / "impostor", "server", "urn:parkcarbon:test:server"),
        "client": make_self_signed(folder, "client", "urn:parkcarbon:test:gateway"),
    }


def trust_list_of(folder: Path, *trusted: CertPair) -> Path:
    """A trust list directory holding only the given certificates (no private keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    for pair in trusted:
        shutil.copy(pair.certificate, folder / pair.certificate.name)
    return folder


def secure(certs: dict[str, CertPair], policy: str, **trust: str) -> dict[str, Any]:
    """The gateway's side of a signed and encrypted connection; ``trust`` pins or lists."""
    return {
        "security_policy": policy,
        "security_mode": "SignAndEncrypt",
        "certificate": str(certs["client"].certificate),
        "private_key": str(certs["client"].private_key),
        **trust,
    }


# --- against the project's simulator ----------------------------------------------------------


async def test_subscription_delivers_readings_with_source_timestamp_and_increasing_seq() -> None:
    sim = ParkOpcUaServer(Park.build(6), port=free_port(), update_interval_s=0.1)
    sim.set_clock_skew(-3.0)  # below the 5 s threshold: tells device time from receive time
    sink = RecordingSink()
    started_ms = time.time() * 1000
    async with (
        asyncio.timeout(15),
        sim,
        collecting(server_config(sim.endpoint, sim_points(sim, 7)), sink),
    ):
        await sink.until(lambda: len(sink.readings) >= 40)
    ended_ms = time.time() * 1000
    readings = sink.readings
    assert {b.source for b in sink.batches} == {Source.OPCUA}
    assert {b.source_key for b in sink.batches} == {"gw-test/ua1"}
    assert [r.seq for r in readings] == list(range(len(readings)))
    # One batch per publish, not one per item: 7 items changing together share batches.
    assert len(sink.batches) < len(readings) / 2
    assert len({r.meter_id for r in readings}) == 7
    assert all(r.quality is Quality.GOOD for r in readings)
    assert all(started_ms - 3500 < r.ts_ms < ended_ms - 2500 for r in readings)
    assert sink.of("E-00001-PWR")[-1].unit == "kW"


async def test_a_bad_status_code_becomes_a_bad_quality_reading_without_a_value() -> None:
    sim = ParkOpcUaServer(Park.build(3), port=free_port(), update_interval_s=0.1)
    sink, metrics = RecordingSink(), GatewayMetrics()
    config = server_config(sim.endpoint, sim_points(sim, 3))
    async with asyncio.timeout(15), sim, collecting(config, sink, metrics):
        await sink.until(lambda: len(sink.of("G-00002")) >= 1)
        await sim.set_bad("G-00002")
        await sink.until(lambda: any(r.quality is Quality.BAD for r in sink.of("G-00002")))
        await sim.set_bad("G-00002", None)
        await sink.until(lambda: sink.of("G-00002")[-1].quality is Quality.GOOD)
    bad = [r for r in sink.of("G-00002") if r.quality is Quality.BAD]
    assert all(math.isnan(r.value) for r in bad)
    assert metrics.value("opcua_bad_status_readings_total", server="ua1") >= 1


async def test_clock_skew_is_counted_and_the_reading_keeps_the_device_time() -> None:
    sim = ParkOpcUaServer(Park.build(1), port=free_port(), update_interval_s=0.1)
    sink, metrics = RecordingSink(), GatewayMetrics()
    config = server_config(sim.endpoint, sim_points(sim, 1))
    async with asyncio.timeout(15), sim, collecting(config, sink, metrics):
        await sink.until(lambda: len(sink.readings) >= 1)
        sim.set_clock_skew(-120.0)
        await sink.until(lambda: metrics.value("opcua_clock_skew_readings_total", server="ua1") > 0)
    assert abs(sink.readings[-1].ts_ms - (time.time() * 1000 - 120_000)) < 2000
    assert metrics.value("opcua_clock_skew_seconds", server="ua1") == pytest.approx(-120, abs=2)


@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes256Sha256RsaPss"])
async def test_sign_and_encrypt_works_against_a_server_that_requires_it(
    policy: str, certs: dict[str, CertPair]
) -> None:
    sim = ParkOpcUaServer(
        Park.build(2),
        port=free_port(),
        update_interval_s=0.1,
        security_policies=[f"{policy}_SignAndEncrypt"],
        certificate=certs["server"],
    )
    sink = RecordingSink()
    trust = {"server_certificate": str(certs["server"].certificate)}
    config = server_config(sim.endpoint, sim_points(sim, 2), **secure(certs, policy, **trust))
    async with asyncio.timeout(20), sim, collecting(config, sink):
        await sink.until(lambda: len(sink.readings) >= 10)
    assert {r.meter_id for r in sink.readings} == {"E-00001", "E-00001-PWR"}


async def test_a_client_without_security_is_refused_by_a_server_that_requires_it(
    certs: dict[str, CertPair],
) -> None:
    sim = ParkOpcUaServer(
        Park.build(1),
        port=free_port(),
        security_policies=["Basic256Sha256_SignAndEncrypt"],
        certificate=certs["server"],
    )
    sink, metrics = RecordingSink(), GatewayMetrics()
    config = server_config(sim.endpoint, sim_points(sim, 1))
    async with asyncio.timeout(15), sim, collecting(config, sink, metrics) as collector:
        # Metrics have no change notification, so look every 0.1 s.
        while metrics.value("opcua_connect_failures_total", server="ua1") < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    assert sink.batches == []
    assert collector.sessions == 0


async def test_requests_are_chunked_to_the_servers_operation_limits() -> None:
    limits = OperationLimits(max_nodes_per_read=5, max_monitored_items_per_call=5)
    sim = ParkOpcUaServer(Park.build(40), port=free_port(), update_interval_s=0.2, limits=limits)
    points = sim_points(sim, 23) + [
        poll_point(sim.node_id(p), p.meter_id, p.unit) for p in sim.park.points[23:46]
    ]
    sink = RecordingSink()
    async with asyncio.timeout(20), sim, collecting(server_config(sim.endpoint, points), sink):
        await sink.until(lambda: len({r.meter_id for r in sink.readings}) == 46)
        async with Client(sim.endpoint) as probe:  # the limits are really enforced
            nodes = [probe.get_node(sim.node_id(p)) for p in sim.park.points[:6]]
            with pytest.raises(ua.UaStatusCodeError, match="BadTooManyOperations"):
                await probe.read_values(nodes)
    assert limits.largest_create == 5
    assert limits.largest_read == 6  # the probe's refused read; the collector's stayed at 5


async def test_a_server_enforcing_limits_it_does_not_advertise_gets_ever_smaller_chunks() -> None:
    limits = OperationLimits()  # advertises "no limit"
    sim = ParkOpcUaServer(Park.build(20), port=free_port(), update_interval_s=0.2, limits=limits)
    points = sim_points(sim, 10) + [
        poll_point(sim.node_id(p), p.meter_id, p.unit) for p in sim.park.points[10:20]
    ]
    sink = RecordingSink()
    async with asyncio.timeout(20), sim:
        limits.max_monitored_items_per_call, limits.max_nodes_per_read = 4, 3
        async with collecting(server_config(sim.endpoint, points), sink):
            await sink.until(lambda: len({r.meter_id for r in sink.readings}) == 20)
    assert (limits.largest_create, limits.largest_read) == (10, 10)  # refused, then halved


async def test_a_monitored_item_the_server_refuses_does_not_stop_the_others() -> None:
    sim = ParkOpcUaServer(Park.build(2), port=free_port(), update_interval_s=0.1)
    points = [*sim_points(sim, 2), sub_point("ns=2;s=No.Such.Node", "X-404")]
    sink, metrics = RecordingSink(), GatewayMetrics()
    async with (
        asyncio.timeout(15),
        sim,
        collecting(server_config(sim.endpoint, points), sink, metrics),
    ):
        await sink.until(lambda: {r.meter_id for r in sink.readings} == {"E-00001", "E-00001-PWR"})
    assert metrics.value("opcua_monitored_item_errors_total", server="ua1") == 1
    assert metrics.value("opcua_monitored_items", server="ua1") == 2


async def test_server_restart_resumes_notifications_and_keeps_a_counter_gone_backwards() -> None:
    sim = ParkOpcUaServer(Park.build(2), port=free_port(), update_interval_s=0.1)
    sink, metrics = RecordingSink(), GatewayMetrics()
    config = server_config(sim.endpoint, sim_points(sim, 2))
    async with asyncio.timeout(30), collecting(config, sink, metrics) as collector:
        await sim.start()
        await sink.until(lambda: len(sink.of("E-00001")) >= 3)
        before = sink.of("E-00001")[-1]
        await sim.stop()
        await asyncio.sleep(1.0)
        sim.reset_counters()  # the meter restarted: its register counts from zero again
        await sim.start()
        try:
            await sink.until(
                lambda: any(
                    r.seq > before.seq and r.value < before.value for r in sink.of("E-00001")
                )
            )
        finally:
            await sim.stop()
    after = [r for r in sink.of("E-00001") if r.seq > before.seq]
    assert after[0].value < before.value and after[0].quality is Quality.GOOD
    assert collector.sessions == 2
    assert metrics.value("opcua_reconnects_total", server="ua1") == 1
    assert collector.last_seq == sink.readings[-1].seq  # what the backbone persists


async def test_the_collector_survives_a_sink_failure_and_resubscribes() -> None:
    sim = ParkOpcUaServer(Park.build(1), port=free_port(), update_interval_s=0.1)

    class FailingOnceSink(RecordingSink):
        failed = False

        async def put(self, batch: ReadingBatch) -> None:
            if not self.failed:
                self.failed = True
                raise OSError("disk full")
            await super().put(batch)

    sink, metrics = FailingOnceSink(), GatewayMetrics()
    async with (
        asyncio.timeout(15),
        sim,
        collecting(server_config(sim.endpoint, sim_points(sim, 1)), sink, metrics) as collector,
    ):
        await sink.until(lambda: len(sink.readings) >= 3)
    assert metrics.value("opcua_sink_errors_total", server="ua1") == 1
    assert collector.sessions == 2


# --- against a plain asyncua server written here, not the simulator ---------------------------


class Users:
    """asyncua's UserManager interface: who may open a session; every attempt is recorded."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.attempts: list[tuple[Any, Any]] = []

    def get_user(self, iserver: Any, username: Any = None, password: Any = None, **_: Any) -> Any:
        if username is not None:
            self.attempts.append((username, password))
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User)
        return None


@contextlib.asynccontextmanager
async def plain_asyncua_server(
    port: int, users: Users | None = None, certificate: CertPair | None = None
) -> AsyncIterator[None]:
    """asyncua's documented server example shape: two variables, one of them failing; with a
    certificate it offers Basic256Sha256 SignAndEncrypt only."""
    server = Server(user_manager=users)
    await server.init()
    if users:
        server.set_identity_tokens([ua.UserNameIdentityToken])
    if certificate is not None:
        await server.load_certificate(str(certificate.certificate))
        await server.load_private_key(str(certificate.private_key))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/plain/")
    idx = await server.register_namespace("urn:example:plain")
    boiler = await server.nodes.objects.add_object(idx, "Boiler")
    steam = await boiler.add_variable(ua.NodeId("Boiler.Steam", idx), "Steam", 10.0)
    probe = await boiler.add_variable(ua.NodeId("Boiler.Probe", idx), "Probe", 0.0)

    async def change() -> None:
        value = 10.0
        while True:
            value += 0.5
            await steam.write_value(value)
            bad = ua.StatusCode(ua.StatusCodes.BadCommunicationError)
            await probe.write_value(ua.DataValue(ua.Variant(0.0, ua.VariantType.Double), bad))
            await asyncio.sleep(0.1)

    async with server:
        task = asyncio.create_task(change())
        try:
            yield
        finally:
            task.cancel()


async def test_a_plain_asyncua_server_is_collected_by_subscription_and_by_polled_reads() -> None:
    port = free_port()
    points = [
        sub_point("ns=2;s=Boiler.Steam", "B-STEAM", "GJ"),
        poll_point("ns=2;s=Boiler.Probe", "B-PROBE", "degC"),
    ]
    sink, metrics = RecordingSink(), GatewayMetrics()
    endpoint = f"opc.tcp://127.0.0.1:{port}/plain/"
    async with (
        asyncio.timeout(15),
        plain_asyncua_server(port),
        collecting(server_config(endpoint, points), sink, metrics),
    ):
        await sink.until(lambda: len(sink.of("B-STEAM")) >= 5 and len(sink.of("B-PROBE")) >= 3)
    steam = sink.of("B-STEAM")
    assert [r.value for r in steam] == sorted(r.value for r in steam)
    assert all(r.quality is Quality.BAD and math.isnan(r.value) for r in sink.of("B-PROBE"))
    assert metrics.value("opcua_reads_ok_total", server="ua1") >= 3


@pytest.mark.parametrize(("password", "admitted"), [("s3cret", True), ("guess", False)])
async def test_user_name_and_password_open_a_session_only_when_right(
    password: str, admitted: bool, certs: dict[str, CertPair], tmp_path: Path
) -> None:
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/plain/"
    trust = {"trust_list": str(trust_list_of(tmp_path / "trusted", certs["server"]))}
    config = server_config(
        endpoint,
        [sub_point("ns=2;s=Boiler.Steam", "B-STEAM", "GJ")],
        username="gateway",
        password=password,
        **secure(certs, "Basic256Sha256", **trust),
    )
    sink, metrics = RecordingSink(), GatewayMetrics()
    users = Users({"gateway": "s3cret"})
    async with (
        asyncio.timeout(15),
        plain_asyncua_server(port, users, certs["server"]),
        collecting(config, sink, metrics) as collector,
    ):
        if admitted:
            await sink.until(lambda: len(sink.readings) >= 2)
        else:
            # Metrics have no change notification, so look every 0.1 s.
            while metrics.value("opcua_connect_failures_total", server="ua1") < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    assert (collector.sessions > 0) is admitted
    assert bool(sink.readings) is admitted
    assert ("gateway", password) in users.attempts
    assert metrics.value("opcua_untrusted_certificates_total", server="ua1") == 0


@pytest.mark.parametrize("trusted_by", ["server_certificate", "trust_list"])
async def test_a_server_with_another_certificate_is_refused_before_credentials_are_sent(
    trusted_by: str, certs: dict[str, CertPair], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/plain/"
    if trusted_by == "trust_list":
        trust = {"trust_list": str(trust_list_of(tmp_path / "trusted", certs["server"]))}
    else:
        trust = {"server_certificate": str(certs["server"].certificate)}
    config = server_config(
        endpoint,
        [sub_point("ns=2;s=Boiler.Steam", "B-STEAM", "GJ")],
        username="gateway",
        password="s3cret",
        **secure(certs, "Basic256Sha256", **trust),
    )
    sink, metrics = RecordingSink(), GatewayMetrics()
    users = Users({"gateway": "s3cret"})
    async with (
        asyncio.timeout(15),
        plain_asyncua_server(port, users, certs["impostor"]),  # same URI and name, another key
        collecting(config, sink, metrics) as collector,
    ):
        # Refused, and refused again after a backoff: the collector keeps trying.
        # Metrics have no change notification, so look every 0.1 s.
        while metrics.value("opcua_untrusted_certificates_total", server="ua1") < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    assert users.attempts == []  # no ActivateSession, so no user name or password, ever
    assert collector.sessions == 0
    assert sink.batches == []
    assert metrics.value("opcua_connect_failures_total", server="ua1") >= 2
    impostor = x509.load_der_x509_certificate(certs["impostor"].certificate.read_bytes())
    fingerprint = impostor.fingerprint(hashes.SHA256()).hex()
    assert any(
        "refused, credentials not sent" in r.getMessage() and fingerprint in r.getMessage()
        for r in caplog.records
    )


# --- against node-opcua, a second implementation -----------------------------------------------


@contextlib.asynccontextmanager
async def node_opcua_server(port: int, pki: Path) -> AsyncIterator[str]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "server.js"),
        str(port),
        str(pki),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        while not (line := (await proc.stdout.readline()).decode()).startswith("READY"):
            assert line, "node-opcua server exited before it was ready"
        yield line.split()[1]
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "node-opcua").is_dir(),
    reason="node-opcua not installed: run `npm install` in tests/ingest/node_opcua",
)
async def test_a_node_opcua_server_is_collected_within_its_operation_limits(tmp_path: Path) -> None:
    points = [sub_point(f"ns=1;s=Meter.Counter{i}", f"N-{i:02d}") for i in range(12)]
    points += [poll_point("ns=1;s=Meter.Broken", "N-BROKEN")]
    sink = RecordingSink()
    async with (
        asyncio.timeout(30),
        node_opcua_server(free_port(), tmp_path) as endpoint,
        collecting(server_config(endpoint, points), sink),
    ):
        await sink.until(lambda: len({r.meter_id for r in sink.readings}) == 13)
    assert all(r.quality is Quality.BAD for r in sink.of("N-BROKEN"))
    assert all(r.quality is Quality.GOOD for r in sink.of("N-05"))
