"""The gateway runner: buffer, forwarder, one task per Modbus device, Modbus line (all its unit
ids), OPC UA server, DL/T 645 line and MQTT broker, metrics.

Startup order is "fail before anything runs": the config is validated whole by the caller, then
the metrics port is bound and the buffer opened; only then do the collectors start, staggered
across their poll interval so a thousand devices are not polled in the same millisecond. Every
task runs under a supervisor that logs, counts and restarts it if it ever ends with an error.
SIGTERM or SIGINT stops the collectors, then the forwarder, then closes the buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from collections.abc import Awaitable, Callable

from ingest.buffer import ReadingBuffer
from ingest.config import GatewayConfig
from ingest.dlt645 import run_dlt645_collector
from ingest.forwarder import Forwarder
from ingest.iec104 import run_iec104_collector
from ingest.metrics import GatewayMetrics
from ingest.modbus import run_modbus_collector
from ingest.modbus_line import run_modbus_line

log = logging.getLogger(__name__)
RESTART_DELAY_S = 5.0

_HELP = {
    "gateway_modbus_reads_total": ("counter", "Block reads by device and result."),
    "gateway_modbus_exceptions_total": ("counter", "Modbus exception responses by code."),
    "gateway_modbus_connected": ("gauge", "1 while the device's TCP connection is up."),
    "gateway_modbus_connects_total": ("counter", "Connection attempts by result."),
    "gateway_modbus_reconnects_total": ("counter", "Connections re-established after a loss."),
    "gateway_modbus_cycles_total": ("counter", "Poll cycles; on_time=true if complete in time."),
    "gateway_modbus_cycles_missed_total": ("counter", "Poll slots skipped after an overrun."),
    "gateway_modbus_points_total": ("counter", "Readings produced by Modbus polling."),
    "gateway_modbus_read_seconds_bucket": ("counter", "Read latency histogram buckets."),
    "gateway_modbus_crc_errors_total": ("counter", "RTU responses with a wrong CRC, by line."),
    "gateway_modbus_unit_up": ("gauge", "0 while a unit id on a line is backed off."),
    "gateway_modbus_line_busy_seconds_total": ("counter", "Time a line spent in requests."),
    "gateway_modbus_line_requests_total": ("counter", "Requests sent on a line."),
    "gateway_dlt645_reads_total": (
        "counter",
        "DL/T 645 reads by line, meter address and result (ok, timeout, checksum,"
        " error, malformed).",
    ),
    "gateway_dlt645_error_replies_total": ("counter", "D1H abnormal replies by error bits."),
    "gateway_dlt645_frames_ignored_total": (
        "counter",
        "Frames skipped: another address, a request echo, or a reply to no pending request.",
    ),
    "gateway_dlt645_meter_up": ("gauge", "1 while the meter answers, 0 while backing off."),
    "gateway_dlt645_meter_skips_total": ("counter", "Meter polls skipped during its backoff."),
    "gateway_dlt645_connected": ("gauge", "1 while the line's port or connection is open."),
    "gateway_dlt645_connects_total": ("counter", "Line open attempts by result."),
    "gateway_dlt645_reconnects_total": ("counter", "Lines reopened after a loss."),
    "gateway_dlt645_cycles_total": ("counter", "Line poll cycles; on_time=true if complete."),
    "gateway_dlt645_cycles_missed_total": ("counter", "Line poll slots skipped after an overrun."),
    "gateway_dlt645_points_total": ("counter", "Readings produced by DL/T 645 polling."),
    "gateway_dlt645_rollovers_total": ("counter", "Energy registers seen wrapping past 0."),
    "gateway_dlt645_backward_steps_total": ("counter", "Energy registers seen going back."),
    "gateway_dlt645_errors_total": ("counter", "Unexpected errors in a line's poll cycle."),
    "gateway_buffer_batches": ("gauge", "Batches waiting in the store-and-forward buffer."),
    "gateway_buffer_readings": ("gauge", "Readings waiting in the buffer."),
    "gateway_buffer_bytes": ("gauge", "Payload bytes waiting in the buffer."),
    "gateway_buffer_oldest_age_seconds": ("gauge", "Age of the oldest waiting batch."),
    "gateway_buffer_full": ("gauge", "1 while the buffer is at its size limit."),
    "gateway_buffer_dropped_batches_total": ("counter", "Batches dropped by the full policy."),
    "gateway_buffer_dropped_readings_total": ("counter", "Readings dropped by the full policy."),
    "gateway_buffer_write_errors_total": ("counter", "Batches refused: the buffer write failed."),
    "gateway_buffer_write_error_readings_total": ("counter", "Readings in refused batches."),
    "gateway_buffer_write_failing": ("gauge", "1 while buffer writes fail (disk full, I/O)."),
    "gateway_unbuffered_batches_total": ("counter", "Batches a source could not buffer."),
    "gateway_unbuffered_readings_total": ("counter", "Readings a source could not buffer."),
    "gateway_buffer_dead_batches": ("gauge", "Batches moved aside as undeliverable."),
    "gateway_buffer_dead_total": ("counter", "Batches moved aside as undeliverable."),
    "gateway_forward_split_total": ("counter", "Batches sent as several size-bound messages."),
    "gateway_forward_batches_total": ("counter", "Batches acknowledged by Kafka."),
    "gateway_forward_readings_total": ("counter", "Readings acknowledged by Kafka."),
    "gateway_forward_errors_total": ("counter", "Failed forwarding attempts by error kind."),
    "gateway_uplink_up": ("gauge", "1 while Kafka acknowledges batches."),
    "gateway_iec104_connected": ("gauge", "1 while an IEC 104 session is open or opening."),
    "gateway_iec104_reconnects_total": ("counter", "IEC 104 sessions closed and reopened."),
    "gateway_iec104_asdus_total": ("counter", "Metering ASDUs received, by type id."),
    "gateway_iec104_points_total": ("counter", "Readings produced from IEC 104 objects."),
    "gateway_iec104_invalid_objects_total": (
        "counter",
        "Objects with IV or an invalid time tag (BAD readings).",
    ),
    "gateway_iec104_unmapped_objects_total": ("counter", "Objects of IOAs no point maps."),
    "gateway_iec104_foreign_asdus_total": ("counter", "ASDUs of another common address."),
    "gateway_task_restarts_total": ("counter", "Collector tasks restarted after an error."),
}


async def _supervised(
    name: str, start: Callable[[], Awaitable[None]], metrics: GatewayMetrics
) -> None:
    """Run ``start()`` forever: collectors are meant never to end, so an end is a restart."""
    while True:
        try:
            await start()
            log.error("task %s ended unexpectedly; restarting in %.0f s", name, RESTART_DELAY_S)
        except Exception:
            log.exception("task %s failed; restarting in %.0f s", name, RESTART_DELAY_S)
        metrics.inc("gateway_task_restarts_total", task=name)
        await asyncio.sleep(RESTART_DELAY_S)


async def serve_metrics(metrics: GatewayMetrics, host: str, port: int) -> asyncio.Server:
    """A minimal HTTP/1.0 server: GET /metrics (Prometheus text) and GET /healthz."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5.0):
                request = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else ""
            if path == "/metrics":
                status, body = "200 OK", metrics.render()
            elif path == "/healthz":
                status, body = "200 OK", "ok\n"
            else:
                status, body = "404 Not Found", "not found\n"
            data = body.encode()
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, OSError, UnicodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


async def run_gateway(config: GatewayConfig, *, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGTERM/SIGINT arrive when no event is given)."""
    stop = stop or _signal_event()
    metrics = GatewayMetrics()
    for name, (kind, text) in _HELP.items():
        metrics.describe(name, kind, text)
    server = await serve_metrics(metrics, config.metrics.host, config.metrics.port)
    port = server.sockets[0].getsockname()[1]
    buffer = await ReadingBuffer(config.buffer, metrics).open()
    gid = config.gateway_id
    tasks: list[asyncio.Task[None]] = []
    forwarder: Forwarder | None = None
    try:
        forwarder = Forwarder(buffer, config.kafka, metrics)
        tasks.append(asyncio.create_task(forwarder.run(), name="forwarder"))
        devices = config.modbus_devices
        for i, device in enumerate(devices):
            start = functools.partial(
                run_modbus_collector,
                device,
                buffer,
                gateway_id=gid,
                metrics=metrics,
                first_seq=await buffer.next_seq(f"{gid}/{device.name}"),
                start_delay_s=device.poll_interval_s * i / len(devices),
            )
            tasks.append(asyncio.create_task(_supervised(device.name, start, metrics)))
        for line in config.modbus_lines:
            keys = [f"{gid}/{d.name}" for d in line.devices]
            start = functools.partial(
                run_modbus_line,
                line,
                buffer,
                gateway_id=gid,
                metrics=metrics,
                first_seqs={k: await buffer.next_seq(k) for k in keys},
            )
            tasks.append(asyncio.create_task(_supervised(f"line {line.name}", start, metrics)))
        for i, dlt_line in enumerate(config.dlt645_lines):
            start = functools.partial(
                run_dlt645_collector,
                dlt_line,
                buffer,
                gateway_id=gid,
                metrics=metrics,
                first_seq=await buffer.next_seq(f"{gid}/{dlt_line.name}"),
                start_delay_s=dlt_line.poll_interval_s * i / len(config.dlt645_lines),
            )
            tasks.append(asyncio.create_task(_supervised(dlt_line.name, start, metrics)))
        if config.opcua_servers:
            from ingest.opcua import run_opcua_collector

            for opc in config.opcua_servers:
                start = functools.partial(
                    run_opcua_collector,
                    opc,
                    buffer,
                    gateway_id=gid,
                    metrics=metrics,
                    first_seq=await buffer.next_seq(f"{gid}/{opc.name}"),
                )
                tasks.append(asyncio.create_task(_supervised(opc.name, start, metrics)))
        for rtu in config.iec104_servers:
            start = functools.partial(
                run_iec104_collector,
                rtu,
                buffer,
                gateway_id=gid,
                metrics=metrics,
                first_seq=await buffer.next_seq(f"{gid}/{rtu.name}"),
            )
            tasks.append(asyncio.create_task(_supervised(rtu.name, start, metrics)))
        if config.mqtt_brokers:
            from ingest.mqtt import run_mqtt_collector

            for broker in config.mqtt_brokers:
                start = functools.partial(
                    run_mqtt_collector,
                    broker,
                    buffer,
                    gateway_id=gid,
                    metrics=metrics,
                    first_seq=await buffer.next_seq(f"{gid}/{broker.name}"),
                )
                tasks.append(asyncio.create_task(_supervised(broker.name, start, metrics)))
        log.info(
            "gateway %s RUNNING: %d Modbus devices, %d Modbus lines, %d OPC UA servers,"
            " %d DL/T 645 lines, %d MQTT brokers, %d IEC 104 outstations,"
            " metrics on http://%s:%d/metrics",
            gid,
            len(devices),
            len(config.modbus_lines),
            len(config.opcua_servers),
            len(config.dlt645_lines),
            len(config.mqtt_brokers),
            len(config.iec104_servers),
            config.metrics.host,
            port,
        )
        await stop.wait()
        log.info("gateway %s STOPPING", gid)
    finally:
        # Collectors first so no put races the buffer close; the forwarder last, finishing the
        # window it has in flight so acknowledged batches leave the buffer (no re-send).
        collectors = [t for t in tasks if t.get_name() != "forwarder"]
        for task in collectors:
            task.cancel()
        for task in collectors:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if forwarder is not None:
            forwarder.request_stop()
        for task in tasks:
            if task.get_name() == "forwarder":
                with contextlib.suppress(asyncio.CancelledError, Exception, TimeoutError):
                    await asyncio.wait_for(task, timeout=15.0)
        await buffer.close()
        server.close()
        await server.wait_closed()
        log.info("gateway %s STOPPED (%d batches left in the buffer)", gid, buffer.depth[0])


def _signal_event() -> asyncio.Event:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, event.set)
    return event


def configure_gc() -> None:
    """Tune the cyclic garbage collector for a long-running gateway process (its entry point
    calls this once the config is loaded; tests running ``run_gateway`` in-process do not).

    A poll cycle allocates a few dozen short-lived container objects per device, nearly all
    freed by reference counting; with the default threshold of 700 the collector would still
    run hundreds of times a second and repeatedly walk everything that startup left behind
    (modules, the validated config). Freezing moves that startup heap out of the collector's
    view, and a larger first-generation threshold makes young collections rarer (cyclic garbage
    is still collected, a little later). Nothing is kept alive that would otherwise be freed by
    reference counting.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The collectors log every failure with device and address; pymodbus's own lines repeat them.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    logging.getLogger("paho").setLevel(logging.ERROR)
