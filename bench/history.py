"""History import throughput: ``parkcarbon backfill`` into a real worker; one JSON line.

    .venv/bin/python -m bench.history [--meters 200] [--days 30] [--spacing-s 900]
                                      [--days-ago 45] [--timeout-s 290]

What it does, from one run, against the local stack (started if down):

1. A fresh database (``parkcarbon_bench_<rand>_h``, migrated, dropped at the end) with a park
   of ``--meters`` electricity and gas meters (those of ``bench.stream``) installed in 2020, and
   prefixed topics (6 partitions; deleted at the end). One real ``parkcarbon worker`` process
   on them, with the default settings (window wait, fine-window horizon).
2. A CSV of ``--days`` days of ``--spacing-s`` register readings of every meter, ending
   ``--days-ago`` days ago (older than the live 31-day limit: history proper), meter by meter
   as exports come.
3. The real CLI ``parkcarbon backfill FILE`` (a subprocess, its own progress bars) sends it and
   waits until the worker has stored every reading; then the bench waits for every hour and
   15-minute window (none of 1 or 5 minutes: the period is older than the fine horizon).

Figures: ``history_readings_per_s`` is the readings over the wall time from the CLI's start
until the bench sees every expected window stored (polled every 0.5 s: the import is done when
its windows are); ``history_intake_readings_per_s`` the readings over the span of the
intake transactions (``reading.received_at``), as ``bench.stream`` measures ``readings_per_s``;
``worker_us_per_reading`` the worker process's CPU time over the same phase (/proc, as
``bench.stream``) per reading. ``sums_exact``: each meter's hour windows, its ``emission_day``
rows and its ``emission_month`` rows add up to the consumption of the generated registers
(relative error at most 1e-9); the worst relative error is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.stream import (
    HOUR_MS,
    PARTITIONS,
    CpuMeter,
    Park,
    _is_gas,
    _register,
    _unit,
    database,
    delete_topics,
    register_park,
)
from bench.workers import ROOT, Worker, start_worker, stop_workers, wait_ready
from config.settings import StackSettings
from deploy import stack
from stream.topics import create_topics

DAY_MS = 24 * HOUR_MS
ELECTRICITY_MULTIPLIER = 40.0  # bench.stream's electricity meters (CT ratio); gas meters 1


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def write_csv(path: Path, park: Park) -> dict[str, float]:
    """The import file, meter by meter in time order; returns each meter's consumption
    (primary side: register delta x multiplier) between its first and last reading."""
    stamps = [_iso(park.t0_ms + j * park.spacing_ms) for j in range(park.per_meter)]
    expected: dict[str, float] = {}
    with path.open("w", encoding="utf-8") as out:
        out.write("meter_id,ts,value,unit\n")
        for i in range(park.meters):
            meter_id, unit = park.meter_id(i), _unit(i)
            out.writelines(
                f"{meter_id},{stamps[j]},{_register(i, j)!r},{unit}\n"
                for j in range(park.per_meter)
            )
            multiplier = 1.0 if _is_gas(i) else ELECTRICITY_MULTIPLIER
            delta = _register(i, park.per_meter - 1) - _register(i, 0)
            expected[meter_id] = delta * multiplier
    return expected


def _one(conn: psycopg.Connection[Any], sql: str, *args: Any) -> Any:
    row = conn.execute(sql, args).fetchone()
    return row[0] if row else None


def wait_windows(url: str, want: dict[int, int], deadline: float) -> dict[int, int]:
    """Poll until the windows of each width reach ``want``; returns the counts seen last."""
    got: dict[int, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            got = {
                int(w): int(n)
                for w, n in conn.execute(
                    "SELECT width_s, count(*) FROM emission_window GROUP BY width_s"
                ).fetchall()
            }
            if all(got.get(w, 0) >= n for w, n in want.items()):
                break
            time.sleep(0.5)
    return got


def check_sums(url: str, expected: dict[str, float]) -> dict[str, Any]:
    """Each meter's hour windows, days and months against the generated consumption."""
    worst = 0.0
    with psycopg.connect(url, autocommit=True) as conn:
        tables = {
            "hour": "SELECT meter_id, sum(activity) FROM emission_window WHERE width_s = 3600"
            " GROUP BY meter_id",
            "quarter": "SELECT meter_id, sum(activity) FROM emission_window WHERE width_s = 900"
            " GROUP BY meter_id",
            "day": "SELECT meter_id, sum(activity) FROM emission_day GROUP BY meter_id",
            "month": "SELECT meter_id, sum(activity) FROM emission_month GROUP BY meter_id",
        }
        exact: dict[str, bool] = {}
        for name, sql in tables.items():
            sums = {str(m): float(s) for m, s in conn.execute(sql).fetchall()}
            ok = sums.keys() == expected.keys()
            for meter_id, want in expected.items():
                err = abs(sums.get(meter_id, 0.0) - want) / want
                worst = max(worst, err)
                ok = ok and err <= 1e-9
            exact[name] = ok
    return {
        "sums_exact": all(exact.values()),
        "sums_exact_by_table": exact,
        "max_relative_error": worst,
    }


def _log(message: str) -> None:
    print(f"[bench.history {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--spacing-s", type=int, default=900)
    parser.add_argument("--days-ago", type=int, default=45, help="the import ends this long ago")
    parser.add_argument("--enterprises", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000, help="backfill --batch-size")
    parser.add_argument("--timeout-s", type=float, default=290.0, help="hard bound on the run")
    args = parser.parse_args(argv)

    load_at_start = os.getloadavg()[0]
    run_started = time.monotonic()
    deadline = run_started + args.timeout_s
    settings = StackSettings()
    stack.start(settings)
    bootstrap = settings.kafka_bootstrap
    base = settings.database_url.rsplit("/", 1)[0]
    token = uuid.uuid4().hex[:8]
    spacing_ms = args.spacing_s * 1000
    per_meter = args.days * DAY_MS // spacing_ms
    now = int(time.time() * 1000)
    t0 = (now // DAY_MS - args.days_ago - args.days) * DAY_MS  # a UTC midnight
    park = Park(
        meters=args.meters,
        live_meters=0,
        enterprises=args.enterprises,
        meters_per_source=1,
        per_message=args.batch_size,
        per_meter=per_meter,
        spacing_ms=spacing_ms,
        t0_ms=t0,
    )
    span_ms = (per_meter - 1) * spacing_ms
    want = {
        3600: args.meters * math.ceil(span_ms / HOUR_MS),
        900: args.meters * math.ceil(span_ms / 900_000),
    }
    prefix, app_id = f"benchh{token}.", f"bench-history-{token}"
    state = Path(tempfile.mkdtemp(prefix="parkcarbon-bench-history-"))
    workers: list[Worker] = []
    result: dict[str, Any] = {}
    try:
        with database(base, f"parkcarbon_bench_{token}_h") as url:
            register_park(url, park, live=False)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE meter SET installed_at = '2020-01-01T00:00:00Z'")
            asyncio.run(
                create_topics(bootstrap, partitions=PARTITIONS, replication=1, prefix=prefix)
            )
            csv_path = state / "history.csv"
            expected = write_csv(csv_path, park)
            _log(f"{park.readings} readings in {csv_path.stat().st_size / 1e6:.1f} MB")
            workers = [
                start_worker(
                    database_url=url,
                    kafka_bootstrap=bootstrap,
                    app_id=app_id,
                    state=state,
                    extra_env={"PARKCARBON_TOPIC_PREFIX": prefix},
                )
            ]
            wait_ready(workers)
            cpu = CpuMeter(workers)
            cpu.sample(first=True)
            env = {
                **os.environ,
                "PARKCARBON_DATABASE_URL": url,
                "PARKCARBON_KAFKA_BOOTSTRAP": bootstrap,
                "PARKCARBON_TOPIC_PREFIX": prefix,
            }
            left = max(10.0, deadline - time.monotonic() - 15)
            cli = [
                str(ROOT / ".venv/bin/parkcarbon"),
                "backfill",
                str(csv_path),
                "--batch-size",
                str(args.batch_size),
                "--wait-timeout-s",
                str(int(left)),
            ]
            _log("parkcarbon backfill: sending, then waiting for the worker")
            started_wall = time.time()
            started = time.monotonic()
            done = subprocess.run(
                cli, env=env, capture_output=True, text=True, timeout=left + 30, check=False
            )
            cli_s = time.monotonic() - started
            if done.returncode != 0:
                _log(f"backfill exited {done.returncode}: {done.stdout[-2000:]}{done.stderr}")
            got = wait_windows(url, want, deadline)
            finished = time.monotonic()
            cpu.sample()
            with psycopg.connect(url, autocommit=True) as conn:
                stored = int(_one(conn, "SELECT count(*) FROM reading"))
                rejected = int(_one(conn, "SELECT count(*) FROM rejected_reading"))
                row = conn.execute(
                    "SELECT extract(epoch FROM min(received_at)),"
                    " extract(epoch FROM max(received_at)) FROM reading"
                ).fetchone()
                first_rx, last_rx = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
                last_window = float(
                    _one(conn, "SELECT extract(epoch FROM max(computed_at)) FROM emission_window")
                )
                last_tx = int(
                    _one(
                        conn,
                        "SELECT count(*) FROM reading WHERE received_at ="
                        " (SELECT max(received_at) FROM reading)",
                    )
                )
            sums = check_sums(url, expected)
            worker_cpu_s = sum(b - a for a, b in cpu.worker_cpu.values())
            # Until the bench saw every window (0.5 s polls): ``computed_at`` is the start of
            # the upsert's transaction, earlier than the moment its windows are visible.
            end_to_end_s = finished - started
            complete = (
                done.returncode == 0
                and stored == park.readings
                and all(got.get(w, 0) == n for w, n in want.items())
                and got.get(60, 0) == 0
                and got.get(300, 0) == 0
            )
            result = {
                "history_readings_per_s": round(stored / end_to_end_s)
                if end_to_end_s > 0
                else None,
                "history_intake_readings_per_s": (
                    round((stored - last_tx) / (last_rx - first_rx)) if last_rx > first_rx else None
                ),
                "worker_us_per_reading": round(worker_cpu_s / max(stored, 1) * 1e6, 1),
                "import_s": round(end_to_end_s, 1),
                "last_window_computed_s": round(last_window - started_wall, 1),
                "cli_s": round(cli_s, 1),
                "readings": park.readings,
                "readings_stored": stored,
                "rejected": rejected,
                "windows_by_width_s": {str(w): n for w, n in sorted(got.items())},
                "windows_expected_by_width_s": {str(w): n for w, n in sorted(want.items())},
                **sums,
                **cpu.report(),
                "meters": args.meters,
                "days": args.days,
                "spacing_s": args.spacing_s,
                "load_avg_1m_at_start": round(load_at_start, 2),
                "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                "cores": os.cpu_count(),
                "complete": complete,
            }
    finally:
        stop_workers(workers)
        with contextlib.suppress(Exception):
            asyncio.run(delete_topics(bootstrap, [prefix, app_id]))
        if result.get("complete"):
            shutil.rmtree(state, ignore_errors=True)
        else:
            _log(f"worker log and import file kept in {state}")
    result["seconds"] = round(time.monotonic() - run_started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
