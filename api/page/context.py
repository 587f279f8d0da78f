"""The page's context from the registry: parks visible to a key, with their enterprises and
the bounds of the park's local today, computed by PostgreSQL in the park's time zone."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from accounting.i18n import DEFAULT_LANG

MAX_PARKS = 1000

# An enterprise key sees its own park and, in it, its own enterprise only (tenancy).
_PARKS = """
SELECT p.park_id, p.name, p.timezone,
       -- park.language is a park setting that may not exist in every schema: read through
       -- jsonb so the query works with or without it (no setting: zh-CN).
       coalesce(to_jsonb(p) ->> 'language', %(default_lang)s),
       date_trunc('day', now() AT TIME ZONE p.timezone) AT TIME ZONE p.timezone,
       (date_trunc('day', now() AT TIME ZONE p.timezone) + interval '1 day')
           AT TIME ZONE p.timezone,
       coalesce(jsonb_agg(jsonb_build_object('enterprise_id', e.enterprise_id, 'name', e.name)
                          ORDER BY e.enterprise_id) FILTER (WHERE e.enterprise_id IS NOT NULL),
                '[]'::jsonb)
FROM park p
LEFT JOIN enterprise e
       ON e.park_id = p.park_id AND (%(tenant)s::text IS NULL OR e.enterprise_id = %(tenant)s)
WHERE %(tenant)s::text IS NULL
   OR EXISTS (SELECT 1 FROM enterprise t
              WHERE t.park_id = p.park_id AND t.enterprise_id = %(tenant)s)
GROUP BY p.park_id
ORDER BY p.park_id
LIMIT %(limit)s
"""


async def parks(conn: AsyncConnection[Any], *, tenant: str | None) -> list[dict[str, Any]]:
    """Parks by id, each with its enterprises and local today's [start, end) as instants."""
    cur = await conn.execute(
        _PARKS, {"tenant": tenant, "limit": MAX_PARKS, "default_lang": DEFAULT_LANG.value}
    )
    return [
        {
            "park_id": park_id,
            "name": name,
            "timezone": tz,
            "language": language,
            "today_start": start,
            "today_end": end,
            "enterprises": enterprises,
        }
        for park_id, name, tz, language, start, end, enterprises in await cur.fetchall()
    ]
