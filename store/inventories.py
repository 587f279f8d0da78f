"""Stored inventories (migration 0025): immutable versions of a boundary's period inventory.

A row is never changed or deleted (a trigger refuses both); a recomputation for the same park,
boundary (the park, or one enterprise) and period is a new row with the next version number,
naming the row it supersedes. ``latest`` takes a transaction-scoped advisory lock on the
boundary and period, so two recomputations at once get 2 and 3, never 2 twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

# A row's columns, and whether a later version supersedes it.
_GET = """SELECT inventory_id, park_id, enterprise_id, period_start, period_end, period_label,
       version, supersedes, gwp_set, location_tco2e, market_tco2e, removals_tco2,
       content_sha256, created_by, created_at,
       EXISTS (SELECT 1 FROM inventory n WHERE n.supersedes = i.inventory_id) AS superseded, content
FROM inventory i WHERE inventory_id = %s AND (%s::text IS NULL OR enterprise_id = %s)"""
_LIST = """SELECT inventory_id, park_id, enterprise_id, period_start, period_end, period_label,
       version, supersedes, gwp_set, location_tco2e, market_tco2e, removals_tco2,
       content_sha256, created_by, created_at,
       EXISTS (SELECT 1 FROM inventory n WHERE n.supersedes = i.inventory_id) AS superseded
FROM inventory i
WHERE (%(tenant)s::text IS NULL OR enterprise_id = %(tenant)s)
  AND (%(park)s::text IS NULL OR park_id = %(park)s)
  AND (%(enterprise)s::text IS NULL OR enterprise_id = %(enterprise)s)
  AND (%(boundary)s::text IS NULL OR (%(boundary)s = 'park') = (enterprise_id IS NULL))
  AND (%(after)s::bigint IS NULL OR inventory_id < %(after)s)
ORDER BY inventory_id DESC LIMIT %(limit)s"""


@dataclass(frozen=True, slots=True)
class NewInventory:
    park_id: str
    enterprise_id: str | None  # None: the park's boundary
    period_start: date
    period_end: date  # inclusive
    period_label: str
    gwp_set: str
    location_tco2e: float
    market_tco2e: float | None
    removals_tco2: float
    content: str  # canonical JSON, exactly as hashed
    content_sha256: str
    created_by: str


@dataclass(frozen=True, slots=True)
class StoredInventory:
    inventory_id: int
    park_id: str
    enterprise_id: str | None
    period_start: date
    period_end: date
    period_label: str
    version: int
    supersedes: int | None
    gwp_set: str
    location_tco2e: float
    market_tco2e: float | None
    removals_tco2: float
    content_sha256: str
    created_by: str
    created_at: datetime
    superseded: bool  # a later version exists


async def latest(
    conn: AsyncConnection[Any],
    *,
    park_id: str,
    enterprise_id: str | None,
    period_start: date,
    period_end: date,
) -> tuple[int, int] | None:
    """(id, version) of the boundary and period's newest version, or None; takes the lock that
    numbers versions, so call it in the transaction that inserts the next one."""
    key = f"inventory:{park_id}:{enterprise_id or ''}:{period_start}:{period_end}"
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
    cur = await conn.execute(
        "SELECT inventory_id, version FROM inventory WHERE park_id = %s"
        " AND coalesce(enterprise_id, '') = coalesce(%s, '')"
        " AND period_start = %s AND period_end = %s ORDER BY version DESC LIMIT 1",
        (park_id, enterprise_id, period_start, period_end),
    )
    row = await cur.fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


async def insert(
    conn: AsyncConnection[Any], new: NewInventory, *, version: int, supersedes: int | None
) -> StoredInventory:
    """Store ``new`` as ``version``; in the transaction of ``latest`` and of its audit entry."""
    cur = await conn.execute(
        "INSERT INTO inventory (park_id, enterprise_id, period_start, period_end, period_label,"
        " version, supersedes, gwp_set, location_tco2e, market_tco2e, removals_tco2, content,"
        " content_sha256, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING inventory_id",
        (
            new.park_id,
            new.enterprise_id,
            new.period_start,
            new.period_end,
            new.period_label,
            version,
            supersedes,
            new.gwp_set,
            new.location_tco2e,
            new.market_tco2e,
            new.removals_tco2,
            new.content,
            new.content_sha256,
            new.created_by,
        ),
    )
    row = await cur.fetchone()
    assert row is not None  # RETURNING of an INSERT
    found = await get(conn, inventory_id=row[0], tenant=None)
    assert found is not None
    return found[0]


async def get(
    conn: AsyncConnection[Any], *, inventory_id: int, tenant: str | None
) -> tuple[StoredInventory, str] | None:
    """The inventory and its stored content; None if there is none ``tenant`` may see (an
    enterprise sees its own enterprise's inventories only, not the park's)."""
    async with conn.cursor() as cur:
        await cur.execute(
            _GET,
            (inventory_id, tenant, tenant),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    return StoredInventory(*row[:-1]), row[-1]


async def list_inventories(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    park_id: str | None,
    enterprise_id: str | None,
    boundary: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[StoredInventory], int | None]:
    """Inventories newest first (by id), ``limit`` per page; the cursor of the next page.

    ``boundary`` "park" or "enterprise" narrows to one kind; an enterprise ``tenant`` gets its
    own enterprise's only."""
    async with conn.cursor(row_factory=class_row(StoredInventory)) as cur:
        await cur.execute(
            _LIST,
            {
                "tenant": tenant,
                "park": park_id,
                "enterprise": enterprise_id,
                "boundary": boundary,
                "after": after,
                "limit": limit + 1,
            },
        )
        rows = await cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].inventory_id if more and rows else None)
