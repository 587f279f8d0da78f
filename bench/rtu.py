"""Modbus RTU lines: 8 lines x 32 unit ids at 9600 baud over socat pty pairs.

Each line is a pseudo-terminal pair (``socat``); on its far end a simulator process runs
pymodbus's own RTU server with 32 unit ids, each holding 5 uint32 points (10 registers, one
block read). A pty moves bytes instantly, so the simulator holds each response back by the time
the request and the response would take on the wire at the line's baud rate (11 bits a
character, 8N2 here: a pty refuses parity) plus the 3.5-character silence a device waits for
before it decodes a request. One gateway process (``parkcarbon-gateway``) polls all lines as
fast as they go (poll interval 0.05 s, far below a 32-unit round), its buffer in a temporary
SQLite file (Kafka at a closed port: readings stay buffered, as during an outage). After the
warm-up it measures readings per second per line from the gateway's /metrics and its CPU and
memory from /proc, and compares each line with its physical limit:

    per request  = (request chars + response chars) x 11 bits / baud + 2 x 3.5 chars x 11 / baud
    limit        = points per read / per request

Prints one JSON line.

    .venv/bin/python -m bench.rtu [--lines 8] [--units 32] [--baud 9600] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import yaml

from bench.gateway import BIN, ROOT, _cpu_s, _free_port, _rss_mb, _scrape, _sum, _wait_for_metrics
from ingest.modbus_line import REQUEST_SIZE, response_size

POINTS = 5  # uint32 points per unit id: 10 registers, one block read
BITS_PER_CHAR = 11  # 8N2 (and 8E1): start, 8 data, parity or second stop, stop


def physical_limit(baud: int) -> dict[str, float]:
    """Readings per second one line can carry at ``baud`` with this bench's block read."""
    chars = REQUEST_SIZE + response_size(2 * POINTS)
    gap = 3.5 * BITS_PER_CHAR / baud if baud <= 19_200 else 0.00175
    per_request = chars * BITS_PER_CHAR / baud + 2 * gap
    return {
        "request_chars": REQUEST_SIZE,
        "response_chars": response_size(2 * POINTS),
        "seconds_per_request": round(per_request, 5),
        "readings_per_s": round(POINTS / per_request, 2),
    }


def serve(port: str, units: int, baud: int) -> None:
    """The far end of one line: pymodbus's RTU server, holding answers for their wire time."""
    from pymodbus.server import ModbusSerialServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    gap = 3.5 * BITS_PER_CHAR / baud

    def wire_time(sending: bool, data: bytes) -> bytes:
        if sending:  # blocks this process only: it is the one device speaking on the line
            time.sleep((REQUEST_SIZE + len(data)) * BITS_PER_CHAR / baud + gap)
        return data

    devices = [
        SimDevice(u, simdata=[SimData(0, values=[0, u] * POINTS, datatype=DataType.REGISTERS)])
        for u in range(1, units + 1)
    ]

    async def main() -> None:
        server = ModbusSerialServer(
            cast(Any, devices),
            port=port,
            baudrate=baud,
            parity="N",
            stopbits=2,
            trace_packet=wire_time,
        )
        await server.serve_forever()

    asyncio.run(main())


def _config(tmp: Path, ports: list[str], units: int, baud: int, metrics_port: int) -> Path:
    lines = []
    for i, port in enumerate(ports):
        devices = [
            {
                "name": f"l{i}-u{u}",
                "unit_id": u,
                "points": [
                    {
                        "meter_id": f"E-{i}-{u}-{p}",
                        "address": 2 * p,
                        "data_type": "uint32",
                        "unit": "kWh",
                        "kind": "cumulative",
                    }
                    for p in range(POINTS)
                ],
            }
            for u in range(1, units + 1)
        ]
        lines.append(
            {
                "name": f"line-{i}",
                "transport": "serial",
                "port": port,
                "baudrate": baud,
                "parity": "N",
                "stopbits": 2,
                "timeout_s": 0.5,
                "poll_interval_s": 0.05,
                "devices": devices,
            }
        )
    config = {
        "gateway_id": "bench-rtu",
        "kafka": {"bootstrap": f"127.0.0.1:{_free_port()}"},  # closed: readings stay buffered
        "buffer": {"path": str(tmp / "buffer.sqlite3")},
        "metrics": {"port": metrics_port},
        "modbus_lines": lines,
    }
    path = tmp / "gateway.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run(lines: int, units: int, baud: int, seconds: float, warmup: float) -> dict[str, Any]:
    socat = shutil.which("socat")
    if socat is None:
        raise SystemExit("socat is not installed (deploy/bootstrap.sh installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-rtu-"))
    procs: list[subprocess.Popen[bytes]] = []
    gateway: subprocess.Popen[bytes] | None = None
    try:
        ports = []
        for i in range(lines):
            a, b = tmp / f"line{i}-gw", tmp / f"line{i}-dev"
            procs.append(
                subprocess.Popen([socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"])
            )
            deadline = time.monotonic() + 10
            while not (a.exists() and b.exists()) and time.monotonic() < deadline:
                time.sleep(0.02)
            ports.append(str(a))
            command = [sys.executable, "-m", "bench.rtu", "--serve", str(b)]
            command += ["--units", str(units), "--baud", str(baud)]
            procs.append(subprocess.Popen(command, cwd=ROOT))
        metrics_port = _free_port()
        config = _config(tmp, ports, units, baud, metrics_port)
        log = (tmp / "gateway.log").open("wb")
        gateway = subprocess.Popen(
            [str(BIN / "parkcarbon-gateway"), "--config", str(config)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _wait_for_metrics(metrics_port, gateway)
        time.sleep(warmup)
        before, cpu0, t0 = _scrape(metrics_port), _cpu_s(gateway.pid), time.monotonic()
        time.sleep(seconds)
        after, cpu1, t1 = _scrape(metrics_port), _cpu_s(gateway.pid), time.monotonic()
        elapsed = t1 - t0
        per_line = [
            (
                _sum(after, "gateway_modbus_points_total", line=f"line-{i}")
                - _sum(before, "gateway_modbus_points_total", line=f"line-{i}")
            )
            / elapsed
            for i in range(lines)
        ]
        limit = physical_limit(baud)
        failed = sum(
            _sum(after, "gateway_modbus_reads_total", result=r)
            - _sum(before, "gateway_modbus_reads_total", result=r)
            for r in ("timeout", "crc_error", "malformed", "exception")
        )
        return {
            "bench": "rtu",
            "lines": lines,
            "units_per_line": units,
            "baud": baud,
            "framing": "8N2 (11 bits a character)",
            "points_per_read": POINTS,
            "seconds": round(elapsed, 1),
            "readings_per_s_per_line": [round(r, 2) for r in per_line],
            "readings_per_s_per_line_median": round(sorted(per_line)[len(per_line) // 2], 2),
            "physical_limit": limit,
            "share_of_limit": round(
                sorted(per_line)[len(per_line) // 2] / limit["readings_per_s"], 3
            ),
            "failed_reads": failed,
            "gateway_cpu_share_of_one_core": round((cpu1 - cpu0) / elapsed, 4),
            "gateway_rss_mb": round(_rss_mb(gateway.pid), 1),
            "gateway_peak_rss_mb": round(_rss_mb(gateway.pid, "VmHWM"), 1),
        }
    finally:
        for proc in [*([gateway] if gateway else []), *procs]:
            proc.terminate()
        for proc in [*([gateway] if gateway else []), *procs]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rtu")
    parser.add_argument("--lines", type=int, default=8)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # a simulator process, internal
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.units, args.baud)
        return
    print(json.dumps(run(args.lines, args.units, args.baud, args.seconds, args.warmup)))


if __name__ == "__main__":
    main()
