"""Kafka security end to end on the local stack's SASL_SSL listener (deploy/kafka_broker.py):
TLS with the project's CA, SCRAM-SHA-512 logins and the ACLs of a gateway principal, through a
real gateway forwarder, a real `parkcarbon worker` process and the real database."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from config.kafka_security import KafkaSecurity, client_kwargs, connect_failure
from config.settings import StackSettings
from contracts.records import RawReading, ReadingBatch, Source
from deploy import kafka_broker, kafka_tls
from deploy.kafka_broker import GATEWAY_USER, SERVICE_USER, SaslSslListener
from deploy.process import port_open
from ingest.buffer import ReadingBuffer
from ingest.config import GatewayConfig, load_gateway_config
from ingest.forwarder import Forwarder
from ingest.metrics import GatewayMetrics
from store.registry import Meter, add_enterprise, add_meter, add_park
from stream.topics import Topic, create_topics, topic_name
from tests.conftest import spawn_worker, stop_worker

pytestmark = pytest.mark.integration

QUARTER_MS = 15 * 60 * 1000
T0 = (int(time.time() * 1000) // QUARTER_MS - 8) * QUARTER_MS


@pytest.fixture(scope="module")
def listener(running_stack: StackSettings) -> SaslSslListener:
    found = kafka_broker.sasl_ssl_listener(running_stack)
    assert found is not None, "kafka_sasl_ssl_port is 0: these tests need the SASL_SSL listener"
    host, _, port = found.bootstrap.rpartition(":")
    assert port_open(host, int(port)), (
        f"nothing listens on {found.bootstrap}: the stack was started before it had a SASL_SSL "
        "listener; restart it (parkcarbon stack stop; parkcarbon stack start)"
    )
    return found


@pytest.fixture(scope="module")
def prefix(running_stack: StackSettings, kafka_bootstrap: str) -> Iterator[str]:
    """Topics of this module's own, and the gateway principal's ACLs on its readings topic."""
    prefix = f"s{uuid.uuid4().hex[:8]}."
    asyncio.run(create_topics(kafka_bootstrap, partitions=6, replication=1, prefix=prefix))
    raw = topic_name(Topic.READINGS_RAW, prefix)
    kafka_broker.gateway_acls(running_stack, GATEWAY_USER, raw)
    yield prefix
    kafka_broker.gateway_acls(running_stack, GATEWAY_USER, raw, remove=True)


def _gateway_yaml(tmp_path: Path, listener: SaslSslListener, prefix: str, password: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
gateway_id: gw-secure
kafka:
  bootstrap: {listener.bootstrap}
  topic: {topic_name(Topic.READINGS_RAW, prefix)}
  security_protocol: SASL_SSL
  ssl_ca_file: {listener.ca_file}
  sasl_mechanism: SCRAM-SHA-512
  sasl_username: {GATEWAY_USER}
  sasl_password: "{password}"
  retry_min_s: 0.2
  retry_max_s: 0.5
buffer:
  path: {tmp_path / "buffer.db"}
"""
    )
    return path


def _batch(meter_id: str, registers: list[float]) -> ReadingBatch:
    readings = tuple(
        RawReading(meter_id, T0 + i * QUARTER_MS, v, "kWh", i) for i, v in enumerate(registers)
    )
    return ReadingBatch(Source.MODBUS, "gw-secure", "gw-secure/dev-1", readings)


async def _forward_until(config: GatewayConfig, batch: ReadingBatch, done: Any) -> GatewayMetrics:
    """Buffer ``batch`` and run a real forwarder until ``done(metrics, buffer)`` holds."""
    metrics = GatewayMetrics()
    buffer = await ReadingBuffer(config.buffer, metrics).open()
    await buffer.put(batch)
    forwarder = Forwarder(buffer, config.kafka, metrics)
    task = asyncio.create_task(forwarder.run())
    try:
        async with asyncio.timeout(60):
            # The database and the metrics have no event to wait on: poll them.
            while not await done(metrics, buffer):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        forwarder.request_stop()
        await asyncio.wait_for(task, 30)
        await buffer.close()
    return metrics


def _register_meter(db: psycopg.Connection[Any], unique: str) -> str:
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="ent", actor="test")
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=f"E-{unique}",
            enterprise_id=f"e-{unique}",
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
            multiplier=1.0,
            expected_interval_s=900,
            accuracy_class="0.5S",
            accuracy_category="user_class_I",
        ),
    )
    return f"E-{unique}"


async def test_a_gateway_reaches_the_worker_and_the_database_over_sasl_ssl(
    tmp_path: Path,
    listener: SaslSslListener,
    prefix: str,
    database_url: str,
    db: psycopg.Connection[Any],
    unique: str,
) -> None:
    meter = _register_meter(db, unique)
    # The worker reads and writes only through the SASL_SSL listener, as its service user.
    proc, _ = spawn_worker(
        database_url=database_url,
        kafka_bootstrap=listener.bootstrap,
        app_id=f"parkcarbon-secure-{prefix}",
        state=tmp_path,
        PARKCARBON_TOPIC_PREFIX=prefix,
        PARKCARBON_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        PARKCARBON_KAFKA_SSL_CA_FILE=str(listener.ca_file),
        PARKCARBON_KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        PARKCARBON_KAFKA_SASL_USERNAME=SERVICE_USER,
        PARKCARBON_KAFKA_SASL_PASSWORD=listener.passwords[SERVICE_USER].get_secret_value(),
    )
    try:
        password = listener.passwords[GATEWAY_USER].get_secret_value()
        config = load_gateway_config(_gateway_yaml(tmp_path, listener, prefix, password))

        async def stored(metrics: GatewayMetrics, buffer: ReadingBuffer) -> bool:
            rows = db.execute("SELECT count(*) FROM reading WHERE meter_id = %s", (meter,))
            count = rows.fetchone()
            return count is not None and count[0] == 3

        metrics = await _forward_until(config, _batch(meter, [100.0, 101.5, 103.0]), stored)
        assert metrics.value("gateway_forward_readings_total") == 3
        rows = db.execute(
            "SELECT value, quantity FROM reading WHERE meter_id = %s ORDER BY ts", (meter,)
        ).fetchall()
        assert rows == [(100.0, None), (101.5, 1.5), (103.0, 1.5)]
    finally:
        stop_worker(proc)


async def test_a_wrong_password_is_refused_with_the_reason_and_the_batch_stays_buffered(
    tmp_path: Path, listener: SaslSslListener, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ingest.forwarder")
    config = load_gateway_config(_gateway_yaml(tmp_path, listener, prefix, "not-the-password"))

    async def refused(metrics: GatewayMetrics, buffer: ReadingBuffer) -> bool:
        return metrics.value("gateway_forward_errors_total", kind="KafkaConnectionError") > 0

    metrics = await _forward_until(config, _batch("E-wrong", [1.0]), refused)
    assert metrics.value("gateway_forward_batches_total") == 0
    assert metrics.value("gateway_uplink_up") == 0
    [down] = [r.getMessage() for r in caplog.records if "uplink DOWN" in r.getMessage()]
    assert "SaslAuthenticationFailed" in down and "invalid credentials" in down, down
    assert "not-the-password" not in down
    # Nothing is lost: the refused batch waits in the buffer for a corrected password.
    reopened = await ReadingBuffer(config.buffer, GatewayMetrics()).open()
    try:
        assert reopened.depth[:2] == (1, 1)
    finally:
        await reopened.close()


async def test_a_gateway_principal_may_write_its_readings_topic_and_nothing_else(
    listener: SaslSslListener, prefix: str
) -> None:
    gateway = client_kwargs(listener.security(GATEWAY_USER))
    producer = AIOKafkaProducer(
        bootstrap_servers=listener.bootstrap, acks="all", enable_idempotence=True, **gateway
    )
    await producer.start()
    try:
        # Allowed: its readings topic (an empty batch value is quarantined by a worker, if any).
        await producer.send_and_wait(topic_name(Topic.READINGS_RAW, prefix), b"", key=b"gw")
        for other in (Topic.READINGS_VALID, Topic.EMISSIONS_WINDOWS, Topic.ALERTS):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(topic_name(other, prefix), b"forged", key=b"gw")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic_name(Topic.READINGS_RAW, prefix),
        bootstrap_servers=listener.bootstrap,
        group_id=f"gw-reader-{prefix}",
        auto_offset_reset="earliest",
        **client_kwargs(listener.security(GATEWAY_USER)),
    )
    try:
        with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
            await consumer.start()
            async with asyncio.timeout(20):
                await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()

    reader = AIOKafkaConsumer(
        bootstrap_servers=listener.bootstrap,
        group_id=None,
        **client_kwargs(listener.security(GATEWAY_USER)),
    )
    await reader.start()
    try:
        reader.subscribe([topic_name(Topic.READINGS_RAW, prefix)])
        with pytest.raises(TopicAuthorizationFailedError):
            async with asyncio.timeout(20):
                await reader.getmany(timeout_ms=5000)
    finally:
        await reader.stop()


async def test_a_client_that_does_not_trust_the_project_ca_refuses_the_broker(
    tmp_path: Path, listener: SaslSslListener
) -> None:
    password = listener.passwords[GATEWAY_USER]
    other_ca = kafka_tls.make_ca(tmp_path)
    for ca_file in (None, other_ca.cert):  # the system's CAs, or another CA
        security = KafkaSecurity(
            protocol="SASL_SSL", ca_file=ca_file, username=GATEWAY_USER, password=password
        )
        reason = await connect_failure(listener.bootstrap, security, timeout_s=10)
        assert "CERTIFICATE_VERIFY_FAILED" in reason, reason
        producer = AIOKafkaProducer(bootstrap_servers=listener.bootstrap, **client_kwargs(security))
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()
    # The same login with the project CA is accepted: the CA, not the password, was missing.
    trusted = listener.security(GATEWAY_USER, password=SecretStr(password.get_secret_value()))
    assert await connect_failure(listener.bootstrap, trusted, timeout_s=10) == ""
