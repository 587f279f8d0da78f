"""MQTT collector: one task per broker, QoS 1 in a persistent session, acknowledged after commit.

paho-mqtt 2 runs the connection in its own thread with ``manual_ack``: a QoS 1 PUBLISH is not
acknowledged when it arrives but handed to this task, which maps it to readings, commits them to
the buffer and only then sends the PUBACK (MQTT 5.0 4.3.2, 3.1.1 4.3.2: the broker keeps the
message until then and re-sends it, DUP set, when the session resumes). So a gateway killed
between receiving and committing loses nothing: the broker redelivers. A gateway killed between
committing and acknowledging sends the readings twice; they keep the message's own time, and
the stream recognises a reading by (meter, time), so each is stored once.

Each connection is a fresh paho client under the same client id with ``clean_start``/
``clean_session`` false (the broker keeps the subscriptions and queues QoS 1 messages while the
gateway is away); a lost connection, a refused login or a buffer that refuses a batch all end
the same way: tear down without acknowledging what is not committed, wait a jittered exponential
backoff, connect again. Acknowledgements go back only on the connection that delivered the
message, so a packet id reused by a later connection is never acknowledged by mistake;
PUBACKs are sent in the order the messages arrived (MQTT 3.1.1 4.6).

A malformed payload is counted (``gateway_mqtt_malformed_total``) and logged with its topic,
size, SHA-256 digest and reason, then acknowledged: left unacknowledged, it would hold one of
the broker's in-flight slots for the session forever and come back on every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from contracts.records import MAX_READINGS_PER_BATCH, Quality, RawReading, ReadingBatch, Source
from ingest.metrics import GatewayMetrics
from ingest.mqtt_config import MqttBrokerConfig
from ingest.mqtt_formats import Decoded, MalformedPayloadError, PointIndex, PointValue, matching
from ingest.sink import ReadingSink, SourceSink

_log = logging.getLogger(__name__)
_HEALTHY_S = 30.0  # a connection that lasted this long resets the backoff
_LOG_EVERY_S = 60.0  # repeated problems from one topic or origin are logged once a minute
_MAX_REMEMBERED = 1_000  # origins and topics remembered for log throttling


def describe_metrics(metrics: GatewayMetrics) -> None:
    for name, kind, text in (
        ("gateway_mqtt_connected", "gauge", "1 while the broker connection is up."),
        ("gateway_mqtt_connects_total", "counter", "Connection attempts by result."),
        ("gateway_mqtt_reconnects_total", "counter", "Connections re-established after a loss."),
        ("gateway_mqtt_sessions_resumed_total", "counter", "Connects that found the session."),
        (
            "gateway_mqtt_sessions_lost_total",
            "counter",
            "Reconnects whose session the broker no longer had (messages may be lost there).",
        ),
        ("gateway_mqtt_subscribe_failures_total", "counter", "Subscriptions refused or QoS 0."),
        ("gateway_mqtt_messages_total", "counter", "Messages received."),
        ("gateway_mqtt_redelivered_total", "counter", "Messages received again (DUP set)."),
        ("gateway_mqtt_malformed_total", "counter", "Messages whose payload could not be read."),
        ("gateway_mqtt_unmapped_values_total", "counter", "Values no configured point maps."),
        ("gateway_mqtt_readings_total", "counter", "Readings committed to the buffer."),
        ("gateway_mqtt_bad_readings_total", "counter", "Readings flagged BAD (no value)."),
        ("gateway_mqtt_acks_total", "counter", "Messages acknowledged after their commit."),
        ("gateway_mqtt_sink_errors_total", "counter", "Batches the buffer refused (not acked)."),
    ):
        metrics.describe(name, kind, text)


@dataclass(frozen=True, slots=True)
class _Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    dup: bool


class _Connection:
    """One paho client and its network thread; callbacks cross to the event loop."""

    def __init__(self, broker: MqttBrokerConfig, client_id: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue[_Received] = asyncio.Queue()
        self.lost = asyncio.Event()
        self.connack: asyncio.Future[tuple[ReasonCode, bool]] = self.loop.create_future()
        self.suback: asyncio.Future[list[ReasonCode]] = self.loop.create_future()
        v5 = broker.protocol == "5"
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
            reconnect_on_failure=False,
        )
        self.client.connect_timeout = broker.connect_timeout_s
        if broker.username is not None and broker.password is not None:
            self.client.username_pw_set(broker.username, broker.password.get_secret_value())
        if broker.tls is not None:
            self.client.tls_set(
                ca_certs=str(broker.tls.ca_file) if broker.tls.ca_file else None,
                certfile=str(broker.tls.cert_file) if broker.tls.cert_file else None,
                keyfile=str(broker.tls.key_file) if broker.tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _call(self, func: Callable[..., Any], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing: nothing to tell
            self.loop.call_soon_threadsafe(func, *args)

    def _resolve(self, future: asyncio.Future[Any], value: Any) -> None:
        if not future.done():
            future.set_result(value)

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:
        self._call(self._resolve, self.connack, (reason, bool(flags.session_present)))

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._call(self._resolve, self.connack, (reason, False))
        self._call(self.lost.set)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any) -> None:
        self._call(self._resolve, self.suback, list(codes))

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        received = _Received(
            message.topic, bytes(message.payload), message.mid, message.qos, bool(message.dup)
        )
        self._call(self.inbox.put_nowait, received)

    async def open(self, broker: MqttBrokerConfig) -> bool:
        """Connect; the CONNACK's session-present flag. Raises ConnectionError when refused."""
        properties = None
        if broker.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = broker.session_expiry_s
        await asyncio.to_thread(
            self.client.connect,
            broker.host,
            broker.port,
            broker.keepalive_s,
            clean_start=False if broker.protocol == "5" else paho.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self.client.loop_start()
        async with asyncio.timeout(broker.connect_timeout_s):
            reason, present = await self.connack
        if reason.is_failure or self.lost.is_set():
            raise ConnectionError(f"broker refused the connection: {reason}")
        return present

    async def subscribe(self, broker: MqttBrokerConfig) -> list[ReasonCode]:
        # retainHandling 1: a retained message is sent only when the subscription is new, so a
        # resumed session is not handed the same retained value on every reconnect (MQTT 5).
        topics: list[tuple[str, Any]] = [
            (s.topic, SubscribeOptions(qos=1, retainHandling=1) if broker.protocol == "5" else 1)
            for s in broker.subscriptions
        ]
        result, _ = self.client.subscribe(topics)
        if result != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"subscribe failed: {paho.error_string(result)}")
        async with asyncio.timeout(broker.connect_timeout_s):
            return await self.suback

    def ack(self, message: _Received) -> None:
        if message.qos > 0:
            self.client.ack(message.mid, message.qos)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)


class MqttCollector:
    """Subscribes to one broker for one gateway; ``last_seq`` for tests of sequence numbering."""

    def __init__(
        self,
        broker: MqttBrokerConfig,
        sink: ReadingSink,
        *,
        gateway_id: str,
        metrics: GatewayMetrics,
        first_seq: int = 0,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.broker = broker
        self.source_key = f"{gateway_id}/{broker.name}"
        self.client_id = broker.session_client_id(gateway_id)
        self._gateway_id = gateway_id
        self._sink = SourceSink(sink, metrics, source_key=self.source_key)
        self._metrics = metrics
        self._jitter = jitter
        self._clock = clock
        self._indexes = [PointIndex(s) for s in broker.subscriptions]
        self._next_seq = first_seq
        self._labels = {"broker": broker.name}
        self._logged: dict[str, float] = {}  # topic or origin -> when last logged
        self.sessions = 0  # connections established so far

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    async def run(self) -> None:
        """Connect, collect, and on any loss or error reconnect after a backoff; until cancelled."""
        delay = self.broker.reconnect_min_s
        name = self.broker.name
        while True:
            started = self._clock()
            try:
                await self._one_connection()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever happens, the collector lives on
                _log.warning("broker %s (%s:%d): %r", name, self.broker.host, self.broker.port, exc)
            self._metrics.set("gateway_mqtt_connected", 0, **self._labels)
            if self._clock() - started > _HEALTHY_S:
                delay = self.broker.reconnect_min_s
            # Between half and all of the delay: gateways that lost one broker spread out.
            wait = delay * (0.5 + 0.5 * self._jitter())
            _log.info("broker %s: reconnecting in %.1f s", name, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.broker.reconnect_max_s)

    async def _one_connection(self) -> None:
        connection = _Connection(self.broker, self.client_id)
        try:
            try:
                present = await connection.open(self.broker)
            except BaseException:
                self._inc("gateway_mqtt_connects_total", result="failed")
                raise
            self._inc("gateway_mqtt_connects_total", result="ok")
            self._on_session(present)
            self._check_suback(await connection.subscribe(self.broker))
            self._metrics.set("gateway_mqtt_connected", 1, **self._labels)
            _log.info(
                "broker %s: connected as %s (%s session), %d subscriptions",
                self.broker.name,
                self.client_id,
                "resumed" if present else "new",
                len(self.broker.subscriptions),
            )
            await self._consume(connection)
        finally:
            await connection.close()
        _log.warning("broker %s: connection ended", self.broker.name)

    def _on_session(self, present: bool) -> None:
        self.sessions += 1
        if self.sessions > 1:
            self._inc("gateway_mqtt_reconnects_total")
        if present:
            self._inc("gateway_mqtt_sessions_resumed_total")
        elif self.sessions > 1:
            # The broker expired the session or restarted without persistence: whatever was
            # published for this gateway meanwhile is gone at the broker, not here.
            self._inc("gateway_mqtt_sessions_lost_total")
            _log.error(
                "broker %s: the broker no longer had session %s; messages published while "
                "the gateway was away may be lost at the broker (check its persistence and "
                "session expiry)",
                self.broker.name,
                self.client_id,
            )

    def _check_suback(self, codes: list[ReasonCode]) -> None:
        for sub, code in zip(self.broker.subscriptions, codes, strict=False):
            if code.is_failure or code.value != 1:
                self._inc("gateway_mqtt_subscribe_failures_total")
                _log.error(
                    "broker %s: subscription %s granted %s, not QoS 1: its messages are %s",
                    self.broker.name,
                    sub.topic,
                    code,
                    "not delivered" if code.is_failure else "not kept while the gateway is away",
                )

    async def _consume(self, connection: _Connection) -> None:
        lost = asyncio.create_task(connection.lost.wait())
        try:
            while True:
                get = asyncio.create_task(connection.inbox.get())
                done, _ = await asyncio.wait({get, lost}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    return
                group = [get.result()]
                while len(group) < self.broker.max_batch_messages and not connection.inbox.empty():
                    group.append(connection.inbox.get_nowait())
                if not await self._commit(group):
                    # Nothing of this group is acknowledged: the broker re-sends it on the
                    # next connection, when the buffer may take it again.
                    self._inc("gateway_mqtt_sink_errors_total")
                    return
                for message in group:
                    connection.ack(message)
                self._metrics.inc("gateway_mqtt_acks_total", len(group), **self._labels)
        finally:
            lost.cancel()

    async def _commit(self, group: list[_Received]) -> bool:
        """Map a group of messages to readings and commit them; True once all are durable."""
        values: list[PointValue] = []
        for message in group:
            self._inc("gateway_mqtt_messages_total")
            if message.dup:
                self._inc("gateway_mqtt_redelivered_total")
            values += self._decode(message)
        readings = [self._reading(v) for v in values]
        for start in range(0, len(readings), MAX_READINGS_PER_BATCH):
            chunk = tuple(readings[start : start + MAX_READINGS_PER_BATCH])
            batch = ReadingBatch(Source.MQTT, self._gateway_id, self.source_key, chunk)
            if not await self._sink.put(batch):  # counted and logged by the SourceSink
                return False
        self._metrics.inc("gateway_mqtt_readings_total", len(readings), **self._labels)
        return True

    def _decode(self, message: _Received) -> list[PointValue]:
        index = next(matching(self._indexes, message.topic), None)
        if index is None:  # a retained or queued message of a filter no longer configured
            self._inc("gateway_mqtt_unmapped_values_total")
            return []
        try:
            decoded = index.decode(message.topic, message.payload)
        except MalformedPayloadError as exc:
            self._malformed(message, str(exc))
            return []
        self._unmapped(decoded)
        for value in decoded.values:
            if value.quality is Quality.BAD:
                self._inc("gateway_mqtt_bad_readings_total")
                if self._due(f"bad:{value.point.meter_id}"):
                    _log.warning(
                        "broker %s: meter %s (%s) read failed: %s; kept as a BAD reading",
                        self.broker.name,
                        value.point.meter_id,
                        decoded.origin,
                        value.problem,
                    )
        return decoded.values

    def _malformed(self, message: _Received, reason: str) -> None:
        self._inc("gateway_mqtt_malformed_total")
        if self._due(f"malformed:{message.topic}"):
            _log.error(
                "broker %s: malformed payload on topic %s (%d bytes, sha256 %s): %s; "
                "acknowledged and not forwarded",
                self.broker.name,
                message.topic,
                len(message.payload),
                hashlib.sha256(message.payload).hexdigest(),
                reason,
            )

    def _unmapped(self, decoded: Decoded) -> None:
        if decoded.unmapped:
            n = decoded.unmapped
            self._inc("gateway_mqtt_unmapped_values_total", n)
            if self._due(f"unmapped:{decoded.origin}"):
                _log.info(
                    "broker %s: %d values from %s map to no meter (not in the config)",
                    self.broker.name,
                    decoded.unmapped,
                    decoded.origin,
                )

    def _inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._metrics.inc(name, amount, broker=self.broker.name, **labels)

    def _due(self, what: str) -> bool:
        """Whether to log ``what`` now: once per minute per topic or origin (counters count all)."""
        now = self._clock()
        last = self._logged.get(what)
        if last is not None and now - last < _LOG_EVERY_S:
            return False
        if len(self._logged) >= _MAX_REMEMBERED:
            self._logged.clear()
        self._logged[what] = now
        return True

    def _reading(self, value: PointValue) -> RawReading:
        seq = self._next_seq
        self._next_seq += 1
        point = value.point
        return RawReading(point.meter_id, value.ts_ms, value.value, point.unit, seq, value.quality)


async def run_mqtt_collector(
    broker: MqttBrokerConfig,
    sink: ReadingSink,
    *,
    gateway_id: str,
    metrics: GatewayMetrics,
    first_seq: int = 0,
) -> None:
    """Collect ``broker`` into ``sink`` until cancelled (see :class:`MqttCollector`)."""
    describe_metrics(metrics)
    await MqttCollector(
        broker, sink, gateway_id=gateway_id, metrics=metrics, first_seq=first_seq
    ).run()
