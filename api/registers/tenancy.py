"""Whose a register record is, and who may see it (the tenancy base of every register).

A record belongs to a park and, optionally, to one enterprise of it. ``enterprise_id`` NULL is
a park-level record: the park's carbon office keeps it, and park-wide keys (admin, operator,
auditor) read and write it. An enterprise key sees and writes its own enterprise's records only;
another enterprise's record and every park-level record read as absent (404), as tickets and
activity records do. Reads filter with ``TENANT_FILTER`` (the caller's enterprise as
``%(tenant)s``, None for park-wide keys); writes name their owner through ``owner_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from api.errors import ApiError
from api.keys import Principal

# The read filter of every register query; the record table is aliased ``r``.
TENANT_FILTER = "(%(tenant)s::text IS NULL OR r.enterprise_id = %(tenant)s)"


@dataclass(frozen=True, slots=True)
class Owner:
    park_id: str
    enterprise_id: str | None  # None: a park-level record


async def owner_of(
    conn: AsyncConnection[Any], *, who: Principal, park_id: str | None, enterprise_id: str | None
) -> Owner:
    """The owner a write names, checked against the caller. An enterprise key writes for its own
    enterprise (the default when it names none); naming another is 404, as if it did not exist,
    and a park-level record (``park_id`` alone) is 403. A park-wide key names an enterprise, or a
    park for a park-level record. Unknown ids are 404; an enterprise outside the park named 422.
    """
    if who.enterprise_id is not None:
        if enterprise_id is None and park_id is not None:
            raise ApiError(403, "park-level records are written with a park-wide key")
        enterprise_id = enterprise_id or who.enterprise_id
        if enterprise_id != who.enterprise_id:
            raise ApiError(404, f"no enterprise {enterprise_id!r}")
    if enterprise_id is not None:
        cur = await conn.execute(
            "SELECT park_id FROM enterprise WHERE enterprise_id = %s", (enterprise_id,)
        )
        found = await cur.fetchone()
        if found is None:
            raise ApiError(404, f"no enterprise {enterprise_id!r}")
        if park_id not in (None, found[0]):
            raise ApiError(422, f"enterprise {enterprise_id!r} is not in park {park_id!r}")
        return Owner(found[0], enterprise_id)
    if park_id is None:
        raise ApiError(422, "name enterprise_id, or park_id for a park-level record")
    cur = await conn.execute("SELECT 1 FROM park WHERE park_id = %s", (park_id,))
    if await cur.fetchone() is None:
        raise ApiError(404, f"no park {park_id!r}")
    return Owner(park_id, None)
