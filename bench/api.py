"""EMS push throughput of the API, end to end through Kafka acks; one JSON line.

    .venv/bin/python -m bench.api [--seconds 40] [--clients 4] [--batch 1000] [--meters 1000]

Starts what it needs: the local stack (``deploy.stack.start``, a no-op when it runs), a migrated
throwaway database (``parkcarbon_bench_api_<rand>``, dropped at the end), topics of its own
(prefix ``benchapi<rand>.``, deleted at the end), and the API as a child process
(``parkcarbon api`` on a free 127.0.0.1 port). ``--clients`` concurrent clients each push JSON
batches of ``--batch`` readings (one reading per meter per batch, event time one second apart
per batch, inside the last 31 days) for ``--seconds``. Every push must answer 202 with every
reading accepted: each was acknowledged by Kafka (acks=all) and recorded before the reply.

Prints ``readings_per_s`` (accepted readings / wall time of the push phase, also as
``push_readings_per_s``), ``requests_per_s``, ``p50_push_ms``, ``p99_push_ms`` and
``peak_rss_mb`` of the API process (VmHWM).
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--meters", type=int, default=1000)
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
