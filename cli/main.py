"""`parkcarbon`: run the local stack, migrate the database, create topics, run the platform."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from api.keys import Role
from cli.api_commands import create_key
from cli.api_commands import register as register_api_commands
from cli.backfill_commands import register as register_backfill_commands
from cli.demo_commands import register as register_demo_commands
from cli.gateway_commands import register as register_gateway_commands
from cli.grafana_commands import register as register_grafana_commands
from cli.park_commands import register as register_park_commands
from cli.recompute_commands import register as register_recompute_commands
from cli.report_commands import register as register_report_commands
from config.settings import ApiSettings, CommonSettings, ConfigError, StackSettings, load
from deploy import stack as local_stack
from deploy.process import StackError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
stack_app = typer.Typer(no_args_is_help=True, help="The local Kafka broker and PostgreSQL.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
topics_app = typer.Typer(no_args_is_help=True, help="The Kafka topics.")
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
register_gateway_commands(app)  # gateway, simulate modbus
register_demo_commands(app)  # demo seed, demo opcua
register_park_commands(app)  # park create, park inventory-start
register_api_commands(app)  # api, api-key create
register_report_commands(app)  # report inventory, report review
register_grafana_commands(app)  # grafana build, grafana push
register_backfill_commands(app)  # backfill
register_recompute_commands(app)  # recompute


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@stack_app.command("start")
def stack_start() -> None:
    """Start the broker and the database in the background (a second start is a no-op)."""
    settings = load(StackSettings)
    try:
        for name, outcome in local_stack.start(settings):
            typer.echo(f"{name:9} {outcome}")
    except StackError as exc:
        _fail(str(exc))


@stack_app.command("stop")
def stack_stop() -> None:
    """Stop the broker and the database cleanly."""
    settings = load(StackSettings)
    try:
        for name, outcome in local_stack.stop(settings):
            typer.echo(f"{name:9} {outcome}")
    except StackError as exc:
        _fail(str(exc))


@stack_app.command("status")
def stack_status() -> None:
    """Print each component's health; exit 1 if any is down."""
    settings = load(StackSettings)
    all_up = True
    for name, up, detail in local_stack.status(settings):
        all_up &= up
        typer.echo(f"{name:9} {'up' if up else 'DOWN':5} {detail}")
    if not all_up:
        raise typer.Exit(1)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations (idempotent) and print the storage mode."""
    from store.migrate import MigrationError, migrate

    settings = load(CommonSettings)
    notes: list[str] = []
    try:
        mode, applied = migrate(settings.database_url, mode=settings.storage_mode, notes=notes)
    except MigrationError as exc:
        _fail(str(exc))
        return
    typer.echo(f"storage mode: {mode}")
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))


@topics_app.command("create")
def topics_create(
    partitions: Annotated[int | None, typer.Option(min=1, help="Partitions per topic.")] = None,
) -> None:
    """Create the parkcarbon topics that do not exist yet."""
    from stream.topics import create_topics

    settings = load(CommonSettings)
    states = asyncio.run(
        create_topics(
            settings.kafka_bootstrap,
            partitions=partitions or settings.topic_partitions,
            replication=settings.topic_replication,
            prefix=settings.topic_prefix,
            security=settings.kafka_security(),
        )
    )
    for state in states:
        typer.echo(
            f"{state.name:20} {state.partitions} partitions{'  (created)' if state.created else ''}"
        )


@app.command("worker")
def worker(
    loglevel: Annotated[
        str, typer.Option("--loglevel", "-l", help="crit|error|warn|info|debug")
    ] = "info",
) -> None:
    """Run a stream worker; more workers with the same app id share the partitions."""
    from config.settings import WorkerSettings
    from stream.app import create_app

    settings = load(WorkerSettings)
    faust_app = create_app(settings)
    sys.argv = ["parkcarbon worker", "worker", "--loglevel", loglevel, "--without-web"]
    faust_app.main()


@app.command("up")
def up(
    keep_stack: Annotated[
        bool, typer.Option("--keep-stack", help="Leave the broker and database running on exit.")
    ] = False,
) -> None:
    """Run the platform locally: stack, schema, topics, the demo park, its gateways and a stream
    worker; Ctrl-C stops it all (the stack too, unless --keep-stack)."""
    from cli.demo_commands import demo_seed
    from deploy import demo, platform

    settings = load(StackSettings)
    try:
        for name, outcome in local_stack.start(settings):
            typer.echo(f"{name:9} {outcome}")
    except StackError as exc:
        _fail(str(exc))
    db_migrate()
    demo_seed()
    topics_create(None)
    children = platform.default_children(settings)
    api = load(ApiSettings)
    api_url = f"http://{api.api_host}:{api.api_port}"
    # A key for whoever runs the demo: operators read the park and work alerts and tickets.
    operator_key = create_key(
        api,
        Role.OPERATOR,
        name="demo operator (make up)",
        expires=datetime.now(UTC) + timedelta(days=7),
    )

    def banner() -> str:
        return (
            "\nparkcarbon is up:\n"
            f"  live page   {api_url}/#key={operator_key}\n"
            f"  API docs    {api_url}/docs\n"
            f"  operator key (7 days)  {operator_key}\n"
            f"  Kafka       {settings.kafka_bootstrap}\n"
            f"  PostgreSQL  {settings.database_url}\n"
            + "".join(f"  {c.name:11} log {c.log}\n" for c in children)
            + f"  metrics     http://127.0.0.1:{demo.GATEWAY_METRICS_PORT}/metrics (gateway),"
            f" :{demo.OPCUA_GATEWAY_METRICS_PORT}/metrics (gateway-ua),"
            f" :{demo.FIELD_METRICS_PORT}/metrics (gateway-field)\n"
            f"  field lines RTU over TCP 127.0.0.1:{demo.RTU_PORT} ({demo.RTU_METERS} unit ids),"
            f" DL/T 645 127.0.0.1:{demo.DLT645_PORT}, MQTT (Neuron) 127.0.0.1:{demo.MQTT_PORT}\n"
            f"  faults      127.0.0.1:{demo.MODBUS_CONTROL_PORT}, one line each:"
            " fault METER KIND [SECONDS] | clear METER | list\n"
            "              or `parkcarbon demo unknown-meter`: an alert and its ticket in seconds\n"
            f"  state       {settings.state_dir.resolve()}\n"
            "Press Ctrl-C to stop."
        )

    def stop_stack() -> Iterator[str]:
        if not keep_stack:
            for name, outcome in local_stack.stop(settings):
                yield f"{name:9} {outcome}"

    # The children and the stack stop even when stdout is a pipe whose reader has gone.
    if not platform.run(children, banner=banner, after_stop=stop_stack):
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        sys.exit(2)
