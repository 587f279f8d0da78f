"""`parkcarbon gateway` and `parkcarbon simulate modbus`: the edge gateway and its meter farm.

Kept apart from ``cli/main.py`` so the gateway box's commands stay in one small module;
``register(app)`` adds them to the main Typer app.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from config.settings import CommonSettings, load

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


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
    app.add_typer(simulate_app, name="simulate")


def main() -> None:
    """``parkcarbon-gateway --config FILE``: the substation box's entry point. It imports only
    the gateway's modules, so a ``parkcarbon[gateway]`` install needs no platform packages."""
    import sys

    from config.settings import ConfigError

    standalone = typer.Typer(add_completion=False)
    standalone.command()(gateway)
    try:
        standalone()
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        sys.exit(2)
