"""Stream worker throughput and latency: one worker, two workers, a live phase; one JSON line.

    .venv/bin/python -m bench.stream [--meters 2000] [--readings 600000] [--live-s 20]
                                     [--profile] [--skip-two]

What it does, from one run, against the local stack (started if down):

1. Two isolated databases (``parkcarbon_bench_<rand>_1`` / ``_2``, migrated, dropped at the
   end), each with a park of ``--meters`` electricity and gas meters over several enterprises,
   and two sets of prefixed topics (6 partitions; deleted at the end).
2. A backlog of batch messages (``--per-message`` readings each, one source = a few meters,
   ``--spacing-s`` event-time spacing), encoded up front and produced with aiokafka in about a
   second once the phase's workers are ready, i.e. have loaded the registry (the rates run from
   the first stored reading, so the producer barely overlaps). ``--produce-first`` produces
   before any worker starts instead: a worker then validates its first batch before its
   registry is loaded and quarantines it as UNKNOWN_METER (a startup race in the worker).
3. One worker drains backlog 1; then two workers of one fresh app id drain backlog 2. Rates come
   from the database's own clocks: ``reading.received_at`` is the start of the intake
   transaction that stored the row and ``emission_window.computed_at`` that of the window upsert.
   ``readings_per_s`` is every reading except the last transaction's over the span between the
   first and the last intake transaction (storage + validation + windows, which run inline in
   the same agent loop); ``*_end_to_end`` runs from the first stored reading to the last
   complete window written.
4. A live phase on the one-worker app: ``--live-meters`` further meters send one reading each
   per wall second. Their event time runs one spacing (15 s) per wall second from 3 minutes
   before the last hour boundary, so a 1-minute window closes every 4 s (a real-time phase
   would close one per minute) and an hour window 12 s in. A window's latency is its
   ``computed_at`` minus the produce time (the Kafka timestamp) of the reading that closed it,
   i.e. the reading at the window's end.
5. Alerts: the deviation agent evaluates hour windows. The live meters' hour window closes with
   3 minutes of 60 present (COMPLETENESS_LOW) and every tenth live meter is overdue for
   calibration (CALIBRATION_OVERDUE). ``p99_alert_after_close_ms`` is the Kafka timestamp of
   each meter alert on ``alerts`` minus the produce time of the reading that closed its window;
   null when ``stream/app.py`` sends nothing to ``alerts`` (no deviation agent yet).

Windows: the worker computes a window when its meter's readings pass the window's end, or
``window_max_wait_s`` after its end. Backlog data is in the past, so with the default wait of
120 s every touched window would be "overdue" at once and computed again after every message
(catch-up behaviour, measured with ``--max-wait-s 120``). By default the bench sets the wait
long enough that windows close on event time, as they do on live data: each window is computed
once, when complete.

``--profile`` runs py-spy (``pip install py-spy``) on the one-worker drain and prints where the
worker's samples went to stderr; the rates of a profiled run are lower (sampling costs a little).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.workers import (
    ROOT,
    TICKS,
    Worker,
    cpu_seconds,
    peak_rss_mb,
    pids_named,
    start_worker,
    stop_workers,
    wait_ready,
)
from config.settings import StackSettings
from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from deploy import stack
from store.migrate import migrate
from store.registry import Meter, add_enterprise, add_meter, add_park
from stream.topics import Topic, create_topics, topic_name

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
WIDTHS_S = (60, 300, 900, 3600)
PARTITIONS = 6


# ---------------------------------------------------------------- the park and its data


@dataclass(frozen=True)
class Park:
    meters: int
    live_meters: int
    enterprises: int
    meters_per_source: int
    per_message: int  # readings per backlog message
    per_meter: int  # backlog readings per meter
    spacing_ms: int
    t0_ms: int  # first backlog reading, on an hour boundary

    def meter_id(self, i: int) -> str:
        return f"M{i:05d}"

    def live_id(self, i: int) -> str:
        return f"L{i:05d}"

    @property
    def readings(self) -> int:
        return self.meters * self.per_meter

    def complete_windows_per_meter(self) -> int:
        # Intervals run from the first to the last reading; a window is computed once the
        # meter's readings reach its end (t0 is aligned to every width).
        span = (self.per_meter - 1) * self.spacing_ms
        return sum(span // (w * 1000) for w in WIDTHS_S)


def _is_gas(i: int) -> bool:
    return i % 5 == 4


def _unit(i: int) -> str:
    return "Nm3" if _is_gas(i) else "kWh"


def _register(i: int, j: int) -> float:
    return 1000.0 + i + j * (0.5 + (i % 10) * 0.1)


def _meter(park: Park, meter_id: str, i: int, *, overdue: bool) -> Meter:
    common: dict[str, Any] = {
        "meter_id": meter_id,
        "enterprise_id": f"ent-{i % park.enterprises:02d}",
        "register_kind": "cumulative",
        "expected_interval_s": park.spacing_ms // 1000,
        "calibration_due": date(2020, 1, 1) if overdue else None,
    }
    if _is_gas(i):
        return Meter(
            carrier="natural_gas",
            unit="Nm3",
            source_category="stationary_combustion",
            accuracy_class="2.0",
            **common,
        )
    return Meter(
        carrier="electricity",
        unit="kWh",
        source_category="purchased_electricity",
        multiplier=40.0,
        accuracy_class="0.5S",
        **common,
    )


def register_park(url: str, park: Park, *, live: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        add_park(conn, park_id="bench", name="bench park", actor="bench")
        for e in range(park.enterprises):
            add_enterprise(
                conn, enterprise_id=f"ent-{e:02d}", park_id="bench", name=f"e{e}", actor="bench"
            )
        for i in range(park.meters):
            add_meter(conn, actor="bench", meter=_meter(park, park.meter_id(i), i, overdue=False))
        if live:
            # Every tenth live meter is overdue for calibration: a condition a deviation
            # agent alerts on (CALIBRATION_OVERDUE), giving close-to-alert samples.
            for i in range(park.live_meters):
                meter = _meter(park, park.live_id(i), i, overdue=i % 10 == 0)
                add_meter(conn, actor="bench", meter=meter)


def backlog(park: Park) -> list[tuple[bytes, bytes]]:
    """(key, value) messages in event-time order across sources; one source = a few meters."""
    per_meter_in_msg = max(1, park.per_message // park.meters_per_source)
    sources = math.ceil(park.meters / park.meters_per_source)
    out = []
    for j0 in range(0, park.per_meter, per_meter_in_msg):
        js = range(j0, min(j0 + per_meter_in_msg, park.per_meter))
        for s in range(sources):
            meters = range(
                s * park.meters_per_source, min((s + 1) * park.meters_per_source, park.meters)
            )
            readings = tuple(
                RawReading(
                    park.meter_id(i), park.t0_ms + j * park.spacing_ms, _register(i, j), _unit(i), j
                )
                for i in meters
                for j in js
            )
            key = f"gw-{s % 16:02d}/src-{s:05d}"
            out.append(
                (key.encode(), encode_batch(ReadingBatch(Source.MODBUS, key[:5], key, readings)))
            )
    return out


async def produce(bootstrap: str, topics: list[str], messages: list[tuple[bytes, bytes]]) -> float:
    """Send every message to every topic and wait for the acks; returns the seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    started = time.perf_counter()
    try:
        for key, value in messages:
            for topic in topics:
                await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


# ---------------------------------------------------------------- measuring a drain


@dataclass
class CpuMeter:
    """CPU seconds of the workers, of PostgreSQL's processes and of the Kafka broker."""

    workers: list[Worker]
    pg: dict[int, tuple[float, float]] = field(default_factory=dict)  # pid -> first, last
    kafka: dict[int, tuple[float, float]] = field(default_factory=dict)
    worker_cpu: dict[int, tuple[float, float]] = field(default_factory=dict)
    started: float = 0.0
    stopped: float = 0.0
    machine: tuple[float, float] = (0.0, 0.0)  # busy CPU seconds of every core, first and last

    def _sample(self, into: dict[int, tuple[float, float]], pids: list[int], first: bool) -> None:
        for pid in pids:
            now = cpu_seconds(pid)
            # A process born during the phase (a new backend) counts from zero.
            base = now if first else into.get(pid, (0.0, 0.0))[0]
            into[pid] = (base, max(now, into.get(pid, (0.0, 0.0))[1]))

    def sample(self, *, first: bool = False) -> None:
        if first:
            self.started = time.monotonic()
        self.stopped = time.monotonic()
        self._sample(self.pg, pids_named("postgres"), first)
        self._sample(self.kafka, pids_named("java", "kafka"), first)
        self._sample(self.worker_cpu, [w.pid for w in self.workers], first)
        busy = machine_busy_seconds()
        self.machine = (busy if first else self.machine[0], busy)

    @staticmethod
    def _pct(d: dict[int, tuple[float, float]], seconds: float) -> float | None:
        if seconds <= 0:
            return None
        return round(100 * sum(b - a for a, b in d.values()) / seconds, 1)

    def worker_seconds(self) -> float:
        """CPU seconds the workers spent from the first sample to the last."""
        return sum(b - a for a, b in self.worker_cpu.values())

    def report(self) -> dict[str, float | None]:
        wall = self.stopped - self.started
        report = {
            "worker_cpu_pct": self._pct(self.worker_cpu, wall),
            "postgres_cpu_pct": self._pct(self.pg, wall),
            "kafka_cpu_pct": self._pct(self.kafka, wall),
            "machine_cpu_pct": (
                round(100 * (self.machine[1] - self.machine[0]) / wall, 1) if wall > 0 else None
            ),
        }
        # Everything else on the machine: other people's processes share these 2 cores.
        mine = [v for k, v in report.items() if k != "machine_cpu_pct"]
        if report["machine_cpu_pct"] is not None and all(v is not None for v in mine):
            report["other_cpu_pct"] = round(
                report["machine_cpu_pct"] - sum(v for v in mine if v is not None), 1
            )
        return report


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (user + nice + system + irq + softirq + steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS


def _count(conn: psycopg.Connection[Any], sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def wait_drained(
    url: str,
    workers: list[Worker],
    *,
    readings: int,
    windows: int,
    deadline: float,
) -> dict[str, Any]:
    """Poll until every backlog reading and every complete window is stored; then the rates."""
    cpu = CpuMeter(workers)
    started = False  # the first sample starts the CPU clock
    settled, last_written = 0, -1
    done = False
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            # pg_stat counters are cheap (a count(*) over the growing table is not).
            inserted = _count(
                conn,
                "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables "
                "WHERE relname = 'reading'",
            )
            # CPU counts from the worker being ready (consumption starts then).
            cpu.sample(first=not started)
            started = True
            quarantined = _count(
                conn,
                "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables "
                "WHERE relname = 'rejected_reading'",
            )
            if inserted + quarantined >= readings:
                stored = _count(conn, "SELECT count(*) FROM reading WHERE meter_id LIKE 'M%'")
                lost = _count(
                    conn, "SELECT count(*) FROM rejected_reading WHERE meter_id LIKE 'M%'"
                )
                written = _count(
                    conn, "SELECT count(*) FROM emission_window WHERE meter_id LIKE 'M%'"
                )
                if stored >= readings and written >= windows:
                    done = True
                    break
                # Some were quarantined: stop once the windows stop changing (5 s).
                if stored + lost >= readings:
                    settled = settled + 1 if written == last_written else 0
                    last_written = written
                    if settled >= 10:
                        break
            if any(w.proc.poll() is not None for w in workers):
                raise RuntimeError("a worker died; see its log")
            time.sleep(0.5)
        cpu.sample()
        row = conn.execute(
            """SELECT count(*), extract(epoch FROM min(received_at)),
                      extract(epoch FROM max(received_at))
               FROM reading WHERE meter_id LIKE 'M%'"""
        ).fetchone()
        assert row is not None
        stored, first_s, last_s = int(row[0]), float(row[1] or 0), float(row[2] or 0)
        last_tx = _count(
            conn,
            "SELECT count(*) FROM reading WHERE meter_id LIKE 'M%' AND received_at = "
            "(SELECT max(received_at) FROM reading WHERE meter_id LIKE 'M%')",
        )
        transactions = _count(
            conn, "SELECT count(DISTINCT received_at) FROM reading WHERE meter_id LIKE 'M%'"
        )
        wrow = conn.execute(
            "SELECT count(*), extract(epoch FROM max(computed_at)) FROM emission_window "
            "WHERE meter_id LIKE 'M%'"
        ).fetchone()
        assert wrow is not None
        written, windows_last_s = int(wrow[0]), float(wrow[1] or 0)
        rejected = _count(conn, "SELECT count(*) FROM rejected_reading")
        reasons = {
            str(reason): int(n)
            for reason, n in conn.execute(
                "SELECT reason, count(*) FROM rejected_reading GROUP BY reason"
            ).fetchall()
        }
    span = last_s - first_s
    return {
        "done": done,
        "readings_stored": stored,
        "windows_written": written,
        "rejected": rejected,
        "rejected_reasons": reasons,
        "intake_transactions": transactions,
        "readings_per_s": round((stored - last_tx) / span) if span > 0 else None,
        "readings_per_s_end_to_end": (
            round(stored / (windows_last_s - first_s)) if windows_last_s > first_s else None
        ),
        "drain_s": round(windows_last_s - first_s, 2),
        # What one reading costs the workers, from the first poll to the last: the figure a
        # loaded machine distorts least (a rate also counts waiting for a core).
        "worker_us_per_reading": (
            round(1e6 * cpu.worker_seconds() / stored, 2) if stored else None
        ),
        **cpu.report(),
    }


async def consumer_lag(bootstrap: str, group: str, topic: str, deadline: float) -> int | None:
    """Messages of ``topic`` the group has not committed; polled until 0 (Faust commits
    every few seconds)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    lag: int | None = None
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        while True:
            committed = await admin.list_consumer_group_offsets(group)
            ends = await consumer.end_offsets(parts)
            lag = sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in parts)
            if lag == 0 or time.monotonic() > deadline:
                return lag
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
        await admin.close()


# ---------------------------------------------------------------- the live phase


@dataclass
class Live:
    produced: dict[tuple[str, int], int] = field(default_factory=dict)  # (meter, ts) -> ms
    last_ts: int = 0
    t0: int = 0
    messages: int = 0


async def live_phase(bootstrap: str, topic: str, park: Park, seconds: int) -> Live:
    """One reading per live meter per wall second, each source spread over the second."""
    # Event time runs one spacing per wall second and must stay in the past. It starts 3
    # minutes before the last hour boundary, so an hour window closes 12 s into the phase: the
    # deviation agent evaluates hour windows (3 minutes of an hour: COMPLETENESS_LOW; every
    # tenth live meter also CALIBRATION_OVERDUE).
    now = int(time.time() * 1000)
    hour = now // HOUR_MS * HOUR_MS
    span = seconds * park.spacing_ms
    if now - hour < span:
        hour -= HOUR_MS
    live = Live(t0=hour - 3 * MINUTE_MS)
    sources = math.ceil(park.live_meters / park.meters_per_source)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    try:
        start = time.monotonic()
        for k in range(seconds):
            ts = live.t0 + k * park.spacing_ms
            for s in range(sources):
                delay = start + k + s / sources - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                meters = range(
                    s * park.meters_per_source,
                    min((s + 1) * park.meters_per_source, park.live_meters),
                )
                readings = tuple(
                    RawReading(park.live_id(i), ts, _register(i, k), _unit(i), k) for i in meters
                )
                key = f"live-gw/src-{s:05d}"
                now_ms = int(time.time() * 1000)
                value = encode_batch(ReadingBatch(Source.OPCUA, "live-gw", key, readings))
                await producer.send(topic, value, key=key.encode(), timestamp_ms=now_ms)
                live.messages += 1
                for r in readings:
                    live.produced[(r.meter_id, ts)] = now_ms
            live.last_ts = ts
        await producer.flush()
    finally:
        await producer.stop()
    return live


def window_latencies(url: str, live: Live, park: Park, deadline: float) -> list[float]:
    """computed_at - produce time of the closing reading, for every closed live minute."""
    per_meter = (live.last_ts - live.t0) // MINUTE_MS
    expected = per_meter * park.live_meters
    rows: list[tuple[Any, ...]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(
                """SELECT meter_id, (extract(epoch FROM window_end) * 1000)::bigint,
                          extract(epoch FROM computed_at) * 1000
                   FROM emission_window
                   WHERE width_s = 60 AND meter_id LIKE 'L%%' AND window_end <= to_timestamp(%s)""",
                (live.last_ts / 1000,),
            ).fetchall()
            if len(rows) >= expected:
                break
            time.sleep(0.5)
    out = []
    for meter_id, end_ms, computed_ms in rows:
        produced = live.produced.get((str(meter_id), int(end_ms)))
        if produced is not None:
            out.append(float(computed_ms) - produced)
    return out


def has_alerts_agent() -> bool:
    """Whether the Faust app sends to the ``alerts`` topic yet (the lead is adding it)."""
    source = (ROOT / "stream" / "app.py").read_text()
    return "Topic.ALERTS" in source


async def collect_alerts(bootstrap: str, topic: str, until: float) -> list[tuple[str, int, int]]:
    """(subject id, window end ms, Kafka timestamp ms) of every alert on the topic."""
    from contracts.alerts import decode_alert

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[tuple[str, int, int]] = []
    try:
        while time.monotonic() < until:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    try:
                        alert = decode_alert(record.value)
                    except ValueError:
                        out.append(("", 0, int(record.timestamp)))
                        continue
                    out.append((alert.subject_id, alert.window_end_ms, int(record.timestamp)))
    finally:
        # aiokafka's fetcher may surface its own cancelled retry while closing.
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()
    return out


def alert_latencies(alerts: list[tuple[str, int, int]], live: Live) -> list[float]:
    """Alert on the topic minus the produce time of the reading that closed its window."""
    out = []
    for subject, window_end_ms, at_ms in alerts:
        produced = live.produced.get((subject, window_end_ms))
        if produced is not None:
            out.append(float(at_ms - produced))
    return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return round(ordered[rank], 1)


# ---------------------------------------------------------------- profiling


class Profiler:
    """py-spy sampling one worker process until stopped; a summary of where samples went."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        spy = shutil.which("py-spy", path=str(ROOT / ".venv" / "bin")) or shutil.which("py-spy")
        if spy is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.proc = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
                "--threads",
                "--idle",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


_FRAME = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^:]+):\d+\)$")
Frame = tuple[str, str]  # (function, file)


def _on(frames: list[Frame], file_part: str, *funcs: str) -> bool:
    return any(file_part in file and (not funcs or func in funcs) for func, file in frames)


def _bucket(frames: list[Frame], main: bool) -> str | None:
    """Where one sample's time went (first match wins, most specific first)."""
    leaf_func, leaf_file = frames[-1]
    waiting = "psycopg" in leaf_file and "wait" in leaf_func
    if not main:
        if _on(frames, "stream/deviations.py"):
            return "deviation rules incl. their SQL (thread)"
        if _on(frames, "stream/window_sink.py", "WindowSink._compute", "WindowSink._uncounted"):
            in_db = waiting or "psycopg" in leaf_file or leaf_func in ("wait_c",)
            if _on(frames, "store/windows.py", "read_window_sums"):
                if in_db:
                    return "window intervals: column query, waiting on PostgreSQL (thread)"
                return "window sums: numpy (thread)"
            if _on(frames, "store/windows.py", "upsert_windows"):
                if in_db:
                    return "window upsert: COPY, waiting on PostgreSQL (thread)"
                return "window upsert: COPY text in Python (thread)"
            if in_db:
                return "window SQL: waiting on PostgreSQL (thread)"
            return "CO2e results, window texts + emissions.windows encoding (thread)"
        return None  # idle pool threads, mode's service threads
    if leaf_func == "EpollSelector.select":
        return "idle: event loop awaiting DB, Kafka or the window thread"
    if _on(frames, "stream/columns.py", "decode_columns") or _on(
        frames, "contracts/records.py", "decode_batch"
    ):
        return "JSON decode into columns (columns.py)"
    if _on(frames, "accounting/"):
        return "validation + intervals (accounting, numpy)"
    if _on(frames, "stream/validate.py"):
        return "validate_batch wiring (grouping by meter, rejections)"
    if _on(frames, "stream/sink.py", "store_valid", "store_rejections") or _on(
        frames, "store/staging.py"
    ):
        return "reading COPY text + COPY (sink.py)"
    if _on(frames, "stream/intake.py"):
        return "intake: state lock/update, replay check"
    if _on(frames, "stream/windows.py") or _on(frames, "stream/window_sink.py", "WindowSink.touch"):
        return "window tracker touch/due"
    if _on(frames, "stream/app.py", "create_app.<locals>.flush_windows"):
        return "emissions.windows + alerts: encode and faust send"
    if _on(frames, "stream/app.py", "create_app.<locals>.validate_and_store"):
        return "readings.valid/rejected: encode and faust send, agent loop"
    if _on(frames, "aiokafka/producer"):
        return "aiokafka producer: produce requests (socket writes)"
    if _on(frames, "aiokafka/"):
        return "aiokafka consumer: fetch"
    if _on(frames, "faust/") or _on(frames, "mode/"):
        return "faust/mode: stream, consumer, commit"
    return "other (asyncio etc.)"


def summarise_profile(path: Path) -> dict[str, Any]:
    """py-spy raw output (--idle, --threads) -> shares of the main thread's wall time."""
    main: Counter[str] = Counter()
    side: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        parts = stack.split(";")
        frames = [(m["func"], m["file"]) for f in parts[1:] if (m := _FRAME.match(f.strip()))]
        if not frames:
            continue
        is_main = parts[0].endswith("MainThread")
        bucket = _bucket(frames, is_main)
        if bucket is None:
            continue
        (main if is_main else side)[bucket] += int(count_text)
        if is_main and not bucket.startswith("idle"):
            func, file = frames[-1]
            leaves[f"{func} ({file.split('site-packages/')[-1]})"] += int(count_text)
    wall = sum(main.values())
    if not wall:
        return {"samples": 0}
    return {
        "main_thread_samples": wall,
        "main_thread_pct_of_wall": {k: round(100 * v / wall, 1) for k, v in main.most_common()},
        "window_thread_pct_of_wall": {k: round(100 * v / wall, 1) for k, v in side.most_common()},
        "main_thread_top_self_pct_of_wall": {
            k: round(100 * v / wall, 1) for k, v in leaves.most_common(15)
        },
    }


# ---------------------------------------------------------------- setup and teardown


@contextlib.contextmanager
def database(base: str, name: str) -> Iterator[str]:
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{base}/{name}"
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def delete_topics(bootstrap: str, tokens: list[str]) -> None:
    """Delete this run's topics: its prefixed ones and Faust's internal ones of its app ids."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if any(t.startswith(k) for k in tokens)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def _log(message: str) -> None:
    print(f"[bench.stream {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--readings", type=int, default=600_000, help="backlog per phase")
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--meters-per-source", type=int, default=4)
    parser.add_argument("--enterprises", type=int, default=20)
    parser.add_argument("--spacing-s", type=int, default=15)
    parser.add_argument("--live-meters", type=int, default=400)
    parser.add_argument("--live-s", type=int, default=20, help=">= 13 to close an hour")
    parser.add_argument("--max-wait-s", type=float, default=None, help="window_max_wait_s")
    parser.add_argument("--intake-batch", type=int, default=None, help="worker intake_batch")
    parser.add_argument(
        "--producer-linger-s",
        type=float,
        default=None,
        help="experiment: the workers' Faust producer linger (PRODUCER_LINGER); default 0",
    )
    parser.add_argument(
        "--produce-first",
        action="store_true",
        help="produce the backlogs before the workers start (shows the startup race: the "
        "first batch is validated before the registry is loaded -> UNKNOWN_METER)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the one-worker drain")
    parser.add_argument("--skip-two", action="store_true", help="no two-worker phase")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="hard bound on the run")
    args = parser.parse_args(argv)

    run_started = time.monotonic()
    deadline = run_started + args.timeout_s
    settings = StackSettings()
    stack.start(settings)
    bootstrap = settings.kafka_bootstrap
    base = settings.database_url.rsplit("/", 1)[0]
    token = uuid.uuid4().hex[:8]

    per_meter = max(2, args.readings // args.meters)
    spacing_ms = args.spacing_s * 1000
    now = int(time.time() * 1000)
    # Backlog ends at least 20 minutes before now, on an hour-aligned start.
    t0 = ((now - 20 * MINUTE_MS - per_meter * spacing_ms) // HOUR_MS) * HOUR_MS
    park = Park(
        meters=args.meters,
        live_meters=args.live_meters,
        enterprises=args.enterprises,
        meters_per_source=args.meters_per_source,
        per_message=args.per_message,
        per_meter=per_meter,
        spacing_ms=spacing_ms,
        t0_ms=t0,
    )
    # Long enough that no backlog window is overdue: windows close on event time, once.
    max_wait_s = args.max_wait_s if args.max_wait_s is not None else (now - t0) / 1000 + 7200
    worker_env = {"PARKCARBON_WINDOW_MAX_WAIT_S": str(max_wait_s)}
    if args.intake_batch is not None:
        worker_env["PARKCARBON_INTAKE_BATCH"] = str(args.intake_batch)
    if args.producer_linger_s is not None:
        # An experiment, not the production setting: Faust reads PRODUCER_LINGER (seconds)
        # from the environment, so the worker's producer batches its sends.
        worker_env["PRODUCER_LINGER"] = str(args.producer_linger_s)
    expected_windows = park.meters * park.complete_windows_per_meter()
    prefixes = [f"bench{token}a.", f"bench{token}b."]
    app_ids = [f"bench-stream-{token}-1", f"bench-stream-{token}-2"]
    result: dict[str, Any] = {}
    workers: list[Worker] = []
    state = Path(tempfile.mkdtemp(prefix="parkcarbon-bench-"))
    profile_out = state / "profile.txt"
    dbs = [f"parkcarbon_bench_{token}_1", f"parkcarbon_bench_{token}_2"]
    phases = 1 if args.skip_two else 2
    try:
        with contextlib.ExitStack() as cleanup:
            urls = [cleanup.enter_context(database(base, dbs[i])) for i in range(phases)]
            for i, url in enumerate(urls):
                register_park(url, park, live=i == 0)
                asyncio.run(
                    create_topics(
                        bootstrap, partitions=PARTITIONS, replication=1, prefix=prefixes[i]
                    )
                )
            raws = [topic_name(Topic.READINGS_RAW, p) for p in prefixes[:phases]]
            messages = backlog(park)
            produced_bytes = sum(len(v) for _, v in messages)
            produce_s = 0.0

            def send_backlog(topics: list[str]) -> None:
                nonlocal produce_s
                _log(f"producing {len(messages)} messages x {len(topics)} topics")
                took = asyncio.run(produce(bootstrap, topics, messages))
                produce_s += took
                _log(f"produced in {took:.1f} s")

            if args.produce_first:
                send_backlog(raws)

            # ---- one worker
            spawned = time.monotonic()
            workers = [
                start_worker(
                    database_url=urls[0],
                    kafka_bootstrap=bootstrap,
                    app_id=app_ids[0],
                    state=state,
                    extra_env={**worker_env, "PARKCARBON_TOPIC_PREFIX": prefixes[0]},
                )
            ]
            profiler = Profiler(workers[0].pid, profile_out) if args.profile else None
            wait_ready(workers)
            _log(f"worker ready in {time.monotonic() - spawned:.1f} s; draining")
            if not args.produce_first:
                send_backlog(raws[:1])
            one = wait_drained(
                urls[0],
                workers,
                readings=park.readings,
                windows=expected_windows,
                deadline=min(deadline, time.monotonic() + 240),
            )
            if profiler is not None:
                profiler.stop()
            _log(f"one worker: {one}")
            lag_one = asyncio.run(
                consumer_lag(bootstrap, app_ids[0], raws[0], time.monotonic() + 20)
            )

            # ---- live phase on the same worker
            alerts_agent = has_alerts_agent()
            _log(
                f"live phase: {args.live_meters} meters for {args.live_s} s "
                f"(alerts agent: {alerts_agent})"
            )

            async def live_and_alerts() -> tuple[Live, list[tuple[str, int, int]]]:
                alert_topic = topic_name(Topic.ALERTS, prefixes[0])
                until = time.monotonic() + args.live_s + 8
                watcher = (
                    asyncio.ensure_future(collect_alerts(bootstrap, alert_topic, until))
                    if alerts_agent
                    else None
                )
                live = await live_phase(bootstrap, raws[0], park, args.live_s)
                return live, (await watcher if watcher is not None else [])

            live, alerts = asyncio.run(live_and_alerts())
            alert_ms = alert_latencies(alerts, live)
            window_ms = window_latencies(urls[0], live, park, min(deadline, time.monotonic() + 30))
            lag_live = asyncio.run(
                consumer_lag(bootstrap, app_ids[0], raws[0], time.monotonic() + 20)
            )
            rss_one = peak_rss_mb(workers[0].pid)
            stop_workers(workers)
            workers = []

            # ---- two workers, one app id
            two: dict[str, Any] = {}
            rss_two: list[float | None] = []
            lag_two: int | None = None
            if not args.skip_two:
                spawned = time.monotonic()
                workers = [
                    start_worker(
                        database_url=urls[1],
                        kafka_bootstrap=bootstrap,
                        app_id=app_ids[1],
                        state=state,
                        extra_env={**worker_env, "PARKCARBON_TOPIC_PREFIX": prefixes[1]},
                    )
                    for _ in range(2)
                ]
                wait_ready(workers)
                _log(f"two workers ready in {time.monotonic() - spawned:.1f} s; draining")
                if not args.produce_first:
                    send_backlog(raws[1:2])
                two = wait_drained(
                    urls[1],
                    workers,
                    readings=park.readings,
                    windows=expected_windows,
                    deadline=min(deadline, time.monotonic() + 240),
                )
                _log(f"two workers: {two}")
                lag_two = asyncio.run(
                    consumer_lag(bootstrap, app_ids[1], raws[1], time.monotonic() + 20)
                )
                rss_two = [peak_rss_mb(w.pid) for w in workers]
                stop_workers(workers)
                workers = []

            lags = [x for x in (lag_live, lag_two) if x is not None]
            result = {
                "readings_per_s": one["readings_per_s"],
                "worker_us_per_reading": one["worker_us_per_reading"],
                "worker_us_per_reading_2_workers": two.get("worker_us_per_reading"),
                "readings_per_s_2_workers": two.get("readings_per_s"),
                "readings_per_s_end_to_end": one["readings_per_s_end_to_end"],
                "readings_per_s_end_to_end_2_workers": two.get("readings_per_s_end_to_end"),
                "consumer_lag_end": max(lags) if lags else None,
                "consumer_lag_after_backlog": lag_one,
                "p50_window_visible_ms": percentile(window_ms, 50),
                "p99_window_visible_ms": percentile(window_ms, 99),
                "window_latency_samples": len(window_ms),
                "p99_alert_after_close_ms": percentile(alert_ms, 99) if alerts_agent else None,
                "alerts_agent": alerts_agent,
                "alerts_seen": len(alerts),
                "alert_latency_samples": len(alert_ms),
                "worker_peak_rss_mb": round(rss_one, 1) if rss_one is not None else None,
                "worker_peak_rss_mb_2_workers": (
                    max(round(r, 1) for r in rss_two if r is not None)
                    if any(r is not None for r in rss_two)
                    else None
                ),
                "worker_cpu_pct": one["worker_cpu_pct"],
                "worker_cpu_pct_2_workers": two.get("worker_cpu_pct"),
                "postgres_cpu_pct": one["postgres_cpu_pct"],
                "postgres_cpu_pct_2_workers": two.get("postgres_cpu_pct"),
                "kafka_cpu_pct": one["kafka_cpu_pct"],
                "other_cpu_pct": one.get("other_cpu_pct"),
                "other_cpu_pct_2_workers": two.get("other_cpu_pct"),
                "cores": os.cpu_count(),
                "drain_s": one["drain_s"],
                "drain_s_2_workers": two.get("drain_s"),
                "backlog_readings": park.readings,
                "backlog_messages": math.ceil(park.readings / park.per_message),
                "readings_per_message": park.per_message,
                "windows_per_backlog": expected_windows,
                "intake_transactions": one["intake_transactions"],
                "rejected": one["rejected"] + two.get("rejected", 0),
                "complete": bool(one["done"] and (args.skip_two or two.get("done"))),
                "live_readings_per_s": round(len(live.produced) / max(args.live_s, 1)),
                "producer_mb_per_s": round(produced_bytes * len(raws) / produce_s / 1e6, 1),
                "produced_before_workers": args.produce_first,
                "window_max_wait_s": round(max_wait_s),
                "profiled": args.profile,
                "producer_linger_s": args.producer_linger_s,
            }
            if args.profile:
                summary = summarise_profile(profile_out)
                _log("profile (py-spy, one worker, drain): " + json.dumps(summary, indent=1))
    finally:
        stop_workers(workers)
        with contextlib.suppress(Exception):
            asyncio.run(delete_topics(bootstrap, [*prefixes, *app_ids]))
        if not args.profile and result.get("complete"):
            shutil.rmtree(state, ignore_errors=True)
        else:
            _log(f"worker logs and profile kept in {state}")
    result["seconds"] = round(time.monotonic() - run_started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
