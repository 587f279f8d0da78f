"""The Modbus collector against a server the project did not write: libmodbus (Debian's
libmodbus-dev), with mbpoll (a libmodbus-based command-line client) cross-checking what the
collector read, and cross-checking the project's own simulator too.

``libmodbus_server.c`` is compiled once per session into a temporary directory and run on a free
127.0.0.1 port; its register map is documented at the top of that file. Both tools come from
``deploy/bootstrap.sh``; without libmodbus-dev (or a C compiler) these tests are skipped with
that reason, without mbpoll only the cross-checks are.
"""

from __future__ import annotations

import asyncio
import re
import select
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from contracts.records import RawReading
from ingest.config import GatewayConfig, ModbusDevice
from ingest.metrics import GatewayMetrics
from ingest.modbus import ModbusCollector
from ingest.registers import Block, DataType, Function, Order
from simulators.meters import Fault
from simulators.modbus_farm import ModbusFarm, make_park
from simulators.profiles import Carrier
from tests.ingest.modbus_helpers import ListSink, device

SOURCE = Path(__file__).with_name("libmodbus_server.c")
MBPOLL = shutil.which("mbpoll")
needs_mbpoll = pytest.mark.skipif(
    MBPOLL is None, reason="mbpoll is not installed (deploy/bootstrap.sh installs it)"
)

ORDERS = (Order.ABCD, Order.CDAB, Order.BADC, Order.DCBA)
# The server's fixture table: one value per data type, and the registers each order puts on the
# wire, computed by hand from the value's big-endian bytes A B C D ... (A most significant):
# CDAB reverses the words, BADC swaps the two bytes inside each word, DCBA does both.
VALUES: list[tuple[DataType, float, tuple[list[int], list[int], list[int], list[int]]]] = [
    # -12345 = 0x10000 - 12345 = 0xCFC7
    (DataType.INT16, -12345, ([0xCFC7], [0xCFC7], [0xC7CF], [0xC7CF])),
    (DataType.UINT16, 0xA1B2, ([0xA1B2], [0xA1B2], [0xB2A1], [0xB2A1])),
    # 123456789 = 0x075BCD15; -123456789 = ~0x075BCD15 + 1 = 0xF8A432EB
    (
        DataType.INT32,
        -123456789,
        ([0xF8A4, 0x32EB], [0x32EB, 0xF8A4], [0xA4F8, 0xEB32], [0xEB32, 0xA4F8]),
    ),
    (
        DataType.UINT32,
        0xDEADBEEF,  # above 2**31: a signed decode would go negative
        ([0xDEAD, 0xBEEF], [0xBEEF, 0xDEAD], [0xADDE, 0xEFBE], [0xEFBE, 0xADDE]),
    ),
    # 1234567890123456789 = 0x112210F47DE98115; negated: 0xEEDDEF0B82167EEB
    (
        DataType.INT64,
        -1234567890123456789,
        (
            [0xEEDD, 0xEF0B, 0x8216, 0x7EEB],
            [0x7EEB, 0x8216, 0xEF0B, 0xEEDD],
            [0xDDEE, 0x0BEF, 0x1682, 0xEB7E],
            [0xEB7E, 0x1682, 0x0BEF, 0xDDEE],
        ),
    ),
    (
        DataType.UINT64,
        0xFEDCBA9876543210,  # above 2**63
        (
            [0xFEDC, 0xBA98, 0x7654, 0x3210],
            [0x3210, 0x7654, 0xBA98, 0xFEDC],
            [0xDCFE, 0x98BA, 0x5476, 0x1032],
            [0x1032, 0x5476, 0x98BA, 0xDCFE],
        ),
    ),
    # float32 0x40490FDB: sign 0, exponent 0x80 (2**1), mantissa 0x490FDB -> 3.1415927410125732
    (
        DataType.FLOAT32,
        3.1415927410125732,
        ([0x4049, 0x0FDB], [0x0FDB, 0x4049], [0x4940, 0xDB0F], [0xDB0F, 0x4940]),
    ),
    # float64 e = 0x4005BF0A8B145769; negative sets the top bit: 0xC005BF0A8B145769
    (
        DataType.FLOAT64,
        -2.718281828459045,
        (
            [0xC005, 0xBF0A, 0x8B14, 0x5769],
            [0x5769, 0x8B14, 0xBF0A, 0xC005],
            [0x05C0, 0x0ABF, 0x148B, 0x6957],
            [0x6957, 0x148B, 0x0ABF, 0x05C0],
        ),
    ),
]


def _fixture_points() -> tuple[list[tuple[DataType, Order, int, float]], list[int]]:
    """(data type, order, address, value) of every fixture, and the registers 0..79 they fill,
    packed from address 0 in the server's order (types outer, orders inner)."""
    points: list[tuple[DataType, Order, int, float]] = []
    words: list[int] = []
    for data_type, value, layouts in VALUES:
        for order, registers in zip(ORDERS, layouts, strict=True):
            assert len(registers) == data_type.words
            points.append((data_type, order, len(words), float(value)))
            words += registers
    return points, words


FIXTURES, FIXTURE_WORDS = _fixture_points()
HOLE = range(80, 90)  # undefined holding registers: exception 2
TAIL = [4242, 0xFFFF, 0xFFFE]  # holding 90..92: uint16 4242, int32 -2 (ABCD)
FAILING = 200  # holding 200..201: exception 4
UNMAPPED = 300  # past libmodbus's mapping: libmodbus's own exception 2


# -- the server ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def libmodbus_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc, pkg_config = shutil.which("cc"), shutil.which("pkg-config")
    if cc is None or pkg_config is None:
        pytest.skip("no C compiler or pkg-config (deploy/bootstrap.sh installs them)")
    flags = subprocess.run(
        [pkg_config, "--cflags", "--libs", "libmodbus"], capture_output=True, text=True
    )
    if flags.returncode != 0:
        pytest.skip("libmodbus-dev is not installed (deploy/bootstrap.sh installs it)")
    binary = tmp_path_factory.mktemp("libmodbus") / "libmodbus_server"
    build = subprocess.run(
        [cc, "-O2", "-Wall", "-o", str(binary), str(SOURCE), *flags.stdout.split()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert build.returncode == 0, f"compiling {SOURCE.name} failed:\n{build.stderr}"
    return binary


@pytest.fixture(scope="module")
def libmodbus_port(libmodbus_binary: Path) -> Iterator[int]:
    """The libmodbus server on 127.0.0.1 and a port the kernel chose; yields the port."""
    proc = subprocess.Popen(
        [str(libmodbus_binary), "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        line = proc.stdout.readline() if ready else ""
        found = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
        assert found, f"libmodbus server did not start: {line!r} {proc.poll()}"
        yield int(found.group(1))
        assert proc.poll() is None, "the libmodbus server died during the tests"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# -- the collector, keeping the raw registers of every block -------------------------------------


class RawRecordingCollector(ModbusCollector):
    """The gateway's collector, unchanged, noting the registers each block read returned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw: dict[tuple[Function, int], list[int]] = {}

    def _decode(self, block: Block, registers: list[int]) -> list[RawReading]:
        self.raw[(block.function, block.start)] = list(registers)
        return super()._decode(block, registers)


async def _poll(
    devices: Sequence[ModbusDevice], seconds: float
) -> tuple[ListSink, GatewayMetrics, list[RawRecordingCollector]]:
    sink, metrics = ListSink(), GatewayMetrics()
    collectors = [
        RawRecordingCollector(d, sink, gateway_id="gw-t", metrics=metrics) for d in devices
    ]
    tasks = [asyncio.create_task(c.run()) for c in collectors]
    await asyncio.sleep(seconds)
    assert all(not t.done() for t in tasks), "a polling task ended"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sink, metrics, collectors


def _meter(data_type: DataType, order: Order, function: Function) -> str:
    return f"{function.value[0]}-{data_type.value}-{order.value}"


def _all_fixture_points(function: Function) -> list[dict[str, Any]]:
    return [
        {
            "meter_id": _meter(t, o, function),
            "function": function.value,
            "address": a,
            "data_type": t.value,
            "order": o.value,
            "unit": "1",
        }
        for t, o, a, _ in FIXTURES
    ]


# -- mbpoll --------------------------------------------------------------------------------------


async def _mbpoll(
    port: int, start: int, count: int, kind: str = "4:hex", *extra: str, unit: int = 1
) -> tuple[int, list[str], str]:
    """One mbpoll read (0-based addresses); its exit code, the values it printed, its stderr."""
    assert MBPOLL is not None
    args = ["-m", "tcp", "-p", str(port), "-a", str(unit), "-0", "-1", "-o", "2"]
    args += ["-r", str(start), "-c", str(count), "-t", kind, *extra, "127.0.0.1"]
    proc = await asyncio.create_subprocess_exec(
        MBPOLL, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 15)
    values = re.findall(r"^\[\d+\]:\s+(\S+)$", out.decode(), flags=re.MULTILINE)
    return int(proc.returncode or 0), values, err.decode()


async def _mbpoll_words(
    port: int, start: int, count: int, *, input_: bool = False, unit: int = 1
) -> list[int]:
    rc, values, err = await _mbpoll(port, start, count, "3:hex" if input_ else "4:hex", unit=unit)
    assert rc == 0, err
    return [int(v, 16) for v in values]


# -- the tests -----------------------------------------------------------------------------------


async def test_every_data_type_and_order_decodes_from_a_libmodbus_server(
    libmodbus_port: int,
) -> None:
    points = _all_fixture_points(Function.HOLDING) + _all_fixture_points(Function.INPUT)
    points.append(  # scale, offset and CT multiplier on top of a decoded uint32
        {"meter_id": "scaled", "address": 16, "data_type": "uint32", "order": "ABCD",
         "scale": 0.01, "offset": -5.0, "multiplier": 40.0, "unit": "kWh"}
    )  # fmt: skip
    # Three gateways' worth of the same device at once: the server's select loop serves them all.
    devices = [
        device(f"lm-{n}", libmodbus_port, points, poll_interval_s=0.1, timeout_s=1.0)
        for n in range(3)
    ]
    sink, metrics, collectors = await _poll(devices, 0.65)

    for collector in collectors:
        # 80 registers per table: one read each, holding and input never mixed.
        assert [(b.function, b.start, b.count) for b in collector.blocks] == [
            (Function.HOLDING, 0, 80),
            (Function.INPUT, 0, 80),
        ]
        assert collector.raw[(Function.HOLDING, 0)] == FIXTURE_WORDS
        assert collector.raw[(Function.INPUT, 0)] == FIXTURE_WORDS
        batches = sink.by_source(collector.source_key)
        assert len(batches) >= 4  # 7 cycle slots in 0.65 s at 0.1 s
        for batch in batches:
            got = {r.meter_id: r.value for r in batch.readings}
            for data_type, order, _, value in FIXTURES:
                for function in Function:
                    # exact: 64-bit integers round to the same float on both sides
                    assert got[_meter(data_type, order, function)] == value, (
                        data_type,
                        order,
                        function,
                    )
            assert got["scaled"] == pytest.approx((0xDEADBEEF * 0.01 - 5.0) * 40.0)
        name = collector.device.name
        assert metrics.value("gateway_modbus_reads_total", device=name, result="ok") >= 8
        assert metrics.value("gateway_modbus_connects_total", device=name, result="ok") == 1
        assert metrics.value("gateway_modbus_cycles_total", device=name, on_time="true") >= 3


async def test_reads_spanning_libmodbus_undefined_registers_are_split_and_succeed(
    libmodbus_port: int,
) -> None:
    # 72..79 (two float64) and 90..92 (the tail) merge into one read of 72..92 under max_gap 10;
    # it spans the undefined 80..89, the server answers exception 2, the collector splits it.
    points = [
        {"meter_id": "f64-badc", "address": 72, "data_type": "float64", "order": "BADC",
         "unit": "1"},
        {"meter_id": "f64-dcba", "address": 76, "data_type": "float64", "order": "DCBA",
         "unit": "1"},
        {"meter_id": "tail-u16", "address": 90, "data_type": "uint16", "unit": "1"},
        {"meter_id": "tail-i32", "address": 91, "data_type": "int32", "unit": "1"},
    ]  # fmt: skip
    dev = device("lm-gap", libmodbus_port, points, max_gap=10, poll_interval_s=0.1)
    sink, metrics, [collector] = await _poll([dev], 0.65)

    assert [(b.start, b.count) for b in collector.blocks] == [(72, 8), (90, 3)]
    assert collector.raw[(Function.HOLDING, 72)] == FIXTURE_WORDS[72:80]
    assert collector.raw[(Function.HOLDING, 90)] == TAIL
    assert len(sink.batches) >= 4
    for batch in sink.batches:
        assert [r.value for r in batch.readings] == [-2.718281828459045] * 2 + [4242.0, -2.0]
    # The refusal is how the split is found, not a failed read.
    assert metrics.value("gateway_modbus_exceptions_total", device="lm-gap", code="2") == 0
    assert metrics.value("gateway_modbus_reads_total", device="lm-gap", result="exception") == 0
    assert metrics.value("gateway_modbus_reads_total", device="lm-gap", result="ok") >= 8


async def test_libmodbus_exception_responses_are_counted_and_the_device_keeps_polling(
    libmodbus_port: int,
) -> None:
    points = [
        {"meter_id": "good", "address": 4, "data_type": "uint16", "unit": "1"},
        {"meter_id": "failing", "address": FAILING, "data_type": "uint16", "unit": "1"},
        {"meter_id": "unmapped", "address": UNMAPPED, "data_type": "uint16", "unit": "1"},
    ]
    dev = device("lm-exc", libmodbus_port, points, poll_interval_s=0.1)
    sink, metrics, _ = await _poll([dev], 0.65)

    assert len(sink.batches) >= 4  # the good point still arrives every cycle
    assert all(
        [(r.meter_id, r.value) for r in b.readings] == [("good", 0xA1B2)] for b in sink.batches
    )
    assert metrics.value("gateway_modbus_exceptions_total", device="lm-exc", code="4") >= 4
    assert metrics.value("gateway_modbus_exceptions_total", device="lm-exc", code="2") >= 4
    assert metrics.value("gateway_modbus_reads_total", device="lm-exc", result="exception") >= 8
    # An exception is an answer: the connection stays up.
    assert metrics.value("gateway_modbus_connects_total", device="lm-exc", result="ok") == 1
    assert metrics.value("gateway_modbus_reads_total", device="lm-exc", result="timeout") == 0


@needs_mbpoll
async def test_mbpoll_reads_the_same_registers_the_collector_read(libmodbus_port: int) -> None:
    points = _all_fixture_points(Function.HOLDING) + _all_fixture_points(Function.INPUT)
    points += [{"meter_id": "tail", "address": 90, "data_type": "uint16", "unit": "1"}]
    dev = device("lm-x", libmodbus_port, points, max_gap=10, poll_interval_s=0.1)
    _, _, [collector] = await _poll([dev], 0.25)
    raw = collector.raw

    # mbpoll (libmodbus's client side) and the collector (pymodbus) see the same words.
    assert await _mbpoll_words(libmodbus_port, 0, 80) == raw[(Function.HOLDING, 0)]
    assert await _mbpoll_words(libmodbus_port, 0, 80, input_=True) == raw[(Function.INPUT, 0)]
    assert await _mbpoll_words(libmodbus_port, 90, 1) == raw[(Function.HOLDING, 90)]
    assert raw[(Function.HOLDING, 0)] == FIXTURE_WORDS  # and both are the hand computation

    # mbpoll's own 32-bit decoders: big-endian words (-B) is ABCD, its default is CDAB.
    at = {(t, o): a for t, o, a, _ in FIXTURES}
    for data_type, kind, expected in (
        (DataType.INT32, "4:int", -123456789.0),
        (DataType.FLOAT32, "4:float", 3.1415927410125732),
    ):
        for order, extra in ((Order.ABCD, ["-B"]), (Order.CDAB, [])):
            rc, values, err = await _mbpoll(libmodbus_port, at[data_type, order], 1, kind, *extra)
            assert rc == 0, err
            assert float(values[0]) == pytest.approx(expected, rel=1e-5), (data_type, order)

    # The hole and the failing registers are the server's, whatever the client.
    rc, _, err = await _mbpoll(libmodbus_port, 76, 17)
    assert rc != 0 and "Illegal data address" in err
    rc, _, err = await _mbpoll(libmodbus_port, FAILING, 1)
    assert rc != 0 and "server failure" in err


@needs_mbpoll
async def test_mbpoll_cross_checks_the_project_simulator() -> None:
    farm = ModbusFarm(make_park(2, carriers=(Carrier.ELECTRICITY, Carrier.PRODUCTION), prefix="X"))
    await farm.start()
    try:
        for meter in farm.meters:
            farm.inject(meter, Fault.STUCK)  # frozen at the first read: both clients see it
        config = GatewayConfig.model_validate(farm.gateway_config("gw-t", poll_interval_s=0.1))
        _, _, collectors = await _poll(config.modbus_devices, 0.25)
        for collector in collectors:
            end = farm.endpoints[collector.device.name]
            [block] = collector.blocks
            words = await _mbpoll_words(end.port, block.start, block.count, unit=end.unit_id)
            assert words == collector.raw[(Function.HOLDING, block.start)], collector.device.name
            assert any(words)
    finally:
        await farm.stop()
