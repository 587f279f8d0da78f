"""One connected OPC UA session: subscriptions, polled reads, and one batch per publish.

Requests are chunked to the server's OperationLimits (Part 5 6.3.11: MaxMonitoredItemsPerCall,
MaxNodesPerRead); a server that still answers BadTooManyOperations gets half-size chunks. The
publish callback turns one PublishResponse into one ReadingBatch and awaits the durable sink
before asyncua acknowledges the notification, so an unacknowledged publish is the server's to
resend. Anything that means the connection is gone (a bad StatusChangeNotification, a read that
times out, a stale keep-alive) sets ``lost``; the collector then rebuilds the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from contracts.records import RawReading
from ingest.metrics import GatewayMetrics
from ingest.opcua_config import OpcUaPoint, OpcUaServerConfig
from ingest.opcua_readings import ReadingMaker

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_R = TypeVar("_R")
# Takes a builder so the collector can number readings and store them in one critical section.
Emit = Callable[[Callable[[], list[RawReading]]], Awaitable[None]]
# Used when the server does not advertise a limit (absent, unreadable or 0 = "no limit"):
# large enough for speed, small enough for any server's message size.
DEFAULT_CHUNK = 1000
_KEEPALIVE_S = 5.0  # the server publishes at least this often, so silence means trouble
_VALUE = ua.IntegerId(AttributeIds.Value)


async def read_operation_limits(client: Client) -> tuple[int, int]:
    """(MaxNodesPerRead, MaxMonitoredItemsPerCall), each defaulted when not advertised."""
    ids = (
        ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
        ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
    )
    params = ua.ReadParameters()
    params.NodesToRead = [ua.ReadValueId(ua.NodeId.from_string(f"i={i}"), _VALUE) for i in ids]
    try:
        results = await client.uaclient.read(params)
    except UaStatusCodeError:
        return DEFAULT_CHUNK, DEFAULT_CHUNK
    limits = []
    for data in results:
        good = data.StatusCode is not None and data.StatusCode.is_good()
        value = data.Value.Value if good and data.Value is not None else None
        limits.append(value if isinstance(value, int) and value > 0 else DEFAULT_CHUNK)
    return limits[0], limits[1]


async def call_in_chunks(
    items: Sequence[_T], size: int, call: Callable[[list[_T]], Awaitable[list[_R]]]
) -> list[_R]:
    """``call`` on slices of at most ``size`` items, halving on BadTooManyOperations."""
    results: list[_R] = []
    start = 0
    while start < len(items):
        chunk = list(items[start : start + size])
        try:
            results.extend(await call(chunk))
        except UaStatusCodeError as exc:
            if exc.code != StatusCodes.BadTooManyOperations or size == 1:
                raise
            size = max(1, size // 2)
            _log.warning(
                "server refused %d operations per call; retrying with %d", len(chunk), size
            )
            continue
        start += len(chunk)
    return results


class OpcUaSession:
    """Subscriptions and polls of one server over one connected client."""

    def __init__(
        self,
        client: Client,
        config: OpcUaServerConfig,
        maker: ReadingMaker,
        emit: Emit,
        metrics: GatewayMetrics,
    ) -> None:
        self._client = client
        self._config = config
        self._maker = maker
        self._emit = emit
        self._metrics = metrics
        self._handles: dict[int, OpcUaPoint] = {}
        self._last_publish = time.monotonic()
        self.lost = asyncio.Event()
        self.max_read = DEFAULT_CHUNK
        self.max_items = DEFAULT_CHUNK

    async def start(self) -> list[asyncio.Task[None]]:
        """Create subscriptions and return the poll and watchdog tasks (caller owns them)."""
        self.max_read, self.max_items = await read_operation_limits(self._client)
        groups: dict[float, list[OpcUaPoint]] = {}
        polls: dict[float, list[OpcUaPoint]] = {}
        for point in self._config.points:
            if point.subscription is not None:
                groups.setdefault(point.subscription.publishing_interval_ms, []).append(point)
            elif point.poll_interval_s is not None:
                polls.setdefault(point.poll_interval_s, []).append(point)
        for interval_ms, points in groups.items():
            await self._subscribe(interval_ms, points)
        self._metrics.set("opcua_monitored_items", len(self._handles), server=self._config.name)
        tasks = [asyncio.create_task(self._poll(s, p)) for s, p in polls.items()]
        if groups:
            tasks.append(asyncio.create_task(self._watch_keepalive()))
        return tasks

    async def _subscribe(self, interval_ms: float, points: list[OpcUaPoint]) -> None:
        keepalive_count = max(1, int(_KEEPALIVE_S * 1000 / interval_ms))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=interval_ms,
            # Part 4 5.13.2: lifetime at least 3 keep-alives; 10 rides out a short outage.
            RequestedLifetimeCount=10 * keepalive_count,
            RequestedMaxKeepAliveCount=keepalive_count,
            MaxNotificationsPerPublish=10_000,  # the wire contract's batch limit
            PublishingEnabled=True,
        )
        result = await self._client.uaclient.create_subscription(params, self._on_publish)
        requests = []
        for point in points:
            handle = len(self._handles) + 1
            self._handles[handle] = point
            requests.append(self._item_request(point, handle))

        async def create(chunk: list[ua.MonitoredItemCreateRequest]) -> list[Any]:
            created = ua.CreateMonitoredItemsParameters(
                SubscriptionId=result.SubscriptionId,
                ItemsToCreate=chunk,
                TimestampsToReturn=ua.TimestampsToReturn.Both,
            )
            return list(await self._client.uaclient.create_monitored_items(created))

        outcomes = await call_in_chunks(requests, self.max_items, create)
        for request, outcome in zip(requests, outcomes, strict=True):
            if not outcome.StatusCode.is_good():
                point = self._handles.pop(request.RequestedParameters.ClientHandle)
                self._metrics.inc("opcua_monitored_item_errors_total", server=self._config.name)
                _log.error(
                    "server %s refused monitored item %s (meter %s): %s",
                    self._config.name,
                    point.node_id,
                    point.meter_id,
                    outcome.StatusCode,
                )

    def _item_request(self, point: OpcUaPoint, handle: int) -> ua.MonitoredItemCreateRequest:
        assert point.subscription is not None
        settings = point.subscription
        parameters = ua.MonitoringParameters(
            ClientHandle=handle,
            SamplingInterval=settings.sampling_interval_ms,
            QueueSize=10,  # keep changes between publishes, not only the latest
            DiscardOldest=True,
        )
        if settings.deadband_abs is not None:
            parameters.Filter = ua.DataChangeFilter(
                Trigger=ua.DataChangeTrigger.StatusValue,
                DeadbandType=ua.DeadbandType.Absolute,
                DeadbandValue=settings.deadband_abs,
            )
        return ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(ua.NodeId.from_string(point.node_id), _VALUE),
            MonitoringMode=ua.MonitoringMode.Reporting,
            RequestedParameters=parameters,
        )

    async def _on_publish(self, result: ua.PublishResult) -> None:
        self._last_publish = time.monotonic()
        items: list[tuple[OpcUaPoint, ua.DataValue]] = []
        for data in result.NotificationMessage.NotificationData or []:
            if isinstance(data, ua.StatusChangeNotification):
                if not data.Status.is_good():
                    _log.warning("server %s subscription status %s", self._config.name, data.Status)
                    self.lost.set()
            elif isinstance(data, ua.DataChangeNotification):
                for item in data.MonitoredItems:
                    point = self._handles.get(item.ClientHandle)
                    if point is not None:
                        items.append((point, item.Value))
        if items:
            self._metrics.inc("opcua_notifications_total", len(items), server=self._config.name)
            await self._emit(self._builder(items))

    def _builder(
        self, items: list[tuple[OpcUaPoint, ua.DataValue]]
    ) -> Callable[[], list[RawReading]]:
        received_ms = int(time.time() * 1000)
        return lambda: [self._maker.reading(point, data, received_ms) for point, data in items]

    async def _poll(self, interval_s: float, points: list[OpcUaPoint]) -> None:
        node_ids = [ua.NodeId.from_string(p.node_id) for p in points]

        async def read(chunk: list[ua.NodeId]) -> list[ua.DataValue]:
            params = ua.ReadParameters(TimestampsToReturn=ua.TimestampsToReturn.Both)
            params.NodesToRead = [ua.ReadValueId(n, _VALUE) for n in chunk]
            return await self._client.uaclient.read(params)

        next_at = time.monotonic()
        while not self.lost.is_set():
            try:
                results = await call_in_chunks(node_ids, self.max_read, read)
            except (OSError, TimeoutError, ConnectionError, UaError) as exc:
                self._metrics.inc("opcua_reads_failed_total", server=self._config.name)
                _log.warning("server %s: polled read failed: %r", self._config.name, exc)
                self.lost.set()
                return
            self._metrics.inc("opcua_reads_ok_total", server=self._config.name)
            await self._emit(self._builder(list(zip(points, results, strict=True))))
            next_at += interval_s
            now = time.monotonic()
            if next_at < now:  # overran: skip the missed cycles instead of bursting
                next_at = now + interval_s
            await asyncio.sleep(next_at - now)

    async def _watch_keepalive(self) -> None:
        # The server sends a publish (data or keep-alive) at least every _KEEPALIVE_S; three
        # missed ones mean the subscription or the connection is gone.
        limit = 3 * _KEEPALIVE_S + self._config.request_timeout_s
        while not self.lost.is_set():
            await asyncio.sleep(1.0)
            if time.monotonic() - self._last_publish > limit:
                _log.warning("server %s: no publish for %.0f s", self._config.name, limit)
                self.lost.set()
