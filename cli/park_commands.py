"""`parkcarbon park inventory-start`: the first local day a park's inventory covers
(GB/T 32150 6.3.1), audited; history before it is quarantined BEFORE_INVENTORY_START."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from config.settings import CommonSettings, load

park_app = typer.Typer(no_args_is_help=True, help="A park's own settings.")


@park_app.command("inventory-start")
def inventory_start(
    park_id: Annotated[str, typer.Argument(help="The park.")],
    day: Annotated[
        str, typer.Argument(help="First local day of the inventory (YYYY-MM-DD), or 'none'.")
    ],
    actor: Annotated[str, typer.Option(help="Who sets it (the audit log's actor).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
) -> None:
    """Set or clear (``none``) the park's inventory start; history readings timed before its
    local midnight are then quarantined BEFORE_INVENTORY_START (readings already stored stay)."""
    import psycopg

    from store.registry import RegistryError, set_park_inventory_start

    start: date | None = None
    if day.lower() != "none":
        try:
            start = date.fromisoformat(day)
        except ValueError:
            raise typer.BadParameter(f"{day!r} is not a date (YYYY-MM-DD) nor 'none'") from None
    settings = load(CommonSettings)
    try:
        with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
            changed = set_park_inventory_start(
                conn, park_id=park_id, start=start, actor=actor, reason=reason
            )
    except (RegistryError, psycopg.OperationalError) as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    shown = start.isoformat() if start else "none"
    typer.echo(f"park {park_id}: inventory start {shown}{'' if changed else ' (unchanged)'}")


def register(app: typer.Typer) -> None:
    app.add_typer(park_app, name="park")
