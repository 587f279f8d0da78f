"""The park's and its enterprises' versions of catalogue factors (``factor_override``, written
by the API), as the stream worker, ``parkcarbon recompute`` and the API's meter checks read
them (clauses 6.5, 6.7; GB/T 32150-2015 6.3.1 e)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection

from accounting.datafile import Evidence
from accounting.overrides import Override

_SELECT = (
    "SELECT override_id, catalogue, factor_key, value, unit, valid_from, valid_to, source,"
    " source_table, edition, evidence, note, enterprise_id, series, carrier, parameter, gas,"
    " region FROM factor_override"
)


def overrides_version(conn: psycopg.Connection[Any]) -> int:
    """The newest ``override_id`` (0 when none): the table is append-only, so a new version
    always moves it (a rolled-back insert only skips an id)."""
    row = conn.execute("SELECT coalesce(max(override_id), 0) FROM factor_override").fetchone()
    return int(row[0]) if row else 0


# Every version, the park's and the enterprises', in the order they were added (``override_id``):
# the order they apply in.
OVERRIDES_QUERY = f"{_SELECT} ORDER BY override_id"


def override_of(row: Sequence[Any]) -> Override:
    """One row of ``_SELECT`` (from a synchronous or an asynchronous cursor)."""
    i, c, k, v, u, f, t, s, tb, e, ev, n, ent, series, carrier, parameter, gas, region = row
    return Override(
        override_id=int(i),
        catalogue=str(c),
        factor_key=str(k),
        value=float(v),
        unit=str(u),
        valid_from=f,
        valid_to=t,
        source=str(s),
        table=str(tb),
        edition=str(e),
        evidence=Evidence(ev),
        note=str(n),
        enterprise_id=ent,
        series=series,
        carrier=carrier,
        parameter=parameter,
        gas=gas,
        region=region,
    )


def load_overrides(conn: psycopg.Connection[Any]) -> list[Override]:
    """Every version, the park's and the enterprises', in the order they were added."""
    return [override_of(r) for r in conn.execute(OVERRIDES_QUERY).fetchall()]


async def load_overrides_for(
    conn: AsyncConnection[Any], enterprise_id: str | None
) -> list[Override]:
    """The park's versions and those of ``enterprise_id`` (None: the park's only), in order."""
    cur = await conn.execute(
        f"{_SELECT} WHERE enterprise_id IS NULL OR enterprise_id = %s ORDER BY override_id",
        (enterprise_id,),
    )
    return [override_of(r) for r in await cur.fetchall()]
