"""``GET /v1/audit``: the append-only audit log, read by admins and auditors (clause 7.3).

Newest first in the order entries were written (their id); ``next_cursor`` continues a walk
from where the page ended, so entries written meanwhile never shift or repeat a page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel

from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registry.common import Limit

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(require(Scope.AUDIT_READ))]


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: int | None  # pass as ``cursor`` for the next (older) page; null at the end


# Column names are constants; values are parameters.
_FILTERS = {
    "entity": "entity = %s",
    "entity_id": "entity_id = %s",
    "actor": "actor = %s",
    "from": "at >= %s",
    "to": "at < %s",
    "cursor": "id < %s",
}


@router.get("", response_model=AuditPage, responses=problems(401, 403, 422))
async def read_audit(
    conn: DbDep,
    _: Auditor,
    entity: Annotated[str | None, Query(description="e.g. meter, target, factor_override")] = None,
    entity_id: Annotated[str | None, Query()] = None,
    actor: Annotated[str | None, Query(description="e.g. key:abc123def456(name)")] = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from", description="inclusive")] = None,
    to: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
    cursor: Annotated[int | None, Query(ge=1, description="next_cursor of a page")] = None,
    limit: Limit = 100,
) -> AuditPage:
    """Who changed what, when, from what to what and why; newest first."""
    if from_ is not None and to is not None and to <= from_:
        raise ApiError(422, f"'to' ({to.isoformat()}) must be after 'from' ({from_.isoformat()})")
    given: dict[str, object] = {"entity": entity, "entity_id": entity_id, "actor": actor}
    given |= {"from": from_, "to": to, "cursor": cursor}
    used = {name: value for name, value in given.items() if value is not None}
    if any(isinstance(v, str) and "\x00" in v for v in used.values()):
        return AuditPage(items=[], next_cursor=None)  # text in PostgreSQL never holds NUL
    where = sql.SQL(" AND ").join(sql.SQL(_FILTERS[name]) for name in used)
    query = sql.SQL("SELECT * FROM audit_log{} ORDER BY id DESC LIMIT %s").format(
        sql.SQL(" WHERE ") + where if used else sql.SQL("")
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, [*used.values(), limit + 1])
        found = await cur.fetchall()
    more = len(found) > limit
    items = [AuditEntry(**row) for row in found[:limit]]
    return AuditPage(items=items, next_cursor=items[-1].id if more else None)
