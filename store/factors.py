"""The park's versions of catalogue factors (``factor_override``, written by the API), as the
stream worker and ``parkcarbon recompute`` read them (clauses 6.5, 6.7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from accounting.datafile import Evidence
from accounting.overrides import Override


def overrides_version(conn: psycopg.Connection[Any]) -> int:
    """The newest ``override_id`` (0 when none): the table is append-only, so a new version
    always moves it (a rolled-back insert only skips an id)."""
    row = conn.execute("SELECT coalesce(max(override_id), 0) FROM factor_override").fetchone()
    return int(row[0]) if row else 0


# Every park version, in the order they were added (``override_id``): the order they apply in.
OVERRIDES_QUERY = (
    "SELECT override_id, catalogue, factor_key, value, unit, valid_from, valid_to, source,"
    " source_table, edition, evidence, note FROM factor_override ORDER BY override_id"
)


def override_of(row: Sequence[Any]) -> Override:
    """One row of ``OVERRIDES_QUERY`` (from a synchronous or an asynchronous cursor)."""
    i, c, k, v, u, f, t, s, tb, e, ev, n = row
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
    )


def load_overrides(conn: psycopg.Connection[Any]) -> list[Override]:
    """Every park version, in the order they were added (``override_id``)."""
    return [override_of(row) for row in conn.execute(OVERRIDES_QUERY).fetchall()]
