"""Edge gateway load: 1,000 simulated Modbus meters x 10 points polled every second.

Starts the meter farm in several simulator processes (a pymodbus server answers roughly a
thousand requests per second per core, so one process would measure the simulator), one gateway
process against them with its buffer in a temporary SQLite file (forwarding to Kafka when a
broker answers on the configured bootstrap), warms up, then measures for ``--seconds`` from the
gateway's own /metrics and /proc. Prints one JSON line.

    .venv/bin/python -m bench.gateway [--meters 1000] [--seconds 60] [--sim-procs 3]
        [--opcua-items 10000] [--opcua-seconds 30]

Then the OPC UA half (``bench.opcua.measure_opcua``): an OPC UA simulator process with
``--opcua-items`` items changing every interval and the collector subscribed to all of them,
measured for ``--opcua-seconds`` after the Modbus half has stopped, so neither half's load
skews the other's figures; its ``opcua_*`` figures (items/s, share of notifications on time,
the collector's CPU and resident memory, the simulator's CPU) join the same JSON line.
``--opcua-items 0`` skips it (the ``opcua_*`` figures are then null).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient

from config.settings import CommonSettings, load
from stream.topics import Topic, create_topics, topic_name

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
TICKS = os.sysconf("SC_CLK_TCK")
_LINE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _scrape(port: int) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    series = []
    for line in text.splitlines():
        if match := _LINE.match(line):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            series.append((match.group(1), labels, float(match.group(3))))
    return series


def _sum(series: list[tuple[str, dict[str, str], float]], name: str, **match: str) -> float:
    return sum(v for n, labels, v in series if n == name and match.items() <= labels.items())


def _p99_ms(before: list[Any], after: list[Any]) -> float | None:
    name = "gateway_modbus_read_seconds_bucket"
    bounds = sorted({labels["le"] for n, labels, _ in after if n == name}, key=float)
    counts = [_sum(after, name, le=b) - _sum(before, name, le=b) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    target = 0.99 * counts[-1]
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        upper = float(bound)
        if count >= target:  # interpolate inside the bucket that holds the 99th percentile
            share = (target - below) / (count - below) if count > below else 1.0
            return 1000 * (lower + share * ((upper if upper != float("inf") else lower) - lower))
        lower, below = upper, count
    return None


def _wait_for_metrics(port: int, gateway: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and gateway.poll() is None:
        try:
            _scrape(port)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the gateway did not come up; see its log")


OPCUA_FIGURES = (
    "opcua_items",
    "opcua_items_per_s",
    "opcua_notifications_on_time_pct",
    "opcua_gateway_cpu_pct",
    "opcua_gateway_rss_mb",
    "opcua_simulator_cpu_pct",
)


def opcua_items_per_s(items: int, interval_s: float, seconds: float) -> dict[str, Any]:
    """The OPC UA half of the benchmark (10,000 monitored items at 1 s by default): the
    ``opcua_*`` figures of ``bench.opcua.measure_opcua``, all null when skipped or failed (the
    failure is named in ``opcua_error``, and the Modbus figures still print).

    ``measure_opcua`` runs in a fresh process (``python -m bench.opcua``): its collector's CPU
    and resident memory are then its own, not this process's (which holds the Modbus half's
    config and scrapes)."""
    figures: dict[str, Any] = dict.fromkeys(OPCUA_FIGURES)
    if items <= 0:
        return figures
    command = [sys.executable, "-m", "bench.opcua", "--items", str(items)]
    command += ["--interval", str(interval_s), "--seconds", str(seconds)]
    try:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    except OSError as exc:
        figures["opcua_error"] = f"{type(exc).__name__}: {exc}"
        return figures
    try:  # bounded: a simulator that never comes up must not hold the run past its budget
        out, _ = proc.communicate(timeout=seconds + 180)
        if proc.returncode != 0:
            raise ValueError(f"bench.opcua exited {proc.returncode}")
        figures.update(json.loads(out.strip().splitlines()[-1]))
    except (subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        figures["opcua_error"] = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        if proc.poll() is None:  # SIGINT: bench.opcua's cleanup stops its simulator too
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return figures


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic_name(t, prefix) for t in Topic])
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=12.0)
    parser.add_argument("--sim-procs", type=int, default=3)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--opcua-items", type=int, default=10_000, help="0 skips the OPC UA half")
    parser.add_argument("--opcua-seconds", type=float, default=30.0)
    args = parser.parse_args()

    bootstrap = load(CommonSettings).kafka_bootstrap
    kafka = _port_open(bootstrap)
    # The bench's readings go to a topic of their own, never to the platform's readings.raw.
    bench_prefix = f"bench{os.getpid()}."
    if kafka:
        asyncio.run(create_topics(bootstrap, partitions=6, replication=1, prefix=bench_prefix))
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    sims: list[subprocess.Popen[bytes]] = []
    gateway: subprocess.Popen[bytes] | None = None
    stack = contextlib.ExitStack()
    try:
        share = -(-args.meters // args.sim_procs)
        for k in range(args.sim_procs):
            count = min(share, args.meters - k * share)
            sims.append(
                subprocess.Popen(
                    [
                        str(BIN / "parkcarbon"),
                        "simulate",
                        "modbus",
                        "--meters",
                        str(count),
                        "--port",
                        "0",
                        "--control-port",
                        "0",
                        "--per-server",
                        "100",
                        "--only",
                        "electricity",
                        "--prefix",
                        f"B{k}",
                        "--poll-interval",
                        str(args.interval),
                        "--write-config",
                        str(tmp / f"sim{k}.yaml"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=ROOT,
                )
            )
        devices: list[dict[str, Any]] = []
        deadline = time.monotonic() + 120
        for k in range(args.sim_procs):
            path = tmp / f"sim{k}.yaml"
            while not path.exists() or not path.read_text().strip():
                if time.monotonic() > deadline:
                    raise SystemExit(f"simulator {k} did not start")
                time.sleep(0.2)
            time.sleep(0.2)
            devices += yaml.safe_load(path.read_text())["modbus_devices"]
        metrics_port = _free_port()
        config = {
            "gateway_id": "gw-bench",
            "kafka": {
                "bootstrap": bootstrap if kafka else f"127.0.0.1:{_free_port()}",
                "topic": topic_name(Topic.READINGS_RAW, bench_prefix),
            },
            "buffer": {"path": str(tmp / "buffer.sqlite3"), "max_bytes": 4_000_000_000},
            "metrics": {"port": metrics_port},
            "modbus_devices": devices,
        }
        (tmp / "gateway.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        log_file = stack.enter_context(open(tmp / "gateway.log", "wb"))  # noqa: SIM115
        gateway = subprocess.Popen(
            [str(BIN / "parkcarbon-gateway"), "--config", str(tmp / "gateway.yaml"),
             "--log-level", "WARNING"],
            stdout=subprocess.DEVNULL, stderr=log_file, cwd=ROOT,
        )  # fmt: skip
        _wait_for_metrics(metrics_port, gateway)
        time.sleep(args.warmup)  # every device connected and past its staggered first poll
        before, t0 = _scrape(metrics_port), time.monotonic()
        cpu0 = _cpu_s(gateway.pid)
        sim0 = sum(_cpu_s(p.pid) for p in sims)
        time.sleep(args.seconds)
        after, t1 = _scrape(metrics_port), time.monotonic()
        cpu1 = _cpu_s(gateway.pid)
        sim1 = sum(_cpu_s(p.pid) for p in sims)
        rss, peak = _rss_mb(gateway.pid), _rss_mb(gateway.pid, "VmHWM")
    finally:
        for proc in [p for p in (gateway, *sims) if p is not None]:
            proc.send_signal(signal.SIGTERM)
        for proc in [p for p in (gateway, *sims) if p is not None]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        stack.close()
        if kafka:
            asyncio.run(_delete_topics(bootstrap, bench_prefix))
    elapsed = t1 - t0
    opcua = opcua_items_per_s(args.opcua_items, args.interval, args.opcua_seconds)

    def delta(name: str, **match: str) -> float:
        return _sum(after, name, **match) - _sum(before, name, **match)

    on_time = delta("gateway_modbus_cycles_total", on_time="true")
    cycles = delta("gateway_modbus_cycles_total") + delta("gateway_modbus_cycles_missed_total")
    result = {
        "meters": args.meters,
        "points": args.meters * 10,
        "interval_s": args.interval,
        "seconds": round(elapsed, 1),
        "modbus_cycles_on_time_pct": round(100 * on_time / cycles, 2) if cycles else None,
        "modbus_points_per_s": round(delta("gateway_modbus_points_total") / elapsed, 1),
        "opcua_items_per_s": opcua.pop("opcua_items_per_s"),
        "p99_read_latency_ms": (p99 := _p99_ms(before, after)) and round(p99, 2),
        "gateway_cpu_pct": round(100 * (cpu1 - cpu0) / elapsed, 1),
        "gateway_rss_mb": round(rss, 1),
        "gateway_peak_rss_mb": round(peak, 1),
        "simulator_cpu_pct": round(100 * (sim1 - sim0) / elapsed, 1),
        "simulator_procs": args.sim_procs,
        "kafka_forwarding": kafka,
        "forwarded_readings_per_s": round(delta("gateway_forward_readings_total") / elapsed, 1),
        "buffer_batches_at_end": _sum(after, "gateway_buffer_batches"),
        "read_failures": delta("gateway_modbus_reads_total")
        - delta("gateway_modbus_reads_total", result="ok"),
        **opcua,
        "cpus": os.cpu_count(),
    }  # fmt: skip
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
