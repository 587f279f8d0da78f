"""OPC UA collector: one task per server that runs until cancelled and never dies of an error.

Each connection is a fresh asyncua ``Client`` and a fresh :class:`OpcUaSession` (subscriptions,
monitored items and polls are re-created from the config), so a server restart, a dropped link
or a refused login all end the same way: tear down, wait a jittered exponential backoff
(``reconnect_min_s`` doubling up to ``reconnect_max_s``), connect again — without restarting
the gateway. Readings reach the sink as one batch per publish or poll cycle, with per-source
sequence numbers assigned under one lock so they reach the sink in sequence order.

With a signing security policy the server's certificate is checked before anything secret is
sent (OPC UA Part 4 6.1.3): a pinned ``server_certificate`` is the only key the secure channel
accepts, and with a ``trust_list`` the certificate the endpoint presents must be trusted by that
list (directly or through a CA) and within its validity period. An untrusted certificate ends
the attempt before the secure channel opens, so the user name and password never leave; the
collector counts it and retries with the usual backoff (the operator may add the certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.utils import ServiceError
from asyncua.crypto import security_policies
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from contracts.records import MAX_READINGS_PER_BATCH, RawReading, ReadingBatch, Source
from ingest.metrics import GatewayMetrics
from ingest.opcua_config import OpcUaServerConfig
from ingest.opcua_readings import ReadingMaker
from ingest.opcua_session import OpcUaSession
from ingest.sink import ReadingSink, SourceSink

_log = logging.getLogger(__name__)
_HEALTHY_S = 30.0  # a connection that lasted this long resets the backoff
# Trusted (directly or through a CA), not revoked and in its validity period. The application URI
# and key usages are the server's business; trust is what keeps the password from a stranger.
_SERVER_CHECKS = (
    CertificateValidatorOptions.TIME_RANGE
    | CertificateValidatorOptions.TRUSTED
    | CertificateValidatorOptions.REVOKED
    | CertificateValidatorOptions.PEER_SERVER
)


class UntrustedServerCertificate(Exception):  # noqa: N818 - reads as the condition it reports
    """The server presented a certificate the gateway's trust list does not trust."""


def describe_metrics(metrics: GatewayMetrics) -> None:
    for name, kind, text in (
        ("opcua_connected", "gauge", "1 while the OPC UA session is up"),
        ("opcua_notifications_total", "counter", "Data change notifications received"),
        ("opcua_reads_ok_total", "counter", "Polled read cycles that succeeded"),
        ("opcua_reads_failed_total", "counter", "Polled read cycles that failed"),
        ("opcua_reconnects_total", "counter", "Sessions re-established after a loss"),
        ("opcua_connect_failures_total", "counter", "Connection attempts that failed"),
        (
            "opcua_untrusted_certificates_total",
            "counter",
            "Connection attempts refused: the server's certificate is not trusted",
        ),
        ("opcua_bad_status_readings_total", "counter", "Readings flagged BAD (no value)"),
        ("opcua_clock_skew_readings_total", "counter", "Readings whose device clock is off"),
        ("opcua_clock_skew_seconds", "gauge", "Last device clock offset seen beyond threshold"),
        (
            "opcua_timestamp_out_of_range_readings_total",
            "counter",
            "Readings whose device time is beyond timestamp_bound_years (quarantined downstream)",
        ),
        ("opcua_monitored_items", "gauge", "Monitored items currently subscribed"),
        ("opcua_monitored_item_errors_total", "counter", "Monitored items the server refused"),
        ("opcua_sink_errors_total", "counter", "Batches the local buffer failed to take"),
    ):
        metrics.describe(name, kind, text)


def load_certificate(path: Path) -> x509.Certificate:
    """A certificate file in DER or PEM."""
    data = path.read_bytes()
    is_pem = data.startswith(b"-----BEGIN")
    return x509.load_pem_x509_certificate(data) if is_pem else x509.load_der_x509_certificate(data)


def application_uri_of(certificate: Path) -> str | None:
    """The first URI in a certificate's subjectAltName (DER or PEM): the application URI."""
    cert = load_certificate(certificate)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


class OpcUaCollector:
    """Collects one server for one gateway; ``last_seq`` lets the backbone persist the sequence."""

    def __init__(
        self,
        server: OpcUaServerConfig,
        sink: ReadingSink,
        *,
        gateway_id: str,
        metrics: GatewayMetrics,
        first_seq: int = 0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.server = server
        self.source_key = f"{gateway_id}/{server.name}"
        self._gateway_id = gateway_id
        self._sink = SourceSink(sink, metrics, source_key=self.source_key)
        self._metrics = metrics
        self._jitter = jitter
        self._maker = ReadingMaker(
            server_name=server.name,
            metrics=metrics,
            skew_threshold_s=server.clock_skew_threshold_s,
            first_seq=first_seq,
            bound_years=server.timestamp_bound_years,
        )
        self._lock = asyncio.Lock()
        self._sink_failed = asyncio.Event()
        self.sessions = 0  # sessions established so far

    @property
    def last_seq(self) -> int:
        """The sequence number of the last reading handed to the sink (first_seq - 1 if none)."""
        return self._maker.next_seq - 1

    async def run(self) -> None:
        """Connect, collect, and on any loss or error reconnect after a backoff; until cancelled."""
        delay = self.server.reconnect_min_s
        while True:
            started = time.monotonic()
            try:
                await self._one_session()
            except asyncio.CancelledError:
                raise
            except UntrustedServerCertificate as exc:
                self._metrics.inc("opcua_connect_failures_total", server=self.server.name)
                self._metrics.inc("opcua_untrusted_certificates_total", server=self.server.name)
                _log.error(
                    "server %s (%s): refused, credentials not sent: %s",
                    self.server.name,
                    self.server.endpoint,
                    exc,
                )
            except Exception as exc:  # whatever happens, the collector lives on
                self._metrics.inc("opcua_connect_failures_total", server=self.server.name)
                _log.warning("server %s (%s): %r", self.server.name, self.server.endpoint, exc)
            self._metrics.set("opcua_connected", 0, server=self.server.name)
            if time.monotonic() - started > _HEALTHY_S:
                delay = self.server.reconnect_min_s
            # Wait between half and all of the delay, so gateways that lost the same server do
            # not all reconnect in the same instant.
            wait = delay * (0.5 + 0.5 * self._jitter())
            _log.info("server %s: reconnecting in %.1f s", self.server.name, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.server.reconnect_max_s)

    async def _client(self) -> Client:
        config = self.server
        # asyncua probes the server every watchdog interval with that as the probe's timeout;
        # its 1 s default mistakes a busy server for a dead one and forces needless reconnects.
        client = Client(
            config.endpoint,
            timeout=config.request_timeout_s,
            watchdog_intervall=config.request_timeout_s,
        )
        client.name = client.description = f"parkcarbon gateway {self._gateway_id}"
        client.application_uri = f"urn:parkcarbon:gateway:{self._gateway_id}"
        if config.certificate is not None:
            uri = await asyncio.to_thread(application_uri_of, config.certificate)
            client.application_uri = uri or client.application_uri
        if config.username is not None and config.password is not None:
            client.set_user(config.username)
            client.set_password(config.password.get_secret_value())
        if config.security_policy != "None":
            await self._secure(client)
        return client

    async def _secure(self, client: Client) -> None:
        """Set the secure channel up with a server certificate that is pinned or trusted."""
        config = self.server
        assert config.certificate is not None and config.private_key is not None
        policy: type[security_policies.SecurityPolicy] = getattr(
            security_policies, f"SecurityPolicy{config.security_policy}"
        )
        mode = getattr(ua.MessageSecurityMode, config.security_mode)
        # Listing endpoints is the only exchange before the check; it carries nothing secret.
        endpoint = Client.find_endpoint(
            await client.connect_and_get_server_endpoints(), mode, policy.URI
        )
        server_certificate = first_certificate(endpoint.ServerCertificate)
        presented = x509.load_der_x509_certificate(server_certificate)
        if config.server_certificate is not None:
            pinned = await asyncio.to_thread(load_certificate, config.server_certificate)
            if pinned != presented:
                raise UntrustedServerCertificate(
                    f"certificate {_describe(presented)} is not the pinned server_certificate "
                    f"{config.server_certificate}"
                )
        else:
            assert config.trust_list is not None
            validator = await _trust_list_validator(config.trust_list)
            await _validate(validator, presented, endpoint.Server, config.trust_list)
            # CreateSession hands the certificate over again; it is checked again there, before
            # ActivateSession sends the credentials.
            client.certificate_validator = validator
        # The channel is opened to this key only, and asyncua refuses a different certificate in
        # CreateSession: a server that swapped certificates after the check gets nothing either.
        await client.set_security(
            policy,
            str(config.certificate),
            str(config.private_key),
            server_certificate=server_certificate,
            mode=mode,
        )

    async def _one_session(self) -> None:
        client = await self._client()
        client_lost = asyncio.Event()

        async def on_lost(exc: Exception) -> None:
            _log.warning("server %s: connection lost: %r", self.server.name, exc)
            client_lost.set()

        client.connection_lost_callback = on_lost
        self._sink_failed.clear()
        tasks: list[asyncio.Task[None]] = []
        connected = False
        try:
            await client.connect()
            connected = True
            session = OpcUaSession(client, self.server, self._maker, self._emit, self._metrics)
            tasks = await session.start()
            self.sessions += 1
            if self.sessions > 1:
                self._metrics.inc("opcua_reconnects_total", server=self.server.name)
            self._metrics.set("opcua_connected", 1, server=self.server.name)
            _log.info(
                "server %s: session up (%d points)", self.server.name, len(self.server.points)
            )
            ends = (session.lost, client_lost, self._sink_failed)
            tasks.extend(asyncio.create_task(_wait(event)) for event in ends)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    _log.error("server %s: task failed: %r", self.server.name, task.exception())
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if connected:
                with contextlib.suppress(Exception):
                    # A dead server would hold CloseSession for a full request timeout.
                    await asyncio.wait_for(client.disconnect(), timeout=1.0)
            with contextlib.suppress(Exception):
                client.disconnect_socket()
        _log.warning("server %s: session ended", self.server.name)

    async def _emit(self, build: Callable[[], list[RawReading]]) -> None:
        """Number and hand over readings under one lock: sink order equals sequence order."""
        async with self._lock:
            readings = build()
            refused = False
            for start in range(0, len(readings), MAX_READINGS_PER_BATCH):
                chunk = tuple(readings[start : start + MAX_READINGS_PER_BATCH])
                batch = ReadingBatch(Source.OPCUA, self._gateway_id, self.source_key, chunk)
                # Counted and logged (once per episode) by the SourceSink.
                refused |= not await self._sink.put(batch)
            if refused:
                # Resubscribing makes the server send every current value again.
                self._metrics.inc("opcua_sink_errors_total", server=self.server.name)
                self._sink_failed.set()


def first_certificate(chain: bytes | None) -> bytes:
    """The first DER certificate of an endpoint's ServerCertificate, which may be a chain of
    concatenated DER certificates (OPC UA Part 6 6.2.3)."""
    if not chain or len(chain) < 2 or chain[0] != 0x30:
        raise UntrustedServerCertificate("the endpoint presents no DER certificate")
    # DER SEQUENCE: tag, then a short length (< 0x80) or 0x80 + the count of length bytes.
    if chain[1] < 0x80:
        end = 2 + chain[1]
    else:
        count = chain[1] & 0x7F
        end = 2 + count + int.from_bytes(chain[2 : 2 + count], "big")
    if end > len(chain):
        raise UntrustedServerCertificate("the endpoint's certificate is truncated")
    return chain[:end]


async def _trust_list_validator(directory: Path) -> CertificateValidator:
    if not await asyncio.to_thread(directory.is_dir):
        raise UntrustedServerCertificate(f"trust_list {directory} is not a readable directory")
    store = TrustStore([directory], [])
    await store.load()
    return CertificateValidator(_SERVER_CHECKS, store)


async def _validate(
    validator: CertificateValidator,
    certificate: x509.Certificate,
    server: ua.ApplicationDescription,
    trust_list: Path,
) -> None:
    try:
        await validator.validate(certificate, server)
    except ServiceError as exc:
        status = ua.StatusCode(ua.UInt32(exc.code))
        raise UntrustedServerCertificate(
            f"certificate {_describe(certificate)} fails {status.name} against "
            f"trust_list {trust_list}"
        ) from exc


def _describe(certificate: x509.Certificate) -> str:
    """Subject and SHA-256 fingerprint: what an operator compares before trusting a server."""
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
    return f"{certificate.subject.rfc4514_string()} (SHA-256 {fingerprint})"


async def _wait(event: asyncio.Event) -> None:
    await event.wait()


async def run_opcua_collector(
    server: OpcUaServerConfig,
    sink: ReadingSink,
    *,
    gateway_id: str,
    metrics: GatewayMetrics,
    first_seq: int = 0,
) -> None:
    """Collect ``server`` into ``sink`` until cancelled (see :class:`OpcUaCollector`)."""
    describe_metrics(metrics)
    await OpcUaCollector(
        server, sink, gateway_id=gateway_id, metrics=metrics, first_seq=first_seq
    ).run()
