"""`parkcarbon gateway` and `parkcarbon simulate modbus`: the edge gateway and its meter farm.

Kept apart from ``cli/main.py`` so the gateway box's commands stay in one small module;
``register(app)`` adds them to the main Typer app.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from config.settings import CommonSettings, ConfigError, load

if TYPE_CHECKING:  # imported when a command runs: the gateway box loads only what it uses
    from ingest.buffer import DeadBatch, ReadingBuffer

simulate_app = typer.Typer(no_args_is_help=True, help="Meter simulators for a demo park.")


def gateway(
    config: Annotated[Path, typer.Option("--config", help="Gateway YAML file.")],
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run the edge gateway (Modbus and OPC UA collectors, buffer, forwarder) until SIGTERM."""
    from ingest.config import load_gateway_config
    from ingest.gateway import configure_gc, configure_logging, run_gateway

    configure_logging(getattr(logging, log_level.upper(), logging.INFO))
    settings = load_gateway_config(config)  # a ConfigError exits 2 before anything starts
    configure_gc()  # the startup heap (modules, config) is long-lived: out of the GC's walks
    asyncio.run(run_gateway(settings))


@simulate_app.command("modbus")
def simulate_modbus(
    meters: Annotated[int, typer.Option(min=1, max=20_000, help="Simulated meters.")] = 20,
    port: Annotated[int, typer.Option(help="First TCP port (one per server); 0 = any.")] = 5020,
    per_server: Annotated[int, typer.Option(min=1, max=247, help="Unit ids per port.")] = 50,
    accelerate: Annotated[float, typer.Option(min=0.001, help="Simulated s per real s.")] = 1.0,
    control_port: Annotated[int, typer.Option(help="Fault control port; 0 = any.")] = 5019,
    write_config: Annotated[Path | None, typer.Option(help="Write the gateway YAML.")] = None,
    gateway_id: Annotated[str, typer.Option(help="gateway_id in the written YAML.")] = "gw-sim",
    poll_interval: Annotated[float, typer.Option(help="Poll interval in the YAML, s.")] = 1.0,
    buffer_path: Annotated[str, typer.Option(help="Buffer path in the YAML.")] = (
        ".parkcarbon/gateway-buffer.sqlite3"
    ),
    metrics_port: Annotated[int, typer.Option(help="Metrics port in the YAML.")] = 9108,
    prefix: Annotated[str, typer.Option(help="Meter id prefix.")] = "SIM",
    only: Annotated[str | None, typer.Option(help="One carrier only, e.g. electricity.")] = None,
    state_file: Annotated[
        Path | None, typer.Option(help="Keep register totals here across restarts.")
    ] = None,
) -> None:
    """Serve a park of simulated Modbus TCP meters on 127.0.0.1 until Ctrl-C / SIGTERM."""
    import yaml

    from simulators import register_state
    from simulators.modbus_farm import ModbusFarm, make_park
    from simulators.profiles import Carrier

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    async def serve() -> None:
        farm = ModbusFarm(
            make_park(meters, prefix=prefix, carriers=(Carrier(only),) if only else None),
            base_port=port,
            per_server=per_server,
            accelerate=accelerate,
        )
        for meter_id, total in register_state.load(state_file).items():
            if meter_id in farm.meters:  # counters carry on from the last run
                farm.meters[meter_id].total = total

        def totals() -> dict[str, float]:
            return {m: s.total for m, s in farm.meters.items()}

        saver = asyncio.create_task(register_state.keep_saving(state_file, totals))
        await farm.start()
        control = await farm.serve_control(control_port)
        if write_config is not None:
            doc = farm.gateway_config(
                gateway_id,
                poll_interval_s=poll_interval,
                kafka_bootstrap=load(CommonSettings).kafka_bootstrap,
                buffer_path=buffer_path,
                metrics_port=metrics_port,
            )
            # Written whole, then renamed: whoever waits for the file never reads half of it.
            partial = write_config.with_name(write_config.name + ".partial")
            partial.write_text(yaml.safe_dump(doc, sort_keys=False))
            partial.replace(write_config)
            typer.echo(f"gateway config written to {write_config}")
        ports = sorted({e.port for e in farm.endpoints.values()})
        typer.echo(
            f"{meters} meters on 127.0.0.1 ports {ports[0]}-{ports[-1]}, control port "
            f"{control.sockets[0].getsockname()[1]} (fault METER KIND [SECONDS] | clear METER)"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        saver.cancel()
        register_state.save(state_file, totals())
        control.close()
        await farm.stop()

    asyncio.run(serve())


dead_app = typer.Typer(
    no_args_is_help=True,
    help="Batches the forwarder moved aside (too large for Kafka, or refused by the broker).",
)
ConfigOption = Annotated[Path, typer.Option("--config", help="Gateway YAML file.")]


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _open_buffer(config: Path) -> ReadingBuffer:
    """The buffer the gateway configured in ``config`` uses; it must exist already (opening
    one would create an empty file, and a typo in the path would then list nothing)."""
    from ingest.buffer import ReadingBuffer
    from ingest.config import load_gateway_config
    from ingest.metrics import GatewayMetrics

    settings = load_gateway_config(config)  # a ConfigError exits 2 (main)
    if not settings.buffer.path.is_file():
        raise ConfigError(f"{config}: no buffer at {settings.buffer.path}")
    return ReadingBuffer(settings.buffer, GatewayMetrics())


@dead_app.command("list")
def dead_list(config: ConfigOption) -> None:
    """List dead batches, oldest first, tab-separated: id, source key, readings, bytes, when
    moved aside (UTC), reason. Exit 0 (also when there are none)."""

    async def listing() -> list[DeadBatch]:
        buffer = await _open_buffer(config).open()
        try:
            return await buffer.dead()
        finally:
            await buffer.close()

    found = asyncio.run(listing())
    if not found:
        typer.echo("no dead batches")
        return
    typer.echo("id\tsource_key\treadings\tbytes\tdead_at\treason")
    for d in found:
        reason = " ".join(d.reason.split())  # one line per batch, whatever the broker said
        typer.echo(f"{d.id}\t{d.source_key}\t{d.readings}\t{d.bytes}\t{_when(d.dead_ms)}\t{reason}")


@dead_app.command("requeue")
def dead_requeue(
    ids: Annotated[list[int], typer.Argument(help="Dead batch ids, from `dead list`.")],
    config: ConfigOption,
) -> None:
    """Put dead batches back at the end of the queue once their cause is fixed (e.g. the
    broker's message.max.bytes raised). A running gateway forwards them within a second.
    Exit 0 when every id moved, 1 when some id is not a dead batch (the others still move)."""

    async def requeue() -> tuple[int, list[int]]:
        buffer = await _open_buffer(config).open()
        try:
            dead_ids = {d.id for d in await buffer.dead()}
            wanted = list(dict.fromkeys(ids))  # each id once, in the order given
            missing = [i for i in wanted if i not in dead_ids]
            moved = await buffer.requeue([i for i in wanted if i in dead_ids])
            return moved, missing
        finally:
            await buffer.close()

    moved, missing = asyncio.run(requeue())
    typer.echo(f"requeued {moved} dead batch(es)")
    if missing:
        typer.secho(
            f"not dead batches: {', '.join(map(str, missing))}", fg=typer.colors.RED, err=True
        )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
    app.add_typer(simulate_app, name="simulate")


def standalone_app() -> typer.Typer:
    """The ``parkcarbon-gateway`` program: ``--config FILE`` runs the gateway; ``dead list``
    and ``dead requeue`` manage its buffer's dead batches."""
    standalone = typer.Typer(add_completion=False)

    @standalone.callback(invoke_without_command=True)
    def run(
        ctx: typer.Context,
        config: Annotated[Path | None, typer.Option("--config", help="Gateway YAML file.")] = None,
        log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    ) -> None:
        """Run the edge gateway until SIGTERM (``--config FILE``), or a command below."""
        if ctx.invoked_subcommand is not None:
            return
        if config is None:
            raise typer.BadParameter("the gateway YAML file is required", param_hint="--config")
        gateway(config, log_level)

    standalone.add_typer(dead_app, name="dead")
    return standalone


def main() -> None:
    """``parkcarbon-gateway``: the substation box's entry point. It imports only the gateway's
    modules, so a ``parkcarbon[gateway]`` install needs no platform packages. A bad config
    exits 2."""
    import sys

    try:
        standalone_app()()
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        sys.exit(2)
