"""The Faust app: validate, store, window (ARCHITECTURE.md, "The flow").

``readings.raw`` -> validate and store (readings, quarantine and per-meter state in one
database transaction, ``stream.intake``) -> ``readings.valid`` / ``readings.rejected`` for
downstream consumers -> CO2e windows recomputed from the stored readings -> the database and
``emissions.windows``. Exactly-once outcome comes from the transaction and natural keys, not from
Faust's ``exactly_once`` (three brokers, open duplicate bugs) nor from a Faust table, whose
changelog recovery hung here after a restart (faust-streaming 0.15.3, aiokafka 0.14).
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import cast

import faust
import psycopg

from accounting.gwp import GwpSet
from config.kafka_security import KafkaSecurity, ssl_context
from config.settings import WorkerSettings
from contracts.alerts import alert_key, encode_alert
from contracts.records import rejected_messages
from contracts.split import split_message
from contracts.topics import Topic, topic_name
from stream.deviations import DeviationStage
from stream.intake import decode_messages, intake
from stream.memory import limit_arenas, trim
from stream.registry import RegistryCache
from stream.sink import Database
from stream.validate import StreamReason
from stream.window_sink import WindowSink
from stream.windows import plan_of

log = logging.getLogger(__name__)


def broker_credentials(security: KafkaSecurity) -> faust.types.auth.CredentialsT | None:
    """The worker's TLS/SASL as Faust credentials; Faust hands them to every aiokafka client it
    builds (consumer, producer and the client that creates its internal topics), through
    ``credentials_to_aiokafka_auth`` (faust-streaming 0.15.3, transport/drivers/aiokafka.py),
    which yields the same keyword arguments as ``config.kafka_security.client_kwargs``."""
    if security.protocol == "SSL":
        return faust.SSLCredentials(ssl_context(security))
    if security.protocol == "SASL_SSL":
        # With an ssl_context Faust's SASLCredentials says SASL_SSL; it never goes without one.
        return faust.SASLCredentials(
            username=security.username,
            password=security.password.get_secret_value(),
            ssl_context=ssl_context(security),
            mechanism=security.sasl_mechanism,
        )
    return None


def create_app(settings: WorkerSettings) -> faust.App:
    if settings.malloc_trim_s > 0:
        # Before any pool thread exists: each would get an arena of its own (stream.memory).
        limit_arenas(2)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(settings.kafka_security()),
        store="memory://",
        datadir=str(settings.state_dir.resolve() / "faust"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        # Faust sends one produce request per message unless told to wait a little: 10 ms lets
        # the outputs of a batch travel together (measured: +30 % readings/s, half the broker CPU).
        producer_linger=0.01,
        web_enabled=False,
    )

    def topic(which: Topic) -> faust.TopicT:
        # Every contract topic carries orjson bytes keyed by bytes; decoding is ours, strictly.
        return app.topic(
            topic_name(which, settings.topic_prefix),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

    raw, valid, rejected = (
        topic(Topic.READINGS_RAW),
        topic(Topic.READINGS_VALID),
        topic(Topic.READINGS_REJECTED),
    )
    windows_out, alerts_out = topic(Topic.EMISSIONS_WINDOWS), topic(Topic.ALERTS)
    max_bytes = settings.kafka_max_message_bytes
    registry = RegistryCache(settings.database_url)
    window_sink = WindowSink(
        settings.database_url,
        registry,
        gwp_set=GwpSet(settings.gwp_set),
        max_wait_ms=int(settings.window_max_wait_s * 1000),
        plan=plan_of(settings),
    )

    deviations = DeviationStage(
        settings.database_url, registry, horizon_ms=settings.alert_horizon_s * 1000
    )
    deviations_lock = asyncio.Lock()  # one evaluation at a time on the stage's connection

    # UNKNOWN_METER and UNAUTHORIZED_SOURCE readings waiting for the next deviation evaluation.
    unknown_readings: list[tuple[str, int]] = []
    unauthorized_readings: list[tuple[str, int]] = []
    background: set[asyncio.Task[None]] = set()

    async def flush_windows() -> None:
        now_ms = int(time.time() * 1000)
        unknown, unauthorized = unknown_readings[:], unauthorized_readings[:]
        unknown_readings.clear()
        unauthorized_readings.clear()
        flushed = await window_sink.flush(now_ms)
        results = flushed.hourly
        # One message per enterprise and flush (wire version 2), not one per window.
        for key, value in flushed.messages:
            for part in split_message(value, max_bytes, field="windows"):
                await windows_out.send(key=key, value=part)
        if not results and not unknown and not unauthorized:
            return
        delay = 0.2
        while True:  # stored windows whose rules were not evaluated would never raise alerts
            try:
                async with deviations_lock:
                    alerts = await asyncio.to_thread(
                        deviations.evaluate, results, unknown, now_ms, unauthorized
                    )
                break
            except psycopg.OperationalError as exc:
                log.warning("database unavailable for the deviation rules (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for alert in alerts:
            await alerts_out.send(key=alert_key(alert), value=encode_alert(alert))

    database = Database(settings.database_url)

    @app.task  # type: ignore[untyped-decorator]
    async def load_registry() -> None:
        await registry.refresh(force=True)
        # Windows a previous worker left pending when it died are queued again.
        await window_sink.reconcile(int(time.time() * 1000))

    @app.timer(interval=settings.registry_refresh_s)  # type: ignore[untyped-decorator]
    async def refresh_registry() -> None:
        await registry.refresh()

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def close_silent_windows() -> None:
        await flush_windows()

    if settings.malloc_trim_s > 0:

        @app.timer(interval=settings.malloc_trim_s)  # type: ignore[untyped-decorator]
        async def give_memory_back() -> None:
            trim()

    @app.timer(interval=600.0, on_leader=False)  # type: ignore[untyped-decorator]
    async def reconcile_windows() -> None:
        queued = await window_sink.reconcile(int(time.time() * 1000))
        if queued:
            log.info("reconcile: %d readings had windows to recompute", queued)

    @app.agent(raw)
    async def validate_and_store(stream: faust.StreamT[bytes]) -> None:
        await registry.ready()
        async for events in cast("faust.Stream[bytes]", stream).take_events(
            settings.intake_batch, within=0.2
        ):
            arrived = time.monotonic()
            messages = [(e.key, e.value, int(e.message.timestamp * 1000)) for e in events]
            decoded = decode_messages(messages, bound_years=settings.timestamp_bound_years)
            if registry.missing(decoded):
                # A meter added a moment ago must not be rejected: the registry as of a check
                # begun after the batch arrived (the last timer check may predate the meter).
                await registry.refresh(since=arrived)
            # Stored (readings, quarantine, meter state) before anything is sent or acked.
            result = await database.run(
                partial(
                    intake,
                    messages=messages,
                    profiles=registry.profiles,
                    decoded=decoded,
                    authorization=registry.authorization,
                )
            )
            # Outputs stay below the message limit like the intake (a 10,000-reading message
            # all rejected would be megabytes); a message that fits is sent as encoded.
            for key, value in result.valid:
                for part in split_message(value, max_bytes):
                    await valid.send(key=key, value=part)
            for key, now_ms, rejections in result.rejected:
                for part in rejected_messages(
                    rejections, rejected_at_ms=now_ms, max_bytes=max_bytes
                ):
                    await rejected.send(key=key, value=part)
            window_sink.touch([*result.spans, *result.replayed_intervals], int(time.time() * 1000))
            for _, _, rejections in result.rejected:
                for r in rejections:
                    if not (r.meter_id and r.ts_ms):
                        continue
                    if r.reason == StreamReason.UNKNOWN_METER:
                        unknown_readings.append((r.meter_id, r.ts_ms))
                    elif r.reason == StreamReason.UNAUTHORIZED_SOURCE:
                        unauthorized_readings.append((r.meter_id, r.ts_ms))
            # Windows are computed from what is already stored, so the next intake need not
            # wait for them: one flush runs beside intake, the next starts when it is done.
            if not background:
                task = asyncio.create_task(flush_windows())
                background.add(task)
                task.add_done_callback(_flush_done)

    def _flush_done(task: asyncio.Task[None]) -> None:
        background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("window flush failed; the timer retries", exc_info=task.exception())

    return app
