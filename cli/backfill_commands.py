"""`parkcarbon backfill FILE.csv`: import historical readings through the validation path."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from config.settings import CommonSettings, load


class KafkaUnreachable(Exception):  # noqa: N818 - reads as the condition it reports
    """The producer could not start: nothing was sent."""


def _stored(database_url: str, gateway_id: str, spans: dict[str, tuple[int, int]]) -> int:
    """Readings of this import stored (or already there from an earlier import) or quarantined.

    Counted over each meter's time span of the import, so readings an earlier import stored,
    which the worker recognises as duplicates, count as present too.
    """
    import psycopg

    meters = list(spans)
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM reading r JOIN unnest(%(m)s::text[], %(lo)s::bigint[],"
            " %(hi)s::bigint[]) AS s(meter_id, lo, hi) ON r.meter_id = s.meter_id"
            " AND r.ts BETWEEN to_timestamp(s.lo / 1000.0) AND to_timestamp(s.hi / 1000.0))"
            " + (SELECT count(*) FROM rejected_reading WHERE gateway_id = %(g)s)",
            {
                "g": gateway_id,
                "m": meters,
                "lo": [spans[m][0] for m in meters],
                "hi": [spans[m][1] for m in meters],
            },
        ).fetchone()
    return int(row[0]) if row else 0


def backfill(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV: meter_id,ts,value,unit")
    ],
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Readings per message.")
    ] = 1000,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until the worker has stored them all.")
    ] = True,
    wait_timeout_s: Annotated[
        float, typer.Option(min=1, help="Longest wait for the worker.")
    ] = 600,
) -> None:
    """Send historical readings to readings.raw; the stream worker validates and stores them like
    live ones (an earlier import's readings are recognised; unreadable rows go to
    FILE.rejected.csv)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from accounting.instants import TimeBounds
    from config.kafka_security import client_kwargs, connect_failure, unreachable
    from contracts.topics import Topic, topic_name
    from ingest.backfill import (
        BackfillError,
        CountingLines,
        Tally,
        batches,
        messages,
        read_rows,
        write_rejects,
    )

    settings = load(CommonSettings)
    bounds = TimeBounds.around(int(time.time() * 1000), settings.timestamp_bound_years)
    gateway_id = f"backfill-{uuid.uuid4().hex[:8]}"
    topic = topic_name(Topic.READINGS_RAW, settings.topic_prefix)
    tally = Tally()

    async def send(progress: Progress, task: TaskID) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=20,
            max_request_size=settings.kafka_max_message_bytes + 64 * 1024,
            compression_type=None if settings.kafka_compression == "none" else "gzip",
            **client_kwargs(settings.kafka_security()),
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            # "Unable to bootstrap" alone hides a refused login or an untrusted certificate.
            security = settings.kafka_security()
            cause = await connect_failure(settings.kafka_bootstrap, security, timeout_s=5.0)
            raise KafkaUnreachable(unreachable(settings.kafka_bootstrap, exc, cause)) from exc
        try:
            lines = CountingLines(file, lambda n: progress.advance(task, n))
            pending = []
            for batch in batches(
                read_rows(lines),
                tally,
                gateway_id=gateway_id,
                batch_size=batch_size,
                bounds=bounds,
            ):
                for message in messages(batch, settings.kafka_max_message_bytes):
                    pending.append(
                        await producer.send(topic, message, key=batch.source_key.encode())
                    )
                if len(pending) >= 500:  # bounded in flight
                    await asyncio.gather(*pending)
                    pending.clear()
            await asyncio.gather(*pending)
        finally:
            await producer.stop()

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("sending", total=file.stat().st_size)
        try:
            asyncio.run(send(progress, task))
        except BackfillError as exc:
            typer.secho(f"{file}: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        except KafkaUnreachable as exc:  # nothing was sent
            typer.secho(str(exc), fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
    typer.echo(
        f"sent {tally.readings} readings of {tally.rows} rows in {tally.batches} messages to"
        f" {topic} (import {gateway_id})"
    )
    if tally.bad:
        rejects = file.with_suffix(".rejected.csv")
        write_rejects(rejects, tally.bad)
        typer.secho(
            f"{len(tally.bad)} rows could not be read (first: line {tally.bad[0].line},"
            f" {tally.bad[0].reason}); all of them are in {rejects}",
            fg=typer.colors.YELLOW,
        )
    if not wait or tally.readings == 0:
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}")
    ) as progress:
        task = progress.add_task("stored by the worker", total=tally.readings)
        deadline = time.monotonic() + wait_timeout_s
        done = 0
        while done < tally.readings and time.monotonic() < deadline:
            done = _stored(settings.database_url, gateway_id, tally.spans)
            progress.update(task, completed=done)
            if done < tally.readings:
                time.sleep(1)
    if done < tally.readings:
        typer.secho(
            f"only {done} of {tally.readings} stored after {wait_timeout_s:.0f} s: is a stream"
            " worker running? The rest stay in Kafka and are stored when one runs.",
            fg=typer.colors.YELLOW,
        )
        raise typer.Exit(1)
    typer.echo(f"stored: {done} readings (accepted or quarantined with a reason)")


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)
