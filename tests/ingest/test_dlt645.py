"""The DL/T 645 collector against the independent meter simulator, over loopback TCP (a
serial device server's raw port) and a socat pty pair (a serial line without hardware)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from accounting.intervals import counter_deltas
from contracts.records import Source, decode_batch
from ingest.buffer import ReadingBuffer
from ingest.config import BufferConfig, Dlt645Line
from ingest.dlt645 import Dlt645Collector
from ingest.metrics import GatewayMetrics
from simulators.dlt645_meter import Line, SimulatedMeter, serve_serial, serve_tcp
from tests.ingest.modbus_helpers import ListSink

A1, A2, A3 = "000000000001", "000000000002", "000012345678"
ENERGY = {"00010000": 123456.78, "00010100": 23456.78, "00010200": 60000.0,
          "00010300": 30000.0, "00010400": 10000.0}  # fmt: skip
POINTS = ["00010000", "00010100", "00010200", "00010300", "00010400"]
TIMING: dict[str, Any] = {"timeout_s": 0.3, "inter_frame_s": 0.0, "baudrate": 9600}


def line_config(port: int | None = None, *, device: str | None = None, **extra: Any) -> Dlt645Line:
    meters = extra.pop("meters", None) or [
        {"address": a, "points": [{"di": di, "meter_id": f"E-{a[-4:]}-{di}"} for di in POINTS]}
        for a in (A1, A2, A3)
    ]
    where = {"transport": "serial", "device": device} if device else {
        "transport": "tcp", "host": "127.0.0.1", "port": port}  # fmt: skip
    return Dlt645Line.model_validate({"name": "l1", **where, **TIMING, "meters": meters, **extra})


def collector(
    config: Dlt645Line, sink: Any = None
) -> tuple[Dlt645Collector, ListSink, GatewayMetrics]:
    sink = sink if sink is not None else ListSink()
    metrics = GatewayMetrics()
    return Dlt645Collector(config, sink, gateway_id="gw-t", metrics=metrics), sink, metrics


def values(sink: ListSink) -> dict[str, float]:
    return {r.meter_id: r.value for b in sink.batches for r in b.readings}


def reads(metrics: GatewayMetrics, meter: str, result: str) -> float:
    return metrics.value("gateway_dlt645_reads_total", line="l1", meter=meter, result=result)


@contextlib.asynccontextmanager
async def polled(c: Dlt645Collector) -> AsyncIterator[Dlt645Collector]:
    try:
        yield c
    finally:
        c._close(None)


def three_meters() -> Line:
    return Line([SimulatedMeter(a, dict(ENERGY)) for a in (A1, A2, A3)])


async def test_energy_and_tariff_registers_of_three_meters_decode_exactly_over_one_connection() -> (
    None
):
    sim = three_meters()
    sim.meters[1].values["00010000"] = 999999.99  # the register's top
    async with serve_tcp(sim) as port:
        c, sink, metrics = collector(line_config(port))
        async with polled(c):
            assert await c.poll_once()
            assert await c.poll_once()
    got = values(sink)
    for a in (A1, A3):
        assert {di: got[f"E-{a[-4:]}-{di}"] for di in POINTS} == ENERGY
    assert got["E-0002-00010000"] == 999999.99
    assert sim.connections == 1  # the whole line through one connection
    assert len(sink.batches) == 6  # one batch per meter and cycle, all of source dlt645
    assert {(b.source, b.source_key) for b in sink.batches} == {(Source.DLT645, "gw-t/l1")}
    seqs = [r.seq for b in sink.batches for r in b.readings]
    assert seqs == list(range(30))
    assert {r.unit for b in sink.batches for r in b.readings} == {"kWh"}
    assert reads(metrics, A1, "ok") == 10


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is needed for the serial tests: apt-get install -y socat")
    a, b = tmp_path / "gateway-end", tmp_path / "meter-end"
    proc = subprocess.Popen(
        [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if a.exists() and b.exists():
                break
            proc.wait(timeout=0.05) if proc.poll() is not None else None
            subprocess.run(["sleep", "0.05"], check=False)
        assert a.exists() and b.exists(), "socat did not create the pty pair"
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


async def test_a_serial_line_through_a_socat_pty_pair_reads_every_meter(
    pty_pair: tuple[str, str],
) -> None:
    gateway_end, meter_end = pty_pair
    sim = three_meters()
    async with serve_serial(sim, meter_end):
        c, sink, metrics = collector(line_config(device=gateway_end, baudrate=2400, parity="E"))
        async with polled(c):
            assert await c.poll_once()
            assert metrics.value("gateway_dlt645_connected", line="l1") == 1
    got = values(sink)
    assert {di: got[f"E-5678-{di}"] for di in POINTS} == ENERGY
    assert len(got) == 15


async def test_a_wrong_address_gets_no_answer_its_timeout_is_counted_and_the_others_go_on() -> None:
    sim = Line([SimulatedMeter(A1, dict(ENERGY)), SimulatedMeter(A3, dict(ENERGY))])
    # A2 is configured but no meter on the line has that address.
    async with serve_tcp(sim) as port:
        c, sink, metrics = collector(line_config(port, backoff_min_s=60, backoff_max_s=60))
        async with polled(c):
            assert not await c.poll_once()
            first = len(sink.batches)
            assert not await c.poll_once()  # A2 backs off: skipped, not waited for again
    assert reads(metrics, A2, "timeout") == 1  # one request, then the backoff
    assert metrics.value("gateway_dlt645_meter_skips_total", line="l1", meter=A2) == 1
    assert metrics.value("gateway_dlt645_meter_up", line="l1", meter=A2) == 0
    assert first == 2 and len(sink.batches) == 4
    assert not any(k.startswith("E-0002") for k in values(sink))
    assert reads(metrics, A3, "ok") == 10


async def test_a_reply_with_a_bad_checksum_is_counted_and_refused() -> None:
    sim = three_meters()
    sim.meters[0].bad_checksum = True
    async with serve_tcp(sim) as port:
        c, sink, metrics = collector(line_config(port))
        async with polled(c):
            assert not await c.poll_once()
    assert reads(metrics, A1, "checksum") == 5
    assert reads(metrics, A1, "ok") == 0
    assert not any(k.startswith("E-0001") for k in values(sink))  # nothing of it is taken
    assert len(values(sink)) == 10  # the other two meters are read in full
    assert metrics.value("gateway_dlt645_meter_up", line="l1", meter=A1) == 1  # it answers


async def test_an_identifier_the_meter_lacks_gets_the_d1h_error_reply_counted() -> None:
    sim = three_meters()
    del sim.meters[2].values["00010400"]
    async with serve_tcp(sim) as port:
        c, sink, metrics = collector(line_config(port))
        async with polled(c):
            assert not await c.poll_once()
    assert reads(metrics, A3, "error") == 1
    labels = {"line": "l1", "meter": A3, "error": "no_data"}
    assert metrics.value("gateway_dlt645_error_replies_total", **labels) == 1
    got = values(sink)
    assert "E-5678-00010400" not in got and got["E-5678-00010300"] == 30000.0


async def test_replies_with_and_without_the_preamble_and_after_noise_are_read() -> None:
    sim = three_meters()
    sim.meters[0].preamble = False
    sim.meters[1].noise = b"\x00\x68\x16\xff"  # even a stray 68H before the frame
    async with serve_tcp(sim) as port:
        c, sink, _ = collector(line_config(port, preamble=False))
        async with polled(c):
            assert await c.poll_once()
    assert len(values(sink)) == 15


async def test_the_meters_own_rollover_is_counted_and_the_platform_unwraps_it() -> None:
    sim = three_meters()
    meters = [{"address": A1, "points": [{"di": "00010000", "meter_id": "E-R"}]}]
    async with serve_tcp(sim) as port:
        c, sink, metrics = collector(line_config(port, meters=meters))
        async with polled(c):
            for kwh in (999999.50, 999999.99, 0.49):
                sim.meters[0].values["00010000"] = kwh
                assert await c.poll_once()
    got = np.array([b.readings[0].value for b in sink.batches])
    assert list(got) == [999999.50, 999999.99, 0.49]
    assert metrics.value("gateway_dlt645_rollovers_total", line="l1", meter_id="E-R") == 1
    deltas = counter_deltas(got[:-1], got[1:], c.line.meters[0].points[0].data_format().rollover)
    assert np.allclose(deltas, [0.49, 0.50])


async def test_a_smaller_step_back_is_not_a_rollover() -> None:
    sim = three_meters()
    meters = [{"address": A1, "points": [{"di": "00010000", "meter_id": "E-B"}]}]
    async with serve_tcp(sim) as port:
        c, _, metrics = collector(line_config(port, meters=meters))
        async with polled(c):
            for kwh in (5000.0, 4000.0):
                sim.meters[0].values["00010000"] = kwh
                await c.poll_once()
    assert metrics.value("gateway_dlt645_rollovers_total", line="l1", meter_id="E-B") == 0
    assert metrics.value("gateway_dlt645_backward_steps_total", line="l1", meter_id="E-B") == 1


async def test_a_lone_meter_is_found_by_reading_its_address_at_the_all_aa_address() -> None:
    sim = Line([SimulatedMeter(A3, dict(ENERGY))])
    meters = [{"address": "AAAAAAAAAAAA", "points": [{"di": "00010000", "meter_id": "E-L"}]}]
    async with serve_tcp(sim) as port:
        c, sink, _ = collector(line_config(port, meters=meters))
        async with polled(c):
            assert await c.poll_once()
            assert await c.poll_once()
    assert values(sink) == {"E-L": 123456.78}
    assert c.meters[0].address == A3  # learned once, then addressed directly
    assert sim.meters[0].requests == 3  # 13H once, then 11H per cycle


async def test_a_wildcard_address_is_resolved_from_the_reply() -> None:
    sim = Line([SimulatedMeter(A3, dict(ENERGY)), SimulatedMeter(A1, dict(ENERGY))])
    meters = [{"address": "AAAAAA345678", "points": [{"di": "00010100", "meter_id": "E-W"}]}]
    async with serve_tcp(sim) as port:
        c, sink, _ = collector(line_config(port, meters=meters))
        async with polled(c):
            assert await c.poll_once()
    assert values(sink) == {"E-W": 23456.78}
    assert c.meters[0].address == A3
    assert sim.meters[1].requests == 0


async def test_a_closed_device_server_is_reopened_with_backoff() -> None:
    c, _, metrics = collector(line_config(1, reconnect_min_s=60, reconnect_max_s=60))
    assert not await c.poll_once()
    assert not await c.poll_once()  # within the backoff: no second attempt
    assert metrics.value("gateway_dlt645_connects_total", line="l1", result="failed") == 1


async def test_dlt645_batches_go_through_the_gateways_durable_buffer(tmp_path: Path) -> None:
    metrics = GatewayMetrics()
    buffer = await ReadingBuffer(BufferConfig(path=tmp_path / "b.sqlite3"), metrics).open()
    sim = three_meters()
    try:
        async with serve_tcp(sim) as port:
            c, _, _ = collector(line_config(port), sink=buffer)
            async with polled(c):
                assert await c.poll_once()
        stored = await buffer.peek(10)
    finally:
        await buffer.close()
    assert [s.readings for s in stored] == [5, 5, 5]
    decoded = decode_batch(stored[0].payload)  # as the worker reads it off readings.raw
    assert decoded.rejections == []
    batch = decoded.batch
    assert batch is not None
    assert batch.source is Source.DLT645 and batch.source_key == "gw-t/l1"
    assert {r.meter_id: r.value for r in batch.readings}["E-0001-00010200"] == 60000.0
