from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext, ModbusSimulatorContext
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from contracts.records import decode_batch
from ingest.config import GatewayConfig
from ingest.gateway import run_gateway
from simulators.meters import Fault
from simulators.modbus_farm import ModbusFarm, make_park
from simulators.profiles import Carrier
from tests.ingest.modbus_helpers import ListSink, device, pymodbus_server, run_collectors
from tests.ingest.test_registers import CASES


async def test_every_data_type_and_order_decodes_from_a_plain_pymodbus_server() -> None:
    words: list[int] = []
    points = []
    expected = {}
    for data_type, value, orders in CASES:
        for order, registers in orders.items():
            meter = f"M-{data_type.value}-{order.value}"
            point = {"meter_id": meter, "address": len(words), "unit": "1"}
            points.append({**point, "data_type": data_type.value, "order": order.value})
            expected[meter] = float(value)
            words += registers
    sim = SimDevice(1, simdata=[SimData(0, values=words, datatype=SimType.REGISTERS)])
    async with pymodbus_server(sim) as port:
        sink, metrics, [collector], _ = await run_collectors([device("plain", port, points)], 0.3)
    assert len(collector.blocks) == 1  # 64 registers of 32 points in one read
    got = {r.meter_id: r.value for r in sink.batches[0].readings}
    assert got == expected
    assert metrics.value("gateway_modbus_reads_total", device="plain", result="ok") >= 1


async def test_a_read_spanning_an_undefined_register_is_split_not_failed() -> None:
    # Registers 4..9 do not exist on this device: a merged read of 0..11 gets exception 2.
    sim = SimDevice(
        1,
        simdata=[
            SimData(0, values=[0, 7, 0, 9], datatype=SimType.REGISTERS),
            SimData(10, values=[0, 11], datatype=SimType.REGISTERS),
        ],
    )
    points = [
        {"meter_id": f"M-{a}", "address": a, "data_type": "uint32", "unit": "kWh"}
        for a in (0, 2, 10)
    ]
    async with pymodbus_server(sim) as port:
        dev = device("gappy", port, points, max_gap=10, poll_interval_s=0.1)
        sink, metrics, [collector], _ = await run_collectors([dev], 0.45)
    assert [(b.start, b.count) for b in collector.blocks] == [(0, 4), (10, 2)]
    assert len(sink.batches) >= 3
    assert all([r.value for r in b.readings] == [7.0, 9.0, 11.0] for b in sink.batches)
    assert metrics.value("gateway_modbus_exceptions_total", device="gappy", code="2") == 0


async def test_pymodbus_json_simulator_device_is_read_and_its_invalid_range_split() -> None:
    # pymodbus's own simulator device, configured by its JSON layout (not written by us).
    layout: dict[str, Any] = {
        "setup": {
            "co size": 0, "di size": 0, "hr size": 20, "ir size": 20, "shared blocks": True,
            "type exception": False,
            "defaults": {
                "value": {"bits": 0, "uint16": 0, "uint32": 0, "float32": 0.0, "string": " "},
                "action": {"bits": None, "uint16": None, "uint32": None, "float32": None,
                           "string": None},
            },
        },
        "invalid": [[4, 5]],
        "write": [], "bits": [], "string": [], "repeat": [],
        "uint16": [{"addr": [0, 1], "value": 1234}],
        "uint32": [{"addr": [2, 3], "value": 67000}],
        "float32": [{"addr": [6, 7], "value": 127.4}],
    }  # fmt: skip
    context = ModbusServerContext(devices=ModbusSimulatorContext(layout, None))
    points = [
        {"meter_id": "J-u16", "address": 0, "data_type": "uint16", "unit": "1"},
        {"meter_id": "J-u32", "address": 2, "data_type": "uint32", "unit": "1"},
        {"meter_id": "J-f32", "function": "input", "address": 6, "data_type": "float32",
         "unit": "1"},
        {"meter_id": "J-f32h", "address": 6, "data_type": "float32", "unit": "1"},
    ]  # fmt: skip
    async with pymodbus_server(context) as port:
        sink, _, _, _ = await run_collectors([device("json", port, points, max_gap=4)], 0.3)
    values = {r.meter_id: r.value for r in sink.batches[0].readings}
    assert values["J-u16"] == 1234 and values["J-u32"] == 67000
    assert values["J-f32"] == pytest.approx(127.4) and values["J-f32h"] == pytest.approx(127.4)


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """Accepts connections and never answers: a hung device behind a live TCP stack."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while await reader.read(1024):
                pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


@contextlib.asynccontextmanager
async def _garbage_server() -> AsyncIterator[int]:
    """Answers every request with a frame that is not Modbus."""

    async def garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while request := await reader.read(1024):
                writer.write(request[:2] + b"\x00\x00\x00\x05\x01\x03\xff\xff\xff")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(garble, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: connect is refused


async def test_dead_slow_and_exception_devices_do_not_slow_healthy_devices() -> None:
    farm = ModbusFarm(make_park(6, carriers=(Carrier.WATER,), prefix="H"), per_server=10)
    await farm.start()
    farm.meters["H-0003"].slow_s = 2.0
    farm.inject("H-0003", Fault.SLOW)
    farm.inject("H-0004", Fault.EXCEPTION)
    farm.inject("H-0005", Fault.DROPOUT)
    config = farm.gateway_config("gw-t", poll_interval_s=0.2, timeout_s=0.3)
    devices = GatewayConfig.model_validate(config).modbus_devices
    point = [{"meter_id": "X-1", "address": 0, "data_type": "uint16", "unit": "1"}]
    try:
        async with _silent_server() as silent:
            devices += [
                device("dead", _closed_port(), point, poll_interval_s=0.2, timeout_s=0.3),
                device("hung", silent, point, poll_interval_s=0.2, timeout_s=0.3),
            ]
            sink, metrics, _, alive = await run_collectors(devices, 3.0)
    finally:
        await farm.stop()
    assert alive
    for healthy in ("H-0000", "H-0001", "H-0002"):
        assert len(sink.by_source(f"gw-t/{healthy}")) >= 13  # 15 slots in 3 s at 0.2 s
        assert metrics.value("gateway_modbus_cycles_total", device=healthy, on_time="true") >= 13
    for bad in ("H-0003", "H-0004", "H-0005", "dead", "hung"):
        assert sink.by_source(f"gw-t/{bad}") == []
    assert metrics.value("gateway_modbus_exceptions_total", device="H-0004", code="4") >= 10
    for timed_out in ("H-0003", "H-0005", "hung"):
        assert metrics.value("gateway_modbus_reads_total", device=timed_out, result="timeout") >= 1
    assert metrics.value("gateway_modbus_connects_total", device="dead", result="failed") >= 2


class FlakySink(ListSink):
    """Fails every other put, as a full disk would."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def put(self, batch: Any) -> None:
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("disk I/O error")
        await super().put(batch)


async def test_a_polling_task_never_dies_from_an_exception() -> None:
    sim = SimDevice(1, simdata=[SimData(0, values=[1, 2], datatype=SimType.REGISTERS)])
    point = [{"meter_id": "F-1", "address": 0, "data_type": "uint32", "unit": "1"}]
    fast = {"poll_interval_s": 0.1, "timeout_s": 0.2, "reconnect_min_s": 0.05}
    async with pymodbus_server(sim) as port, _garbage_server() as garbage:
        devices = [
            device("flaky-sink", port, point, **fast),
            device("garbage", garbage, point, **fast),
        ]
        sink, metrics, _, alive = await run_collectors(devices, 1.5, sink=FlakySink())
    assert alive
    stored = sink.by_source("gw-t/flaky-sink")
    assert len(stored) >= 5
    # A refused batch is counted as not buffered; only stored readings count as polled points,
    # and the device keeps its connection (the buffer's trouble is not the device's).
    refused = metrics.value("gateway_unbuffered_batches_total", source="gw-t/flaky-sink")
    assert refused >= 5
    assert metrics.value("gateway_unbuffered_readings_total", source="gw-t/flaky-sink") == refused
    assert metrics.value("gateway_modbus_points_total", device="flaky-sink") == len(stored)
    assert metrics.value("gateway_modbus_errors_total", device="flaky-sink") == 0
    assert metrics.value("gateway_modbus_connects_total", device="flaky-sink", result="ok") == 1
    bad = sum(
        metrics.value("gateway_modbus_reads_total", device="garbage", result=r)
        for r in ("timeout", "malformed")
    )
    assert bad >= 2


async def _record_first_polls(
    tmp_path: Path, first: dict[int, float], units: int, port_holder: list[int]
) -> GatewayConfig:
    points = [{"meter_id": "S-{}", "address": 0, "data_type": "uint16", "unit": "1"}]
    devices = [
        {"name": f"s{u}", "host": "127.0.0.1", "port": port_holder[0], "unit_id": u,
         "points": [{**points[0], "meter_id": f"S-{u}"}]}
        for u in range(1, units + 1)
    ]  # fmt: skip
    return GatewayConfig.model_validate(
        {
            "gateway_id": "gw-stagger",
            "kafka": {"bootstrap": "127.0.0.1:1", "retry_min_s": 5.0},
            "buffer": {"path": str(tmp_path / "buffer.db")},
            "metrics": {"port": 0},
            "modbus_devices": devices,
        }
    )


async def test_polls_are_staggered_across_the_interval_and_seq_survives_a_restart(
    tmp_path: Path,
) -> None:
    first: dict[int, float] = {}

    async def note(unit: int, *_args: Any) -> ExcCodes | None:
        first.setdefault(unit, time.monotonic())
        return None

    units = 10
    sims = [
        SimDevice(
            u, simdata=[SimData(0, values=[u], datatype=SimType.REGISTERS)], action=partial(note, u)
        )
        for u in range(1, units + 1)
    ]
    async with pymodbus_server(sims) as port:
        config = await _record_first_polls(tmp_path, first, units, [port])
        for _run in range(2):
            stop = asyncio.Event()
            task = asyncio.create_task(run_gateway(config, stop=stop))
            await asyncio.sleep(1.6)
            stop.set()
            await asyncio.wait_for(task, 15)
            if _run == 0:
                starts = sorted(first.values())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == units
    assert starts[-1] - starts[0] >= 0.7  # spread over the 1 s interval
    assert min(gaps) >= 0.05  # never two devices in the same instant
    import sqlite3

    with sqlite3.connect(tmp_path / "buffer.db") as conn:
        payloads = [p for (p,) in conn.execute("SELECT payload FROM batches ORDER BY id")]
    seqs: dict[str, list[int]] = {}
    for payload in payloads:
        batch = decode_batch(payload).batch
        assert batch is not None
        seqs.setdefault(batch.source_key, []).extend(r.seq for r in batch.readings)
    assert len(seqs) == units
    for key, values in seqs.items():
        assert values == sorted(set(values)), key  # strictly increasing over both runs
        assert len(values) >= 2  # at least one poll in each run


async def test_farm_meters_read_back_with_their_ct_ratio_and_faults_show() -> None:
    farm = ModbusFarm(make_park(5, prefix="R"), accelerate=1.0)
    await farm.start()
    try:
        config = GatewayConfig.model_validate(farm.gateway_config("gw-t", poll_interval_s=0.1))
        by_name = {d.name: d for d in config.modbus_devices}
        farm.inject("R-0001", Fault.STUCK)
        farm.inject("R-0002", Fault.SPIKE)
        sink, _, _, _ = await run_collectors(list(by_name.values()), 0.5)
        total_before = farm.meters["R-0000"].total
        farm.inject("R-0000", Fault.ROLLOVER)
        after, _, _, _ = await run_collectors([by_name["R-0000"]], 0.3)
    finally:
        await farm.stop()
    meter = farm.meters["R-0000"]
    kwh = [
        r.value
        for b in sink.by_source("gw-t/R-0000")
        for r in b.readings
        if r.meter_id.endswith("kwh_imp")
    ]
    assert kwh == sorted(kwh)  # cumulative, increasing
    assert kwh[-1] == pytest.approx(total_before * meter.ct_ratio, rel=1e-3)
    stuck = [tuple(r.value for r in b.readings) for b in sink.by_source("gw-t/R-0001")]
    assert len(set(stuck)) == 1 and len(stuck) >= 3
    spiked = [
        r.value
        for b in sink.by_source("gw-t/R-0002")
        for r in b.readings
        if r.meter_id.endswith(".kw")
    ]
    normal = farm.meters["R-0002"].scale * farm.meters["R-0002"].ct_ratio
    assert min(spiked) > 3 * normal
    rolled = [r.value for b in after.batches for r in b.readings if r.meter_id.endswith("kwh_imp")]
    wrap_kwh = 2**32 * 0.01 * meter.ct_ratio  # a uint32 register of 0.01 kWh
    assert rolled[0] == pytest.approx(wrap_kwh, rel=1e-3)  # seconds before the wrap
