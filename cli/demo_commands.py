"""`parkcarbon demo seed`, `demo opcua` and `demo field`: the demo park that `parkcarbon up` runs.

``register(app)`` adds them to the main Typer app; the park itself is ``deploy/demo.py``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from config.settings import CommonSettings, load

demo_app = typer.Typer(no_args_is_help=True, help="The demo park: registry rows and simulators.")


@demo_app.command("seed")
def demo_seed() -> None:
    """Add the demo park, its enterprises, sites and every simulated meter to the registry.

    Idempotent: rows that exist are left alone, so only new rows reach the audit log.
    """
    import psycopg

    from deploy.demo import PARK_ID, seed

    settings = load(CommonSettings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        result = seed(conn)
    counts = ", ".join(
        f"{table} {result.created[table]} new / {result.existing[table]} existing"
        for table in result.created
    )
    typer.echo(f"demo park '{PARK_ID}': {counts}")


@demo_app.command("opcua")
def demo_opcua(
    port: Annotated[int, typer.Option(help="OPC UA port on 127.0.0.1.")] = 4840,
    write_config: Annotated[Path | None, typer.Option(help="Write a gateway YAML.")] = None,
    metrics_port: Annotated[int, typer.Option(help="Metrics port in the YAML.")] = 9109,
    buffer_path: Annotated[str, typer.Option(help="Buffer path in the YAML.")] = (
        ".parkcarbon/gateway-opcua-buffer.sqlite3"
    ),
    state_file: Annotated[
        Path | None, typer.Option(help="Keep register values here across restarts.")
    ] = None,
) -> None:
    """Serve the demo park's OPC UA meters (the ones `demo seed` registers) until SIGTERM."""
    import yaml

    from deploy import demo
    from simulators import register_state
    from simulators.opcua_server import ParkOpcUaServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("asyncua").setLevel(logging.WARNING)
    park = demo.opcua_park()
    saved = register_state.load(state_file)
    for point in park.points:
        if point.cumulative and point.meter_id in saved:  # counters carry on from the last run
            point.value = saved[point.meter_id]

    def values() -> dict[str, float]:
        return {p.meter_id: p.value for p in park.points if p.cumulative}

    async def serve() -> None:
        server = ParkOpcUaServer(
            park, port=port, update_interval_s=demo.INTERVAL_S, acceleration=demo.ACCELERATE
        )
        await server.start()
        saver = asyncio.create_task(register_state.keep_saving(state_file, values))
        if write_config is not None:
            doc = demo.opcua_gateway_config(
                server.gateway_entry("park-opcua", interval_ms=demo.INTERVAL_S * 1000),
                buffer_path=buffer_path,
                metrics_port=metrics_port,
                kafka_bootstrap=load(CommonSettings).kafka_bootstrap,
            )
            partial = write_config.with_name(write_config.name + ".partial")
            partial.write_text(yaml.safe_dump(doc, sort_keys=False))
            partial.replace(write_config)  # whoever waits for the file never reads half of it
            typer.echo(f"gateway config written to {write_config}")
        typer.echo(f"{len(park.points)} OPC UA points on {server.endpoint}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        saver.cancel()
        register_state.save(state_file, values())
        await server.stop()

    asyncio.run(serve())


@demo_app.command("field")
def demo_field(
    rtu_port: Annotated[int, typer.Option(help="RTU-over-TCP line port; 0 = any.")] = 5031,
    dlt645_port: Annotated[int, typer.Option(help="DL/T 645 line port; 0 = any.")] = 8645,
    mqtt_port: Annotated[int, typer.Option(help="Mosquitto port; 0 = any.")] = 1884,
    write_config: Annotated[Path | None, typer.Option(help="Write a gateway YAML.")] = None,
    metrics_port: Annotated[int, typer.Option(help="Metrics port in the YAML.")] = 9110,
    buffer_path: Annotated[str, typer.Option(help="Buffer path in the YAML.")] = (
        ".parkcarbon/gateway-field-buffer.sqlite3"
    ),
    state_folder: Annotated[
        Path, typer.Option(help="Register values and the broker's persistence.")
    ] = Path(".parkcarbon/demo-field"),
) -> None:
    """Serve the demo park's field lines on 127.0.0.1 until SIGTERM: a Modbus RTU line with
    several unit ids behind a serial device server, a DL/T 645-2007 meter, and a Mosquitto
    broker with an EMQX Neuron-style publisher."""
    import yaml

    from deploy.demo_field import field_park

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    async def serve() -> None:
        async with field_park(
            state_folder.resolve(), rtu_port=rtu_port, dlt645_port=dlt645_port, mqtt_port=mqtt_port
        ) as park:
            if write_config is not None:
                doc = park.gateway_config(
                    buffer_path=buffer_path,
                    metrics_port=metrics_port,
                    kafka_bootstrap=load(CommonSettings).kafka_bootstrap,
                )
                partial = write_config.with_name(write_config.name + ".partial")
                partial.write_text(yaml.safe_dump(doc, sort_keys=False))
                partial.replace(write_config)  # whoever waits for the file never reads half of it
                typer.echo(f"gateway config written to {write_config}")
            line = park.rtu_line
            typer.echo(
                f"RTU line {line['name']} on 127.0.0.1:{line['tcp_port']} (unit ids "
                f"{', '.join(str(d['unit_id']) for d in line['devices'])}), DL/T 645 meter on "
                f"127.0.0.1:{park.dlt645_port}, Mosquitto on 127.0.0.1:{park.mqtt_port}"
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()

    asyncio.run(serve())


@demo_app.command("unknown-meter")
def demo_unknown_meter(
    meter_id: Annotated[str, typer.Option(help="A meter id the registry does not have.")] = (
        "UNREGISTERED-01"
    ),
) -> None:
    """Inject a fault: a gateway reports a meter the registry does not know (a scope deviation,
    clause 4.3). The worker quarantines it as UNKNOWN_METER and raises an alert within seconds;
    the API opens a corrective-action ticket for it."""
    import time

    from aiokafka import AIOKafkaProducer

    from config.kafka_security import client_kwargs
    from contracts.records import RawReading, ReadingBatch, Source, encode_batch
    from contracts.topics import Topic, topic_name

    settings = load(CommonSettings)
    now_ms = int(time.time() * 1000)
    batch = ReadingBatch(
        Source.MODBUS,
        "demo-gateway",
        f"demo-gateway/{meter_id}",
        (RawReading(meter_id=meter_id, ts_ms=now_ms, value=1.0, unit="kWh", seq=now_ms),),
    )

    async def send() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            **client_kwargs(settings.kafka_security()),
        )
        await producer.start()
        try:
            await producer.send_and_wait(
                topic_name(Topic.READINGS_RAW, settings.topic_prefix),
                encode_batch(batch),
                key=batch.source_key.encode(),
            )
        finally:
            await producer.stop()

    asyncio.run(send())
    typer.echo(f"sent a reading of unregistered meter {meter_id}: watch the live page's alerts")


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")
