"""`parkcarbon park`: onboard a park from the command line (`create`, as ``POST /v1/parks``) and
set its inventory start (`inventory-start`: the first local day its inventory covers, GB/T
32150 6.3.1; history before it is quarantined BEFORE_INVENTORY_START).

The settings are checked by the same model as the API's (``api.registry.park_models``), and
every change is written with its audit entry (clause 7.3). ``register(app)`` adds the commands.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from config.settings import CommonSettings, load

park_app = typer.Typer(
    no_args_is_help=True, help="Parks: onboard one without SQL, and set its own settings."
)


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


ACTOR = "parkcarbon park create"


@park_app.command("create")
def park_create(
    park_id: Annotated[str, typer.Argument(help="The park's id (A-Z a-z 0-9 _ . : -).")],
    name: Annotated[str, typer.Option(help="The park's name, e.g. 东湖工业园.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of its local days.")] = (
        "Asia/Shanghai"
    ),
    region: Annotated[str, typer.Option(help="Region code of its grid factors (CN: national).")] = (
        "CN"
    ),
    grid_level: Annotated[str, typer.Option(help="national, grid or province.")] = "grid",
    language: Annotated[str, typer.Option(help="Default language: zh-CN or en.")] = "zh-CN",
    tce_convention: Annotated[
        str, typer.Option(help="Electricity in tce: equal_value (当量值) or equivalent (等价值).")
    ] = "equal_value",
) -> None:
    """Create a park; exits 2 naming a refused setting, 1 if the id is taken."""
    import psycopg
    from pydantic import ValidationError

    from api.registry.park_models import ParkCreate
    from store.registry import RegistryError, add_park

    try:
        body = ParkCreate.model_validate(
            {
                "park_id": park_id,
                "name": name,
                "timezone": timezone,
                "region": region,
                "grid_level": grid_level,
                "language": language,
                "tce_electricity_convention": tce_convention,
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            typer.secho(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    row = body.model_dump(mode="json")
    settings = load(CommonSettings)
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            add_park(
                conn,
                park_id=row.pop("park_id"),
                name=row.pop("name"),
                timezone=row.pop("timezone"),
                actor=ACTOR,
                settings=row,
            )
    except RegistryError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"park {body.park_id!r} created ({body.timezone}, {body.language.value})")


def register(app: typer.Typer) -> None:
    app.add_typer(park_app, name="park")
