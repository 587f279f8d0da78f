"""The GB/T 2589-2020 tce coefficients as SQL reads them (table ``energy_coefficient``, 0026).

The one source is the packaged catalogue (``accounting/data/gbt2589_energy_coefficients.csv``,
parsed and converted to tce per canonical unit by ``accounting.energy``); this module copies
it into the table so that dashboards compute energy in SQL with exactly the coefficients the
API and the inventories use. ``store.migrate.migrate`` calls ``sync`` on every run.
"""

from __future__ import annotations

from typing import Any

import psycopg

from accounting.carriers import CANONICAL_UNIT
from accounting.energy import load_coefficients


def sync(conn: psycopg.Connection[Any]) -> int:
    """Replace the table's rows with the packaged catalogue's, in one transaction; returns the
    number of rows. Idempotent: a second run leaves the same rows."""
    rows = [
        (
            c.key,
            c.carrier.value,
            c.convention.value,
            c.tce_per_unit,
            CANONICAL_UNIT[c.carrier],
            c.valid_from,
            c.valid_to,
            c.version,
            f"{c.source}; {c.table}",
        )
        for c in load_coefficients()
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM energy_coefficient")
        cur.executemany(
            "INSERT INTO energy_coefficient (key, carrier, convention, tce_per_unit, unit,"
            " valid_from, valid_to, version, source) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            rows,
        )
    return len(rows)
