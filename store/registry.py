"""The organisation tree and the meter registry: writes that check, translate and audit.

Clauses 4.3 (boundary: park -> enterprise -> site -> meter), 6.7/8.3 (changes controlled and
recorded) and 9.1 c (meters with accuracy class and calibration due date).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any

import psycopg
from psycopg import errors
from psycopg.rows import dict_row

from accounting.carriers import Carrier
from accounting.meter import MeterProfile, RegisterKind
from accounting.metering import MeteringLevel
from accounting.regions import RegionLevel, load_regions
from store import audit


class RegistryError(Exception):
    """A registry write was refused; the message says which row and why."""


@dataclass(frozen=True, kw_only=True)
class Meter:
    meter_id: str
    enterprise_id: str
    carrier: str
    unit: str
    register_kind: str
    source_category: str
    site_id: str | None = None
    name: str = ""
    multiplier: float = 1.0
    rollover: float | None = None
    range_min: float | None = None
    range_max: float | None = None
    expected_interval_s: int = 900
    accuracy_class: str = "1.0"
    metering_level: str = "unit"
    calibration_due: date | None = None
    factor_key: str | None = None
    in_boundary: bool = True
    parent_meter_id: str | None = None  # a sub-meter's parent: detail, never counted (0022)
    role: str = "consumption"  # or 'export': netted in every total (0022)
    max_rate_per_h: float | None = None  # spike limit: most consumption per hour (primary side)
    accuracy_category: str | None = None  # GB 17167 table 3 row, e.g. "user_class_II"


_COLUMNS = [f.name for f in dataclasses.fields(Meter)]


def _explain(exc: psycopg.Error, what: str) -> RegistryError:
    """Turn a constraint violation into a sentence a registry editor can act on."""
    diag = exc.diag
    if isinstance(exc, errors.ForeignKeyViolation):
        detail = diag.message_detail or ""
        key = re.match(r"Key \((\w+)_id\)=\((.*)\) is not present", detail)
        if key:
            return RegistryError(f"{what}: unknown {key.group(1)} '{key.group(2)}'")
        return RegistryError(f"{what}: {diag.message_primary}")
    if isinstance(exc, errors.CheckViolation):
        return RegistryError(f"{what}: value refused by rule {diag.constraint_name}")
    if isinstance(exc, errors.UniqueViolation):
        return RegistryError(f"{what}: already exists")
    return RegistryError(f"{what}: {diag.message_primary or exc}")


def add_park(
    conn: psycopg.Connection[Any],
    *,
    park_id: str,
    name: str,
    timezone: str = "Asia/Shanghai",
    actor: str,
    settings: dict[str, str] | None = None,
) -> None:
    """Create a park; ``settings`` sets its other columns (region, grid_level, language,
    tce_electricity_convention), the table's defaults otherwise."""
    row = {"park_id": park_id, "name": name, "timezone": timezone, **(settings or {})}
    _insert(conn, "park", row, actor=actor, entity_id=park_id)


def add_enterprise(
    conn: psycopg.Connection[Any],
    *,
    enterprise_id: str,
    park_id: str,
    name: str,
    actor: str,
    industry_code: str | None = None,
) -> None:
    row = {
        "enterprise_id": enterprise_id,
        "park_id": park_id,
        "name": name,
        "industry_code": industry_code,
    }
    _insert(conn, "enterprise", row, actor=actor, entity_id=enterprise_id)


def add_site(
    conn: psycopg.Connection[Any], *, site_id: str, enterprise_id: str, name: str, actor: str
) -> None:
    row = {"site_id": site_id, "enterprise_id": enterprise_id, "name": name}
    _insert(conn, "site", row, actor=actor, entity_id=site_id)


def add_meter(conn: psycopg.Connection[Any], *, meter: Meter, actor: str, reason: str = "") -> None:
    if meter.multiplier <= 0:
        raise RegistryError(
            f"meter {meter.meter_id}: multiplier must be > 0 (CT/PT ratio), got {meter.multiplier}"
        )
    _insert(
        conn,
        "meter",
        dataclasses.asdict(meter),
        actor=actor,
        entity_id=meter.meter_id,
        reason=reason,
    )


def _insert(
    conn: psycopg.Connection[Any],
    table: str,
    row: dict[str, Any],
    *,
    actor: str,
    entity_id: str,
    reason: str = "",
) -> None:
    cols = list(row)
    query = psycopg.sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        psycopg.sql.Identifier(table),
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, cols)),
        psycopg.sql.SQL(", ").join(psycopg.sql.Placeholder() * len(cols)),
    )
    try:
        with conn.transaction():
            conn.execute(query, [row[c] for c in cols])
            audit.record(
                conn,
                actor=actor,
                action="create",
                entity=table,
                entity_id=entity_id,
                before=None,
                after=row,
                reason=reason,
            )
    except psycopg.Error as exc:
        raise _explain(exc, f"{table} {entity_id}") from exc


def _insert_returning_id(
    conn: psycopg.Connection[Any], table: str, key: str, row: dict[str, Any], *, actor: str
) -> int:
    """Insert a row whose id the database assigns, and audit it under that id."""
    cols = list(row)
    query = psycopg.sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
        psycopg.sql.Identifier(table),
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, cols)),
        psycopg.sql.SQL(", ").join(psycopg.sql.Placeholder() * len(cols)),
        psycopg.sql.Identifier(key),
    )
    try:
        with conn.transaction():
            found = conn.execute(query, [row[c] for c in cols]).fetchone()
            assert found is not None  # RETURNING of an INSERT that did not fail
            audit.record(
                conn,
                actor=actor,
                action="create",
                entity=table,
                entity_id=str(found[0]),
                before=None,
                after=row,
            )
    except psycopg.Error as exc:
        raise _explain(
            exc, f"{table} of {row.get('subject_kind')} {row.get('subject_id')}"
        ) from exc
    return int(found[0])


def add_target(
    conn: psycopg.Connection[Any],
    *,
    subject_kind: str,
    subject_id: str,
    period_kind: str,
    period_start: date,
    absolute_tco2e: float,
    actor: str,
) -> int:
    """A location-based absolute target (the same row ``POST /v1/targets`` stores); its id."""
    row = {
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "period_kind": period_kind,
        "period_start": period_start,
        "absolute_tco2e": absolute_tco2e,
        "created_by": actor,
    }
    return _insert_returning_id(conn, "target", "target_id", row, actor=actor)


def add_base_year_baseline(
    conn: psycopg.Connection[Any],
    *,
    subject_kind: str,
    subject_id: str,
    base_year: int,
    period_kind: str,
    value_tco2e: float,
    note: str,
    actor: str,
) -> int:
    """A base-year baseline (clause 6.5; the row ``POST /v1/baselines`` stores); its id."""
    row = {
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "method": "base_year",
        "base_year": base_year,
        "period_kind": period_kind,
        "value_tco2e": value_tco2e,
        "note": note,
        "effective": date(base_year, 1, 1),
        "created_by": actor,
    }
    return _insert_returning_id(conn, "baseline", "baseline_id", row, actor=actor)


def all_meters(conn: psycopg.Connection[Any]) -> list[Meter]:
    """Every active meter in the registry."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            psycopg.sql.SQL("SELECT {} FROM meter WHERE status = 'active'").format(
                psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, _COLUMNS))
            )
        )
        return [Meter(**row) for row in cur.fetchall()]


def installed_ms(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Each active meter's ``installed_at`` as epoch ms: the earliest time history may carry."""
    rows = conn.execute(
        "SELECT meter_id, (extract(epoch FROM installed_at) * 1000)::bigint FROM meter"
        " WHERE status = 'active'"
    ).fetchall()
    return {str(m): int(t) for m, t in rows}


def inventory_starts_ms(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Each active meter of a park with an inventory start: that start (its local midnight,
    ``park.timezone``) as epoch ms, the earliest time its park's inventory takes history from."""
    rows = conn.execute(
        "SELECT m.meter_id,"
        " (extract(epoch FROM p.inventory_start::timestamp AT TIME ZONE p.timezone) * 1000)::bigint"
        " FROM meter m JOIN enterprise e USING (enterprise_id) JOIN park p USING (park_id)"
        " WHERE m.status = 'active' AND p.inventory_start IS NOT NULL"
    ).fetchall()
    return {str(m): int(t) for m, t in rows}


def set_park_inventory_start(
    conn: psycopg.Connection[Any],
    *,
    park_id: str,
    start: date | None,
    actor: str,
    reason: str = "",
) -> bool:
    """Set (or with None clear) the first local day of the park's inventory (GB/T 32150
    6.3.1), audited with before and after (7.3). From then on history readings of the park's
    meters timed before it are quarantined BEFORE_INVENTORY_START; readings already stored are
    kept (an inventory's period is what leaves them out of a total). Returns whether it changed."""
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT inventory_start FROM park WHERE park_id = %s FOR UPDATE", (park_id,)
            ).fetchone()
            if row is None:
                raise RegistryError(f"park {park_id}: not found")
            if row[0] == start:
                return False
            conn.execute(
                "UPDATE park SET inventory_start = %s WHERE park_id = %s", (start, park_id)
            )
            audit.record(
                conn,
                actor=actor,
                action="update",
                entity="park",
                entity_id=park_id,
                before={"inventory_start": row[0]},
                after={"inventory_start": start},
                reason=reason,
            )
    except psycopg.Error as exc:
        raise _explain(exc, f"park {park_id}") from exc
    return True


@dataclass(frozen=True, slots=True)
class FactorContext:
    """What the choice of an enterprise's factors depends on, from its park: the emission-factor
    region, and the time zone whose calendar day selects the version in force (a factor
    published for a year applies from the park's local 1 January 00:00, not UTC's)."""

    region: str = "CN"
    timezone: str = "Asia/Shanghai"
    grid_level: RegionLevel = RegionLevel.GRID  # one level for every year (regions.level_chain)


def enterprise_contexts(conn: psycopg.Connection[Any]) -> dict[str, FactorContext]:
    """Each enterprise's factor context: the region, time zone and grid level of its park."""
    rows = conn.execute(
        "SELECT e.enterprise_id, p.region, p.timezone, p.grid_level"
        " FROM enterprise e JOIN park p USING (park_id)"
    ).fetchall()
    return {
        str(e): FactorContext(region=str(r), timezone=str(tz), grid_level=RegionLevel(g))
        for e, r, tz, g in rows
    }


def set_park_factor_settings(
    conn: psycopg.Connection[Any],
    *,
    park_id: str,
    actor: str,
    region: str | None = None,
    grid_level: RegionLevel | None = None,
    tce_electricity_convention: str | None = None,
    reason: str = "",
) -> None:
    """Change how a park's factors are chosen (audited; clause 6.5: recompute the windows
    before the change with ``parkcarbon recompute``, the worker uses it from now on)."""
    changes = {
        k: v
        for k, v in (
            ("region", region),
            ("grid_level", None if grid_level is None else grid_level.value),
            ("tce_electricity_convention", tce_electricity_convention),
        )
        if v is not None
    }
    if region is not None and region not in load_regions():
        raise RegistryError(f"park {park_id}: unknown region code {region!r}")
    if not changes:
        return
    cols = ", ".join(changes)
    try:
        with conn.transaction():
            before = conn.execute(
                psycopg.sql.SQL("SELECT {} FROM park WHERE park_id = %s FOR UPDATE").format(
                    psycopg.sql.SQL(cols)
                ),
                (park_id,),
            ).fetchone()
            if before is None:
                raise RegistryError(f"park {park_id}: not found")
            conn.execute(
                psycopg.sql.SQL("UPDATE park SET {} WHERE park_id = %s").format(
                    psycopg.sql.SQL(", ").join(
                        psycopg.sql.SQL("{} = %s").format(psycopg.sql.Identifier(k))
                        for k in changes
                    )
                ),
                [*changes.values(), park_id],
            )
            audit.record(
                conn,
                actor=actor,
                action="update",
                entity="park",
                entity_id=park_id,
                before=dict(zip(changes, before, strict=True)),
                after=changes,
                reason=reason,
            )
    except psycopg.Error as exc:
        raise _explain(exc, f"park {park_id}") from exc


def registry_version(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    """A cheap fingerprint that changes whenever a meter is added, changed or retired."""
    # A park's settings (region, time zone) change the factors of its meters' windows too.
    row = conn.execute(
        "SELECT count(*), coalesce(max(updated_at)::text, '') || coalesce((SELECT md5("
        "string_agg(p::text, ',' ORDER BY park_id)) FROM park p), '') FROM meter"
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def get_meter(conn: psycopg.Connection[Any], meter_id: str) -> Meter | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            psycopg.sql.SQL("SELECT {} FROM meter WHERE meter_id = %s").format(
                psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, _COLUMNS))
            ),
            (meter_id,),
        )
        row = cur.fetchone()
    return Meter(**row) if row else None


# The validation profile of a registry row: the one translation the worker and the API share.
_LEVELS = {
    "unit": MeteringLevel.UNIT,
    "secondary_unit": MeteringLevel.SECONDARY_UNIT,
    "equipment": MeteringLevel.MAJOR_EQUIPMENT,
}


def _day_end_ms(day: date) -> int:
    # A calibration due on a day is still valid through that day (UTC).
    return int(datetime.combine(day, clock_time.max, tzinfo=UTC).timestamp() * 1000)


def to_profile(
    meter: Meter, *, installed_at_ms: int | None = None, inventory_start_ms: int | None = None
) -> MeterProfile:
    """The validation profile of a registry row (clause 9.1 c, GB 17167); ``installed_at_ms``
    and its park's ``inventory_start_ms`` bound the history it accepts."""
    return MeterProfile(
        meter_id=meter.meter_id,
        carrier=Carrier(meter.carrier),
        unit=meter.unit,
        register=RegisterKind(meter.register_kind),
        expected_interval_ms=meter.expected_interval_s * 1000,
        accuracy_class=meter.accuracy_class,
        metering_level=_LEVELS[meter.metering_level],
        calibration_due_ms=_day_end_ms(meter.calibration_due) if meter.calibration_due else None,
        accuracy_category=meter.accuracy_category,
        multiplier=meter.multiplier,
        rollover=meter.rollover,
        range_min=meter.range_min if meter.range_min is not None else -math.inf,
        range_max=meter.range_max if meter.range_max is not None else math.inf,
        max_rate_per_h=meter.max_rate_per_h,
        installed_ms=installed_at_ms,
        inventory_start_ms=inventory_start_ms,
    )
