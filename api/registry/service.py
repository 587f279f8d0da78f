"""The organisation tree and the meter registry in the database: each change and its audit
entry in one transaction (clauses 4.3, 8.3 change control, 7.3 documented information).

Meter replacement (clause 8.3): the metering point keeps its ``meter_id``; the swap is a
``meter_replacement`` row with the old device's final register, the new device's initial
register and the multiplier before and after, so consumption across the swap is
``(final_register - last reading before) x multiplier_before + (next reading -
initial_register) x multiplier_after`` and nothing is lost. ``replaced_at`` must not be in the
future, but may precede readings already stored: readings arrive late (store-and-forward at the
gateways), so the stream applies the swap to readings by their timestamps, not by arrival.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg import Error as PgError
from psycopg.rows import dict_row

from api import audit
from api.errors import ApiError
from api.registry import rows
from api.registry.common import not_found, raise_db_error
from api.registry.enums import MeterStatus
from api.registry.meter_checks import check_meter, meter_parameters
from api.registry.models import MeterCreate, ReplacementCreate

Row = rows.Row
Visible = Callable[[Row], bool]  # may the caller see this row? (tenancy: 404 if not)
_KEYS = {
    "park": "park_id",
    "enterprise": "enterprise_id",
    "site": "site_id",
    "meter": "meter_id",
}


async def create(conn: AsyncConnection[Any], *, table: str, row: dict[str, Any], actor: str) -> Row:
    """Insert a park, enterprise, site or meter with its audit entry."""
    ident = row[_KEYS[table]]
    try:
        async with conn.transaction():
            stored = await rows.insert(conn, table, row)
            await audit.record(
                conn,
                actor=actor,
                action="create",
                entity=table,
                entity_id=ident,
                before=None,
                after=stored,
            )
    except PgError as exc:
        raise_db_error(exc, f"{table} {ident!r}")
    return stored


async def patch(
    conn: AsyncConnection[Any],
    *,
    table: str,
    ident: str,
    changes: dict[str, Any],
    actor: str,
    visible: Visible,
    reason: str = "",
) -> Row:
    """Change some fields; the audit entry holds the whole row before and after.

    ``visible(row)`` decides whether the caller may see the row (404 otherwise); a meter's
    merged row is checked whole before it is written.
    """
    try:
        async with conn.transaction():
            before = await rows.one(conn, table, _KEYS[table], ident, lock=True)
            if before is None or not visible(before):
                raise not_found(table, ident)
            if table == "meter":
                merged = {**before, **changes}
                check_meter(merged, await meter_parameters(conn, merged["enterprise_id"]))
            after = (
                await rows.update(conn, table, _KEYS[table], ident, changes) if changes else before
            )
            await audit.record(
                conn,
                actor=actor,
                action="update",
                entity=table,
                entity_id=ident,
                before=before,
                after=after,
                reason=reason,
            )
    except PgError as exc:
        raise_db_error(exc, f"{table} {ident!r}")
    return after


async def create_meter(conn: AsyncConnection[Any], *, body: MeterCreate, actor: str) -> Row:
    row = body.model_dump(exclude_none=True)
    row.setdefault("site_id", None)
    check_meter({"factor_key": None, **row}, await meter_parameters(conn, row["enterprise_id"]))
    return await create(conn, table="meter", row=row, actor=actor)


async def retire_meter(
    conn: AsyncConnection[Any],
    *,
    meter_id: str,
    retired_at: datetime | None,
    reason: str,
    actor: str,
    visible: Visible,
) -> Row:
    """Retire a metering point (409 if it already is); its readings and history stay."""
    when = retired_at or datetime.now(UTC)
    if when > datetime.now(UTC):
        raise ApiError(422, f"retired_at {when.isoformat()} is in the future")
    async with conn.transaction():
        before = await rows.one(conn, "meter", "meter_id", meter_id, lock=True)
        if before is None or not visible(before):
            raise not_found("meter", meter_id)
        if before["status"] == MeterStatus.RETIRED:
            raise ApiError(409, f"meter {meter_id!r} was retired at {before['retired_at']}")
        if when < before["installed_at"]:
            raise ApiError(
                422, f"retired_at is before the meter was installed ({before['installed_at']})"
            )
        after = await rows.update(
            conn, "meter", "meter_id", meter_id, {"status": MeterStatus.RETIRED, "retired_at": when}
        )
        await audit.record(
            conn,
            actor=actor,
            action="retire",
            entity="meter",
            entity_id=meter_id,
            before=before,
            after=after,
            reason=reason,
        )
    return after


async def replace_meter(
    conn: AsyncConnection[Any],
    *,
    meter_id: str,
    body: ReplacementCreate,
    actor: str,
    visible: Visible,
) -> Row:
    """Record a device swap at a metering point (module docstring) and update the registry's
    serial and multiplier in the same transaction."""
    if body.replaced_at > datetime.now(UTC):
        raise ApiError(422, f"replaced_at {body.replaced_at.isoformat()} is in the future")
    try:
        async with conn.transaction():
            meter = await rows.one(conn, "meter", "meter_id", meter_id, lock=True)
            if meter is None or not visible(meter):
                raise not_found("meter", meter_id)
            _check_replacement(meter, body)
            record = {
                "meter_id": meter_id,
                "replaced_at": body.replaced_at,
                "old_serial": body.old_serial or meter["serial"],
                "new_serial": body.new_serial,
                "final_register": body.final_register,
                "initial_register": body.initial_register,
                "multiplier_before": meter["multiplier"],
                "multiplier_after": body.multiplier or meter["multiplier"],
                "reason": body.reason,
                "created_by": actor,
            }
            stored = await rows.insert(conn, "meter_replacement", record)
            changes = {"serial": body.new_serial, "multiplier": record["multiplier_after"]}
            after = await rows.update(conn, "meter", "meter_id", meter_id, changes)
            await audit.record(
                conn,
                actor=actor,
                action="replace",
                entity="meter",
                entity_id=meter_id,
                before=meter,
                after={**after, "replacement": stored},
                reason=body.reason,
            )
    except PgError as exc:
        raise_db_error(exc, f"replacement of meter {meter_id!r} at {body.replaced_at}")
    return stored


def _check_replacement(meter: Row, body: ReplacementCreate) -> None:
    if meter["status"] == MeterStatus.RETIRED:
        raise ApiError(409, f"meter {meter['meter_id']!r} is retired: nothing to replace")
    if body.replaced_at < meter["installed_at"]:
        raise ApiError(
            422, f"replaced_at is before the meter was installed ({meter['installed_at']})"
        )
    if body.old_serial and meter["serial"] and body.old_serial != meter["serial"]:
        raise ApiError(
            409,
            f"old_serial {body.old_serial!r} is not the installed device ({meter['serial']!r})",
        )
    rollover = meter["rollover"]
    for name in ("final_register", "initial_register"):
        if rollover is not None and getattr(body, name) >= rollover:
            raise ApiError(422, f"{name} must be below the register's rollover {rollover:g}")


async def replacements(conn: AsyncConnection[Any], *, meter_id: str) -> list[Row]:
    """A metering point's device swaps, oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM meter_replacement WHERE meter_id = %s ORDER BY replaced_at",
            (meter_id,),
        )
        return await cur.fetchall()
