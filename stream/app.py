"""The Faust app: validation agent and database sinks (ARCHITECTURE.md, "The flow").

``readings.raw`` -> validate -> ``readings.valid`` / ``readings.rejected`` -> the database.
Per-meter validation state lives in the ``meter-state`` table, whose changelog is written to
the partition of the message being processed: a meter is read by one source, and a source's
messages are keyed to one partition, so the state and the readings it describes move together
on a rebalance. Every write downstream is idempotent by natural key; exactly-once outcome comes
from that, not from Faust's ``exactly_once`` guarantee.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import faust
import orjson

from accounting.gwp import GwpSet
from accounting.meter import MeterState
from config.settings import WorkerSettings
from stream.records import decode_rejections, decode_valid, encode_rejections, encode_valid
from stream.registry import RegistryCache
from stream.sink import Database, store_readings, store_rejections
from stream.topics import Topic
from stream.validate import validate_message
from stream.window_sink import WindowSink, encode_window

log = logging.getLogger(__name__)


def create_app(settings: WorkerSettings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.state_dir.resolve() / "faust"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
    )
    raw = app.topic(
        Topic.READINGS_RAW.value,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    valid = app.topic(
        Topic.READINGS_VALID.value,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    rejected = app.topic(
        Topic.READINGS_REJECTED.value,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    states = app.Table(
        "meter-state",
        default=None,
        partitions=settings.topic_partitions,
        schema=faust.Schema(key_type=bytes, key_serializer="raw", value_serializer="json"),
    )
    registry = RegistryCache(settings.database_url)
    windows_out = app.topic(
        Topic.EMISSIONS_WINDOWS.value,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    window_sink = WindowSink(
        settings.database_url,
        registry,
        gwp_set=GwpSet(settings.gwp_set),
        max_wait_ms=int(settings.window_max_wait_s * 1000),
    )

    async def flush_windows() -> None:
        for result in await window_sink.flush(int(time.time() * 1000)):
            await windows_out.send(key=result.key.meter_id.encode(), value=encode_window(result))

    # One connection per sink agent: the two agents write concurrently.
    readings_db = Database(settings.database_url)
    rejections_db = Database(settings.database_url)

    def state_of(meter_id: str) -> MeterState:
        stored = states.get(meter_id.encode())
        return MeterState.from_dict(stored) if stored else MeterState()

    @app.task  # type: ignore[untyped-decorator]
    async def load_registry() -> None:
        await registry.refresh(force=True)

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def refresh_registry() -> None:
        await registry.refresh()

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def close_silent_windows() -> None:
        await flush_windows()

    @app.agent(raw)
    async def validate_readings(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            value: bytes = event.value
            if registry.missing(value):
                await registry.refresh()  # a meter added a moment ago should not be rejected
            now_ms = int(event.message.timestamp * 1000)
            outcome = validate_message(
                value, now_ms=now_ms, profiles=registry.profiles, state_of=state_of
            )
            # Outputs first, then state: a crash in between replays the message, and the
            # downstream natural keys absorb what was already sent.
            if outcome.valid is not None:
                await valid.send(key=event.key, value=encode_valid(outcome.valid))
            if outcome.rejections:
                await rejected.send(
                    key=event.key,
                    value=encode_rejections(outcome.rejections, rejected_at_ms=now_ms),
                )
            for meter_id, state in outcome.states.items():
                states[meter_id.encode()] = state.to_dict()

    @app.agent(valid)
    async def store_valid(stream: faust.StreamT[bytes]) -> None:
        async for values in stream.take(1000, within=0.5):
            batches = [decode_valid(v) for v in values]
            await readings_db.run(partial(store_readings, batches=batches))
            # Only stored readings count in a window: touch after the write, then compute.
            window_sink.touch(batches, int(time.time() * 1000))
            await flush_windows()

    @app.agent(rejected)
    async def store_rejected(stream: faust.StreamT[bytes]) -> None:
        async for values in stream.take(1000, within=0.5):
            items: list[tuple[str, dict[str, Any]]] = []
            for v in values:
                rejected_at = orjson.loads(v)["rejected_at"]
                items.extend((rejected_at, r) for r in decode_rejections(v))
            await rejections_db.run(partial(store_rejections, items=items))

    return app
