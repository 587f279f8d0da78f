"""Training records: requirements, role holders, events, attendance and the gap (clause 7.2).

Each write checks whose record it is (``owner_of``), stores it and its audit record in one
transaction. ``tenant`` is the caller's enterprise (None for park-wide keys): an enterprise key
sees its own enterprise's records only, and the attendance of its own people.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from api import audit
from api.errors import ApiError
from api.keys import Principal
from api.registers.tenancy import TENANT_FILTER, owner_of
from api.registry.common import raise_db_error
from api.training import gaps
from api.training.enums import Result
from api.training.models import AttendanceIn, EventIn, HolderIn, RequirementIn

# The lists: (table, id column); every one is filtered by tenancy, enterprise and cursor.
TABLES = {
    "requirement": ("competence_requirement", "requirement_id"),
    "holder": ("role_holder", "holder_id"),
    "event": ("training_event", "event_id"),
}
_PAGE = """
SELECT r.* FROM {table} r
WHERE {tenant}
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND (%(after)s::bigint IS NULL OR r.{id} < %(after)s)
ORDER BY r.{id} DESC
LIMIT %(limit)s
"""
_EVENT = f"SELECT r.* FROM training_event r WHERE {TENANT_FILTER} AND r.event_id = %(id)s"  # noqa: S608 - constants only
_ATTENDANCE = """
SELECT * FROM training_attendance
WHERE event_id = %(id)s AND (%(tenant)s::text IS NULL OR enterprise_id = %(tenant)s)
ORDER BY attendance_id
"""
_HOLDERS = f"SELECT r.* FROM role_holder r WHERE {TENANT_FILTER}"  # noqa: S608 - constants only
_REQUIREMENTS = f"""
SELECT * FROM competence_requirement
WHERE park_id IN (SELECT r.park_id FROM role_holder r WHERE {TENANT_FILTER})
"""  # noqa: S608 - constants only
_EVALUATIONS = """
SELECT e.park_id, a.enterprise_id, a.person, a.result, e.held_on, c.competence
FROM training_attendance a
JOIN training_event e USING (event_id)
CROSS JOIN LATERAL unnest(e.competences) AS c (competence)
WHERE %(tenant)s::text IS NULL OR a.enterprise_id = %(tenant)s
"""


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def page(
    conn: AsyncConnection[Any],
    *,
    kind: str,
    tenant: str | None,
    enterprise_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of ``kind`` (a key of ``TABLES``), newest first, and the next cursor."""
    table, ident = TABLES[kind]
    query = sql.SQL(_PAGE).format(
        table=sql.Identifier(table), id=sql.Identifier(ident), tenant=sql.SQL(TENANT_FILTER)
    )
    params = {"tenant": tenant, "enterprise": enterprise_id, "after": after, "limit": limit + 1}
    rows = await _rows(conn, query, params)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1][ident] if more else None


async def _insert(
    conn: AsyncConnection[Any], *, who: Principal, kind: str, values: dict[str, Any]
) -> dict[str, Any]:
    table, ident = TABLES[kind]
    values = {**values, "created_by": who.actor}
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(map(sql.Placeholder, values)),
    )
    try:
        async with conn.transaction():
            [row] = await _rows(conn, query, values)
            await audit.record(
                conn,
                actor=who.actor,
                action="create",
                entity=table,
                entity_id=str(row[ident]),
                before=None,
                after=values,
            )
    except pg_errors.UniqueViolation as exc:
        raise_db_error(exc, f"this {kind.replace('_', ' ')}")
    return row


async def create_requirement(
    conn: AsyncConnection[Any], *, who: Principal, body: RequirementIn
) -> dict[str, Any]:
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    values = body.model_dump(mode="json", exclude={"park_id", "enterprise_id"})
    values |= {"park_id": owner.park_id, "enterprise_id": owner.enterprise_id}
    return await _insert(conn, who=who, kind="requirement", values=values)


async def create_holder(
    conn: AsyncConnection[Any], *, who: Principal, body: HolderIn
) -> dict[str, Any]:
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    values: dict[str, Any] = {"person": body.person, "role": body.role}
    values |= {"park_id": owner.park_id, "enterprise_id": owner.enterprise_id}
    return await _insert(conn, who=who, kind="holder", values=values)


async def create_event(
    conn: AsyncConnection[Any], *, who: Principal, body: EventIn
) -> dict[str, Any]:
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    values = body.model_dump(mode="json", exclude={"park_id", "enterprise_id"})
    values |= {"park_id": owner.park_id, "enterprise_id": owner.enterprise_id}
    return await _insert(conn, who=who, kind="event", values=values)


async def get_event(
    conn: AsyncConnection[Any], *, event_id: int, tenant: str | None
) -> dict[str, Any] | None:
    """The event with the attendance the caller may see."""
    async with conn.transaction():
        found = await _rows(conn, _EVENT, {"tenant": tenant, "id": event_id})
        if not found:
            return None
        event = found[0]
        event["attendance"] = await _rows(conn, _ATTENDANCE, {"id": event_id, "tenant": tenant})
    return event


async def add_attendance(
    conn: AsyncConnection[Any], *, who: Principal, event_id: int, body: AttendanceIn
) -> dict[str, Any] | None:
    """Record an attendee and their evaluation; 409 when the person is already recorded."""
    enterprise = body.enterprise_id
    if who.enterprise_id is not None:
        enterprise = enterprise or who.enterprise_id
        if enterprise != who.enterprise_id:
            raise ApiError(404, f"no enterprise {enterprise!r}")
    try:
        async with conn.transaction():
            found = await _rows(
                conn, _EVENT + " FOR UPDATE", {"tenant": who.enterprise_id, "id": event_id}
            )
            if not found:
                return None
            if enterprise is not None:
                cur = await conn.execute(
                    "SELECT park_id FROM enterprise WHERE enterprise_id = %s", (enterprise,)
                )
                park = await cur.fetchone()
                if park is None:
                    raise ApiError(404, f"no enterprise {enterprise!r}")
                if park[0] != found[0]["park_id"]:
                    raise ApiError(422, f"enterprise {enterprise!r} is not in the event's park")
            values = body.model_dump(mode="json") | {"enterprise_id": enterprise}
            values |= {"event_id": event_id, "recorded_by": who.actor}
            query = sql.SQL("INSERT INTO training_attendance ({}) VALUES ({}) RETURNING *").format(
                sql.SQL(", ").join(map(sql.Identifier, values)),
                sql.SQL(", ").join(map(sql.Placeholder, values)),
            )
            [row] = await _rows(conn, query, values)
            await audit.record(
                conn,
                actor=who.actor,
                action="add_attendance",
                entity="training_event",
                entity_id=str(event_id),
                before=None,
                after=values,
            )
    except pg_errors.UniqueViolation as exc:
        raise_db_error(exc, f"attendance of {body.person!r} at event {event_id}")
    return row


async def competence_gaps(conn: AsyncConnection[Any], *, tenant: str | None) -> list[gaps.Gap]:
    """Each role holder the caller sees without a passed evaluation of a required competence."""
    params = {"tenant": tenant}
    async with conn.transaction():  # one snapshot of people, requirements and results
        holders = [
            gaps.Holder(r["park_id"], r["enterprise_id"], r["person"], r["role"])
            for r in await _rows(conn, _HOLDERS, params)
        ]
        requirements = [
            gaps.Requirement(
                r["requirement_id"], r["park_id"], r["enterprise_id"], r["role"], r["competence"]
            )
            for r in await _rows(conn, _REQUIREMENTS, params)
        ]
        evaluations = [
            gaps.Evaluation(
                r["park_id"],
                r["enterprise_id"],
                r["person"],
                r["competence"],
                Result(r["result"]),
                r["held_on"],
            )
            for r in await _rows(conn, _EVALUATIONS, params)
        ]
    return gaps.find(holders, requirements, evaluations)
