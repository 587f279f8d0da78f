"""`parkcarbon api` (serve the HTTP API) and `parkcarbon api-key create` (bootstrap keys)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from api.keys import Role
from config.settings import ApiSettings, load

api_key_app = typer.Typer(no_args_is_help=True, help="API keys.")


def create_key(
    settings: ApiSettings,
    role: Role,
    *,
    name: str,
    enterprise: str | None = None,
    expires: datetime | None = None,
) -> str:
    """Create a key directly in the database (bootstrap: no key exists yet) and return it."""
    from psycopg import AsyncConnection

    from api import key_store

    async def create() -> str:
        async with await AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
            _, token = await key_store.create_key(
                conn,
                name=name,
                role=role,
                enterprise_id=enterprise,
                scopes=None,
                expires_at=expires,
                actor="cli",
            )
            return token

    return asyncio.run(create())


def serve() -> None:
    """Serve the HTTP API (default http://127.0.0.1:8000; OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app

    settings = load(ApiSettings)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        # The API sits behind nothing by default; never trust forwarded headers blindly.
        proxy_headers=False,
    )


@api_key_app.command("create")
def api_key_create(
    role: Annotated[str, typer.Option(help="admin | operator | auditor | enterprise")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "cli",
    enterprise: Annotated[
        str | None, typer.Option(help="The enterprise of an enterprise key.")
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option(min=1, help="Days until the key expires (default: never).")
    ] = None,
) -> None:
    """Create an API key and print it (once: only its hash is stored)."""
    from psycopg import errors as pg_errors

    from api.keys import KeyRequestError

    settings = load(ApiSettings)
    try:
        parsed_role = Role(role)
    except ValueError:
        typer.secho(f"unknown role {role!r}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None

    try:
        token = create_key(settings, parsed_role, name=name, enterprise=enterprise, expires=expires)
    except KeyRequestError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    except pg_errors.ForeignKeyViolation:
        typer.secho(f"unknown enterprise {enterprise!r}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    typer.echo(token)


def register(app: typer.Typer) -> None:
    app.command("api")(serve)
    app.add_typer(api_key_app, name="api-key")
