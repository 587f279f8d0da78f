"""Modbus lines: many unit ids on one serial port, one RTU-over-TCP or one Modbus TCP connection,
read against pymodbus's own servers over socat pty pairs and loopback TCP."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from pymodbus.framer import FramerType

from config.settings import ConfigError
from ingest.config import ModbusLine, load_gateway_config
from ingest.metrics import GatewayMetrics
from ingest.modbus_line import ModbusLineCollector, crc16
from tests.ingest.modbus_helpers import ListSink
from tests.ingest.rtu_helpers import pty_pair, serial_server, tcp_server, units

pytestmark = pytest.mark.skipif(
    __import__("shutil").which("socat") is None, reason="socat missing (deploy/bootstrap.sh)"
)

VALUES = {1: [0, 1001, 7], 2: [0, 2002, 8], 3: [0, 3003, 9]}
DEAD = 9  # configured on the line, answered by nobody


def _points(uid: int) -> list[dict[str, Any]]:
    return [
        {"meter_id": f"E-{uid}", "address": 0, "data_type": "uint32", "unit": "kWh",
         "kind": "cumulative"},
        {"meter_id": f"P-{uid}", "address": 2, "data_type": "uint16", "unit": "kW"},
    ]  # fmt: skip


def _line(transport: str, uids: list[int], **extra: Any) -> ModbusLine:
    return ModbusLine.model_validate(
        {
            "name": "L1",
            "transport": transport,
            "devices": [{"name": f"u{u}", "unit_id": u, "points": _points(u)} for u in uids],
            **extra,
        }
    )


async def _run(line: ModbusLine, seconds: float) -> tuple[ListSink, GatewayMetrics]:
    sink, metrics = ListSink(), GatewayMetrics()
    collector = ModbusLineCollector(line, sink, gateway_id="gw-t", metrics=metrics)
    task = asyncio.create_task(collector.run())
    await asyncio.sleep(seconds)
    assert not task.done(), "the line task must never end by itself"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return sink, metrics


def _assert_values(sink: ListSink, uids: list[int]) -> None:
    for uid in uids:
        batches = sink.by_source(f"gw-t/u{uid}")
        assert batches, f"unit {uid} was never read"
        for batch in batches:
            got = {r.meter_id: r.value for r in batch.readings}
            assert got == {f"E-{uid}": VALUES[uid][1], f"P-{uid}": VALUES[uid][2]}


def test_the_modbus_crc_matches_the_specification_example() -> None:
    # Modbus over Serial Line V1.02, 6.2.2: "01 03 00 00 00 01" is sent with CRC bytes 84 0A.
    assert crc16(bytes.fromhex("010300000001")).to_bytes(2, "little") == bytes.fromhex("840A")


def test_the_inter_frame_gap_is_3_5_characters_up_to_19200_baud_then_1_75_ms() -> None:
    serial = {"transport": "serial", "port": "/dev/ttyUSB0"}
    assert _line(**serial, uids=[1], baudrate=9600).frame_gap_s == pytest.approx(3.5 * 11 / 9600)
    assert _line(**serial, uids=[1], baudrate=9600, parity="N").frame_gap_s == pytest.approx(
        3.5 * 10 / 9600
    )
    assert _line(**serial, uids=[1], baudrate=38400).frame_gap_s == pytest.approx(0.00175)
    assert _line("tcp", [1], host="127.0.0.1").frame_gap_s == 0.0


async def test_unit_ids_on_one_serial_line_and_a_dead_one_delays_them_by_at_most_its_timeout(
    tmp_path: Path,
) -> None:
    requests: list[float] = []
    responses: list[float] = []

    def trace(sending: bool, data: bytes) -> bytes:
        (responses if sending else requests).append(time.monotonic())
        return data

    interval, timeout = 0.2, 0.25
    with pty_pair(tmp_path) as (gw_end, dev_end):
        async with serial_server(dev_end, units(VALUES), trace_packet=trace):
            line = _line(
                "serial", [1, 2, DEAD, 3], port=gw_end, baudrate=9600, parity="N", stopbits=2,
                poll_interval_s=interval, timeout_s=timeout, backoff_min_s=1.0,
            )  # fmt: skip
            sink, metrics = await _run(line, 2.5)
    _assert_values(sink, [1, 2, 3])
    assert not sink.by_source(f"gw-t/u{DEAD}")
    for uid in (1, 2, 3):
        stamps = [b.readings[0].ts_ms / 1000 for b in sink.by_source(f"gw-t/u{uid}")]
        assert len(stamps) >= 9, f"unit {uid}: {len(stamps)} polls in 2.5 s at 0.2 s"
        # The dead unit costs the line one timeout per backoff, never more.
        worst = max(b - a for a, b in itertools.pairwise(stamps))
        assert worst <= interval + timeout + 0.1, f"unit {uid} waited {worst:.3f} s"
    # Backed off, never probed every poll: at 0 s (times out at 0.25 s), again 1 s later (times
    # out at 1.5 s), then not before 2 s more (3.5 s): in 2.5 s exactly two probes, where probing
    # every 0.2 s poll would have made about ten.
    timeouts = metrics.value("gateway_modbus_reads_total", result="timeout", device="u9", line="L1")
    assert timeouts == 2
    assert metrics.value("gateway_modbus_unit_up", line="L1", device="u9") == 0
    assert metrics.value("gateway_modbus_unit_up", line="L1", device="u1") == 1
    assert metrics.value("gateway_modbus_connects_total", result="ok", line="L1") == 1
    # One request at a time, and 3.5 characters of 8N2 at 9600 baud (4.0 ms) of silence after
    # each response before the next request.
    gaps = [
        min(r for r in requests if r > sent) - sent for sent in responses if sent < requests[-1]
    ]
    assert gaps and min(gaps) >= 3.5 * 11 / 9600 - 0.0005


async def test_a_corrupted_response_is_counted_as_a_crc_error_and_fails_before_the_timeout(
    tmp_path: Path,
) -> None:
    corrupted = 0

    def corrupt_unit_2(sending: bool, data: bytes) -> bytes:
        nonlocal corrupted
        if sending and data[:1] == b"\x02" and corrupted < 3:
            corrupted += 1
            return data[:-1] + bytes([data[-1] ^ 0xFF])  # the CRC's last byte flipped
        return data

    with pty_pair(tmp_path) as (gw_end, dev_end):
        async with serial_server(dev_end, units(VALUES), trace_packet=corrupt_unit_2):
            line = _line(
                "serial", [1, 2], port=gw_end, parity="N", stopbits=2, poll_interval_s=0.1,
                timeout_s=2.0,
            )  # fmt: skip
            started = time.monotonic()
            sink, metrics = await _run(line, 1.2)
    assert corrupted == 3
    assert metrics.value("gateway_modbus_crc_errors_total", line="L1", device="u2") == 3
    assert metrics.value("gateway_modbus_reads_total", result="crc_error", device="u2",
                         line="L1") == 3  # fmt: skip
    # A garbled answer is not a dead unit: no 2 s timeout, no backoff, and the good frames after
    # it are read and decoded exactly.
    assert metrics.value("gateway_modbus_reads_total", result="timeout", device="u2",
                         line="L1") == 0  # fmt: skip
    assert len(sink.by_source("gw-t/u2")) >= 5
    assert len(sink.by_source("gw-t/u1")) >= 8
    _assert_values(sink, [1, 2])
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("transport", "framer"),
    [("rtu_over_tcp", FramerType.RTU), ("tcp", FramerType.SOCKET)],
)
async def test_several_unit_ids_share_one_tcp_connection_and_a_dead_one_is_backed_off(
    transport: str, framer: FramerType
) -> None:
    connections: list[bool] = []
    async with tcp_server(units(VALUES), framer=framer, trace_connect=connections.append) as port:
        line = _line(
            transport, [1, 2, 3, DEAD], host="127.0.0.1", tcp_port=port,
            poll_interval_s=0.2, timeout_s=0.2, backoff_min_s=1.0,
        )  # fmt: skip
        sink, metrics = await _run(line, 1.5)
    _assert_values(sink, [1, 2, 3])
    assert all(len(sink.by_source(f"gw-t/u{u}")) >= 5 for u in (1, 2, 3))
    assert connections.count(True) == 1, "every unit id over one connection"
    assert metrics.value("gateway_modbus_connects_total", result="ok", line="L1") == 1
    assert metrics.value("gateway_modbus_unit_up", line="L1", device="u9") == 0


def test_a_bad_line_is_refused_with_file_key_path_and_line(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(
        "gateway_id: gw-1\n"
        "modbus_lines:\n"
        "  - name: rs485-a\n"
        "    transport: serial\n"
        "    host: 10.0.0.5\n"
        "    devices:\n"
        "      - name: m1\n"
        "        unit_id: 248\n"
        "        points:\n"
        "          - {meter_id: E-1, address: 0, data_type: uint32, unit: kWh}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_gateway_config(config)
    assert str(config) in str(err.value)
    assert "modbus_lines[0] (line 3)" in str(err.value)
    assert "transport serial needs port" in str(err.value) or "not host" in str(err.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"devices": [{"name": "a", "unit_id": 0}]}, "unit_id must be 1..247"),
        ({"devices": [{"name": "a", "unit_id": 3}, {"name": "b", "unit_id": 3}]}, "repeated: [3]"),
        ({"port": None}, "needs port"),
        ({"backoff_min_s": 90}, "backoff_min_s must not exceed"),
    ],
)
def test_inconsistent_lines_are_refused(change: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"name": "L", "transport": "serial", "port": "/dev/ttyS0"}
    devices = change.pop("devices", [{"name": "a", "unit_id": 1}])
    base |= change
    base["devices"] = [d | {"points": _points(i)} for i, d in enumerate(devices)]
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ModbusLine.model_validate(base)


def test_device_names_and_meters_are_unique_across_lines_and_tcp_devices(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(
        "gateway_id: gw-1\n"
        "modbus_devices:\n"
        "  - {name: m1, host: 127.0.0.1, points: [{meter_id: E-1, address: 0,"
        " data_type: uint16, unit: kWh}]}\n"
        "modbus_lines:\n"
        "  - name: L\n"
        "    transport: tcp\n"
        "    host: 127.0.0.1\n"
        "    devices:\n"
        "      - {name: m1, unit_id: 2, points: [{meter_id: E-1, address: 0,"
        " data_type: uint16, unit: kWh}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="repeated: m1") as err:
        load_gateway_config(config)
    assert "repeated: E-1" not in str(err.value) or "meter ids" in str(err.value)
