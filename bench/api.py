"""EMS push throughput and the emissions query's latency of the API; one JSON line.

    .venv/bin/python -m bench.api [--seconds 40] [--clients 4] [--batch 1000] [--meters 1000]
                                  [--queries 50]

Starts what it needs: the local stack (``deploy.stack.start``, a no-op when it runs), a migrated
throwaway database (``parkcarbon_bench_api_<rand>``, dropped at the end), topics of its own
(prefix ``benchapi<rand>.``, deleted at the end), and the API as a child process
(``parkcarbon api`` on a free 127.0.0.1 port). ``--clients`` concurrent clients each push JSON
batches of ``--batch`` readings (one reading per meter per batch, event time one second apart
per batch, inside the last 31 days) for ``--seconds``. Every push must answer 202 with every
reading accepted: each was acknowledged by Kafka (acks=all) and recorded before the reply.

Then the query (issue 6): a year for 1,000 meters of 10 enterprises in an Asia/Shanghai park,
``GET /v1/emissions?bucket=1mo&group_by=enterprise`` over local 2025, ``--queries`` times one
after another over HTTP (after 3 unmeasured warm-up requests), each answer checked (120 rows
summing 8,760,000 hour windows). A month bucket reads the daily rollup ``emission_day`` for every
whole local day (hour windows only for partial days at the ends: none here), so that is what is
filled: days 1 Jan - 24 Dec as ``emission_day`` rows written directly with the sums their 24
hour windows would give (the closed form in ``_DAYS_SQL``), and 25 - 31 Dec as hour windows
COPYed one local day (24,000 rows) per statement through the rollup triggers, which write those
days' rows. The monthly rollup ``emission_month`` (0013), which month buckets read for whole
months, is written from those day rows by its own triggers on ``emission_day`` in both cases.
35 M 15-minute windows would take far longer than the run to generate and are not read by the
query. The same 168,000 hour windows are first COPYed into a trigger-less copy of
the table (same indexes), so the triggers' cost shows as two COPY rates.

Prints ``readings_per_s`` (accepted readings / wall time of the push phase, also as
``push_readings_per_s``), ``requests_per_s``, ``p50_push_ms``, ``p99_push_ms``, ``peak_rss_mb``
of the API process (VmHWM), ``emissions_query_p50_ms``, ``emissions_query_p99_ms``,
``hour_copy_rows_per_s_plain`` and ``hour_copy_rows_per_s_with_rollup``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psycopg
from psycopg import AsyncConnection

from api import key_store
from api.keys import Role
from bench.stream import delete_topics
from config.settings import StackSettings
from deploy import stack as local_stack
from store.migrate import migrate
from stream.topics import create_topics

ROOT = Path(__file__).resolve().parent.parent


def _log(message: str) -> None:
    print(f"[bench.api {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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


async def seed(url: str, meters: int) -> tuple[list[str], str]:
    """A park with one enterprise and ``meters`` electricity meters; an enterprise key's token."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("INSERT INTO park (park_id, name) VALUES ('bench', 'bench')")
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES ('ent', 'bench', 'e')"
        )
        ids = [f"B-{i:05d}" for i in range(meters)]
        await conn.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
            " source_category) SELECT m, 'ent', 'electricity', 'kWh', 'cumulative',"
            " 'purchased_electricity' FROM unnest(%s::text[]) m",
            (ids,),
        )
        _, token = await key_store.create_key(
            conn,
            name="bench",
            role=Role.ENTERPRISE,
            enterprise_id="ent",
            scopes=None,
            expires_at=None,
            actor="bench",
        )
    return ids, token


def start_api(
    url: str, bootstrap: str, prefix: str, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        PARKCARBON_DATABASE_URL=url,
        PARKCARBON_KAFKA_BOOTSTRAP=bootstrap,
        PARKCARBON_TOPIC_PREFIX=prefix,
        PARKCARBON_API_PORT=str(port),
        PARKCARBON_API_CONSUME_ALERTS="false",
        PARKCARBON_CONFIG_FILE=str(log.with_suffix(".none.yaml")),
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(ROOT / ".venv/bin/parkcarbon"), "api"], env=env, stdout=out, stderr=out
        )


def peak_rss_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


async def wait_ready(base: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < end:
            with contextlib.suppress(httpx.HTTPError):
                r = await client.get("/healthz")
                if r.status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError("the API did not become healthy")


async def push_phase(
    base: str, token: str, meters: list[str], *, clients: int, batch: int, seconds: float
) -> tuple[int, list[float], float]:
    """(accepted readings, push latencies in ms, wall seconds)."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    counter = iter(range(10**9))
    latencies: list[float] = []
    accepted = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal accepted
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            while time.monotonic() < stop:
                step = next(counter)
                n = step * batch
                ts = (t0 + timedelta(seconds=n // len(meters))).isoformat()
                readings = [
                    {
                        "meter_id": meters[(n + i) % len(meters)],
                        "ts": ts,
                        "value": float(step),
                        "unit": "kWh",
                    }
                    for i in range(batch)
                ]
                body = orjson.dumps({"readings": readings})
                started = time.perf_counter()
                r = await http.post("/v1/readings", content=body)
                latencies.append((time.perf_counter() - started) * 1000)
                if r.status_code != 202 or r.json()["accepted"] != batch:
                    raise RuntimeError(f"push {step}: {r.status_code} {r.text[:300]}")
                accepted += batch

    begun = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return accepted, latencies, time.perf_counter() - begun


_YEAR = ("2025-01-01T00:00:00+08:00", "2026-01-01T00:00:00+08:00")
_WINDOW_COLUMNS = (
    "meter_id, width_s, window_start, window_end, enterprise_id, source_category, iso_category,"
    " activity, activity_unit, gases, tco2e, gwp_set, factor_versions, readings_present,"
    " readings_expected, completeness, flags, interpolated"
)
_COPY_DAYS = 7  # the last local days of the year, written as hour windows
_HOUR_FACTOR = 0.0005703  # tCO2e per kWh
# Meter i (enterprise i % 10) uses 50 + i % 64 kWh plus 10 kWh per local hour of the day in each
# hour; a day of it is 24 * (50 + i % 64) + 2760 kWh. Written directly for all but the last days.
_DAYS_SQL = """
INSERT INTO emission_day (meter_id, day, enterprise_id, source_category, iso_category,
                          activity, activity_unit, gases, gas_windows, tco2e, readings_present,
                          readings_expected, windows, factor_versions, flags)
SELECT m.meter_id, d::date, m.enterprise_id, 'purchased_electricity', '2', a, 'kWh',
       jsonb_build_object('CO2', a * %(f)s),
       jsonb_build_object('CO2', jsonb_build_array(24, 96, 96)), a * %(f)s, 96, 96, 24,
       '{CN-grid-2023}', 0
FROM meter m
CROSS JOIN generate_series(date '2025-01-01', date '2025-12-31' - %(copy_days)s, '1 day') AS d
CROSS JOIN LATERAL (SELECT 24 * (50 + substr(m.meter_id, 3)::int %% 64) + 2760.0 AS a) AS v
WHERE m.enterprise_id LIKE 'QE%%'
"""


async def seed_year(url: str, meters: int) -> str:
    """The query's park, enterprises, meters, day rows and an admin token; the COPY rates."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES ('benchq', 'q', 'Asia/Shanghai')"
        )
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name)"
            " SELECT 'QE' || i, 'benchq', 'q' FROM generate_series(0, 9) AS i"
        )
        await conn.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
            " source_category) SELECT 'Q-' || lpad(i::text, 5, '0'), 'QE' || i %% 10,"
            " 'electricity', 'kWh', 'cumulative', 'purchased_electricity'"
            " FROM generate_series(0, %s - 1) AS i",
            (meters,),
        )
        await conn.execute(_DAYS_SQL, {"f": _HOUR_FACTOR, "copy_days": _COPY_DAYS})
        _, token = await key_store.create_key(
            conn,
            name="bq",
            role=Role.ADMIN,
            enterprise_id=None,
            scopes=None,
            expires_at=None,
            actor="bench",
        )
    return token


def _hour_lines(meters: int, day: datetime) -> str:
    lines = []
    for h in range(24):
        start = day + timedelta(hours=h)
        span = f"{start.isoformat()}\t{(start + timedelta(hours=1)).isoformat()}"
        for i in range(meters):
            a = 50 + i % 64 + 10 * h
            t = a * _HOUR_FACTOR
            lines.append(
                f"Q-{i:05d}\t3600\t{span}\tQE{i % 10}\tpurchased_electricity\t2\t{a}\tkWh\t"
                f'{{"CO2": {t!r}}}\t{t!r}\tAR5\t{{CN-grid-2023}}\t4\t4\t1\t0\tf\n'
            )
    return "".join(lines)


async def copy_hours(url: str, meters: int) -> tuple[float, float]:
    """COPY the last days' hour windows, a local day per statement, into a trigger-less copy of
    emission_window and then into emission_window itself: (plain rows/s, with rollup rows/s)."""
    first = datetime(2025, 12, 31 - _COPY_DAYS + 1, tzinfo=UTC) - timedelta(hours=8)
    days = [_hour_lines(meters, first + timedelta(days=d)) for d in range(_COPY_DAYS)]
    rates = []
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("CREATE TABLE bench_plain (LIKE emission_window INCLUDING ALL)")
        for table in ("bench_plain", "emission_window"):
            begun = time.perf_counter()
            for data in days:
                async with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY {table} ({_WINDOW_COLUMNS}) FROM STDIN") as copy,
                ):
                    await copy.write(data)
            rates.append(round(_COPY_DAYS * 24 * meters / (time.perf_counter() - begun), 1))
        await conn.execute("DROP TABLE bench_plain")
        # A year of data in a running database has long been vacuumed: do not time autovacuum
        # and first-read hint-bit writes of the rows just loaded.
        await conn.execute("VACUUM (ANALYZE) emission_day")
        await conn.execute("VACUUM (ANALYZE) emission_month")
        await conn.execute("VACUUM (ANALYZE) emission_window")
    return rates[0], rates[1]


async def query_phase(base: str, token: str, queries: int) -> list[float]:
    """Latencies (ms) of the year-by-month-by-enterprise query, each answer checked."""
    params: dict[str, str | int] = {
        "from": _YEAR[0],
        "to": _YEAR[1],
        "bucket": "1mo",
        "group_by": "enterprise",
        "park_id": "benchq",
        "limit": 1000,
    }
    latencies = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        for n in range(queries + 3):
            started = time.perf_counter()
            r = await http.get("/v1/emissions", params=params)
            elapsed = (time.perf_counter() - started) * 1000
            items = r.json()["items"] if r.status_code == 200 else []
            if len(items) != 120 or sum(x["windows"] for x in items) != 8760 * 1000:
                raise RuntimeError(f"query: {r.status_code} {r.text[:300]}")
            if n >= 3:
                latencies.append(elapsed)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args(argv)

    stack = StackSettings(state_dir=ROOT / ".parkcarbon")
    _log("starting the stack (no-op when it runs)")
    local_stack.start(stack)
    run = uuid.uuid4().hex[:8]
    prefix = f"benchapi{run}."
    base_url = stack.database_url.rsplit("/", 1)[0]
    log = ROOT / ".parkcarbon" / "logs" / f"bench-api-{run}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with database(base_url, f"parkcarbon_bench_api_{run}") as url:
        try:
            asyncio.run(
                create_topics(stack.kafka_bootstrap, partitions=6, replication=1, prefix=prefix)
            )
            meters, token = asyncio.run(seed(url, args.meters))
            _log("filling a year for 1,000 meters (day rows, then 7 days of hour windows)")
            admin = asyncio.run(seed_year(url, 1000))
            copy_plain, copy_rollup = asyncio.run(copy_hours(url, 1000))
            port = _free_port()
            api = start_api(url, stack.kafka_bootstrap, prefix, port, log)
            try:
                base = f"http://127.0.0.1:{port}"
                asyncio.run(wait_ready(base))
                _log(f"pushing for {args.seconds:.0f} s: {args.clients} clients x {args.batch}")
                accepted, latencies, wall = asyncio.run(
                    push_phase(
                        base,
                        token,
                        meters,
                        clients=args.clients,
                        batch=args.batch,
                        seconds=args.seconds,
                    )
                )
                _log(f"querying a year by month and enterprise {args.queries} times")
                query_ms = asyncio.run(query_phase(base, admin, args.queries))
                rss = peak_rss_mb(api.pid)
            finally:
                api.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    api.wait(15)
                if api.poll() is None:
                    api.kill()
        finally:
            asyncio.run(delete_topics(stack.kafka_bootstrap, [prefix]))
    rate = round(accepted / wall, 1)
    print(
        json.dumps(
            {
                "readings_per_s": rate,
                "push_readings_per_s": rate,
                "requests_per_s": round(len(latencies) / wall, 2),
                "p50_push_ms": percentile(latencies, 0.50),
                "p99_push_ms": percentile(latencies, 0.99),
                "peak_rss_mb": rss,
                "emissions_query_p50_ms": percentile(query_ms, 0.50),
                "emissions_query_p99_ms": percentile(query_ms, 0.99),
                "emissions_queries": len(query_ms),
                "hour_copy_rows_per_s_plain": copy_plain,
                "hour_copy_rows_per_s_with_rollup": copy_rollup,
                "readings": accepted,
                "requests": len(latencies),
                "seconds": round(wall, 1),
                "clients": args.clients,
                "batch": args.batch,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
