"""Objectives in the database (clause 6.2): each linked to the target whose figures measure it;
its progress is the target's, read by ``api.queries.performance`` as ``/v1/progress`` reads it.
Writes and their audit records share one transaction; tenancy as in ``measures``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from api import audit
from api.errors import ApiError
from api.queries import performance

Row = dict[str, Any]
_TENANT = "(%(tenant)s::text IS NULL OR r.enterprise_id = %(tenant)s)"
_OVERDUE = (
    "(r.status = 'active' AND r.due_on < (SELECT (now() AT TIME ZONE p.timezone)::date"
    " FROM park p WHERE p.park_id = r.park_id))"
)
_LIST = f"""
SELECT r.*, {_OVERDUE} AS overdue FROM objective r
WHERE {_TENANT}
  AND (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND (%(after)s::bigint IS NULL OR r.record_id < %(after)s)
ORDER BY r.record_id DESC
LIMIT %(limit)s
"""  # noqa: S608 - built from constants only; every value is a parameter
_ONE = (
    f"SELECT r.*, {_OVERDUE} AS overdue FROM objective r WHERE {_TENANT} AND r.record_id = %(id)s"  # noqa: S608
)
# A target's park and enterprise: a meter's is its meter's, a park's has none.
_TARGET = """
SELECT t.target_id, coalesce(ee.enterprise_id, mm.enterprise_id) AS enterprise_id,
       coalesce(pp.park_id, ee.park_id, me.park_id) AS park_id, t.subject_kind
FROM target t
LEFT JOIN park pp ON t.subject_kind = 'park' AND pp.park_id = t.subject_id
LEFT JOIN enterprise ee ON t.subject_kind = 'enterprise' AND ee.enterprise_id = t.subject_id
LEFT JOIN meter mm ON t.subject_kind = 'meter' AND mm.meter_id = t.subject_id
LEFT JOIN enterprise me ON me.enterprise_id = mm.enterprise_id
WHERE t.target_id = %s
"""


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def check_target(
    conn: AsyncConnection[Any], *, target_id: int, park_id: str, enterprise_id: str | None
) -> None:
    """An enterprise's objective measures one of its own targets (its enterprise or a meter of
    it); a park-level objective any target of the park. Another's target reads as absent."""
    found = await _rows(conn, _TARGET, (target_id,))
    if not found:
        raise ApiError(404, f"no target {target_id}")
    target = found[0]
    if enterprise_id is not None and target["enterprise_id"] != enterprise_id:
        raise ApiError(404, f"no target {target_id}")
    if enterprise_id is None and target["park_id"] not in (None, park_id):
        raise ApiError(422, f"target {target_id} is not a target of park {park_id!r}")


async def progress(
    conn: AsyncConnection[Any], *, target_id: int, tenant: str | None, as_of: datetime
) -> dict[str, Any] | None:
    """The target's progress at ``as_of`` as ``/v1/progress`` reports it; None outside the
    target's period."""
    rows = await performance.progress_rows(
        conn,
        as_of=as_of,
        enterprises=None if tenant is None else [tenant],
        subject_kind=None,
        subject_id=None,
        limit=1,
        offset=0,
        target_id=target_id,
    )
    return performance.progress_item(rows[0], as_of) if rows else None


async def with_progress(conn: AsyncConnection[Any], row: Row, *, tenant: str | None) -> Row:
    now = datetime.now(UTC)
    return row | {
        "progress": await progress(conn, target_id=row["target_id"], tenant=tenant, as_of=now)
    }


async def create(conn: AsyncConnection[Any], *, row: dict[str, Any], actor: str) -> Row:
    async with conn.transaction():
        await check_target(
            conn,
            target_id=row["target_id"],
            park_id=row["park_id"],
            enterprise_id=row["enterprise_id"],
        )
        stored = row | {"created_by": actor, "updated_by": actor}
        query = sql.SQL("INSERT INTO objective ({}) VALUES ({}) RETURNING record_id").format(
            sql.SQL(", ").join(map(sql.Identifier, stored)),
            sql.SQL(", ").join(sql.Placeholder() * len(stored)),
        )
        [made] = await _rows(conn, query, list(stored.values()))
        objective = await get(conn, record_id=made["record_id"], tenant=None)
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity="objective",
            entity_id=str(made["record_id"]),
            before=None,
            after=objective,
        )
    return objective


async def get(
    conn: AsyncConnection[Any], *, record_id: int, tenant: str | None, lock: bool = False
) -> Row:
    found = await _rows(
        conn, _ONE + (" FOR UPDATE OF r" if lock else ""), {"tenant": tenant, "id": record_id}
    )
    if not found:
        raise ApiError(404, f"no objective {record_id}")
    return found[0]


async def list_objectives(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    status: str | None = None,
    enterprise_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[Row], int | None]:
    found = await _rows(
        conn,
        _LIST,
        {
            "tenant": tenant,
            "status": status,
            "enterprise": enterprise_id,
            "after": after,
            "limit": limit + 1,
        },
    )
    page = found[:limit]
    return page, page[-1]["record_id"] if len(found) > limit else None


async def patch(
    conn: AsyncConnection[Any],
    *,
    record_id: int,
    tenant: str | None,
    changes: dict[str, Any],
    actor: str,
) -> Row:
    async with conn.transaction():
        before = await get(conn, record_id=record_id, tenant=tenant, lock=True)
        if changes:
            sets = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in changes
            )
            await conn.execute(
                sql.SQL(
                    "UPDATE objective SET {}, updated_at = now(), updated_by = %(actor)s"
                    " WHERE record_id = %(id)s"
                ).format(sets),
                changes | {"actor": actor, "id": record_id},
            )
        after = await get(conn, record_id=record_id, tenant=tenant)
        await audit.record(
            conn,
            actor=actor,
            action="update",
            entity="objective",
            entity_id=str(record_id),
            before=before,
            after=after,
        )
    return after
