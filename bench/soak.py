"""Soak: a real worker under the demo park's steady load, and how its memory moves.

``python -m bench.soak [--minutes N] [--meters M] [--period-s P]`` registers M meters in a
database of its own, starts a real `parkcarbon worker` on topics of its own (the shared stack's
broker and PostgreSQL, never the default topics or the development database), and for N minutes
sends each meter's reading every P seconds in real time, as the demo park's gateways do (161
meter points every 5 s: about 32 readings a second). Every 10 s it samples the worker's resident
size (VmRSS). After the warm-up (a third of the run, at least a minute: imports, the registry,
the first windows and their caches) it fits a line through the samples and reports its slope in
MB per hour, and the growth from the first to the last sample after warm-up. The last line is
one JSON object with units in the keys.

``--compare-trim`` runs a second worker beside the first, on a database and topics of its own
under the same load, with ``PARKCARBON_MALLOC_TRIM_S=0`` (glibc left to itself,
``stream.memory``): the same sitting measures what giving memory back changes. Its figures carry
the suffix ``_no_trim``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.stream import PARTITIONS, Park, _register, _unit, database, delete_topics, register_park
from bench.workers import Worker, start_worker, stop_workers, wait_ready
from config.settings import StackSettings, load
from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from contracts.topics import Topic, topic_name
from stream.topics import create_topics

SAMPLE_S = 10.0


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def slope_per_hour(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) samples, in MB per hour."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 3600


async def steady_load(
    bootstrap: str,
    topics: list[str],
    park: Park,
    seconds: float,
    period_s: float,
    pids: list[int],
) -> tuple[int, list[list[tuple[float, float]]]]:
    """Each meter's reading every ``period_s`` in real time, the same to each topic; RSS
    samples of each of ``pids``. Returns the readings sent to one topic and the samples."""
    sources = math.ceil(park.live_meters / park.meters_per_source)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    samples: list[list[tuple[float, float]]] = [[] for _ in pids]
    sent = 0
    try:
        start = time.monotonic()
        next_sample = start
        k = 0
        while time.monotonic() - start < seconds:
            tick = start + k * period_s
            if (delay := tick - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            ts = int(time.time() * 1000) // 1000 * 1000
            for s in range(sources):
                meters = range(
                    s * park.meters_per_source,
                    min((s + 1) * park.meters_per_source, park.live_meters),
                )
                readings = tuple(
                    RawReading(park.live_id(i), ts, _register(i, k), _unit(i), k) for i in meters
                )
                key = f"soak-gw/src-{s:05d}"
                value = encode_batch(ReadingBatch(Source.MODBUS, "soak-gw", key, readings))
                for topic in topics:
                    await producer.send(topic, value, key=key.encode())
                sent += len(readings)
            if time.monotonic() >= next_sample:
                for pid, into in zip(pids, samples, strict=True):
                    if (rss := rss_mb(pid)) is not None:
                        into.append((time.monotonic() - start, rss))
                next_sample += SAMPLE_S
            k += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent, samples


def figures(samples: list[tuple[float, float]], warmup: float, suffix: str) -> dict[str, Any]:
    """One worker's RSS figures: first, after warm-up, last, growth and slope after warm-up."""
    after = [(t, v) for t, v in samples if t >= warmup]
    slope = slope_per_hour(after)
    return {
        f"worker_rss_first_mb{suffix}": round(samples[0][1], 1) if samples else None,
        f"worker_rss_after_warmup_mb{suffix}": round(after[0][1], 1) if after else None,
        f"worker_rss_last_mb{suffix}": round(samples[-1][1], 1) if samples else None,
        f"worker_rss_growth_after_warmup_mb{suffix}": (
            round(after[-1][1] - after[0][1], 1) if len(after) > 1 else None
        ),
        f"worker_rss_slope_mb_per_h{suffix}": None if slope is None else round(slope, 1),
    }


def _log(message: str) -> None:
    print(f"[bench.soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=4.0, help="length of the load")
    parser.add_argument("--meters", type=int, default=161, help="meter points (the demo: 161)")
    parser.add_argument("--period-s", type=float, default=5.0, help="seconds between readings")
    parser.add_argument(
        "--compare-trim", action="store_true", help="a second worker with malloc_trim off"
    )
    args = parser.parse_args(argv)
    if not (0.5 <= args.minutes <= 24 * 60 and 1 <= args.meters <= 100_000):
        parser.error("--minutes within 0.5..1440 and --meters within 1..100000")

    settings = load(StackSettings)
    bootstrap = settings.kafka_bootstrap
    park = Park(
        meters=0,
        live_meters=args.meters,
        enterprises=5,
        meters_per_source=8,
        per_message=0,
        per_meter=0,
        spacing_ms=int(args.period_s * 1000),
        t0_ms=0,
    )
    base = settings.database_url.rsplit("/", 1)[0]
    seconds = args.minutes * 60
    warmup = max(60.0, seconds / 3)
    # (suffix, environment): the default worker, and with --compare-trim one left to glibc.
    variants: list[tuple[str, dict[str, str]]] = [("", {})] + (
        [("_no_trim", {"PARKCARBON_MALLOC_TRIM_S": "0"})] if args.compare_trim else []
    )
    with contextlib.ExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        workers: list[Worker] = []
        topics: list[str] = []
        prefixes: list[str] = []
        try:
            for suffix, env in variants:
                token = uuid.uuid4().hex[:8]
                url = stack.enter_context(database(base, f"parkcarbon_soak_{token}"))
                register_park(url, park, live=True)
                prefix = f"soak{token}."
                prefixes += [prefix, f"soak-{token}"]
                asyncio.run(
                    create_topics(bootstrap, partitions=PARTITIONS, replication=1, prefix=prefix)
                )
                topics.append(topic_name(Topic.READINGS_RAW, prefix))
                workers.append(
                    start_worker(
                        database_url=url,
                        kafka_bootstrap=bootstrap,
                        app_id=f"soak-{token}",
                        state=state,
                        extra_env={"PARKCARBON_TOPIC_PREFIX": prefix, **env},
                    )
                )
                _log(f"worker{suffix or ' (default)'}: pid {workers[-1].pid}")
            wait_ready(workers)
            _log(f"{len(workers)} worker(s) ready; {args.meters} meters for {args.minutes} min")
            sent, samples = asyncio.run(
                steady_load(
                    bootstrap, topics, park, seconds, args.period_s, [w.pid for w in workers]
                )
            )
        finally:
            stop_workers(workers)
            with contextlib.suppress(Exception):
                asyncio.run(delete_topics(bootstrap, prefixes))
    result: dict[str, Any] = {
        "minutes": args.minutes,
        "meters": args.meters,
        "readings": sent,
        "readings_per_s": round(sent / seconds, 1),
        "warmup_s": round(warmup),
        "samples_after_warmup": len([t for t, _ in samples[0] if t >= warmup]),
    }
    for (suffix, _), mine in zip(variants, samples, strict=True):
        result.update(figures(mine, warmup, suffix))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
