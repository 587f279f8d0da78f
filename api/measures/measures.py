"""Reduction measures in the database (clauses 6.2.2, 6.3): create, read, change and move
along ``flows.TRANSITIONS``; their measurement and verification and the ranking of
opportunities are in ``mv``. Each write and its audit record share one transaction.

``tenant`` is the caller's enterprise (None for park-wide keys): another enterprise's measure,
or a park-level one for an enterprise key, reads as absent, so routes answer 404.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from api import audit
from api.errors import ApiError
from api.measures import flows
from api.measures.enums import MeasureState

Row = dict[str, Any]
_TENANT = "(%(tenant)s::text IS NULL OR r.enterprise_id = %(tenant)s)"
_LIST = f"""
SELECT r.* FROM measure r
WHERE {_TENANT}
  AND (%(status)s::text[] IS NULL OR r.status = ANY(%(status)s))
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND (%(after)s::bigint IS NULL OR r.record_id < %(after)s)
ORDER BY r.record_id DESC
LIMIT %(limit)s
"""  # noqa: S608 - built from constants only; every value is a parameter
_ONE = f"SELECT r.* FROM measure r WHERE {_TENANT} AND r.record_id = %(id)s"  # noqa: S608
_EDITABLE = frozenset(
    {
        "title",
        "description",
        "expected_tco2e_per_year",
        "expected_tce_per_year",
        "capex_cny",
        "owner",
        "planned_start",
        "planned_end",
    }
)
_FINAL = frozenset({MeasureState.VERIFIED, MeasureState.CANCELLED})


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


def _missing(measure_id: int) -> ApiError:
    return ApiError(404, f"no measure {measure_id}")


async def check_meters(
    conn: AsyncConnection[Any], *, meter_ids: list[str], park_id: str, enterprise_id: str | None
) -> None:
    """The affected meters exist and belong to the record's enterprise (or park); a meter the
    caller may not see reads as absent (422 names it as unknown)."""
    if not meter_ids:
        return
    found = await _rows(
        conn,
        "SELECT m.meter_id FROM meter m JOIN enterprise e USING (enterprise_id)"
        " WHERE m.meter_id = ANY(%s) AND e.park_id = %s"
        " AND (%s::text IS NULL OR m.enterprise_id = %s)",
        (meter_ids, park_id, enterprise_id, enterprise_id),
    )
    unknown = sorted(set(meter_ids) - {r["meter_id"] for r in found})
    if unknown:
        whose = f"enterprise {enterprise_id!r}" if enterprise_id else f"park {park_id!r}"
        raise ApiError(422, f"meter_ids: no meter {unknown[0]!r} in {whose}")


async def create(conn: AsyncConnection[Any], *, row: dict[str, Any], actor: str) -> Row:
    """Insert a measure (``row`` with its owner) and its audit record."""
    async with conn.transaction():
        await check_meters(
            conn,
            meter_ids=row["meter_ids"],
            park_id=row["park_id"],
            enterprise_id=row["enterprise_id"],
        )
        stored = row | {"created_by": actor, "updated_by": actor}
        query = sql.SQL("INSERT INTO measure ({}) VALUES ({}) RETURNING *").format(
            sql.SQL(", ").join(map(sql.Identifier, stored)),
            sql.SQL(", ").join(sql.Placeholder() * len(stored)),
        )
        [measure] = await _rows(conn, query, list(stored.values()))
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity="measure",
            entity_id=str(measure["record_id"]),
            before=None,
            after=measure,
        )
    return measure


async def list_measures(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    status: list[MeasureState] | None = None,
    enterprise_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[Row], int | None]:
    """One page, newest first, and the cursor (a record id) of the next page."""
    found = await _rows(
        conn,
        _LIST,
        {
            "tenant": tenant,
            "status": [s.value for s in status] if status else None,
            "enterprise": enterprise_id,
            "after": after,
            "limit": limit + 1,
        },
    )
    page = found[:limit]
    return page, page[-1]["record_id"] if len(found) > limit else None


async def get(
    conn: AsyncConnection[Any], *, measure_id: int, tenant: str | None, lock: bool = False
) -> Row:
    query = _ONE + (" FOR UPDATE OF r" if lock else "")
    found = await _rows(conn, query, {"tenant": tenant, "id": measure_id})
    if not found:
        raise _missing(measure_id)
    return found[0]


async def patch(
    conn: AsyncConnection[Any],
    *,
    measure_id: int,
    tenant: str | None,
    changes: dict[str, Any],
    actor: str,
) -> Row:
    """Change a measure's description, figures or schedule (not once verified or cancelled:
    409); the audit record keeps the row before and after."""
    assert set(changes) <= _EDITABLE, changes
    async with conn.transaction():
        before = await get(conn, measure_id=measure_id, tenant=tenant, lock=True)
        state = MeasureState(before["status"])
        if state in _FINAL:
            raise ApiError(409, f"a {state} measure is not changed", allowed=flows.allowed(state))
        merged = before | changes
        if merged["planned_end"] < merged["planned_start"]:
            raise ApiError(422, "planned_end must not precede planned_start")
        after = before
        if changes:
            sets = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in changes
            )
            query = sql.SQL(
                "UPDATE measure SET {}, updated_at = now(), updated_by = %(actor)s"
                " WHERE record_id = %(id)s RETURNING *"
            ).format(sets)
            [after] = await _rows(conn, query, changes | {"actor": actor, "id": measure_id})
        await audit.record(
            conn,
            actor=actor,
            action="update",
            entity="measure",
            entity_id=str(measure_id),
            before=before,
            after=after,
        )
    return after


async def park_today(conn: AsyncConnection[Any], park_id: str) -> tuple[Any, date]:
    """The database's now and the park's local date (transitions and M&V periods use both)."""
    cur = await conn.execute(
        "SELECT now(), (now() AT TIME ZONE timezone)::date FROM park WHERE park_id = %s",
        (park_id,),
    )
    found = await cur.fetchone()
    assert found is not None
    return found[0], found[1]


async def transition(
    conn: AsyncConnection[Any],
    *,
    measure_id: int,
    tenant: str | None,
    request: flows.TransitionRequest,
    actor: str,
) -> Row:
    """Apply one transition of ``flows.TRANSITIONS`` with its audit record, or raise the
    ``flows`` error that says why it cannot be made."""
    async with conn.transaction():
        measure = await get(conn, measure_id=measure_id, tenant=tenant, lock=True)
        cur = await conn.execute(
            "SELECT count(*) FROM measure_verification WHERE measure_id = %s", (measure_id,)
        )
        counted = await cur.fetchone()
        assert counted is not None
        now, today = await park_today(conn, measure["park_id"])
        facts = flows.MeasureFacts(state=MeasureState(measure["status"]), verifications=counted[0])
        change = flows.plan(facts, request, at=now, today=today)
        sets = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in change.columns
        )
        query = sql.SQL(
            "UPDATE measure SET {}, updated_at = now(), updated_by = %(actor)s"
            " WHERE record_id = %(id)s RETURNING *"
        ).format(sets)
        [after] = await _rows(conn, query, change.columns | {"actor": actor, "id": measure_id})
        await audit.record(
            conn,
            actor=actor,
            action="transition",
            entity="measure",
            entity_id=str(measure_id),
            before={"status": change.previous.value},
            after={"status": change.target.value, **change.detail},
            reason=request.note or "",
        )
    return after
