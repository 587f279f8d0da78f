"""`parkcarbon grafana build` (regenerate the dashboards' JSON) and `grafana push` (upload)."""

from __future__ import annotations

from typing import Annotated

import typer

from config.settings import ConfigError, GrafanaSettings, load

grafana_app = typer.Typer(
    no_args_is_help=True, help="Grafana: the dashboards as code, and pushing them to a Grafana."
)


@grafana_app.command("build")
def build(
    check: Annotated[
        bool, typer.Option("--check", help="Only report files that differ; exit 1 if any.")
    ] = False,
) -> None:
    """Regenerate deploy/grafana/dashboards/*.json from deploy/grafana/dashboards.py."""
    from deploy.grafana.build import differences, write

    if check:
        problems = differences()
        for line in problems:
            typer.echo(line)
        if problems:
            raise typer.Exit(1)
        typer.echo("dashboards are current")
        return
    for path in write():
        typer.echo(str(path))


def psycopg_error() -> type[Exception]:
    import psycopg

    return psycopg.Error


def _storage_is_timescaledb(database_url: str) -> bool:
    import psycopg

    from store.migrate import storage_mode

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return storage_mode(conn) == "timescaledb"


@grafana_app.command("push")
def push(
    url: Annotated[
        str | None, typer.Option(help="Grafana base URL (default: PARKCARBON_GRAFANA_URL).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Service-account token (default: PARKCARBON_GRAFANA_TOKEN)."),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Basic-auth user (default: PARKCARBON_GRAFANA_USER).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Basic-auth password (default: PARKCARBON_GRAFANA_PASSWORD)."),
    ] = None,
    timescaledb: Annotated[
        bool | None,
        typer.Option(
            "--timescaledb/--no-timescaledb",
            help="The datasource's TimescaleDB option; default: the database's storage mode.",
        ),
    ] = None,
) -> None:
    """Create or update the datasources, the folder and every dashboard, by uid."""
    from grafana_client.client import GrafanaException

    from deploy.grafana.push import connect, plan
    from deploy.grafana.push import push as do_push

    overrides = {
        key: value
        for key, value in (
            ("grafana_url", url),
            ("grafana_token", token),
            ("grafana_user", user),
            ("grafana_password", password),
        )
        if value is not None
    }
    try:
        settings = load(GrafanaSettings, **overrides)
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    if timescaledb is None:
        try:
            timescaledb = _storage_is_timescaledb(settings.database_url)
        except (psycopg_error(), OSError) as exc:
            typer.secho(
                f"cannot read the storage mode from the database ({exc}); "
                "pass --timescaledb or --no-timescaledb",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(1) from exc
    try:
        for line in do_push(connect(settings), plan(settings, timescaledb=timescaledb)):
            typer.echo(line)
    except (GrafanaException, OSError) as exc:
        typer.secho(f"push to {settings.grafana_url} failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    app.add_typer(grafana_app, name="grafana")
